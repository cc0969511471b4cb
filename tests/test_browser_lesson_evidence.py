"""Every Lesson step, in a real Chromium at desktop and phone sizes: after "Show me", the number the step states
is on screen in the evidence it opened, written the same way (tests/test_lesson.py checks the numbers themselves).
"""
from __future__ import annotations

import pytest

from explorer import lesson
from explorer.analysis import numbers
from tests import browser

TIMEOUT_MS = 90_000
SIZES = {"desktop": {"width": 1400, "height": 900}, "phone": {"width": 390, "height": 844}}


def key_number(step: lesson.Step, m: lesson.Measurement) -> str:
    """The number each step's evidence must show, as the step writes it."""
    v = m.values
    return {"task": lambda: numbers.mse(v["unet_eps_mse"]),
            "alignment": lambda: numbers.mse(v["shifted_mse"]),
            # "window": its number sits in the Receptive field tab's table (#rf-numbers), outside the drawn evidence.
            "window": lambda: None,
            "windows": lambda: numbers.share(v["naive_shares"][-1]),
            "scales": lambda: numbers.share(v["skip1_high"]),
            "detail": lambda: numbers.mse(v["edge_error"]["naive"]),
            "time": lambda: numbers.mse(v["image_told_mse"]),
            "skips": lambda: None,
            "concat": lambda: None,
            "gradients": lambda: None,
            "noise-scales": lambda: numbers.added(v["skip1_added"][0]),
            "accumulation": lambda: numbers.mse(v["unet"]["final"][0]),
            }.get(step.id, lambda: None)()


@pytest.mark.parametrize("size", list(SIZES))
def test_show_me_puts_the_steps_number_on_screen(pages, chromium, app_url, ctx, size):
    steps = lesson.steps(ctx)
    target = chromium if size == "phone" else pages
    closable, page, errors = browser.open_page(target, app_url, SIZES[size], TIMEOUT_MS, ready="#lesson-step h3")
    missing = []
    try:
        for index, step in enumerate(steps, 1):
            number = key_number(step, step.measure(ctx))
            page.click("#tab-lesson-button")
            page.click(f'#lesson-steps input[value="{step.id}"]')
            page.wait_for_function("(t) => document.querySelector('#lesson-step h3').textContent.includes(t)",
                                   arg=f"Step {index} of")
            if number is not None:
                assert number in page.inner_text("#lesson-step"), (step.id, number)
            page.click("#lesson-show-me")
            evidence = step.target.evidence
            if number is not None:
                try:
                    page.wait_for_function("([id, n]) => { const e = document.getElementById(id);"
                                           " return e && e.innerText.includes(n); }", arg=[evidence, number])
                except Exception:  # noqa: BLE001 - collect every step's failure, then report them together
                    missing.append((step.id, number))
                    continue
            page.wait_for_function("(id) => { const e = document.getElementById(id); if (!e) return false;"
                                   " const r = e.getBoundingClientRect(); return r.height > 0 && r.top < innerHeight"
                                   " && r.bottom > 0; }", arg=evidence)
            if step.target.focus:  # the part the step speaks of is in view sideways too
                page.wait_for_function("([id, s]) => { const e = document.getElementById(id).querySelector(s);"
                                       " if (!e) return false; const r = e.getBoundingClientRect();"
                                       " return r.left >= 0 && r.left < innerWidth; }",
                                       arg=[evidence, step.target.focus])
            browser.SHOTS.mkdir(parents=True, exist_ok=True)
            page.screenshot(path=str(browser.SHOTS / f"evidence-{size}-{index:02d}-{step.id}.png"))
    finally:
        closable.close()
    assert not missing, f"numbers the steps state but their evidence does not show: {missing}"
    assert not errors, errors
