"""The Lesson tab and the shareable URL state in a real headless Chromium (Playwright, sync API).

The Lesson tab comes first and is selected on load; each step's "Show me" puts the app in the state the
step names (tab, image, t, seed, block, pixel, knock-outs), scrolls to its evidence and writes the state
into the address; a link with a state opens it; a link with garbage opens the default with a note.
The app runs as `python app.py` (tests/server.py).

With SCREENSHOT_DIR set (`SCREENSHOT_DIR=out/screenshots`), three steps are saved as lesson-*.png.
"""
from __future__ import annotations

import os
import re
import time
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import pytest

from explorer import lesson
from explorer.ui import app
from explorer.ui import lesson as lesson_tab
from tests import browser

TIMEOUT_MS = 45_000
DESKTOP = {"width": 1400, "height": 1000}
PHONE = {"width": 390, "height": 844}


@pytest.fixture(scope="module")
def steps(ctx) -> list[lesson.Step]:
    return lesson.steps(ctx)


def open_page(pages, url: str, viewport=DESKTOP):
    return browser.open_page(pages, url, viewport, TIMEOUT_MS, ready="#lesson-step h3")


@pytest.fixture
def page(pages, app_url):
    closable, page, errors = open_page(pages, app_url)
    yield page
    closable.close()
    assert not errors, f"JavaScript errors in the page: {errors}"


def screenshot(page, name: str, full_page: bool = False) -> None:
    if os.environ.get("SCREENSHOT_DIR"):
        folder = Path(os.environ["SCREENSHOT_DIR"])
        folder.mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(folder / f"{name}.png"), full_page=full_page)


def selected_tab(page) -> str:
    return page.eval_on_selector("#views [role=tab][aria-selected=true]", "(e) => e.id.replace(/-button$/, '')")


def wait_for_tab(page, tab: str) -> None:
    page.wait_for_function("(id) => { const b = document.getElementById(id + '-button');"
                           " return b && b.getAttribute('aria-selected') === 'true'; }", arg=f"tab-{tab}")


def query(page) -> dict[str, str]:
    """The address bar's query (Playwright's page.url does not follow history.replaceState)."""
    href = page.evaluate("window.location.href")
    return {key: values[-1] for key, values in parse_qs(urlsplit(href).query, keep_blank_values=True).items()}


def wait_for_query(page, **expected) -> dict[str, str]:
    page.wait_for_function(
        """(expected) => { const q = new URLSearchParams(window.location.search);
                           return Object.entries(expected).every(([k, v]) => q.get(k) === String(v)); }""",
        arg=expected)
    return query(page)


def input_value(page, selector: str) -> str:
    return page.eval_on_selector(selector, "(e) => e.value")


def wait_for_value(page, selector: str, value) -> None:
    page.wait_for_function("([s, v]) => { const e = document.querySelector(s); return e && e.value === String(v); }",
                           arg=[selector, value])


def checked(page, selector: str) -> bool:
    return page.eval_on_selector(selector, "(e) => e.checked")


def open_step(page, index: int, step: lesson.Step, total: int) -> str:
    page.click(f'#lesson-steps input[value="{step.id}"]')
    page.wait_for_function("(text) => { const h = document.querySelector('#lesson-step h3');"
                           " return h && h.textContent.includes(text); }", arg=f"Step {index} of {total}:")
    # The claim shows at once; the measurements once the server has answered (marked until then).
    page.wait_for_function("() => !document.querySelector('#lesson-measured[data-stale]')")
    return page.inner_text("#lesson-step")


def evidence_in_view(page, elem_id: str) -> bool:
    return page.evaluate("""(id) => { const e = document.getElementById(id); if (!e) return false;
                                      const r = e.getBoundingClientRect();
                                      return r.height > 0 && r.top < window.innerHeight && r.bottom > 0; }""", elem_id)


# --- the tab ------------------------------------------------------------------------------------------------------

def test_lesson_tab_is_first_and_its_steps_quote_measured_numbers(page, ctx, steps):
    tabs = page.eval_on_selector_all("#views [role=tab]", "(es) => es.map((e) => e.id.replace(/-button$/, ''))")
    assert tabs[0] == "tab-lesson"
    assert selected_tab(page) == "tab-lesson"
    page.wait_for_selector("#lesson-step h3")
    assert page.inner_text("#lesson-step h3").startswith(f"Step 1 of {len(steps)}: {steps[0].title}")
    labels = page.eval_on_selector_all("#lesson-steps input[type=radio]", "(es) => es.map((e) => e.value)")
    assert labels == [step.id for step in steps]
    assert page.is_visible("#lesson-show-me") and page.is_disabled("#lesson-previous")
    assert not page.is_visible("#url-note")
    screenshot(page, "lesson-start")
    # Spot check: the numbers a step shows are those explorer/lesson.py computes.
    for index in (2, 6):
        step = steps[index - 1]
        text = open_step(page, index, step, len(steps))
        measured = step.measure(ctx)
        for number in re.findall(r"×[0-9,.]+|[0-9]+×[0-9]+|[0-9][0-9,]*\.[0-9]+", measured.text):
            assert number in text, (step.id, number)


def test_previous_next_keyboard_and_progress_kept_in_the_session(page, steps):
    page.click("#lesson-next")
    page.wait_for_function("(t) => document.querySelector('#lesson-step h3').textContent.includes(t)",
                           arg=steps[1].title)
    assert checked(page, f'#lesson-steps input[value="{steps[1].id}"]')
    page.click("#lesson-next")
    page.wait_for_function("(t) => document.querySelector('#lesson-step h3').textContent.includes(t)",
                           arg=steps[2].title)
    page.click("#lesson-previous")
    page.wait_for_function("(t) => document.querySelector('#lesson-step h3').textContent.includes(t)",
                           arg=steps[1].title)
    page.wait_for_function("() => document.querySelector('#lesson-progress').innerText.includes('opened 3 of the')")
    assert wait_for_query(page, step=steps[1].id)["tab"] == "lesson"

    # By keyboard: Space on a step's radio opens it, Enter on "Show me" goes to its evidence and focuses it.
    page.focus(f'#lesson-steps input[value="{steps[3].id}"]')
    page.keyboard.press("Space")
    page.wait_for_function("(t) => document.querySelector('#lesson-step h3').textContent.includes(t)",
                           arg=steps[3].title)
    page.focus("#lesson-show-me")
    page.keyboard.press("Enter")
    wait_for_tab(page, steps[3].target.tab)
    page.wait_for_function("(id) => document.activeElement && document.activeElement.id === id",
                           arg=steps[3].target.evidence)


MOST_TABS = 15  # from the top of the page to the first "Show me" (53 when each thumbnail and step was a stop)


def focused(page, selector: str) -> bool:
    return page.evaluate("(s) => !!(document.activeElement && document.activeElement.closest(s))", selector)


def press_until_focused(page, selector: str, limit: int = 80) -> int:
    """Tab presses until the focus is inside `selector` (fails after `limit`)."""
    for presses in range(1, limit + 1):
        page.keyboard.press("Tab")
        if focused(page, selector):
            return presses
    pytest.fail(f"{limit} Tab presses never reached {selector}", pytrace=False)


def test_keyboard_groups_are_one_tab_stop_moved_with_arrows(page, ctx, steps):
    page.wait_for_selector("#examples [role=radiogroup] [role=radio][tabindex='0']", state="attached")
    page.wait_for_selector("#lesson-steps[role=radiogroup] input[tabindex='0']", state="attached")
    presses = press_until_focused(page, "#lesson-show-me")
    assert presses <= MOST_TABS, f"{presses} Tab presses from the top of the page to the first Show me"

    # The steps: Shift+Tab lands on the chosen step; arrows, End and Home open steps; Tab goes on to Show me.
    page.keyboard.press("Shift+Tab")
    assert focused(page, f'#lesson-steps input[value="{steps[0].id}"]')
    for key, index in (("ArrowDown", 1), ("ArrowDown", 2), ("ArrowUp", 1), ("End", len(steps) - 1), ("Home", 0)):
        page.keyboard.press(key)
        assert focused(page, f'#lesson-steps input[value="{steps[index].id}"]'), key
        page.wait_for_function("(t) => document.querySelector('#lesson-step h3').textContent.includes(t)",
                               arg=f"Step {index + 1} of {len(steps)}: ")
        assert checked(page, f'#lesson-steps input[value="{steps[index].id}"]'), key
    page.keyboard.press("Tab")
    assert focused(page, "#lesson-show-me")

    # The gallery: one stop, on the image in use; arrows choose the next and previous images, End and Home the ends.
    stems = [path.stem for path in ctx.examples[:24]]
    page.focus("#examples [role=radio][tabindex='0']")
    for key, index in (("ArrowRight", 1), ("ArrowRight", 2), ("ArrowLeft", 1), ("End", len(stems) - 1),
                       ("Home", 0), ("ArrowDown", 1)):
        page.keyboard.press(key)
        page.wait_for_function("(s) => document.querySelector('#image-source').innerText.includes(s)",
                               arg=stems[index])
        page.wait_for_function("(i) => { const items = [...document.querySelectorAll('#examples [role=radio]')];"
                               " return items[i] === document.activeElement"
                               " && items[i].getAttribute('aria-checked') === 'true'"
                               " && items.filter((e) => e.tabIndex === 0).length === 1; }", arg=index)
    page.keyboard.press("Shift+Tab")
    page.keyboard.press("Tab")
    assert page.evaluate("() => document.activeElement.getAttribute('aria-checked')") == "true"


# --- every "Show me" ------------------------------------------------------------------------------------------------

def test_each_show_me_sets_the_state_it_names(page, ctx, steps):
    tabs = set(page.eval_on_selector_all("#views [role=tab]", "(es) => es.map((e) => e.id.slice(4, -7))"))
    shots = {"window": "lesson-window", "time": "lesson-time"}
    course = lesson_tab.Course.of(ctx, app.TAB_IDS)
    for index, step in enumerate(steps, 1):
        target = step.target  # Show me opens the step's own evidence; its trained comparison is below
        assert target.tab in tabs, f"step {step.id} points at a tab the app does not have: {target.tab}"
        page.click("#tab-lesson-button")
        try:
            wait_for_tab(page, "lesson")
        except Exception:  # noqa: BLE001 - seen in CI before the keep-in-view scroll stopped at a click
            browser.SHOTS.mkdir(parents=True, exist_ok=True)
            page.screenshot(path=str(browser.SHOTS / f"lesson-tab-not-selected-{step.id}.png"), full_page=True)
            pytest.fail(f"before step {step.id}: a click on the Lesson tab left {selected_tab(page)} selected "
                        f"(address {query(page)})", pytrace=False)
        text = open_step(page, index, step, len(steps))
        assert "What you should see" in text and step.title in text
        page.click("#lesson-show-me")
        wait_for_tab(page, target.tab)
        stem = lesson.image_stem(ctx, target.image)
        page.wait_for_function("(s) => document.querySelector('#image-source').innerText.includes(s)", arg=stem)
        wait_for_value(page, "#timestep input[type=number]", target.t)
        wait_for_value(page, "#seed input", target.seed)
        expected = {"step": step.id, "tab": target.tab, "image": stem, "t": target.t, "seed": target.seed}
        if target.tab == "receptive":
            expected.update(pixel=f"{target.pixel[0]},{target.pixel[1]}", block=target.block)
            wait_for_value(page, "#rf-y input", target.pixel[0])
            wait_for_value(page, "#rf-x input", target.pixel[1])
            assert input_value(page, "#rf-block input") == target.block
        if target.tab == "architecture":
            expected["block"] = target.block
            page.wait_for_function("(b) => { const h = document.querySelector('#block-panel h3');"
                                   " return h && h.textContent.trim().startsWith(b); }", arg=target.block)
        if target.tab == "denoising":
            knockouts = target.knockouts
            for level in range(1, ctx.pair.unet.config.num_levels + 1):
                box = f'#skip-switches input[name="skip{level}"]'
                assert checked(page, box) == (level not in knockouts.zero_skips), (step.id, level)
            assert checked(page, "#override-t input") == (knockouts.told_t is not None)
            if knockouts.told_t is not None:
                wait_for_value(page, "#told-t input[type=number]", knockouts.told_t)
            assert checked(page, "#attention-switch input") == knockouts.attention
            if target.knockouts.active:
                expected["knockouts"] = str(target.knockouts)
        got = wait_for_query(page, **expected)
        if target.tab == "denoising" and not target.knockouts.active:
            assert "knockouts" not in got
        page.wait_for_function("(id) => { const e = document.getElementById(id); if (!e) return false;"
                               " const r = e.getBoundingClientRect(); return r.height > 0 && r.top < innerHeight"
                               " && r.bottom > 0; }", arg=target.evidence)
        if target.ddim_steps is not None:
            wait_for_value(page, "#ddim-steps input", target.ddim_steps)
        if target.press:
            page.wait_for_function("() => /step \\d+ of \\d+/i.test(document.querySelector('#reverse-progress')"
                                   ".innerText)", timeout=90_000)
        if step.id in shots and os.environ.get("SCREENSHOT_DIR"):
            time.sleep(1.0)  # let the tab's pictures arrive
            screenshot(page, shots[step.id])
        trained = lesson_tab.trained_target(course, step)
        page.click("#tab-lesson-button")
        wait_for_tab(page, "lesson")
        if trained is None:  # no decided trained comparison: no second button
            assert not page.is_visible("#lesson-show-trained"), step.id
            continue
        page.click("#lesson-show-trained")
        wait_for_tab(page, trained.tab)
        page.wait_for_function("([id, n]) => { const e = document.getElementById(id); if (!e) return false;"
                               " const r = e.getBoundingClientRect(); return r.height > 0 && r.top < innerHeight"
                               " && r.bottom > 0 && e.innerText.includes(`(step ${n})`); }",
                               arg=[trained.evidence, index])
        wait_for_query(page, step=step.id, tab=trained.tab)


# --- links ------------------------------------------------------------------------------------------------------------

def test_a_link_with_a_state_opens_that_state(pages, app_url, ctx, steps):
    stem = lesson.image_stem(ctx, "00a9-fe0f")
    link = f"{app_url}?step=time&tab=denoising&image={stem}&t=900&seed=3&knockouts=told:10,skip2"
    closable, page, errors = open_page(pages, link)
    try:
        wait_for_tab(page, "denoising")
        wait_for_value(page, "#timestep input[type=number]", 900)
        wait_for_value(page, "#seed input", 3)
        page.wait_for_function("(s) => document.querySelector('#image-source').innerText.includes(s)", arg=stem)
        page.wait_for_function("() => document.querySelector('#override-t input').checked")
        wait_for_value(page, "#told-t input[type=number]", 10)
        assert not checked(page, '#skip-switches input[name="skip2"]')
        assert checked(page, '#skip-switches input[name="skip1"]')
        assert not page.is_visible("#url-note")
        page.click("#tab-lesson-button")
        index = [step.id for step in steps].index("time") + 1
        page.wait_for_function("(t) => document.querySelector('#lesson-step h3').textContent.includes(t)",
                               arg=f"Step {index} of")
        got = wait_for_query(page, step="time", tab="lesson")
        assert got["t"] == "900" and got["image"] == stem
    finally:
        closable.close()
    assert not errors, errors


def test_a_link_to_a_receptive_field_opens_its_pixel_and_block(pages, app_url):
    closable, page, errors = open_page(pages, f"{app_url}?tab=receptive&pixel=5,60&block=enc2&t=40")
    try:
        wait_for_tab(page, "receptive")
        wait_for_value(page, "#rf-y input", 5)
        wait_for_value(page, "#rf-x input", 60)
        wait_for_value(page, "#timestep input[type=number]", 40)
        assert input_value(page, "#rf-block input") == "enc2"
        page.wait_for_function("() => /y=5, x=60/.test(document.querySelector('#rf-numbers').innerText)")
    finally:
        closable.close()
    assert not errors, errors


def test_a_link_with_garbage_opens_the_default_with_a_note(pages, app_url, steps):
    link = (f"{app_url}?t=abc&tab=nope&pixel=9,9,9&colour=red&seed=-4&step=99&image=..%2F..%2Fetc%2Fpasswd"
            "&knockouts=skip9&block=%3Cscript%3Ealert(1)%3C%2Fscript%3E")
    closable, page, errors = open_page(pages, link)
    try:
        page.wait_for_selector("#url-note", state="visible")
        note = page.inner_text("#url-note")
        for bad in ("t=abc", "tab=nope", "pixel=", "colour", "seed=-4", "step=99", "image=", "knockouts=skip9",
                    "block="):
            assert bad in note, (bad, note)
        assert selected_tab(page) == "tab-lesson"
        assert page.inner_text("#lesson-step h3").startswith("Step 1 of")
        assert input_value(page, "#timestep input[type=number]") == "250"
        assert page.evaluate("() => !document.querySelector('#url-note script')")
        screenshot(page, "lesson-bad-link")
    finally:
        closable.close()
    assert not errors, errors


def test_after_an_upload_the_link_note_says_the_address_leaves_it_out(pages, app_url, ctx, tmp_path):
    from PIL import Image

    picture = tmp_path / "mine.png"
    Image.new("RGB", (80, 80), (200, 40, 40)).save(picture)
    closable, page, errors = open_page(pages, app_url)
    try:
        assert not page.is_visible("#url-note")
        with page.expect_file_chooser() as chooser:
            page.click("#upload")
        chooser.value.set_files(str(picture))
        page.wait_for_function("() => document.querySelector('#image-source').innerText.includes('your upload')")
        page.wait_for_selector("#url-note", state="visible")
        note = page.inner_text("#url-note")
        assert "leaves out your upload" in note and ctx.examples[0].stem in note, note
        assert "image" not in query(page)
        # A held-out example takes the upload's place: back in the address, and the note goes.
        page.locator("#examples button.thumbnail-item").nth(1).click()
        page.wait_for_selector("#url-note", state="hidden")
        wait_for_query(page, image=ctx.examples[1].stem)
    finally:
        closable.close()
    assert not errors, errors


def test_the_lesson_fits_a_phone(pages, app_url):
    closable, page, errors = open_page(pages, app_url, viewport=PHONE)
    try:
        page.wait_for_selector("#lesson-step h3")
        width = page.evaluate("document.documentElement.scrollWidth")
        assert width <= PHONE["width"], f"the page is {width} px wide on a {PHONE['width']} px screen"
        main = page.eval_on_selector("#lesson-step", "(e) => e.getBoundingClientRect().top")
        steps_list = page.eval_on_selector("#lesson-steps", "(e) => e.getBoundingClientRect().top")
        assert main < steps_list, "on a phone the step comes before the list of steps"
        box = page.eval_on_selector("#lesson-show-me", "(e) => { const r = e.getBoundingClientRect();"
                                    " return [r.left, r.right, r.height]; }")
        assert box[0] >= 0 and box[1] <= PHONE["width"] and box[2] >= 32, box
        page.click("#lesson-next")
        page.wait_for_function("() => document.querySelector('#lesson-step h3').textContent.includes('Step 2 of')")
        page.click("#lesson-show-me")
        wait_for_tab(page, "proofs")
    finally:
        closable.close()
    assert not errors, errors
