"""`python app.py` with a planted leak, for tests/test_load.py only: every event keeps a tensor of
UNET_EXPLORER_PLANTED_LEAK KiB, like a handler that stores a feature map in a global list by mistake.

The load test runs it to prove that its memory check catches a real leak. The app itself has no such switch:
this wraps each event function as the app registers it (`limits.quiet`, which `lanes.listen` calls).
"""
from __future__ import annotations

import functools
import inspect
import os
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import torch  # noqa: E402

import app  # noqa: E402
from explorer.server import limits  # noqa: E402

KIB = int(os.environ.get("UNET_EXPLORER_PLANTED_LEAK") or 1024)
KEPT: list[torch.Tensor] = []


def leaking(fn):
    """fn, keeping KIB KiB of float32 (256 values a KiB) for ever at each call."""
    if inspect.isgeneratorfunction(fn):
        @functools.wraps(fn)
        def generator(*args, **kwargs):
            KEPT.append(torch.ones(KIB * 256))
            yield from fn(*args, **kwargs)
        return generator

    @functools.wraps(fn)
    def call(*args, **kwargs):
        KEPT.append(torch.ones(KIB * 256))
        return fn(*args, **kwargs)
    return call


def quiet_with_a_leak(fn, name: str, quiet=limits.quiet):
    if fn is not None and not (inspect.iscoroutinefunction(fn) or inspect.isasyncgenfunction(fn)):
        fn = leaking(fn)
    return quiet(fn, name)


if __name__ == "__main__":
    limits.quiet = quiet_with_a_leak  # lanes.listen calls it by its module-level name
    app.main()
