"""The Lesson as a learner's hand meets it, in real headless Chromium at 1400×900: `python -m tests.bench_app lesson`.

For each of the steps: Next (and choosing the step in the list) until the step's words are shown, and Show me until
its evidence has settled (the out-of-date mark is down and the shown tab's outputs have stopped arriving), with the
requests each Show me sends. Then t dragged in the Denoising lab with Playwright's real pointer (`page.mouse`: down,
moves a hand's pace apart, up): the exact view's arrival after the release, and how many of the strip's frames the
view showed during a drag across the whole track.

Registered with `explorer.bench`'s `@section` by tests/bench_app.py, which imports this module.
"""
from __future__ import annotations

import contextlib
import os
import statistics
import time

from explorer.bench import Row, section

VIEWPORT = {"width": 1400, "height": 900}
QUIET_MS = 1500  # the shown tab has changed nothing for this long: its outputs are in
SETTLE_LIMIT_MS = 30_000  # a Show me not settled by then counts as this long
SHOW_ME_TARGET_MS, SLOWEST_TARGET_MS, NEXT_TARGET_MS, RELEASE_TARGET_MS = 1500, 3000, 300, 250

# From now until stopped: the time of the last change on screen in the view tabs (any panel but the Lesson's), and of
# the out-of-date mark coming down.
WATCH_VIEWS = """() => {
  const log = window.__lessonBench = {began: performance.now(), last: performance.now(), unmarked: null};
  const observer = new MutationObserver((records) => {
    const now = performance.now();
    for (const r of records) {
      const element = r.target.nodeType === 1 ? r.target : r.target.parentElement;
      const panel = element?.closest('[role=tabpanel]');
      if (!panel || panel.id === 'tab-lesson') continue;
      // What is not on screen is not evidence (the Denoising lab's strip of frames for dragging arrives in hidden
      // components after the view).
      const mark = r.type === 'attributes' && r.attributeName === 'data-stale';
      if (!mark && element.getClientRects().length === 0) continue;
      if (r.type === 'attributes') {
        // Some views rewrite an attribute with the value it had (the held-out curves' t marker): not a change.
        if (r.oldValue === r.target.getAttribute(r.attributeName)) continue;
        if (r.attributeName === 'data-stale' && !panel.hasAttribute('data-stale')) log.unmarked = now;
      }
      log.last = now;
    }
  });
  observer.observe(document.getElementById('views'), {subtree: true, childList: true, characterData: true,
                                                       attributes: true, attributeOldValue: true});
  log.stop = () => observer.disconnect();
}"""

# The view tab on screen is no longer marked out of date, and no view tab has changed for `quiet` ms.
SETTLED = """(quiet) => {
  const log = window.__lessonBench;
  const shown = [...document.querySelectorAll('#views [role=tabpanel]')].find(
    (panel) => panel.id !== 'tab-lesson' && panel.getClientRects().length > 0);
  return !!shown && !shown.hasAttribute('data-stale') && performance.now() - log.last >= quiet;
}"""

# Clicks `selector` and waits (animation frame by animation frame) until the Lesson shows step `number`'s heading
# and its measurements (`see`: the first words of what the step says to look for): [ms to the heading, ms to both].
OPEN_STEP = """async ([selector, number, see]) => {
  const began = performance.now();
  document.querySelector(selector).click();
  let heading = null;
  return await new Promise((done) => {
    const check = () => {
      const h = document.querySelector('#lesson-step h3');
      const body = document.querySelector('#lesson-measured');
      if (heading === null && h && h.textContent.includes(`Step ${number} of`)) heading = performance.now() - began;
      if (heading !== null && body && body.textContent.includes(see)) done([heading, performance.now() - began]);
      else requestAnimationFrame(check);
    };
    requestAnimationFrame(check);
  });
}"""

# During a real drag: every animation frame, which strip frame the side-by-side view shows (until the exact view
# replaces them: frames still catching up with the hand after the release are on screen too), and when the pointer
# is let go of; then the first frame that shows the exact view for the slider's value.
WATCH_DRAG = """() => {
  const view = () => document.querySelector('#denoise-view .sbs');
  const log = window.__dragBench = {rows: new Set(), released: null, exact: null, value: null};
  window.addEventListener('pointerup', () => { log.released = performance.now(); }, {capture: true, once: true});
  const frame = () => {
    const v = view();
    if (v && log.exact === null && v.classList.contains('previewing')) {
      log.rows.add(v.style.getPropertyValue('--row'));
    } else if (v && log.exact === null) {  // the exact view of a t on the strip's grid shows that frame's t
      const row = (window.__sbs.strip.grid || []).indexOf(Number(v.dataset.t));
      if (row >= 0) log.rows.add(String(row));
    }
    const slider = document.querySelector('#timestep input[type=range]');
    if (log.released !== null && v && slider && v.dataset.t === slider.value && !v.classList.contains('previewing')) {
      log.exact = performance.now() - log.released;
      log.value = Number(slider.value);
      return;
    }
    requestAnimationFrame(frame);
  };
  requestAnimationFrame(frame);
}"""


@contextlib.contextmanager
def _page():
    """The app ($BENCH_URL, or `python app.py` on a free port) and one Chromium page at 1400×900: (page, url)."""
    from tests import browser
    from tests.server import running_app

    with contextlib.ExitStack() as stack:
        url = (os.environ["BENCH_URL"].rstrip("/") + "/" if os.environ.get("BENCH_URL")
               else stack.enter_context(running_app()))
        playwright = stack.enter_context(browser.sync_playwright())
        chromium = browser.launch(playwright)
        stack.callback(chromium.close)
        yield chromium.new_page(viewport=VIEWPORT), url


def _summary(times: list[float]) -> tuple[float, float]:
    return statistics.median(times), max(times)


def _met(value: float, target: float) -> str:
    return "met" if value <= target else "NOT met"


class Requests:
    """The app's requests the page sends, counted by kind (queued events, answered outside the queue, the rest)."""

    def __init__(self, page):
        self.queued = self.direct = 0
        page.on("request", self._seen)

    def _seen(self, request) -> None:
        if "/gradio_api/queue/join" in request.url:
            self.queued += 1
        elif "/gradio_api/run/" in request.url or "/gradio_api/api/" in request.url:
            self.direct += 1

    def count(self) -> tuple[int, int]:
        return self.queued, self.direct


def walk(page, steps) -> dict:
    """Every step in order: Next to it (the first is shown on load), then Show me until the evidence settles.
    Returns each step's timings: next (heading, measurements), show_me ms, the requests Show me sent."""
    requests = Requests(page)
    out = {"next": [], "measured": [], "show_me": [], "requests": [], "ids": [], "unsettled": []}
    for number, step in enumerate(steps, 1):
        page.click("#tab-lesson-button")
        page.wait_for_selector("#lesson-show-me", state="visible")
        if number > 1:
            heading, measured = page.evaluate(OPEN_STEP, ["#lesson-next", number, step.see[:30]])
            out["next"].append(heading)
            out["measured"].append(measured)
        page.wait_for_timeout(300)  # the step's own events (the address write) are done
        before = requests.count()
        page.evaluate(WATCH_VIEWS)
        page.click("#lesson-show-me")
        try:
            page.wait_for_function(SETTLED, arg=QUIET_MS, timeout=SETTLE_LIMIT_MS, polling=50)
        except Exception:  # noqa: BLE001 - Playwright's timeout: counted as the limit, and said
            out["unsettled"].append(step.id)
        settled = page.evaluate("() => { const l = window.__lessonBench; l.stop();"
                                " return Math.max(l.last, l.unmarked || 0) - l.began; }")
        after = requests.count()
        out["show_me"].append(settled)
        out["requests"].append((after[0] - before[0], after[1] - before[1]))
        out["ids"].append(step.id)
    return out


def choose_each(page, steps) -> list[float]:
    """From the last step, each step chosen in the list: ms until its heading is shown."""
    page.click("#tab-lesson-button")
    times = []
    for number, step in reversed(list(enumerate(steps, 1))[:-1]):
        heading, _ = page.evaluate(OPEN_STEP, [f'#lesson-steps input[value="{step.id}"]', number, step.see[:30]])
        times.append(heading)
        page.wait_for_timeout(200)
    return times


def drag(page, start: float, end: float, seconds: float, moves: int = 30) -> dict:
    """A real pointer drag of the t slider from fraction `start` to `end` of its track over `seconds`, then let go:
    the strip frames shown during it, the ms from letting go to the exact view, and the released t."""
    box = page.locator("#timestep input[type=range]").bounding_box()
    y = box["y"] + box["height"] / 2

    def x(fraction: float) -> float:
        return box["x"] + 8 + (box["width"] - 16) * fraction  # the thumb's centre stays 8 px inside the track

    page.evaluate(WATCH_DRAG)
    page.mouse.move(x(start), y)
    page.mouse.down()
    began = time.perf_counter()
    for index in range(1, moves + 1):
        page.mouse.move(x(start + (end - start) * index / moves), y)
        time.sleep(max(0.0, began + seconds * index / moves - time.perf_counter()))
    page.mouse.up()
    page.wait_for_function("() => window.__dragBench.exact !== null", timeout=60_000, polling="raf")
    log = page.evaluate("() => { const l = window.__dragBench; return {exact: l.exact, value: l.value,"
                        " rows: [...l.rows].filter((r) => r !== '').length}; }")
    return log


@section("lesson")
def lesson_bench() -> list[Row]:
    """Every Lesson step in real Chromium at 1400×900: Next and choosing a step until its words are shown, Show me
    until its evidence settles (targets: median ≤ 1.5 s, slowest ≤ 3 s, Next ≤ 300 ms); then t dragged with the
    real pointer: the exact view after letting go (median of 12, target ≤ 250 ms) and the strip frames shown."""
    from explorer.ui import app
    from explorer.ui import lesson as lesson_tab
    from explorer.views.context import Context

    steps = lesson_tab.Course.of(Context.load(), app.TAB_IDS).steps
    rows: list[Row] = []
    with _page() as (page, url):
        for walk_number, who in enumerate(("first learner on a fresh app", "a later learner (a new session)")):
            page.goto(url)
            page.wait_for_selector("#lesson-step h3")
            page.wait_for_timeout(1500)
            result = walk(page, steps)
            median, slowest = _summary(result["show_me"])
            worst = result["ids"][result["show_me"].index(slowest)]
            queued = sorted({q for q, _ in result["requests"]})
            direct = sorted({d for _, d in result["requests"]})
            rows.append((f"Show me → evidence settled, {who}", median, slowest,
                         f"{len(steps)} steps, slowest {worst}"
                         + (f" (not settled within {SETTLE_LIMIT_MS} ms: {result['unsettled']})"
                            if result["unsettled"] else "") + f"; target median ≤ {SHOW_ME_TARGET_MS} ms: "
                         f"{_met(median, SHOW_ME_TARGET_MS)}, slowest ≤ {SLOWEST_TARGET_MS} ms: "
                         f"{_met(slowest, SLOWEST_TARGET_MS)}; requests per Show me: {queued} queued, {direct} "
                         "outside the queue; per step (ms): "
                         + ", ".join(f"{i} {v:.0f}" for i, v in zip(result["ids"], result["show_me"]))))
            median, slowest = _summary(result["next"])
            rows.append((f"Next → the step's words shown, {who}", median, slowest,
                         f"{len(result['next'])} presses; target ≤ {NEXT_TARGET_MS} ms: "
                         f"{_met(slowest, NEXT_TARGET_MS)} (slowest); its measurements shown: median "
                         f"{statistics.median(result['measured']):.0f} ms, slowest {max(result['measured']):.0f} ms"))
            if walk_number == 0:
                chosen = choose_each(page, steps)
                median, slowest = _summary(chosen)
                rows.append(("a step chosen in the list → its words shown", median, slowest,
                             f"{len(chosen)} choices; target ≤ {NEXT_TARGET_MS} ms: {_met(slowest, NEXT_TARGET_MS)}"))
        rows += drags(page)
    return rows


def drags(page) -> list[Row]:
    """The Denoising lab on the page: 12 real drags of t (0.5 s each, alternately up and down), then one across the
    whole track in 2 s."""
    page.click("#tab-denoising-button")
    page.wait_for_selector("#denoise-view .sbs[data-t]", timeout=120_000)
    page.wait_for_function("""() => { const s = window.__sbs, v = document.querySelector('#denoise-view .sbs');
                                      if (s && s.loadStrip) s.loadStrip();
                                      return s && s.strip.ready && v && s.strip.key === v.dataset.key; }""",
                           timeout=120_000)
    page.wait_for_timeout(1500)
    arrivals = []
    for index in range(12):
        start, end = (0.2, 0.6) if index % 2 == 0 else (0.6, 0.2)
        arrivals.append(drag(page, start, end + 0.01 * index, 0.5)["exact"])
        page.wait_for_timeout(600)
    strip = page.evaluate("() => (window.__sbs.strip.grid || []).length")
    # The thumb is taken to the start of the track first (and its exact view let arrive): the sweep is a hand that
    # takes the thumb there and drags it across, not a press on the track far from the thumb.
    drag(page, 0.5, 0.0, 0.5)
    page.wait_for_timeout(1000)
    sweep = drag(page, 0.0, 1.0, 2.0, moves=60)
    median, slowest = _summary(arrivals)
    return [("real drag of t, let go → exact view shown", median, slowest,
             f"12 drags of 0.5 s with page.mouse; target median ≤ {RELEASE_TARGET_MS} ms: "
             f"{_met(median, RELEASE_TARGET_MS)}"),
            ("real drag across the whole track in 2 s: strip frames shown", sweep["rows"], strip,
             f"{sweep['rows']} of the strip's {strip} frames shown (second column: the strip's frames); exact view "
             f"for t = {sweep['value']} {sweep['exact']:.0f} ms after letting go")]
