"""Never stale (issue 32 item 2): while "Show me" computes a step's evidence, the previous step's view is marked out
of date ("Updating for step N…", dimmed) and the mark comes down once the new evidence is in. Watched in a real
Chromium, frame by frame: the test fails if the old view is ever on screen unmarked after Show me."""
from __future__ import annotations

import time

import pytest

from explorer.ui import app
from explorer.ui import lesson as lesson_tab
from tests import browser

TIMEOUT_MS = 90_000
DESKTOP = {"width": 1400, "height": 900}

# What the page shows of the Denoising lab now: whether its tab is on screen, its view's HTML, the mark.
LOOK = """([tab, viewId]) => {
  const panel = document.getElementById('tab-' + tab);
  const view = document.getElementById(viewId);
  const button = document.getElementById('tab-' + tab + '-button');
  // The mark's words: a label drawn before the panel's contents, held in the window (not scrolled away with the
  // top of a long tab while the evidence further down is in view).
  const label = panel ? getComputedStyle(panel, '::before') : null;
  return {shown: !!button && button.getAttribute('aria-selected') === 'true', html: view ? view.textContent : '',
          stale: panel ? panel.getAttribute('data-stale') : null,
          label: label ? {position: label.position, top: parseFloat(label.top), content: label.content} : null,
          dimmed: panel && panel.firstElementChild ? Number(getComputedStyle(panel.firstElementChild).opacity) : 1};
}"""


# Every animation frame from before Show me until stopped: frames where the Denoising lab is the selected tab and
# its view still says what it said before (`old`), counted as marked or unmarked. No frame escapes a slow poll.
MONITOR = """([tab, viewId, old]) => {
  const log = window.staleMonitor = {marked: 0, unmarked: 0};
  const frame = () => {
    const button = document.getElementById('tab-' + tab + '-button');
    const panel = document.getElementById('tab-' + tab);
    const view = document.getElementById(viewId);
    if (button && button.getAttribute('aria-selected') === 'true' && view && view.textContent === old) {
      if (panel.hasAttribute('data-stale')) log.marked += 1; else log.unmarked += 1;
    }
    if (!log.stopped) requestAnimationFrame(frame);
  };
  requestAnimationFrame(frame);
}"""


VIEWS = {"denoising": "denoise-view"}  # the view inside a tab whose text tells one step's view from another's


def two_steps(course) -> tuple[int, int, str]:
    """Two steps whose Show me opens one view tab on a different image or t (1-based), and that tab: the Denoising
    lab when two steps open it, else another tab."""
    targets = [(index, step.target) for index, step in enumerate(course.steps, 1)]
    for tab in ("denoising", "proofs", "receptive"):
        shown = [(index, target) for index, target in targets if target.tab == tab]
        for index, target in shown:
            for other, later in shown:
                if other > index and (later.image, later.t) != (target.image, target.t):
                    return index, other, tab
    pytest.skip("no two Lesson steps open one view tab on a different image or t")


def show(page, course, index: int, before_click=None) -> None:
    """Open step `index` in the Lesson and press its Show me (`before_click(page)` runs just before the press)."""
    step = course.steps[index - 1]
    page.click("#tab-lesson-button")
    page.click(f'#lesson-steps input[value="{step.id}"]')
    page.wait_for_function("(t) => document.querySelector('#lesson-step h3').textContent.includes(t)",
                           arg=f"Step {index} of")
    if before_click is not None:
        before_click(page)
    page.click("#lesson-show-me")


def test_the_previous_steps_view_is_marked_out_of_date_until_the_new_evidence_is_in(pages, app_url, ctx):
    course = lesson_tab.Course.of(ctx, app.TAB_IDS)
    first, second, tab = two_steps(course)
    where = [tab, VIEWS.get(tab, f"tab-{tab}")]
    closable, page, errors = browser.open_page(pages, app_url, DESKTOP, TIMEOUT_MS, ready="#lesson-step h3")
    try:
        show(page, course, first)
        page.wait_for_function("([tab, viewId]) => { const p = document.getElementById('tab-' + tab);"
                               " return p && p.getClientRects().length && !document.querySelector('[data-stale]')"
                               " && document.getElementById(viewId).textContent.length > 0; }", arg=where)
        page.wait_for_timeout(2500)  # the first step's views have all come in
        old = page.evaluate(LOOK, where)["html"]
        # Watched from the moment of the press: before it the old view is current (the Lesson tab is in front).
        show(page, course, second, before_click=lambda page: page.evaluate(MONITOR, [*where, old]))
        marked_seen, deadline, seen = False, time.monotonic() + TIMEOUT_MS / 1000, []
        while time.monotonic() < deadline:
            look = page.evaluate(LOOK, where)
            seen.append((look["shown"], look["html"] == old, look["stale"]))
            if look["shown"] and look["html"] == old:
                assert look["stale"] == f"Updating for step {second}…", (
                    f"step {first}'s view is on screen as if it were step {second}'s: {look['stale']!r}")
                assert look["dimmed"] < 0.6, f"the out-of-date view is not dimmed (opacity {look['dimmed']})"
                label = look["label"]
                held = label["position"] == "fixed" and 0 <= label["top"] < DESKTOP["height"] / 4
                assert label["content"] == f'"Updating for step {second}…"' and held, (
                    f"the mark's words are not held in the window: {label}")
                if not marked_seen:
                    browser.SHOTS.mkdir(parents=True, exist_ok=True)
                    page.screenshot(path=str(browser.SHOTS / "lesson-stale-midway.png"))
                marked_seen = True
            if look["shown"] and look["html"] != old and not look["stale"]:
                break
            page.wait_for_timeout(30)
        else:
            pytest.fail("the new evidence never arrived, or its mark never came down")
        unmarked = page.evaluate("() => window.staleMonitor.unmarked")
        assert not unmarked, f"frames showing step {first}'s view unmarked after step {second}'s Show me: {unmarked}"
        assert page.evaluate("() => window.staleMonitor.marked") > 0 or not marked_seen
        print(f"the old view was seen marked out of date: {marked_seen}; states:",
              [state for i, state in enumerate(seen) if i == 0 or state != seen[i - 1]])
    finally:
        closable.close()
    assert not errors, errors


# Every animation frame from before Show me until stopped: frames where the tab is selected and its refresh's stamp
# is still the one from before the press (its refresh has not answered), counted as marked or unmarked.
FIRST_DRAW_MONITOR = """([tab, before]) => {
  const log = window.firstDrawMonitor = {marked: 0, unmarked: 0};
  const frame = () => {
    const button = document.getElementById('tab-' + tab + '-button');
    const panel = document.getElementById('tab-' + tab);
    const stamp = document.querySelector(`#refreshed-${tab} :is(textarea, input)`);
    if (button && button.getAttribute('aria-selected') === 'true' && panel && panel.getClientRects().length
        && stamp && stamp.value === before) {
      if (panel.hasAttribute('data-stale')) log.marked += 1; else log.unmarked += 1;
    }
    if (!log.stopped) requestAnimationFrame(frame);
  };
  requestAnimationFrame(frame);
}"""


def test_a_tab_drawn_for_the_first_time_is_marked_out_of_date_until_its_refresh_answers(pages, app_url, ctx):
    """Gradio draws a tab's contents only once the tab is first opened, so Show me cannot mark a tab never opened:
    drawn, it shows the values it was built with while its refresh computes (12 s for Part by part on a busy
    machine). It is marked from the moment it is drawn until its refresh has answered."""
    course = lesson_tab.Course.of(ctx, app.TAB_IDS)
    index = next(i for i, step in enumerate(course.steps, 1) if step.target.tab == "proofs")
    closable, page, errors = browser.open_page(pages, app_url, DESKTOP, TIMEOUT_MS, ready="#lesson-step h3")
    try:
        assert page.evaluate("() => !document.getElementById('tab-proofs')"), "Part by part was drawn before it opened"
        before = page.eval_on_selector("#refreshed-proofs :is(textarea, input)", "(box) => box.value")
        show(page, course, index, before_click=lambda page: page.evaluate(FIRST_DRAW_MONITOR, ["proofs", before]))
        page.wait_for_function("(before) => { const p = document.getElementById('tab-proofs');"
                               " const box = document.querySelector('#refreshed-proofs :is(textarea, input)');"
                               " return p && p.getClientRects().length && box.value !== before"
                               " && !p.hasAttribute('data-stale'); }", arg=before, timeout=TIMEOUT_MS)
        log = page.evaluate("() => { const log = window.firstDrawMonitor; log.stopped = true; return log; }")
        assert not log["unmarked"], f"Part by part was on screen unmarked before its refresh answered: {log}"
        assert log["marked"] > 0, log
    finally:
        closable.close()
    assert not errors, errors
