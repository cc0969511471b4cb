"""The "Part by part" tab in real headless Chromium: every section fills, and each control changes what is shown.

Screenshots go to $SCREENSHOT_DIR when it is set, and always to /tmp/shots/proofs*.png.
"""
from __future__ import annotations

import os
from pathlib import Path

import pytest

from tests import browser

TIMEOUT_MS = 90_000  # the tab runs four backward passes per refresh on a shared 2-core machine
VIEWPORT = {"width": 1400, "height": 1000}


@pytest.fixture
def page(pages, app_url):
    """A fresh session on the app; fails the test on any JavaScript error."""
    closable, page, errors = browser.open_page(pages, app_url, VIEWPORT, TIMEOUT_MS, ready="#tab-proofs-button")
    yield page
    closable.close()
    assert not errors, f"JavaScript errors in the page: {errors}"


def screenshot(page, name: str) -> None:
    folders = [browser.SHOTS] + ([Path(os.environ["SCREENSHOT_DIR"])] if os.environ.get("SCREENSHOT_DIR") else [])
    for folder in folders:
        folder.mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(folder / f"{name}.png"), full_page=True)


def open_tab(page, tab_id: str) -> None:
    page.click(f"#tab-{tab_id}-button")
    page.wait_for_selector(f"#tab-{tab_id}-button[aria-selected=true]")


def wait_for_text(page, selector: str, pattern: str) -> str:
    page.wait_for_function("([s, p]) => { const e = document.querySelector(s); return e && new RegExp(p, 'i')"
                           ".test(e.innerText); }", arg=[selector, pattern])
    return page.inner_text(selector)


def images_in(page, selector: str) -> list[str]:
    """The src of every loaded <img> under `selector`."""
    return page.eval_on_selector_all(f"{selector} img", "(is) => is.filter(i => i.complete && i.naturalWidth > 0)"
                                     ".map(i => i.src)")


def wait_for_new_images(page, selector: str, old: list[str], count: int) -> list[str]:
    page.wait_for_function(
        """([s, old, n]) => { const is = [...document.querySelectorAll(s + ' img')];
                              return is.length >= n && is.every(i => i.complete && i.naturalWidth > 0)
                                     && JSON.stringify(is.map(i => i.src)) !== JSON.stringify(old); }""",
        arg=[selector, old, count])
    return images_in(page, selector)


def set_slider(page, elem_id: str, value: int) -> None:
    page.eval_on_selector(f"#{elem_id} input[type=range]",
                          """(e, v) => { e.value = v; e.dispatchEvent(new Event('input', {bubbles: true}));
                                        e.dispatchEvent(new Event('change', {bubbles: true})); }""", value)


def open_proofs(page) -> None:
    open_tab(page, "proofs")
    wait_for_text(page, "#proof-gradients-text", r"enc1 is .*× (smaller|larger)")
    page.wait_for_selector("#proof-gradients-live .js-plotly-plot")
    wait_for_text(page, "#proof-concat-table", "dec1")
    wait_for_text(page, "#proof-bottleneck-verdict", "bottleneck bypassed")
    wait_for_new_images(page, "#proof-attention-maps", [], 5)
    wait_for_new_images(page, "#proof-time-pairs", [], 6)


def test_every_section_fills_and_each_control_changes_it(page):
    """One session through the tab: what it shows at first, then each control in turn (each changes a
    different section, so every step waits for a change that only it can make)."""
    open_proofs(page)
    screenshot(page, "proofs")
    for elem_id in ("proof-gradients", "proof-concat", "proof-bottleneck", "proof-attention", "proof-time"):
        assert page.is_visible(f"#{elem_id}"), elem_id
    assert "96 = 64 upsampled" in page.inner_text("#proof-concat-table")
    assert "no additively-skipped model" in page.inner_text("#proof-concat-note") or \
        "nothing to compare against" in page.inner_text("#proof-concat-note")
    assert "bit for bit identical" in page.inner_text("#proof-time-text")
    page.wait_for_selector("#proof-time-live .js-plotly-plot")
    page.wait_for_selector("#proof-bottleneck-chart .js-plotly-plot")
    # Maps are enlarged by whole factors: the shown width is a multiple of the picture's own width.
    sizes = page.eval_on_selector_all("#proof-attention-maps img", "(is) => is.map(i => [i.width, i.naturalWidth])")
    assert all(shown % natural == 0 and shown > natural for shown, natural in sizes), sizes

    # A click on the picture moves the attention query there.
    before = images_in(page, "#proof-attention-maps")
    picture = page.locator("#proof-attention-picker img")
    box = picture.bounding_box()
    picture.click(position={"x": box["width"] * 0.1, "y": box["height"] * 0.9})
    page.wait_for_function("() => document.querySelector('#proof-attention-y input').value !== '32'")
    y, x = int(page.input_value("#proof-attention-y input")), int(page.input_value("#proof-attention-x input"))
    assert y >= 48 and x <= 16, (y, x)
    before = wait_for_new_images(page, "#proof-attention-maps", before, 5)
    wait_for_text(page, "#proof-attention-entropy", r"query is cell \(row 3, column 0\)")  # mid.attn: 4×4 cells

    # Another attention block: its own grid and maps.
    page.locator("#proof-attention-block label", has_text="enc4.attn").click()
    text = wait_for_text(page, "#proof-attention-entropy", "enc4.attn")
    assert "8×8 grid" in text
    wait_for_new_images(page, "#proof-attention-maps", before, 5)
    screenshot(page, "proofs-attention-enc4")

    # The second t of the time section: new pairs, still identical without the timestep.
    before = images_in(page, "#proof-time-pairs")
    set_slider(page, "proof-time-other", 40)
    wait_for_text(page, "#proof-time-text", "then t = 40")
    wait_for_new_images(page, "#proof-time-pairs", before, 6)
    assert "bit for bit identical" in page.inner_text("#proof-time-text")

    # The shared t: every measured section is recomputed at it.
    set_slider(page, "timestep", 700)
    wait_for_text(page, "#proof-concat-table", "at t = 700")
    wait_for_text(page, "#proof-gradients-text", r"t = 700")
    wait_for_text(page, "#proof-bottleneck-verdict", "at t = 700")


def test_bottleneck_switch_in_the_denoising_lab(page):
    open_tab(page, "denoising")
    page.wait_for_selector("#bottleneck-switch input")
    wait_for_text(page, "#denoise-view", "U-Net")
    # The column headings name what is broken (the held-out table under the view names every knock-out).
    assert "bottleneck bypassed" not in page.inner_text("#denoise-view .sbs-grid thead")
    page.click("#bottleneck-switch input")
    wait_for_text(page, "#denoise-view .sbs-grid thead", "bottleneck bypassed")
