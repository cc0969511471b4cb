"""Long jobs on a GPU: inside `spaces.GPU` on a Hugging Face ZeroGPU Space, on CUDA wherever torch sees one, and
on the CPU, unchanged, everywhere else. The only module that touches the `spaces` package.

Written against spaces 0.51.3 (read from its source):
- ZeroGPU is on when `SPACES_ZERO_GPU` is "1", "t" or "true" in any case (`spaces.config.Settings.zero_gpu`); off it,
  `spaces.GPU(fn)` returns fn itself, and the package is not needed: it is imported only on ZeroGPU.
- `spaces.GPU(fn, duration=…)` runs fn in a forked worker process that holds the GPU for the call: arguments and
  results are pickled across, a generator's items are streamed back one by one, and `duration` (seconds, or a
  function of fn's arguments) is what the visitor's quota must still hold for the call to start.
- It reads the visitor's quota token from the gr.Request in Gradio's context (`LocalContext.request`) of the calling
  thread: the lane runs long jobs in its own threads and copies that context there (`lanes.LowPriorityThreads`).
- When the quota is spent it raises `gr.Error(message, title="ZeroGPU quota exceeded")` before the job starts
  (`spaces.zero.client.schedule`); no free GPU within 60 s: title "ZeroGPU queue timeout". `quota_told` turns
  these into one line that says what happened and that single-step views still answer.

Single-step requests are never wrapped: they stay on the Space's CPU and cost no quota.
"""
from __future__ import annotations

import functools
import inspect
import os
import re
from typing import TYPE_CHECKING

from explorer.server.limits import MAX_STEPS

if TYPE_CHECKING:  # torch is imported when a job runs, not when lanes.py is
    from explorer.devices import Placement

ENV = "SPACES_ZERO_GPU"
TRUE = ("1", "t", "true")  # spaces.config.boolean

# Seconds asked of a visitor's quota per call (`spaces.GPU(duration=…)`): about 3× the estimate in docs/hosting.md
# ("ZeroGPU: what a visitor's quota buys"), at least 5 s. A call asks before it starts, and a visitor whose quota
# holds less than this is refused, so asking far more than a job needs refuses visitors who could still run it.
SECONDS = {
    "reverse process": None,  # depends on the number of steps: reverse_seconds
    "strip of t values": 5,
    "curve for this image": 5,
    "frequency sweep": 5,
    "Part-by-part refresh": 10,
}
DEFAULT_SECONDS = 10
REVERSE_BASE_S, REVERSE_PER_STEP_S = 5, 0.05  # MAX_STEPS (250, the most allowed): 17.5 s


def on_zerogpu() -> bool:
    """True on a ZeroGPU Space, detected as the `spaces` package detects it."""
    return (os.environ.get(ENV) or "").lower() in TRUE


def placement() -> Placement | None:
    """Where a long job's networks compute: CUDA when torch sees a GPU (on ZeroGPU: inside the GPU call only),
    else None (the CPU, as before). TF32 is turned off so that CUDA matches the CPU within float32 rounding."""
    import torch

    from explorer.devices import Placement

    if not torch.cuda.is_available():
        return None
    torch.backends.cudnn.allow_tf32 = False
    torch.backends.cuda.matmul.allow_tf32 = False
    return Placement("cuda")


def reverse_seconds(*args, **kwargs) -> int:
    """The duration asked for a reverse process of `num_steps` (the argument before the gr.Request)."""
    steps = kwargs.get("num_steps", args[-2] if len(args) >= 2 else None)
    try:
        steps = min(max(int(steps), 1), MAX_STEPS)
    except (TypeError, ValueError, OverflowError):
        steps = MAX_STEPS
    return round(REVERSE_BASE_S + REVERSE_PER_STEP_S * steps)


def duration_of(kind: str):
    seconds = SECONDS.get(kind, DEFAULT_SECONDS)
    return reverse_seconds if seconds is None else seconds


def on_device(fn):
    """fn computing its networks where `placement()` says, chosen inside the call (where ZeroGPU attaches the GPU).
    A generator gets the placement around each of its steps, wherever each step runs."""
    from explorer.devices import computing_on

    if inspect.isgeneratorfunction(fn):
        @functools.wraps(fn)
        def steps(*args, **kwargs):
            where = placement()
            generator = fn(*args, **kwargs)
            try:
                while True:
                    with computing_on(where):
                        try:
                            item = next(generator)
                        except StopIteration:
                            return
                    yield item
            finally:
                generator.close()
        return steps

    @functools.wraps(fn)
    def call(*args, **kwargs):
        with computing_on(placement()):
            return fn(*args, **kwargs)
    return call


QUOTA_TITLES = ("ZeroGPU quota exceeded", "ZeroGPU pending credits exceeded", "ZeroGPU illegal duration")


def quota_message(error: Exception, kind: str) -> str | None:
    """One line for a visitor refused a GPU by ZeroGPU (None when `error` is not such a refusal)."""
    title = str(getattr(error, "title", "") or "")
    if not title.startswith("ZeroGPU"):
        return None
    text = str(getattr(error, "message", error))
    wait = re.search(r"Try again in ([0-9][0-9:.]*)", text)
    when = f"try again in {wait.group(1).split('.')[0]} (h:mm:ss)" if wait else "try again later"
    if title in QUOTA_TITLES:
        return (f"Your GPU time on this Space is used up for now, so the {kind} cannot run: {when}, or log in to "
                "Hugging Face for more. Clicks, single steps and the other single-step views still work.")
    return (f"No GPU was free for the {kind} ({title.removeprefix('ZeroGPU ')}): try again in a minute. "
            "Clicks, single steps and the other single-step views still work.")


def quota_told(fn, kind: str):
    """fn, with ZeroGPU's refusals (quota spent, no GPU free) raised as one gr.Error line (`quota_message`)."""
    import gradio as gr

    def told(error: Exception) -> Exception:
        message = quota_message(error, kind)
        return gr.Error(message, title="GPU time", print_exception=False) if message else error

    if inspect.isgeneratorfunction(fn):
        @functools.wraps(fn)
        def steps(*args, **kwargs):
            try:
                yield from fn(*args, **kwargs)
            except gr.Error as error:
                raise told(error) from None
        return steps

    @functools.wraps(fn)
    def call(*args, **kwargs):
        try:
            return fn(*args, **kwargs)
        except gr.Error as error:
            raise told(error) from None
    return call


def gpu_job(fn, kind: str):
    """A long job of `kind` where it belongs: on ZeroGPU inside `spaces.GPU(duration=…)` on CUDA, refusals told in
    one line; on a machine with CUDA on CUDA; elsewhere fn itself (the CPU, unchanged)."""
    if on_zerogpu():
        try:
            import spaces
        except ImportError as error:
            raise RuntimeError(f"{ENV} is set (a ZeroGPU Space) but the `spaces` package is missing: "
                               "pip install spaces, or write the Space with `python -m explorer.space DIR "
                               "--hardware zerogpu`") from error
        return quota_told(spaces.GPU(on_device(fn), duration=duration_of(kind)), kind)
    import torch

    return on_device(fn) if torch.cuda.is_available() else fn
