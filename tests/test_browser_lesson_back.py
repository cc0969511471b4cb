"""One key or one visible link returns from the evidence to the step (issue 32 item 7), documented on the page:
after Show me a "Back to step N" link floats at the window's bottom edge, and Escape does the same, at desktop and
phone sizes."""
from __future__ import annotations

import pytest

from tests import browser

TIMEOUT_MS = 90_000
SIZES = {"desktop": {"width": 1400, "height": 900}, "phone": {"width": 390, "height": 844}}


def selected(page) -> str:
    return page.eval_on_selector("#views [role=tab][aria-selected=true]", "(e) => e.id")


def back_at_the_step(page, number: int) -> None:
    page.wait_for_function("() => document.getElementById('tab-lesson-button').getAttribute('aria-selected')"
                           " === 'true'")
    page.wait_for_function("() => document.activeElement && !!document.activeElement.closest('#lesson-show-me')")
    assert page.inner_text("#lesson-step h3").startswith(f"Step {number} of")
    assert not page.is_visible("#lesson-back")
    top = page.eval_on_selector("#lesson-show-me", "(e) => e.getBoundingClientRect().top")
    assert 0 <= top < page.viewport_size["height"], f"Show me is out of the window after going back ({top})"


@pytest.mark.parametrize("size", list(SIZES))
def test_escape_or_the_back_link_returns_from_the_evidence_to_the_step(pages, chromium, app_url, size):
    target = chromium if size == "phone" else pages
    closable, page, errors = browser.open_page(target, app_url, SIZES[size], TIMEOUT_MS, ready="#lesson-step h3")
    try:
        assert "Esc" in page.inner_text("#lesson-intro") and "Back to step" in page.inner_text("#lesson-intro")
        assert not page.is_visible("#lesson-back")
        page.click("#lesson-next")
        page.wait_for_function("() => document.querySelector('#lesson-step h3').textContent.includes('Step 2 of')")
        for way in ("Escape", "link"):
            page.click("#lesson-show-me")
            page.wait_for_selector("#lesson-back", state="visible")
            assert selected(page) != "tab-lesson-button"
            link = page.eval_on_selector("#lesson-back", "(e) => { const r = e.getBoundingClientRect();"
                                         " return [e.innerText, r.left, r.right, r.top, r.bottom]; }")
            assert link[0].startswith("← Back to step 2"), link
            assert link[1] >= 0 and link[2] <= SIZES[size]["width"] and link[4] <= SIZES[size]["height"], link
            browser.SHOTS.mkdir(parents=True, exist_ok=True)
            page.screenshot(path=str(browser.SHOTS / f"lesson-back-{size}-{way}.png"))
            if way == "Escape":
                page.keyboard.press("Escape")
            else:
                page.click("#lesson-back")
            back_at_the_step(page, 2)
    finally:
        closable.close()
    assert not errors, errors
