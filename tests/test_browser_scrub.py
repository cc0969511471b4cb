"""Dragging t in a real headless Chromium: the Denoising lab follows the hand, and the released t is exact.

While the t slider is held, the page swaps in frames of the strip computed ahead for this image (no server
call per step); when it is let go, the server's exact view for that t replaces them. Also the Denoising lab's
fixes from issue 9 that only a browser can see (same-size columns, a table that does not wrap numbers, the
told-t slider following t, the DDIM note, the animation's layout). No timing is asserted: the rate is measured
by `python -m tests.bench_app scrub`.
"""
from __future__ import annotations

import base64
import io

import numpy as np
import pytest
from PIL import Image

from explorer.render import tensor_image
from explorer.ui import inputs
from tests import browser
from tests.bench_app import show_denoising, wait_for_exact, wait_for_strip
from tests.server import api_client
from tests.test_scrub import view_parts

TIMEOUT_MS = 90_000
VIEWPORT = {"width": 1400, "height": 1000}


def open_lab(pages, app_url):
    """The Denoising lab open in a fresh session (its view shown: only dragging waits for the strip of frames).
    Returns (page, JavaScript errors)."""
    _, page, errors = browser.open_page(pages, app_url, VIEWPORT, TIMEOUT_MS)  # closing the page is all it needs
    show_denoising(page, TIMEOUT_MS)
    return page, errors


@pytest.fixture
def fresh_page(pages, app_url):
    """A session of its own, for the test that drags; fails on any JavaScript error."""
    page, errors = open_lab(pages, app_url)
    yield page
    page.close()
    assert not errors, f"JavaScript errors in the page: {errors}"


@pytest.fixture(scope="module")
def shared_lab(pages, app_url):
    page, errors = open_lab(pages, app_url)
    yield page, errors
    page.close()


@pytest.fixture
def page(shared_lab):
    """One session for the tests that each change a different control (t, a skip, the knock-out table, the
    reverse process) and wait for what only that change shows, so they pass in any order; fails on any
    JavaScript error so far."""
    page, errors = shared_lab
    yield page
    assert not errors, f"JavaScript errors in the page: {errors}"


def view(page) -> dict:
    return page.evaluate("""() => { const v = document.querySelector('#denoise-view .sbs');
        return {t: Number(v.dataset.t), row: v.style.getPropertyValue('--row'),
                previewing: v.classList.contains('previewing'),
                shown: v.dataset.shown || null, status: v.querySelector('.sbs-status').textContent,
                sentence: v.querySelector('#denoise-metrics').innerText}; }""")


AFTER_RELEASE_JS = """(t) => { window.__after = []; window.__afterStop = false; const look = () => {
    const v = document.querySelector('#denoise-view .sbs'), img = document.querySelector('#xt-preview img');
    window.__after.push({exact: !!v && v.dataset.t === String(t) && !v.classList.contains('previewing'),
                         data: !!img && img.src.startsWith('data:'), alt: img ? img.alt : null});
    if (!window.__afterStop) requestAnimationFrame(look); }; requestAnimationFrame(look); }"""


def test_dragging_t_swaps_frames_and_the_released_t_is_exact(fresh_page, app_url, ctx):
    page = fresh_page
    wait_for_strip(page, TIMEOUT_MS)
    page.evaluate("""() => { window.__rows = []; const look = () => {
        const v = document.querySelector('#denoise-view .sbs'), row = v && v.style.getPropertyValue('--row');
        if (row && row !== window.__rows[window.__rows.length - 1]) window.__rows.push(row);
        if (!window.__stop) requestAnimationFrame(look); }; requestAnimationFrame(look); }""")
    start_t = view(page)["t"]
    track = page.locator("#timestep input[type=range]").bounding_box()
    y = track["y"] + track["height"] / 2
    page.mouse.move(track["x"] + track["width"] * 0.2, y)
    page.mouse.down()
    for step in range(1, 21):
        page.mouse.move(track["x"] + track["width"] * (0.2 + 0.03 * step), y)
        page.wait_for_timeout(40)
    page.wait_for_function("() => window.__rows.length >= 3")
    during = view(page)
    grid = page.evaluate("() => window.__sbs.strip.grid")
    held = int(page.eval_on_selector("#timestep input[type=range]", "(e) => e.value"))
    # While held: strip frames, the nearest one to the slider, and no exact view computed for the moving t.
    assert during["previewing"], during
    assert during["t"] == start_t, "the server computed views while t was dragged"
    assert int(during["shown"]) == min(grid, key=lambda g: abs(g - held)), (during, held)
    assert f"At t = {during['shown']}, on this image" in during["sentence"] and str(held) in during["status"]
    rows = page.evaluate("() => { window.__stop = true; return window.__rows; }")
    assert len(set(rows)) >= 3, f"only {len(set(rows))} frames shown while dragging: {rows}"
    # Issue 32: the input panel follows the hand too: the noise-level line for the held t (the server's own
    # numbers), the told-t slider, and the x_t picture (the shown frame's, at its t).
    assert page.inner_text("#noise-level").strip() == inputs.noise_level(ctx, held).replace("**", "")
    assert page.eval_on_selector_all("#told-t input", "(boxes) => boxes.map(b => b.value)") == [str(held)] * 2
    preview = page.eval_on_selector("#xt-preview img", "(img) => img.src")
    assert preview.startswith("data:image/png;base64,"), preview[:80]
    picture = np.asarray(Image.open(io.BytesIO(base64.b64decode(preview.split(",", 1)[1]))).convert("RGB"))
    scale = picture.shape[0] // ctx.image_size
    _, x_t, _ = ctx.x_t(inputs.first_image(ctx), int(during["shown"]), 0)
    expected_xt = np.asarray(tensor_image(x_t, 1), dtype=np.int16)
    assert np.abs(picture[::scale, ::scale].astype(np.int16) - expected_xt).max() <= 1
    # From letting go on, at every animation frame: whether the exact view is shown and what x_t picture is.
    page.evaluate(AFTER_RELEASE_JS, held)
    page.mouse.up()

    released = int(page.eval_on_selector("#timestep input[type=range]", "(e) => e.value"))
    assert released == held
    wait_for_exact(page, released, TIMEOUT_MS)
    after = view(page)
    assert not after["previewing"] and after["row"] == "" and f"At t = {released}, on this image" in after["sentence"]
    # The exact frame is what the endpoint answers for the same inputs (a new session has the same image).
    shown = view_parts(page.eval_on_selector("#denoise-view .sbs", "(e) => e.outerHTML"))
    skips = page.eval_on_selector_all("#skip-switches input[type=checkbox]", "(boxes) => boxes.length")
    reply = api_client(app_url).predict(released, 0, False, released, [f"skip{i}" for i in range(1, skips + 1)],
                                                  True, False, api_name="/denoise")
    expected = view_parts(reply if isinstance(reply, str) else reply[0])
    assert (shown["t"], shown["key"]) == (expected["t"], expected["key"])
    assert np.array_equal(shown["sprite"], expected["sprite"]), "the page's exact frame differs from /denoise's"
    assert shown["texts"] == expected["texts"]
    # The held-out curves keep their figure; only the t marker moved.
    page.wait_for_function("(t) => [...document.querySelectorAll('#denoise-curves .t-marker')]"
                           ".map(m => m.dataset.t).join() === `${t},${t}`", arg=released)
    # Issue 9: the told-t slider follows t while it is not overridden.
    page.wait_for_function("(t) => document.querySelector('#told-t input[type=range]').value === String(t)",
                           arg=released)
    # The panel's line and x_t are the server's again, for the released t.
    page.wait_for_function("() => !document.querySelector('#xt-preview img').src.startsWith('data:')")
    assert page.inner_text("#noise-level").strip() == inputs.noise_level(ctx, released).replace("**", "")
    # The exact view is asked for first and the panel's previews after it (so that the two do not share the
    # cores while the hand waits); until the server's x_t for the released t comes, the frame's x_t stays: the
    # picture of the t before the drag never comes back.
    frames = page.evaluate("() => { window.__afterStop = true; return window.__after; }")
    server = [frame for frame in frames if not frame["data"]]
    assert server and all(frame["alt"] == inputs.xt_alt(released) for frame in server), server[:3]
    first_exact = next(i for i, frame in enumerate(frames) if frame["exact"])
    assert first_exact <= frames.index(server[0]), f"the previews came before the exact view: {frames[:12]}"


def test_keys_and_typed_values_still_give_the_exact_view(page):
    page.fill("#timestep input[type=number]", "123")
    page.locator("#timestep input[type=number]").press("Enter")
    page.locator("#timestep input[type=number]").blur()
    wait_for_exact(page, 123, TIMEOUT_MS)
    page.focus("#timestep input[type=range]")
    page.keyboard.press("ArrowRight")
    wait_for_exact(page, 124, TIMEOUT_MS)


def test_columns_are_the_same_whole_multiple_size_and_labels_are_text(page):
    page.locator("#skip-switches label", has_text="skip1").click()
    page.wait_for_function("() => document.querySelectorAll('#denoise-view .sbs-grid thead th').length === 5")
    sizes = page.eval_on_selector_all("#denoise-view .sbs-tile",
                                      "(tiles) => tiles.map(t => [t.getBoundingClientRect().width, "
                                      "t.getBoundingClientRect().height])")
    assert len(sizes) == 3 + 3 * 4 and len({tuple(size) for size in sizes}) == 1, sizes
    assert sizes[0][0] == sizes[0][1] and sizes[0][0] % 64 == 0, sizes[0]
    assert page.eval_on_selector("#denoise-view .sbs-tile", "(t) => getComputedStyle(t).imageRendering") == "pixelated"
    headings = page.inner_text("#denoise-view thead")
    assert "Gaussian blur" in headings and "U-Net: skip1 cut" in headings


def test_the_knockout_table_names_its_metric_and_keeps_numbers_whole(page):
    page.get_by_text("What each part is worth on the held-out set").click()
    page.wait_for_selector("#knockout-table td", state="visible")
    assert "ε-MSE" in page.inner_text("#knockout-table")
    lines = page.eval_on_selector_all("#knockout-table td", """(cells) => cells.map((cell) => {
        const range = document.createRange(); range.selectNodeContents(cell);
        return new Set([...range.getClientRects()].map((r) => Math.round(r.bottom))).size; })""")
    assert lines and max(lines) == 1, f"cells wrap onto {max(lines)} lines"


def test_ddim_note_and_the_animation_layout(page):
    page.fill("#timestep input[type=number]", "20")
    page.locator("#timestep input[type=number]").blur()
    wait_for_exact(page, 20, TIMEOUT_MS)
    page.fill("#ddim-steps input", "40")
    page.locator("#ddim-steps input").blur()
    page.wait_for_function("() => document.querySelector('#ddim-note').innerText.includes('at most 21 steps')")
    page.fill("#ddim-steps input", "5")
    page.click("#denoise-from-here")
    page.wait_for_function("() => document.querySelector('#reverse-progress').innerText.includes('done')")
    page.wait_for_function(
        "() => { const i = document.querySelector('#reverse-gif img'); return i && i.naturalWidth > 0; }")
    layout = page.evaluate("""() => { const box = (e) => e.getBoundingClientRect();
        const block = document.querySelector('#reverse-gif'), img = block.querySelector('img');
        const buttons = [...block.querySelectorAll('button')].filter((b) => !b.contains(img)).map(box);
        const label = block.querySelector('[data-testid=block-label]');
        return {block: box(block).toJSON(), img: box(img).toJSON(), buttons: buttons.map((b) => b.toJSON()),
                label: label ? getComputedStyle(label).display !== 'none' && !label.classList.contains('hide')
                             : false}; }""")
    img, block = layout["img"], layout["block"]
    assert not layout["label"], "the label badge is shown over the GIF"
    assert img["left"] >= block["left"] - 1 and img["right"] <= block["right"] + 1, layout
    for button in layout["buttons"]:
        overlaps = not (button["right"] <= img["left"] or button["left"] >= img["right"]
                        or button["bottom"] <= img["top"] or button["top"] >= img["bottom"])
        assert not overlaps, f"a button covers the GIF: {button} over {img}"
    strip_heads = page.inner_text("#reverse-strip thead")
    assert "t = 20" in strip_heads
