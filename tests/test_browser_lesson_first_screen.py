"""The Lesson's first screen in a real Chromium at desktop and phone sizes (issue 32 item 6): step 1 names the image
the page opened with, and "Show me" is on the first screen (at 1400×900 without scrolling; on a phone within one
screen of the Lesson's start)."""
from __future__ import annotations

import pytest

from explorer import emoji_names, lesson
from tests import browser

TIMEOUT_MS = 60_000
SIZES = {"desktop": {"width": 1400, "height": 900}, "phone": {"width": 390, "height": 844}}


@pytest.mark.parametrize("size", list(SIZES))
def test_the_first_step_names_the_selected_image_and_show_me_is_on_the_first_screen(pages, chromium, app_url, ctx,
                                                                                    size):
    first = lesson.steps(ctx)[0]
    target = chromium if size == "phone" else pages
    closable, page, errors = browser.open_page(target, app_url, SIZES[size], TIMEOUT_MS, ready="#lesson-step h3")
    try:
        page.wait_for_selector("#lesson-show-me", state="visible")
        selected = page.inner_text("#image-source")
        stem = first.target.image
        assert stem in selected, f"the page opened on {selected!r}, step 1 is measured on {stem}"
        words = page.inner_text("#lesson-step")
        assert emoji_names.image_label(stem) in words, "step 1 does not name the image the page opened with"
        others = [path.stem for path in ctx.examples if path.stem != stem and f"({path.stem})" in words]
        assert not others, f"step 1 names images that are not selected: {others}"
        if size == "phone":  # the Lesson's first screen: from the top of its tab
            start = page.evaluate("() => document.getElementById('tab-lesson').getBoundingClientRect().top"
                                  " + scrollY")
        else:
            start = 0
        bottom = page.evaluate("() => document.getElementById('lesson-show-me').getBoundingClientRect().bottom"
                               " + scrollY")
        height = SIZES[size]["height"]
        assert bottom - start <= height, (f"Show me ends {bottom - start:.0f} px below "
                                          f"{'the Lesson tab' if size == 'phone' else 'the top'}, past {height}")
        browser.SHOTS.mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(browser.SHOTS / f"lesson-first-screen-{size}.png"))
    finally:
        closable.close()
    assert not errors, errors


def test_plotly_is_loaded_while_the_reader_is_on_the_first_screen(pages, app_url):
    """The first chart of the page (a view tab drawn by Show me) does not wait ~2 s for Plotly: the page loads
    Gradio's Plotly chunk once it is idle on the Lesson, before any tab with a chart has been opened."""
    from explorer.server import internals

    chunk = internals.plotly_chunk()
    assert chunk and chunk.startswith("PlotlyPlot-"), chunk
    closable, page, errors = browser.open_page(pages, app_url, SIZES["desktop"], TIMEOUT_MS, ready="#lesson-step h3")
    try:
        page.wait_for_function("(chunk) => performance.getEntriesByType('resource').some("
                               "(entry) => entry.name.endsWith('/' + chunk))", arg=chunk, timeout=TIMEOUT_MS)
        assert page.evaluate("() => document.querySelector('[role=tab][aria-selected=true]').id") \
            == "tab-lesson-button", "a view tab was opened: the chart's own load would not tell"
        assert not page.query_selector(".js-plotly-plot"), "a chart was drawn: the load would be Gradio's own"
    finally:
        closable.close()
    assert not errors, errors
