"""The two compute lanes (explorer/server/limits.py): which events go where, and long jobs at low priority.

The server-level behaviour (a click answered while a reverse process runs; a second long job of one
session refused) is tested over HTTP in tests/test_hostile_http.py.
"""
from __future__ import annotations

import os
import sys
import threading

import gradio as gr
import pytest

from explorer.server import limits

pytestmark = pytest.mark.skipif(not sys.platform.startswith("linux"), reason="thread priorities are Linux's")


def own_priority() -> int:
    return os.getpriority(os.PRIO_PROCESS, threading.get_native_id())


def build() -> tuple[gr.Blocks, dict]:
    closed = []

    def quick():
        return own_priority()

    @limits.long_job("sum")
    def long():
        return own_priority()

    @limits.long_job("stream")
    def stream():
        try:
            yield own_priority()
            yield own_priority()
        finally:
            closed.append(own_priority())

    with gr.Blocks() as demo:
        box = gr.Number()
        button = gr.Button()
        button.click(quick, None, box, api_name="quick")
        button.click(long, None, box, api_name="long")
        button.click(stream, None, box, api_name="stream")
    return demo, {"closed": closed}


def test_events_go_to_their_lane_with_the_lane_limits():
    demo, _ = build()
    limits.compute_lanes(demo, quick=2, long=1)
    lanes = {fn.api_name: (fn.concurrency_id, fn.concurrency_limit, fn.long_job_kind) for fn in demo.fns.values()}
    # Gradio starts LONG_ACTIVE long jobs; they compute one slice at a time (`long`), in turn by client (FairLane).
    assert lanes == {"quick": (limits.QUICK_LANE, 2, None), "long": (limits.LONG_LANE, limits.LONG_ACTIVE, "sum"),
                     "stream": (limits.LONG_LANE, limits.LONG_ACTIVE, "stream")}


def test_long_jobs_run_at_lower_priority_and_quick_ones_do_not():
    demo, seen = build()
    limits.compute_lanes(demo, quick=2, long=1)
    functions = {fn.api_name: fn.fn for fn in demo.fns.values()}
    base = own_priority()
    assert functions["quick"]() == base
    assert functions["long"]() == max(base, limits.LONG_NICE)
    assert own_priority() == base  # the caller (Gradio's worker thread) keeps its priority
    steps = functions["stream"]()
    assert next(steps) == max(base, limits.LONG_NICE)
    steps.close()  # as Gradio does when the client leaves: the generator is closed where it ran
    assert seen["closed"] == [max(base, limits.LONG_NICE)]


def test_a_long_job_keeps_its_signature_and_errors():
    """Gradio reads the signature to pass gr.Request; a gr.Error raised in the job reaches the caller."""
    import inspect

    @limits.long_job("failing")
    def failing(seed, request: gr.Request):
        raise gr.Error(f"bad seed {seed}")

    with gr.Blocks() as demo:
        gr.Button().click(failing, gr.Number(), None)
    limits.compute_lanes(demo, quick=2, long=1)
    wrapped = next(iter(demo.fns.values())).fn
    assert list(inspect.signature(wrapped).parameters) == ["seed", "request"]
    with pytest.raises(gr.Error, match="bad seed 3"):
        wrapped(3, None)
