"""U-Net Explorer: build the app and launch it. Everything else lives in explorer/."""
from __future__ import annotations

import argparse
import ctypes
import logging
import os
from pathlib import Path

from explorer.ui import limits  # no gradio at import: app.py points gradio at its temp folder first
from explorer.views.context import DEFAULT_CONCURRENCY
from explorer.weights import DEFAULT_DIR


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description="Explore why diffusion models use a U-Net.")
    parser.add_argument("--weights", type=Path, default=DEFAULT_DIR,
                        help="a folder written by `python -m explorer.train` (unet and naive weights)")
    parser.add_argument("--host", default=os.environ.get("GRADIO_SERVER_NAME", "127.0.0.1"),
                        help="address to listen on (default 127.0.0.1; 0.0.0.0 for a Space or a LAN)")
    parser.add_argument("--port", type=int, default=int(os.environ.get("GRADIO_SERVER_PORT", 7860)))
    parser.add_argument("--concurrency", type=int, default=DEFAULT_CONCURRENCY,
                        help="requests computed at once, all endpoints and all users together (one queue; a "
                             "reverse process counts as one request); the others wait their turn "
                             f"(default {DEFAULT_CONCURRENCY}, for a 2-core CPU Space)")
    parser.add_argument("--threads", type=int, default=None,
                        help="torch threads per request (default: CPU cores / concurrency, at least 1)")
    parser.add_argument("--max-sessions", type=int, default=limits.MAX_SESSIONS,
                        help="sessions whose state the server keeps; the oldest are dropped "
                             f"(default {limits.MAX_SESSIONS})")
    parser.add_argument("--cache-mb", type=int, default=limits.CACHE_BUDGET // 2**20,
                        help="disk for uploads and output files; the oldest go first "
                             f"(default {limits.CACHE_BUDGET // 2**20} MB)")
    return parser.parse_args(argv)


def cap_malloc_arenas(count: int = 2) -> None:
    """Let glibc keep at most `count` malloc arenas.

    By default each of Gradio's worker threads gets an arena of its own (up to 8 per core) that keeps
    freed memory mapped, so the first concurrent requests raise resident memory by 20-30 % for good.
    Capped, memory follows what is really in use. Must run before the worker threads start.
    """
    try:
        ctypes.CDLL("libc.so.6").mallopt(-8, count)  # -8: M_ARENA_MAX
    except (OSError, AttributeError):  # not glibc: nothing to do
        pass


def log_to_stderr() -> None:
    """One line per refused request or notable event, from the `unet_explorer` logger only."""
    log = logging.getLogger("unet_explorer")
    handler = logging.StreamHandler()
    handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(message)s"))
    log.addHandler(handler)
    log.setLevel(logging.INFO)
    log.propagate = False


def main() -> None:
    cap_malloc_arenas()
    args = parse_args()
    log_to_stderr()
    limits.temp_root()  # before gradio is imported
    import torch

    from explorer.ui.app import build_app, launch_options
    from explorer.views.context import Context, threads_per_request

    torch.set_num_threads(args.threads or threads_per_request(args.concurrency))
    demo = build_app(Context.load(args.weights))
    demo.queue(default_concurrency_limit=args.concurrency, max_size=64)
    limits.harden(demo, args.concurrency)
    demo.launch(server_name=args.host, server_port=args.port, **launch_options(),
                **limits.launch_options(args.cache_mb * 2**20, args.max_sessions))


if __name__ == "__main__":
    main()
