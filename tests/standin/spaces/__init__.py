"""A stand-in for Hugging Face's `spaces` package (tests only; put tests/standin on sys.path or PYTHONPATH).

Like spaces 0.51.3's `spaces.GPU`: the identity unless SPACES_ZERO_GPU is true; on "ZeroGPU" the task runs in
another thread with a fresh context (the real one forks a worker process), its arguments and results are pickled
across, a generator's items are streamed one by one, and a call that asks for more seconds than `QUOTA_S` is
refused before it starts with the gr.Error the real package raises. `CALLS` names the tasks run inside.
"""
from __future__ import annotations

import contextvars
import functools
import inspect
import os
import pickle
import queue
import threading

CALLS: list[str] = []          # task names, one per GPU call
REQUESTED: list[tuple[str, float]] = []  # (task name, seconds asked)
QUOTA_S: float | None = None   # seconds left in the visitor's quota; None: unlimited
_inside = threading.local()


def inside() -> bool:
    """True in the thread that runs a GPU task."""
    return getattr(_inside, "on", False)


def _zero_gpu() -> bool:
    return (os.environ.get("SPACES_ZERO_GPU") or "").lower() in ("1", "t", "true")


def GPU(task=None, *, duration=None, size=None):
    if not callable(task):
        return functools.partial(_GPU, duration=duration)
    return _GPU(task, duration)


def _schedule(task, duration, args, kwargs):
    import gradio as gr

    seconds = duration(*args, **kwargs) if callable(duration) else (duration or 60)
    REQUESTED.append((task.__name__, seconds))
    if QUOTA_S is not None and seconds > QUOTA_S:
        raise gr.Error(f"You have exceeded your free ZeroGPU quota ({seconds}s requested vs. {QUOTA_S}s left). "
                       "Try again in 13:14:07. ", title="ZeroGPU quota exceeded", print_exception=False)
    CALLS.append(task.__name__)
    return pickle.loads(pickle.dumps((args, kwargs)))


def _in_worker(target, *args):
    result = queue.Queue()

    def run():
        _inside.on = True
        target(result, *args)

    threading.Thread(target=contextvars.Context().run, args=(run,), daemon=True).start()
    return result


def _GPU(task, duration):
    if not _zero_gpu():
        return task
    if inspect.isgeneratorfunction(task):
        @functools.wraps(task)
        def steps(*args, **kwargs):
            args, kwargs = _schedule(task, duration, args, kwargs)
            stop = threading.Event()

            def iterate(out):
                try:
                    for item in task(*args, **kwargs):
                        out.put(("item", pickle.dumps(item)))
                        if stop.is_set():
                            break
                except Exception as error:  # noqa: BLE001 (sent across like the real worker's ExceptionResult)
                    out.put(("error", error))
                out.put(("end", None))

            out = _in_worker(iterate)
            while True:
                what, value = out.get(timeout=120)
                if what == "end":
                    return
                if what == "error":
                    raise value
                try:
                    yield pickle.loads(value)
                except GeneratorExit:
                    stop.set()
                    raise
        steps.zerogpu = None
        return steps

    @functools.wraps(task)
    def call(*args, **kwargs):
        args, kwargs = _schedule(task, duration, args, kwargs)

        def run(out):
            try:
                out.put(("ok", pickle.dumps(task(*args, **kwargs))))
            except Exception as error:  # noqa: BLE001
                out.put(("error", error))

        what, value = _in_worker(run).get(timeout=120)
        if what == "error":
            raise value
        return pickle.loads(value)
    call.zerogpu = None
    return call
