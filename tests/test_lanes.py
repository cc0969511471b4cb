"""The two compute lanes (explorer/server/lanes.py): which events go where, and long jobs at low priority.

The server-level behaviour (a click answered while a reverse process runs; a second long job of one
session refused) is tested over HTTP in tests/test_hostile_http.py.
"""
from __future__ import annotations

import os
import sys
import threading

import gradio as gr
import pytest

from explorer.server import lanes

pytestmark = pytest.mark.skipif(not sys.platform.startswith("linux"), reason="thread priorities are Linux's")


def own_priority() -> int:
    return os.getpriority(os.PRIO_PROCESS, threading.get_native_id())


def build() -> tuple[gr.Blocks, dict]:
    closed = []

    def quick():
        return own_priority()

    @lanes.long_job("sum")
    def long():
        return own_priority()

    @lanes.long_job("stream")
    def stream():
        try:
            yield own_priority()
            yield own_priority()
        finally:
            closed.append(own_priority())

    with lanes.building(quick=2, long=1), gr.Blocks() as demo:
        box = gr.Number()
        button = gr.Button()
        lanes.listen(button.click, quick, None, box, api_name="quick")
        lanes.listen(button.click, long, None, box, api_name="long")
        lanes.listen(button.click, stream, None, box, api_name="stream")
    return demo, {"closed": closed}


def test_events_go_to_their_lane_with_the_lane_limits():
    demo, _ = build()
    # Registered through Gradio's public API: each listener's concurrency_id and concurrency_limit.
    found = {fn.api_name: (fn.concurrency_id, fn.concurrency_limit, getattr(fn.fn, "long_job", None))
             for fn in demo.fns.values()}
    # Gradio starts LONG_ACTIVE long jobs; they compute one slice at a time (`long`), in turn by client (FairLane).
    assert found == {"quick": (lanes.QUICK_LANE, 2, None), "long": (lanes.LONG_LANE, lanes.LONG_ACTIVE, "sum"),
                     "stream": (lanes.LONG_LANE, lanes.LONG_ACTIVE, "stream")}


def test_long_jobs_run_at_lower_priority_and_quick_ones_do_not():
    demo, seen = build()
    functions = {fn.api_name: fn.fn for fn in demo.fns.values()}
    base = own_priority()
    assert functions["quick"]() == base
    assert functions["long"]() == max(base, lanes.LONG_NICE)
    assert own_priority() == base  # the caller (Gradio's worker thread) keeps its priority
    steps = functions["stream"]()
    assert next(steps) == max(base, lanes.LONG_NICE)
    steps.close()  # as Gradio does when the client leaves: the generator is closed where it ran
    assert seen["closed"] == [max(base, lanes.LONG_NICE)]


def test_a_long_job_keeps_its_signature_and_errors():
    """Gradio reads the signature to pass gr.Request; a gr.Error raised in the job reaches the caller."""
    import inspect

    @lanes.long_job("failing")
    def failing(seed, request: gr.Request):
        raise gr.Error(f"bad seed {seed}")

    with lanes.building(quick=2, long=1), gr.Blocks() as demo:
        lanes.listen(gr.Button().click, failing, gr.Number(), None)
    wrapped = next(iter(demo.fns.values())).fn
    assert list(inspect.signature(wrapped).parameters) == ["seed", "request"]
    with pytest.raises(gr.Error, match="bad seed 3"):
        wrapped(3, None)


def test_every_listener_of_the_app_is_registered_in_a_lane(ctx):
    """A listener registered with a plain `.click(fn, …)` instead of `lanes.listen` would run outside both lanes,
    with Gradio's own limit of one at a time, and fail with an empty error: none is."""
    from explorer.ui.app import build_app

    with lanes.building(quick=2, long=1):
        demo = build_app(ctx)
    outside = [block_fn.name for block_fn in demo.fns.values() if block_fn.fn is not None
               and (block_fn.concurrency_id not in (lanes.QUICK_LANE, lanes.LONG_LANE)
                    or not getattr(block_fn.fn, "quiet", False))]
    assert outside == []
    assert any(block_fn.concurrency_id == lanes.LONG_LANE for block_fn in demo.fns.values())


def test_a_run_whose_completion_was_sent_no_longer_blocks_the_next():
    """Gradio sends "process_completed" a moment before it takes the event off its active jobs; a listener with
    trigger_mode="always_last" sends its next run in that moment, and must not be refused as a second job."""
    import asyncio
    from concurrent.futures import ThreadPoolExecutor
    from types import SimpleNamespace

    from gradio.server_messages import ProcessCompletedMessage


    @lanes.long_job("refresh")
    def refresh():
        return None

    block_fn = SimpleNamespace(fn=refresh)
    running = SimpleNamespace(session_hash="s1", fn=block_fn, request=None, concurrency_id=lanes.LONG_LANE)
    pushed = []

    async def push(body, request, username):
        pushed.append(body.session_hash)
        return True, "joined"

    queue = SimpleNamespace(max_size=None, push=push, event_queue_per_concurrency_id={}, get_events=lambda: None,
                            active_jobs=[[running]], send_message=lambda event, message: None)
    demo = SimpleNamespace(_queue=queue, fns={0: block_fn})
    lanes.Lanes().guard(demo)
    body = SimpleNamespace(fn_index=0, session_hash="s1")

    def ask():  # in a thread of its own: a test before this one may have left an event loop running here
        with ThreadPoolExecutor(1) as pool:
            return pool.submit(asyncio.run, queue.push(body=body, request=None, username=None)).result()

    refused = ask()
    assert refused[0] is False and "still waiting or running" in refused[1]  # the first still runs: refused
    queue.send_message(running, ProcessCompletedMessage(output={}, success=True))
    assert ask() == (True, "joined")
    assert pushed == ["s1"]


def test_a_refresh_may_be_asked_for_again_while_the_last_waits(ctx):
    """A tab's refreshes (marked `long_job_refresh` by ui/refresh.py) can reach the server twice at once: both are
    taken; any other long job of one session is refused while the first waits or runs."""
    rules = lanes.Lanes().admission
    first = lanes.Job("s1", "Part-by-part refresh", "10.0.0.1")
    assert rules.refusal("Part-by-part refresh", "s1", "10.0.0.1", [first], [], refresh=True) is None
    assert rules.refusal("Part-by-part refresh", "s1", "10.0.0.1", [first], []) is not None

    from explorer.ui.app import build_app

    with lanes.building(quick=2, long=1):
        demo = build_app(ctx)
    marks = {getattr(block_fn.fn, "long_job", None): getattr(block_fn.fn, "long_job_refresh", False)
             for block_fn in demo.fns.values() if getattr(block_fn.fn, "long_job", None)}
    assert marks.pop("Part-by-part refresh") is True  # the app's refresh, sent by its hidden button
    assert marks and not any(marks.values()), marks  # a reverse process, a strip …: one per session
