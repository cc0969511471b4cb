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
LOOK = """() => {
  const panel = document.getElementById('tab-denoising');
  const view = document.getElementById('denoise-view');
  const button = document.getElementById('tab-denoising-button');
  return {shown: !!button && button.getAttribute('aria-selected') === 'true', html: view ? view.textContent : '',
          stale: panel ? panel.getAttribute('data-stale') : null,
          dimmed: panel && panel.firstElementChild ? Number(getComputedStyle(panel.firstElementChild).opacity) : 1};
}"""


# Every animation frame from before Show me until stopped: frames where the Denoising lab is the selected tab and
# its view still says what it said before (`old`), counted as marked or unmarked. No frame escapes a slow poll.
MONITOR = """(old) => {
  const log = window.staleMonitor = {marked: 0, unmarked: 0};
  const frame = () => {
    const button = document.getElementById('tab-denoising-button');
    const panel = document.getElementById('tab-denoising');
    const view = document.getElementById('denoise-view');
    if (button && button.getAttribute('aria-selected') === 'true' && view && view.textContent === old) {
      if (panel.hasAttribute('data-stale')) log.marked += 1; else log.unmarked += 1;
    }
    if (!log.stopped) requestAnimationFrame(frame);
  };
  requestAnimationFrame(frame);
}"""


def two_lab_steps(course) -> tuple[int, int]:
    """Two steps whose Show me opens the Denoising lab on different images (1-based)."""
    lab = [(index, lesson_tab.shown_target(course, step)) for index, step in enumerate(course.steps, 1)]
    lab = [(index, target) for index, target in lab if target.tab == "denoising"]
    for index, target in lab:
        for other, later in lab:
            if other > index and later.image != target.image:
                return index, other
    pytest.skip("no two Lesson steps open the Denoising lab on different images")


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
    first, second = two_lab_steps(course)
    closable, page, errors = browser.open_page(pages, app_url, DESKTOP, TIMEOUT_MS, ready="#lesson-step h3")
    try:
        show(page, course, first)
        page.wait_for_function("() => { const p = document.getElementById('tab-denoising');"
                               " return p && p.getClientRects().length && !document.querySelector('[data-stale]')"
                               " && document.getElementById('denoise-view').textContent.length > 0; }")
        page.wait_for_timeout(2500)  # the first step's views have all come in
        old = page.evaluate(LOOK)["html"]
        # Watched from the moment of the press: before it the old view is current (the Lesson tab is in front).
        show(page, course, second, before_click=lambda page: page.evaluate(MONITOR, old))
        marked_seen, deadline, seen = False, time.monotonic() + TIMEOUT_MS / 1000, []
        while time.monotonic() < deadline:
            look = page.evaluate(LOOK)
            seen.append((look["shown"], look["html"] == old, look["stale"]))
            if look["shown"] and look["html"] == old:
                assert look["stale"] == f"Updating for step {second}…", (
                    f"step {first}'s view is on screen as if it were step {second}'s: {look['stale']!r}")
                assert look["dimmed"] < 0.6, f"the out-of-date view is not dimmed (opacity {look['dimmed']})"
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
