"""Timings of the running app as a page and its clients see it: `python -m tests.bench_app [section ...]`.

Sections startup, scrub, overhead, load, click, release, class and lesson (tests/bench_lesson.py) start the app
(`python app.py`) and drive it with the tests' harness (tests/server.py, tests/browser.py, tests/test_load.py,
tests/page_session.py), so they live beside it; they are registered with `explorer.bench`'s `@section`, whose
command times the rest (models, views, study, proofs) in process.
This module also holds the page helpers the scrub test shares (drag t, open the Denoising lab, wait for a view).
"""
from __future__ import annotations

import contextlib
import io
import json
import os
import statistics
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

from explorer.bench import Row, main, paired_ms, percentile_95, section, time_ms


@section("startup")
def startup() -> list[Row]:
    """Cold start (`python app.py` until the page answers) and the app's peak resident memory after use."""
    import socket
    import subprocess
    import sys
    import urllib.request

    rows = []
    starts, peaks = [], []
    root = Path(__file__).resolve().parent.parent
    for _ in range(2):
        with socket.socket() as sock:
            sock.bind(("127.0.0.1", 0))
            port = sock.getsockname()[1]
        env = dict(os.environ, GRADIO_SERVER_NAME="127.0.0.1", GRADIO_SERVER_PORT=str(port),
                   GRADIO_ANALYTICS_ENABLED="False")
        begin = time.perf_counter()
        process = subprocess.Popen([sys.executable, "app.py"], cwd=root, env=env,
                                   stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        try:
            while True:
                try:
                    with urllib.request.urlopen(f"http://127.0.0.1:{port}/", timeout=2) as response:
                        if response.status == 200:
                            break
                except OSError:
                    if process.poll() is not None or time.perf_counter() - begin > 120:
                        raise RuntimeError("the app did not start") from None
                    time.sleep(0.05)
            starts.append((time.perf_counter() - begin) * 1000)
            _exercise(port)
            peaks.append(_peak_rss_mb(process.pid))
        finally:
            process.terminate()
            process.wait(timeout=30)
    starts.sort()
    rows.append(("cold start: python app.py until the page answers", statistics.median(starts), starts[-1],
                 f"target 8000 ms: {'met' if statistics.median(starts) <= 8000 else 'NOT met'}; 2 runs"))
    peak = max(peaks)
    rows.append(("peak resident memory of the app after every view (MB)", peak, peak,
                 f"target 1229 MB (1.2 GB): {'met' if peak <= 1229 else 'NOT met'}; VmHWM"))
    return rows


def _exercise(port: int) -> None:
    """Drive each view once through the API so the memory peak includes them."""
    import contextlib
    import io

    from tests.server import api_client

    with contextlib.redirect_stdout(io.StringIO()):
        client = api_client(f"http://127.0.0.1:{port}/")
        client.predict(250, 0, "mid.attn", api_name="/select_block")
        client.predict(250, 0, api_name="/levels")
        client.predict(250, 0, False, 250, ["skip2", "skip3", "skip4"], True, False, api_name="/denoise")
        client.predict(250, 0, 32, 32, "output", api_name="/receptive_field")
        client.predict(250, 0, 20, api_name="/denoise_from_here")


def _peak_rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return float("nan")


# --- the app as a browser and clients see it ----------------------------------------------------------------------

# Drags t inside the page as a hand does (pointerdown on the slider, an `input` event per animation frame with the
# value moving linearly, pointerup at the end) and counts what the page paints meanwhile: a new side-by-side state
# (an exact t, or a strip row) in an animation frame is one update; the time from a slider move to the start of
# the next animation frame that shows its frame is that move's lag.
DRAG_IN_PAGE = """async ([start, end, seconds]) => {
    const slider = document.querySelector('#timestep input[type=range]');
    const view = () => document.querySelector('#denoise-view .sbs');
    const state = () => {
        const v = view();
        return v ? v.dataset.t + '|' + (v.style.getPropertyValue('--row') || 'exact') : '';
    };
    const log = {updates: 0, inputs: 0, lags: [], last: state()};
    const low = Number(slider.min), high = Number(slider.max);
    slider.dispatchEvent(new PointerEvent('pointerdown', {bubbles: true}));
    const began = performance.now();
    let moved = null;
    const crossed = new Set();
    await new Promise((done) => {
        const frame = () => {
            const now = performance.now();
            const seen = state();
            if (seen !== log.last) {
                log.last = seen;
                log.updates++;
                if (moved !== null) { log.lags.push(now - moved); moved = null; }
            }
            const progress = Math.min(1, (now - began) / (seconds * 1000));
            const value = Math.round(low + (high - low) * (start + (end - start) * progress));
            if (String(value) !== slider.value) {
                slider.value = String(value);
                slider.dispatchEvent(new Event('input', {bubbles: true}));
                log.inputs++;
                if (moved === null) moved = performance.now();
                const grid = (window.__sbs && window.__sbs.strip.grid) || [];
                let best = 0;
                for (let i = 1; i < grid.length; i++) {
                    if (Math.abs(grid[i] - value) < Math.abs(grid[best] - value)) best = i;
                }
                crossed.add(best);
            }
            if (progress < 1) requestAnimationFrame(frame); else done();
        };
        requestAnimationFrame(frame);
    });
    log.seconds = (performance.now() - began) / 1000;
    log.crossed = crossed.size;  // strip frames the slider passed: the most updates a drag can show
    log.released = Number(slider.value);
    slider.dispatchEvent(new PointerEvent('pointerup', {bubbles: true}));
    return log;
}"""


def drag_t(page, start: float, end: float, seconds: float) -> dict:
    """Drag t from fraction `start` to `end` of its range over `seconds` (see DRAG_IN_PAGE) and let go.
    Returns updates, inputs, lags (ms), seconds and the released value."""
    return page.evaluate(DRAG_IN_PAGE, [start, end, seconds])


def open_denoising(page, url: str, timeout_ms: float = 120_000) -> None:
    """Load the app, open the Denoising lab and wait for its view and its strip of frames for dragging."""
    page.goto(url)
    show_denoising(page, timeout_ms)
    wait_for_strip(page, timeout_ms)


def show_denoising(page, timeout_ms: float = 120_000) -> None:
    """On a loaded page: open the Denoising lab and wait for its view."""
    page.click("#tab-denoising-button")
    page.wait_for_selector("#denoise-view .sbs[data-t]", timeout=timeout_ms)


def wait_for_strip(page, timeout_ms: float = 120_000) -> None:
    """Wait until the Denoising lab's strip of frames for dragging t has arrived for the image shown."""
    page.wait_for_function("""() => { const s = window.__sbs, v = document.querySelector('#denoise-view .sbs');
                                      if (s && s.loadStrip) s.loadStrip();
                                      return s && s.strip.ready && v && s.strip.key === v.dataset.key; }""",
                           timeout=timeout_ms)


def wait_for_exact(page, t: int, timeout_ms: float = 60_000) -> None:
    page.wait_for_function("(t) => { const v = document.querySelector('#denoise-view .sbs');"
                           " return v && v.dataset.t === String(t) && !v.classList.contains('previewing'); }",
                           arg=t, timeout=timeout_ms)


@contextlib.contextmanager
def _running_app():
    """The app to measure: $BENCH_URL when set (an app already running), else `python app.py` on a free port."""
    if os.environ.get("BENCH_URL"):
        yield os.environ["BENCH_URL"].rstrip("/") + "/"
        return
    from tests.server import running_app

    with running_app() as url:
        yield url


@contextlib.contextmanager
def _bench_page():
    """The app to measure (`_running_app`) and one 1400×1000 Chromium page on it, not loaded yet: (page, url)."""
    from tests import browser

    with _running_app() as url, browser.sync_playwright() as playwright:
        chromium = browser.launch(playwright)
        try:
            yield chromium.new_page(viewport={"width": 1400, "height": 1000}), url
        finally:
            chromium.close()


@section("scrub")
def scrub() -> list[Row]:
    """Dragging t in real Chromium (the page and the app on this machine): side-by-side updates per second."""
    rows = []
    with _bench_page() as (page, url):
        open_denoising(page, url)
        for seconds in (2.0, 4.0):
            for start, end in ((0.05, 0.95), (0.95, 0.05)):
                began = time.perf_counter()
                result = drag_t(page, start, end, seconds)
                rate = result["updates"] / result["seconds"]
                lags = sorted(result["lags"]) or [float("nan")]
                wait_for_exact(page, result["released"])
                exact_ms = (time.perf_counter() - began - result["seconds"]) * 1000
                rows.append((f"drag t {start:.2f}→{end:.2f} of the track in {seconds:.0f} s", rate, rate,
                             f"updates per second (target ≥ 15; {result['updates']} updates for "
                             f"{result['inputs']} slider moves across {result['crossed']} strip frames); "
                             f"move→frame lag median "
                             f"{statistics.median(lags):.0f} ms, max {lags[-1]:.0f} ms; exact view for t = "
                             f"{result['released']} {exact_ms:.0f} ms after letting go"))
    return rows


@section("overhead")
def overhead() -> list[Row]:
    """Per request of each single-step endpoint, in this process: the handler alone against Gradio's whole
    processing of the request for one session (`Blocks.process_api`: state, pre- and postprocessing, files),
    run in turns so that both see the same machine (the overhead is the median of the pairs' differences),
    and the round trip from a gradio_client session to the running app (adds HTTP, the queue and the client)."""
    import asyncio

    import gradio as gr
    from gradio.state_holder import SessionState

    from explorer.ui.app import build_app
    from explorer.views.context import Context

    ctx = Context.load()
    demo = build_app(ctx)
    demo.queue()
    functions = {fn.api_name: fn for fn in demo.fns.values()}
    first = ctx.image(ctx.examples[0])  # a new session's image
    skips = [f"skip{level}" for level in range(1, ctx.pair.unet.config.num_levels + 1)]
    calls = {"denoise": [250, 0, False, 250, skips, True], "select_block": [250, 0, "mid.attn"],
             "receptive_field": [250, 0, 32, 20, "output"]}
    state = SessionState(demo)
    loop = asyncio.new_event_loop()
    rows = []
    measured = {}
    for api, args in calls.items():  # in this process, before the app below starts (it would share the cores)
        fn = functions[api]
        values = iter(args)
        full = [first if isinstance(c, gr.State) else next(values, False) for c in fn.inputs]
        payload = [None if isinstance(c, gr.State) else value for c, value in zip(fn.inputs, full)]
        measured[api] = payload, paired_ms(
            lambda: fn.fn(*full), lambda: loop.run_until_complete(demo.process_api(fn, list(payload), state)))
    with _running_app() as url, contextlib.redirect_stdout(io.StringIO()):
        from tests.server import api_client

        client = api_client(url)  # one session, as a page or the load test's sessions have
        for api, (payload, (handler, gradio, p95, extra, runs)) in measured.items():
            trip, _, _ = time_ms(lambda: client.predict(*payload[1:], api_name=f"/{api}"), repeat=10, warmup=1,
                                 max_seconds=10)
            rows.append((f"/{api}: Gradio's processing of one request", gradio, p95,
                         f"handler alone {handler:.0f} ms; overhead {extra:+.1f} ms (target ≤ +15 ms: "
                         f"{'met' if extra <= 15 else 'NOT met'}); {runs} interleaved pairs; round trip from "
                         f"gradio_client {trip:.0f} ms (its own HTTP clients cost much of the difference)"))
    loop.close()
    return rows


@section("load")
def load() -> list[Row]:
    """8 sessions × 25 mixed requests at once (tests/test_load.py's plans and sessions, longer): p50 per endpoint."""
    import tempfile

    from tests import test_load
    from tests.server import api_client

    rows = []
    with _running_app() as url, tempfile.TemporaryDirectory() as folder:
        api = api_client(url).view_api(return_format="dict", print_info=False)["named_endpoints"]
        plans = test_load.make_plans(api, per_session=25)
        deadline = time.monotonic() + 600
        test_load.run_concurrently(url, plans, lambda plan: plan.warmup, None, deadline, Path(folder), "warm-up")
        outcomes = test_load.run_concurrently(url, plans, lambda plan: plan.sequence, None, deadline, Path(folder),
                                              "load")
        latencies: dict[str, list[float]] = {}
        for outcome in outcomes:
            for endpoint, values in outcome.latencies.items():
                latencies.setdefault(endpoint, []).extend(values)
        errors = [error for outcome in outcomes for error in outcome.errors]
        single_step = {"/select_block", "/denoise", "/receptive_field"}
        for endpoint in sorted(latencies):
            values = sorted(latencies[endpoint])
            p50 = test_load.percentile(values, 50) * 1000
            p95 = test_load.percentile(values, 95) * 1000
            target = f"; target p50 ≤ 1000 ms: {'met' if p50 <= 1000 else 'NOT met'}" if endpoint in single_step else ""
            rows.append((f"{endpoint} under 8 sessions", p50, p95, f"p50/p95 of {len(values)} requests{target}"))
        answered = sum(len(values) for values in latencies.values())
        asked = sum(len(plan.sequence) for plan in plans)
        rows.append((f"{answered} of {asked} requests answered", float("nan"), float("nan"),
                     f"{len(errors)} errors" + (f"; first: {errors[0][:200]}" if errors else "")))
    return rows


# --- a click and a release in real Chromium ---------------------------------------------------------------------

# A click on a diagram block, timed in the page: from the click event to the first animation frame in which the
# block panel's heading and the diagram's selection both name the block.
CLICK_IN_PAGE = """async (name) => {
    const g = document.querySelector(`#diagram g[data-block="${name}"]`);
    const began = performance.now();
    g.dispatchEvent(new MouseEvent('click', {bubbles: true}));
    return await new Promise((done) => {
        const check = () => {
            const h = document.querySelector('#block-panel h3');
            const shown = document.querySelector('#diagram g[data-block][aria-pressed="true"]');
            if (h && h.textContent.trim().split(/\\s+/)[0] === name && shown && shown.dataset.block === name) {
                done(performance.now() - began);
            } else requestAnimationFrame(check);
        };
        requestAnimationFrame(check);
    });
}"""

# t dragged for `seconds` from fraction `start` to `end` of its track (as DRAG_IN_PAGE does), then let go:
# the ms from letting go to the first animation frame that shows the exact view for the released t.
RELEASE_IN_PAGE = """async ([start, end, seconds]) => {
    const slider = document.querySelector('#timestep input[type=range]');
    const low = Number(slider.min), high = Number(slider.max);
    slider.dispatchEvent(new PointerEvent('pointerdown', {bubbles: true}));
    const began = performance.now();
    await new Promise((done) => {
        const frame = () => {
            const progress = Math.min(1, (performance.now() - began) / (seconds * 1000));
            const value = Math.round(low + (high - low) * (start + (end - start) * progress));
            if (String(value) !== slider.value) {
                slider.value = String(value);
                slider.dispatchEvent(new Event('input', {bubbles: true}));
            }
            if (progress < 1) requestAnimationFrame(frame); else done();
        };
        requestAnimationFrame(frame);
    });
    const released = slider.value;
    const letGo = performance.now();
    slider.dispatchEvent(new PointerEvent('pointerup', {bubbles: true}));
    slider.dispatchEvent(new Event('change', {bubbles: true}));
    return await new Promise((done) => {
        const check = () => {
            const v = document.querySelector('#denoise-view .sbs');
            if (v && v.dataset.t === released && !v.classList.contains('previewing')) {
                done([performance.now() - letGo, Number(released)]);
            } else requestAnimationFrame(check);
        };
        requestAnimationFrame(check);
    });
}"""


@section("click")
def block_click() -> list[Row]:
    """A click on a diagram block in real Chromium (page and app on this machine), until the panel and the
    diagram show it; target median ≤ 400 ms."""
    names = ["dec2", "enc1", "mid.attn", "dec1", "enc2", "dec3"]
    times = []
    with _bench_page() as (page, url):
        page.goto(url)
        page.click("#tab-architecture-button")
        page.wait_for_function("() => { const h = document.querySelector('#block-panel h3');"
                               " return h && h.textContent.includes('mid.attn'); }", timeout=120_000)
        time.sleep(2)  # the tab's level maps and the events after them settle
        for index in range(24):
            times.append(page.evaluate(CLICK_IN_PAGE, names[index % len(names)]))
            time.sleep(0.6)  # a reader's pause: the events a click sends after it are done
    median = statistics.median(times)
    return [("block click → panel and diagram show it", median, percentile_95(times),
             f"{len(times)} clicks on 6 blocks; target median ≤ 400 ms: {'met' if median <= 400 else 'NOT met'}")]


@section("release")
def release_t() -> list[Row]:
    """Letting go of t in the Denoising lab in real Chromium, until the exact view for the released t is shown
    (the strip's frame is shown before it); target ≤ 250 ms."""
    times = []
    with _bench_page() as (page, url):
        open_denoising(page, url)
        for index in range(12):
            start, end = (0.2, 0.6) if index % 2 == 0 else (0.6, 0.2)
            wait_ms, _ = page.evaluate(RELEASE_IN_PAGE, [start, end + 0.01 * index, 0.5])
            times.append(wait_ms)
            time.sleep(0.6)
    median = statistics.median(times)
    return [("let go of t → exact view shown", median, percentile_95(times),
             f"{len(times)} drags of 0.5 s; target ≤ 250 ms: {'met' if median <= 250 else 'NOT met'} (median)")]


# --- a class on one app -------------------------------------------------------------------------------------------

CLASS_SESSIONS = 32
CLASS_BLOCK = "dec2"        # the block each learner clicks
CLASS_RELEASED_T = 600      # where each learner lets go of t once
LONG_TABS = ("proofs",)     # tabs whose refresh is a long job (the Part-by-part backward passes)
CLASS_READING_S = (4.0, 8.0)  # a learner reads what a step shows before going on: uniform in this range, seeded
CLASS_ARRIVAL_S = 3.0       # the learners open the page within this many seconds of each other (seeded)
CLASS_SEED = 21


@dataclass
class Learner:
    """What one learner's page saw: each single-step request's seconds by kind, each strip's seconds from asking to
    its arrival, each long job's, the reverse process's first frame, the errors, and when the learner was done
    (seconds from the class's start)."""

    quick: dict[str, list[float]] = field(default_factory=dict)
    direct: dict[str, list[float]] = field(default_factory=dict)  # answered outside the queue (queue=False)
    strips: list[float] = field(default_factory=list)
    long: dict[str, list[float]] = field(default_factory=dict)
    reverse_first: float | None = None
    errors: list[str] = field(default_factory=list)
    finished: float = 0.0


class LatestOnly:
    """An event the page sends as Gradio's trigger_mode "always_last" does: one at a time, and when it is asked
    for again while it runs, only the latest ask is sent once it is done (with the values of that moment).
    `on_reply(seconds from the ask, reply)` gets each answer."""

    def __init__(self, page, index: int, on_reply):
        self.page, self.index, self.on_reply = page, index, on_reply
        self.lock = threading.Lock()
        self.wanted: float | None = None
        self.thread: threading.Thread | None = None

    def ask(self) -> None:
        with self.lock:
            self.wanted = time.perf_counter()
            if self.thread is None:
                self.thread = threading.Thread(target=self._send, daemon=True)
                self.thread.start()

    def _send(self) -> None:
        while True:
            with self.lock:
                asked, self.wanted = self.wanted, None
                if asked is None:
                    self.thread = None
                    return
            reply = self.page.call(self.index)
            self.on_reply(time.perf_counter() - asked, reply)

    def finish(self) -> None:
        while True:
            with self.lock:
                thread = self.thread
            if thread is None:
                return
            thread.join()


def walk_the_lesson(page, learner: Learner, began: float, read=lambda: None) -> None:
    """One learner, as the page sends it: open the page; every step of the Lesson (back to the Lesson tab, Next,
    the step, Show me, the events its changes fire, the tab's select and refresh); a block click with what follows
    it; t let go once in the Denoising lab (the exact view); one reverse process, streamed. `read()` is the
    learner reading what is shown (a pause) after each step, before the click and before letting go of t. The
    strip of t values is asked for as the view's script asks (when the Denoising lab shows an image, seed or
    knock-outs it has no strip for) and runs beside the steps, one at a time per page. After each action the
    page writes its address once (one direct request, urlstate.SCHEDULE_JS)."""
    shown_keys: set[str] = set()

    def note(what: str, reply, kind: str = "quick", index: int | None = None) -> None:
        if kind == "quick" and index is not None and page.dependencies[index].get("queue") is False:
            kind = "direct"  # the address write, the evidence buttons …: never in the queue, counted apart
        getattr(learner, kind).setdefault(what, []).append(reply.seconds)
        if reply.error:
            learner.errors.append(f"{what}: {reply.error}")

    def strip_arrived(seconds: float, reply) -> None:
        learner.strips.append(seconds)
        if reply.error:
            learner.errors.append(f"strip: {reply.error}")

    strips = LatestOnly(page, page.event("scrub-request", "click"), strip_arrived)

    url_write = page.event("lesson-url-write", "click")

    def send(what: str, index: int, event_data=None, kind: str = "quick"):
        before = dict(page.values)
        reply = page.call(index, event_data)
        note(what, reply, kind, index)
        changed = page.changed_by(index, reply, before)
        follow(changed, f"after {what}")
        if changed and kind == "quick":
            note(f"after {what}", page.call(url_write), index=url_write)
        return reply

    def follow(components: list[int], what: str) -> None:
        """The backend events the `change` of `components` fire, sent together (each once, as always_last)."""
        indices = list(dict.fromkeys(i for c in components for i in page.events(c, "change")))
        handles = [(index, page.submit(index)) for index in indices]
        for index, handle in handles:
            note(what, page.wait(index, handle), index=index)

    def refresh(tab: str) -> None:
        """What the page's script does once a tab is shown: press its refresh button; in the Denoising lab, ask
        for a strip when it has none for what the view shows."""
        send(f"refresh {tab}", page.event(f"refresh-{tab}", "click"), kind="long" if tab in LONG_TABS else "quick")
        if tab == "denoising":
            key = json.dumps([page.value(name) for name in ("image-source", "seed", "override-t", "told-t",
                                                            "skip-switches", "attention-switch",
                                                            "bottleneck-switch")])
            if key not in shown_keys:
                shown_keys.add(key)
                strips.ask()

    page.http.get(page.url + "config")  # the page reads the app's description first
    send("page load", page.event(0, "load"))
    steps = [value for _, value in page.components[page.by_elem_id["lesson-steps"]]["props"]["choices"]]
    for number, _ in enumerate(steps):
        if number:  # back to the Lesson tab; Next moves the step list on, whose change opens the step
            send("tab", page.event("tab-lesson", "select"))
            send("next step", page.event("lesson-next", "click"))
        shown = send("show me", page.event("lesson-show-me", "click"))
        tab = shown.outputs[0].get("selected") if shown.outputs and isinstance(shown.outputs[0], dict) else None
        if tab:  # the page selects the step's tab: its select event, and its refresh
            send("tab", page.event(f"tab-{tab}", "select"))
            refresh(tab)
        read()
    send("tab", page.event("tab-architecture", "select"))
    refresh("architecture")
    read()
    send("block click", page.event("diagram", "click"), {"block_id": CLASS_BLOCK})
    send("tab", page.event("tab-denoising", "select"))
    refresh("denoising")
    read()
    page.set("timestep", CLASS_RELEASED_T)
    follow([page.by_elem_id["timestep"]], "after letting go of t")
    send("exact view after letting go of t", page.event("refresh-denoising", "click"))
    reply = send("reverse process", page.event("denoise-from-here", "click"), kind="long")
    learner.reverse_first = reply.first_seconds
    strips.finish()
    learner.finished = time.perf_counter() - began


@section("class")
def class_of_32() -> list[Row]:
    """32 learners at once walk the Lesson against one app process (`python app.py`, its default lanes), each
    from an address of its own on loopback (127.0.0.2 …), as the page's script talks to the app (see
    `walk_the_lesson`; $BENCH_CLASS_SESSIONS sets another number). They open the page within CLASS_ARRIVAL_S
    seconds of each other and read each step for CLASS_READING_S seconds (uniform, seeded) before going on.
    Single-step requests' p50 and p95 (target p50 ≤ 1 s), every strip within 15 s, the long jobs' waits and when
    the last learner was done; no errors."""
    import random

    from tests.page_session import PageSession, page_config

    sessions = int(os.environ.get("BENCH_CLASS_SESSIONS", CLASS_SESSIONS))
    seeds = random.Random(CLASS_SEED)
    arrivals = sorted(seeds.uniform(0, CLASS_ARRIVAL_S) for _ in range(sessions))
    readers = [random.Random(seeds.random()) for _ in range(sessions)]
    with _running_app() as url:
        config = page_config(url)
        learners = [Learner() for _ in range(sessions)]
        pages = [PageSession(url, config, address=f"127.0.0.{2 + i}") for i in range(sessions)]
        began = time.perf_counter()

        def run(page, learner, arrival, reader):
            try:
                time.sleep(arrival)
                walk_the_lesson(page, learner, began, lambda: time.sleep(reader.uniform(*CLASS_READING_S)))
            except Exception as error:  # noqa: BLE001 - a learner's failure is reported, not raised
                learner.errors.append(f"the walk failed: {error!r}")
                learner.finished = time.perf_counter() - began
            finally:
                page.close()

        threads = [threading.Thread(target=run, args=four) for four in zip(pages, learners, arrivals, readers)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
    quick = [s for learner in learners for values in learner.quick.values() for s in values]
    kinds = sorted({kind for learner in learners for kind in learner.quick})
    low, high = CLASS_READING_S
    rows = [(f"{sessions} learners: single-step requests, all kinds", statistics.median(quick) * 1000,
             percentile_95(quick) * 1000, f"{len(quick)} requests; target p50 ≤ 1000 ms: "
                                 f"{'met' if statistics.median(quick) <= 1 else 'NOT met'}; the learners opened "
                                 f"the page within {CLASS_ARRIVAL_S:.0f} s and read each step {low:.0f}-{high:.0f} s "
                                 f"(seeded) before going on")]
    for kind in kinds:
        values = [s for learner in learners for s in learner.quick.get(kind, [])]
        rows.append((f"  {kind}", statistics.median(values) * 1000, percentile_95(values) * 1000,
                     f"{len(values)} requests"))
    direct = [s for learner in learners for values in learner.direct.values() for s in values]
    if direct:
        rows.append(("requests answered outside the queue (address, evidence, note)", statistics.median(direct) * 1000,
                     percentile_95(direct) * 1000, f"{len(direct)} requests; not in the single-step figures"))
    strips = [s for learner in learners for s in learner.strips]
    worst = [max(learner.strips) for learner in learners if learner.strips]
    if strips:
        rows.append(("strip of t values, from asking to arrival", statistics.median(strips) * 1000,
                     percentile_95(strips) * 1000,
                     f"{len(strips)} strips; slowest {max(strips):.1f} s; learners with every strip within 15 s: "
                     f"{sum(w <= 15 for w in worst)} of {len(worst)}"))
    for kind in sorted({kind for learner in learners for kind in learner.long}):
        values = [s for learner in learners for s in learner.long.get(kind, [])]
        rows.append((f"long job: {kind}", statistics.median(values) * 1000, percentile_95(values) * 1000,
                     f"{len(values)} jobs; slowest {max(values):.1f} s"))
    firsts = [learner.reverse_first for learner in learners if learner.reverse_first is not None]
    if firsts:
        rows.append(("reverse process: first frame", statistics.median(firsts) * 1000, percentile_95(firsts) * 1000,
                     f"slowest {max(firsts):.1f} s"))
    finished = sorted(learner.finished for learner in learners)
    rows.append(("a learner's whole walk (last one done)", statistics.median(finished) * 1000, finished[-1] * 1000,
                 f"the last learner was done {finished[-1]:.0f} s after the class began"))
    rows.append(("load average (1, 5, 15 min) when the class ended", float("nan"), float("nan"),
                 ", ".join(f"{value:.1f}" for value in os.getloadavg())))
    errors = [error for learner in learners for error in learner.errors]
    rows.append((f"errors: {len(errors)}", float("nan"), float("nan"),
                 "; ".join(sorted(set(errors)))[:400] if errors else "none (target: none)"))
    return rows



# --- issue 29: fair shares, measured from outside -----------------------------------------------------------------
# The app runs alone (`python app.py --behind-proxy 1`); clients are told apart by the X-Forwarded-For line they
# send, as a Space's proxy would write it. Each visitor speaks Gradio's queue protocol by hand (join, then read its
# session's event stream), so a refusal's words and each event's times are seen exactly.

HONEST = "198.51.100.1"


class Visitor:
    """One session from `address`: `ask(index, data)` joins an event; a reader thread follows the session's stream
    while it has events pending; `done[event]` is (seconds from asking to completion, success, error text)."""

    def __init__(self, url: str, address: str):
        import uuid

        import httpx

        self.url, self.address, self.hash = url, address, uuid.uuid4().hex[:12]
        self.http = httpx.Client(timeout=600, headers={"x-forwarded-for": address})
        self.asked: dict[str, float] = {}
        self.first: dict[str, float] = {}
        self.done: dict[str, tuple[float, bool, str]] = {}
        self.refused: list[str] = []
        self._lock = threading.Lock()
        self._reader: threading.Thread | None = None
        self.stopped = False

    def ask(self, index: int, data: list) -> str | None:
        began = time.perf_counter()
        answer = self.http.post(self.url + "gradio_api/queue/join", json={
            "data": data, "fn_index": index, "session_hash": self.hash, "event_data": None, "trigger_id": None})
        if answer.status_code != 200:
            self.refused.append(f"{answer.status_code}: {str(answer.json().get('detail'))[:160]}")
            return None
        event = answer.json()["event_id"]
        with self._lock:
            self.asked[event] = began
            if self._reader is None:
                self._reader = threading.Thread(target=self._read, daemon=True)
                self._reader.start()
        return event

    def pending(self) -> int:
        with self._lock:
            return len(set(self.asked) - set(self.done))

    def _read(self) -> None:
        while not self.stopped:
            try:
                with self.http.stream("GET", self.url + "gradio_api/queue/data",
                                      params={"session_hash": self.hash}) as stream:
                    for line in stream.iter_lines():
                        if self.stopped:
                            return
                        if not line.startswith("data:"):
                            continue
                        message, now = json.loads(line[5:]), time.perf_counter()
                        event = message.get("event_id")
                        if message.get("msg") == "process_generating" and event not in self.first:
                            self.first[event] = now - self.asked.get(event, now)
                        if message.get("msg") == "process_completed" and event in self.asked:
                            error = str((message.get("output") or {}).get("error") or "")
                            self.done[event] = (now - self.asked[event], bool(message.get("success")), error)
                        if message.get("msg") == "close_stream":
                            break
            except Exception:  # noqa: BLE001 - a broken stream: its events count as unanswered
                time.sleep(0.2)
            with self._lock:
                if not set(self.asked) - set(self.done):
                    self._reader = None
                    return

    def wait(self, event: str | None, timeout: float) -> tuple[float, bool, str] | None:
        deadline = time.monotonic() + timeout
        while event is not None and event not in self.done and time.monotonic() < deadline:
            time.sleep(0.05)
        return self.done.get(event) if event else None

    def close(self) -> None:
        self.stopped = True
        self.http.close()


@dataclass
class Endpoints:
    """The events the fair-share benchmarks ask for, with their default inputs (from /config)."""
    single_step: tuple[int, list]
    strip: tuple[int, list]
    reverse: tuple[int, list]
    steps_at: int   # the position of the reverse process's number of steps in its inputs
    seed_at: dict[int, int] = field(default_factory=dict)  # event index -> the position of the seed in its inputs

    def reverse_with(self, steps: int, seed: int | None = None) -> tuple[int, list]:
        index, data = self.with_seed(self.reverse, seed)
        data[self.steps_at] = steps
        return index, data

    def with_seed(self, endpoint: tuple[int, list], seed: int | None) -> tuple[int, list]:
        """The event with the noise seed set to `seed` (None: the page's default)."""
        index, data = endpoint[0], list(endpoint[1])
        if seed is not None:
            data[self.seed_at[index]] = seed
        return index, data


def endpoints(url: str) -> Endpoints:
    import httpx

    config = httpx.get(url + "config", timeout=60).json()
    values = {component["id"]: component.get("props", {}).get("value") for component in config["components"]}
    by_elem = {component.get("props", {}).get("elem_id"): component["id"] for component in config["components"]}

    def event(api_name: str | None = None, target: str | None = None) -> tuple[int, list]:
        for dependency in config["dependencies"]:
            if (api_name and dependency.get("api_name") == api_name) or (
                    target and by_elem.get(target) in [t[0] for t in dependency["targets"]]):
                return dependency["id"], [values.get(i) for i in dependency["inputs"]]
        raise KeyError(api_name or target)

    reverse, strip = event("denoise_from_here"), event(target="scrub-request")
    inputs = {d["id"]: d["inputs"] for d in config["dependencies"]}
    seed_at = {index: inputs[index].index(by_elem["seed"]) for index, _ in (reverse, strip)
               if by_elem["seed"] in inputs[index]}
    return Endpoints(event("denoise"), strip, reverse, inputs[reverse[0]].index(by_elem["ddim-steps"]), seed_at)


@contextlib.contextmanager
def _fair_app():
    """The app behind one trusted proxy (`--behind-proxy 1`), or $BENCH_URL (started so)."""
    if os.environ.get("BENCH_URL"):
        yield os.environ["BENCH_URL"].rstrip("/") + "/"
        return
    from tests.server import running_app

    with running_app("--behind-proxy", "1") as url:
        yield url


def _seconds(values: list[float]) -> tuple[float, float]:
    return (statistics.median(values) * 1000, percentile_95(values) * 1000) if values else (float("nan"),) * 2


@section("fair-class")
def fair_class() -> list[Row]:
    """32 learners behind one address (a school's NAT), each asking a 20-step reverse process and the strip of t
    values within 5 s of each other: all answered (none refused) within 240 s? All ask the same image and seed,
    as a class on one Lesson step does (the app computes each once for all of them: views/kept.py)."""
    return _class_of_32(own_seeds=False)


@section("fair-class-seeds")
def fair_class_seeds() -> list[Row]:
    """`fair-class` with each learner on a seed of its own: 64 different jobs, nothing shared."""
    return _class_of_32(own_seeds=True)


def _class_of_32(own_seeds: bool) -> list[Row]:
    import random

    with _fair_app() as url:
        ends = endpoints(url)
        learners = [Visitor(url, "203.0.113.50") for _ in range(32)]
        seeds = random.Random(29)
        arrivals = sorted(seeds.uniform(0, 5) for _ in learners)
        began = time.perf_counter()
        asked: list[tuple[Visitor, str, str]] = []

        def arrive(learner: Visitor, at: float) -> None:
            time.sleep(max(0.0, at - (time.perf_counter() - began)))
            seed = learners.index(learner) + 1 if own_seeds else None
            for kind, (index, data) in (("reverse process", ends.reverse_with(20, seed)),
                                        ("strip", ends.with_seed(ends.strip, seed))):
                event = learner.ask(index, data)
                if event:
                    asked.append((learner, kind, event))

        threads = [threading.Thread(target=arrive, args=pair) for pair in zip(learners, arrivals)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        for learner, _, event in asked:
            learner.wait(event, max(1.0, 300 - (time.perf_counter() - began)))
        last = time.perf_counter() - began
        for learner in learners:
            learner.close()
    refused = [text for learner in learners for text in learner.refused]
    rows = []
    for kind in ("reverse process", "strip"):
        times = [learner.done[event][0] for learner, k, event in asked if k == kind and event in learner.done
                 and learner.done[event][1]]
        p50, p95 = _seconds(times)
        rows.append((f"class of 32, one address{', own seeds' if own_seeds else ''}: {kind}, asking to arrival",
                     p50, p95,
                     f"{len(times)} of 32 answered; slowest {max(times, default=float('nan')):.1f} s"))
    answered = sum(1 for learner, _, event in asked if learner.done.get(event, (0, False))[1])
    rows.append((f"class of 32: {answered} of 64 jobs answered, {len(refused)} refused", float("nan"), last * 1000,
                 f"all within 240 s: {'met' if answered == 64 and last <= 240 else 'NOT met'} (last done "
                 f"{last:.0f} s after the first asked)" + (f"; first refusal: {refused[0]}" if refused else "")))
    return rows


def _single_steps(visitor: Visitor, ends: Endpoints, seconds: float, pause: float = 0.5) -> list[float]:
    """A visitor asking one single-step request at a time for `seconds`, `pause` s apart: each one's seconds."""
    times, deadline = [], time.monotonic() + seconds
    while time.monotonic() < deadline:
        result = visitor.wait(visitor.ask(*ends.single_step), 120)
        if result and result[1]:
            times.append(result[0])
        time.sleep(pause)
    return times


@section("fair-quick")
def fair_quick() -> list[Row]:
    """One address sending 10 (then 50) single-step requests a second, from 20 sessions each reading its stream,
    while another visitor asks single steps one at a time: the visitor's p50 (target ≤ 1 s at 10/s) beside the
    attacker's."""
    with _fair_app() as url:
        ends = endpoints(url)
        alone = _single_steps(Visitor(url, HONEST), ends, 15)
        rows = [("single step, a visitor alone", *_seconds(alone), f"{len(alone)} requests")]
        for rate in (10, 50):
            attackers = [Visitor(url, f"203.0.113.{rate}") for _ in range(20)]
            stop, sent = threading.Event(), []

            def hammer() -> None:  # asks sent from 8 threads, so the rate holds whatever each answer takes
                from concurrent.futures import ThreadPoolExecutor

                def send(visitor: Visitor) -> None:
                    sent.append((visitor, visitor.ask(*ends.single_step)))

                began, count = time.perf_counter(), 0
                with ThreadPoolExecutor(8) as pool:
                    while not stop.is_set():
                        pool.submit(send, attackers[count % len(attackers)])
                        count += 1
                        time.sleep(max(0.0, began + count / rate - time.perf_counter()))

            thread = threading.Thread(target=hammer)
            thread.start()
            time.sleep(10)  # the attacker's line builds up first
            honest = _single_steps(Visitor(url, f"198.51.100.{rate}"), ends, 40)
            stop.set()
            thread.join()
            for visitor, event in sent:
                visitor.wait(event, 60)
            answered = [visitor.done[event][0] for visitor, event in sent if event and event in visitor.done
                        and visitor.done[event][1]]
            refused = [text for visitor in attackers for text in visitor.refused]
            for visitor in attackers:
                visitor.close()
            target = (f"; target p50 ≤ 1000 ms: {'met' if honest and statistics.median(honest) <= 1 else 'NOT met'}"
                      if rate == 10 else "")
            rows += [(f"single step, a visitor beside {rate} requests/s from one address", *_seconds(honest),
                      f"{len(honest)} requests{target}"),
                     (f"  the attacker's single steps ({rate}/s)", *_seconds(answered),
                      f"{len(sent)} sent, {len(answered)} answered, {len(refused)} refused"
                      + (f"; e.g. {refused[0]}" if refused else ""))]
    return rows


def _honest_long(url: str, ends: Endpoints, address: str) -> tuple[float, float]:
    """A visitor asks the strip and a 20-step reverse process at once (as the page does): each one's seconds."""
    visitor = Visitor(url, address)
    strip, reverse = visitor.ask(*ends.strip), visitor.ask(*ends.reverse_with(20))
    times = [visitor.wait(event, 300) for event in (strip, reverse)]
    visitor.close()
    return tuple(t[0] if t and t[1] else float("nan") for t in times)


@section("fair-long")
def fair_long() -> list[Row]:
    """15 addresses each holding 3 long jobs (250-step reverse processes, asked again as each ends) while an
    honest visitor asks the strip of t values and a 20-step reverse process: each within 20 s?"""
    with _fair_app() as url:
        ends = endpoints(url)
        _honest_long(url, ends, "198.51.100.9")  # warm-up: the first run of each view loads what it needs
        alone = _honest_long(url, ends, HONEST)
        holders = [Visitor(url, f"203.0.113.{1 + n // 3}") for n in range(45)]
        stop, finished = threading.Event(), []

        def hold(visitor: Visitor) -> None:
            while not stop.is_set():
                event = visitor.ask(*ends.reverse_with(250))
                result = visitor.wait(event, 1200) if event else None
                if result:
                    finished.append(result[0])
                if not event:
                    time.sleep(1)

        threads = [threading.Thread(target=hold, args=(visitor,), daemon=True) for visitor in holders]
        for thread in threads:
            thread.start()
        # The 45 jobs hold the lane for $BENCH_HOLD_S seconds (300: what a half-life's worth of holding leaves in
        # the ledger, fair.HALF_LIFE_S) before the honest visitors come.
        time.sleep(float(os.environ.get("BENCH_HOLD_S", 300)))
        beside = [_honest_long(url, ends, f"198.51.100.{10 + n}") for n in range(3)]
        stop.set()
        refused = [text for visitor in holders for text in visitor.refused]
        for visitor in holders:
            visitor.close()
    strips, reverses = [b[0] for b in beside], [b[1] for b in beside]
    met = all(value <= 20 for value in strips + reverses)
    return [("strip of t values, a visitor alone", alone[0] * 1000, float("nan"), ""),
            ("20-step reverse process, a visitor alone", alone[1] * 1000, float("nan"), ""),
            ("strip, beside 15 addresses × 3 long jobs", *_seconds(strips),
             f"3 visitors: {', '.join(f'{v:.1f}' for v in strips)} s; target ≤ 20 s: {'met' if met else 'NOT met'}"),
            ("20-step reverse process, beside them", *_seconds(reverses),
             f"3 visitors: {', '.join(f'{v:.1f}' for v in reverses)} s"),
            ("  the 15 addresses' 250-step reverse processes", *_seconds(finished),
             f"{len(finished)} finished while measured, {len(refused)} refused")]


@section("fair-ico")
def fair_ico() -> list[Row]:
    """A 308 KB ICO holding a 9000×9000 PNG, uploaded and read by the app: refused, resident memory up ≤ 50 MiB."""
    import httpx

    from tests.test_load import rss_mib, server_pid
    from tests.test_sniff import icon, png_of_zeros

    data = icon(png_of_zeros(9000))
    with _fair_app() as url:
        pid = server_pid(url)
        before = rss_mib(pid)
        peak_before = rss_mib(pid, "VmHWM")
        path = httpx.post(url + "gradio_api/upload", files={"files": ("huge.ico", data)}, timeout=60).json()[0]
        config = httpx.get(url + "config", timeout=60).json()
        index = next(d["id"] for d in config["dependencies"] if d.get("api_name") == "upload_image")
        visitor = Visitor(url, HONEST)
        result = visitor.wait(visitor.ask(index, [{"path": path, "meta": {"_type": "gradio.FileData"}}]), 120)
        visitor.close()
        after, peak = rss_mib(pid), rss_mib(pid, "VmHWM")
    return [(f"ICO of {len(data) // 1024} KB holding a 9000×9000 PNG", float("nan"), float("nan"),
             f"answer: {result[2][:90] if result else 'none'}; resident {before:.0f} → {after:.0f} MiB "
             f"(+{after - before:.0f}), peak {peak_before:.0f} → {peak:.0f} MiB; target ≤ +50 MiB: "
             f"{'met' if after - before <= 50 and peak - peak_before <= 50 else 'NOT met'}")]

from tests import bench_lesson  # noqa: E402,F401 - registers the "lesson" section (the Lesson in a browser)

if __name__ == "__main__":
    main()
