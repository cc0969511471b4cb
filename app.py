"""U-Net Explorer: build the app and launch it. Everything else lives in explorer/."""
from __future__ import annotations

import argparse
import logging
import os
from pathlib import Path

from explorer.memory import tune_malloc
from explorer.server import lanes, limits  # no gradio at import: app.py points gradio at its temp folder first
from explorer.views.context import DEFAULT_CONCURRENCY
from explorer.weights import DEFAULT_DIR

WARM_ENV = "UNET_EXPLORER_WARM_LESSON"  # "0": no warm-up unless --warm-lesson (the apps tests/conftest.py starts)


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description="Explore why diffusion models use a U-Net.")
    parser.add_argument("--weights", type=Path, default=DEFAULT_DIR,
                        help="a folder written by `python -m explorer.train` (unet and naive weights)")
    parser.add_argument("--model", default=None, metavar="PATH_OR_HUB_ID",
                        help="explore a diffusers UNet2DModel in the U-Net's place: a pipeline or model folder, or a "
                             "Hugging Face Hub id (downloaded once into the Hub cache), e.g. weights/diffusers-unet "
                             "or google/ddpm-cifar10-32 (docs/diffusers.md)")
    parser.add_argument("--host", default=os.environ.get("GRADIO_SERVER_NAME", "127.0.0.1"),
                        help="address to listen on (default 127.0.0.1; 0.0.0.0 for a Space or a LAN)")
    parser.add_argument("--port", type=int, default=int(os.environ.get("GRADIO_SERVER_PORT", 7860)))
    parser.add_argument("--concurrency", type=int, default=DEFAULT_CONCURRENCY,
                        help="single-step requests (a block click, one denoising step, a receptive field …) "
                             "computed at once, all endpoints and all users together; the others wait their turn in "
                             f"one queue (default {DEFAULT_CONCURRENCY}, for a 2-core CPU Space)")
    parser.add_argument("--long-jobs", type=int, default=lanes.LONG_JOBS,
                        help="long jobs (a reverse process, the strip of t values for scrubbing, the Part-by-part "
                             "gradients, the frequency sweep) computed at once, all users together, in a lane of "
                             "their own beside the single-step requests, which never wait behind them "
                             f"(default {lanes.LONG_JOBS})")
    parser.add_argument("--behind-proxy", type=int, nargs="?", const=1, default=0, metavar="HOPS",
                        help="the app is reached through HOPS trusted proxies (a Hugging Face Space: 1): the long "
                             "lane is shared by the client address they write into X-Forwarded-For, not by the "
                             "proxy's own address (default: not behind a proxy; the header is ignored)")
    parser.add_argument("--threads", type=int, default=None,
                        help="torch threads per request (default: CPU cores / concurrency, at least 1)")
    parser.add_argument("--max-sessions", type=int, default=limits.MAX_SESSIONS,
                        help="sessions whose state the server keeps; the oldest are dropped "
                             f"(default {limits.MAX_SESSIONS})")
    parser.add_argument("--cache-mb", type=int, default=limits.CACHE_BUDGET // 2**20,
                        help="disk for uploads and output files; the oldest go first "
                             f"(default {limits.CACHE_BUDGET // 2**20} MB)")
    parser.add_argument("--warm-lesson", action=argparse.BooleanOptionalAction,
                        default=os.environ.get(WARM_ENV, "1") != "0",
                        help="compute each Lesson step's evidence in the background at start, at the lowest "
                             "priority, so the first learner's Show me finds it ready (default: on, unless "
                             f"{WARM_ENV}=0; off on ZeroGPU, where the networks compute only inside a GPU call)")
    parser.add_argument("--open-grace", type=float, default=limits.OPEN_GRACE_S, metavar="SECONDS",
                        help="a long job whose session joined this long ago and never opened its event stream is "
                             "stopped (nobody reads it; a page opens its stream at once) "
                             f"(default {limits.OPEN_GRACE_S:g})")
    return parser.parse_args(argv)


def log_to_stderr() -> None:
    """One line per refused request or notable event, from the `unet_explorer` logger only."""
    log = logging.getLogger("unet_explorer")
    handler = logging.StreamHandler()
    handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(message)s"))
    log.addHandler(handler)
    log.setLevel(logging.INFO)
    log.propagate = False


def main() -> None:
    tune_malloc()  # before any worker thread starts
    args = parse_args()
    log_to_stderr()
    limits.LISTENERS.open_grace = max(0.0, args.open_grace)
    limits.temp_root()  # before gradio is imported
    import torch

    from explorer.server.zerogpu import on_zerogpu
    from explorer.ui import warm
    from explorer.ui.app import build_page, launch_options
    from explorer.views.context import Context, threads_per_request

    torch.set_num_threads(args.threads or threads_per_request(args.concurrency))
    try:
        ctx = Context.load(args.weights, model=args.model)
    except (ValueError, OSError) as error:  # a model the explorer cannot open, or a Hub id it cannot fetch
        raise SystemExit(f"app.py: --model {args.model}: {error}") from None
    with lanes.building(args.concurrency, args.long_jobs, args.behind_proxy) as app_lanes:
        page = build_page(ctx)
    demo = page.demo
    # api_open=False: the direct routes (/gradio_api/run/…, /gradio_api/api/…) would skip the queue and its lanes.
    demo.queue(default_concurrency_limit=args.concurrency, api_open=False)  # places: server/admission.py
    limits.harden(demo, app_lanes)
    if args.warm_lesson and page.warm_up and not on_zerogpu():
        warm.start(page.warm_up)
    os.environ["FORWARDED_ALLOW_IPS"] = lanes.forwarded_allow_ips(args.behind_proxy)  # read by uvicorn at launch
    demo.launch(server_name=args.host, server_port=args.port, **launch_options(), **app_lanes.launch_options(),
                **limits.launch_options(args.cache_mb * 2**20, args.max_sessions, client=app_lanes.client))


if __name__ == "__main__":
    main()
