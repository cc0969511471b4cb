"""Every Lesson step, in a real Chromium at desktop and phone sizes: after "Show me", the evidence is on screen and
every number the step's measurement states is visible in the tab it opens, written the same way (tests/test_lesson.py
checks the numbers themselves). A step whose verdict rests on the trained comparison has a second button that opens
that comparison in the Trained alternatives tab: its heading's two numbers, their ratio and every number of the
trained measurement must be visible there.

"Visible" is what a reader sees: after the button the evidence is in the window; scrolled down to (as a reader
scrolls), the number lies inside the window, is not cut off by a box that scrolls sideways, and nothing covers it.
One page per size walks every step, as a learner would.
"""
from __future__ import annotations

import re

import pytest

from explorer import formatting, lesson
from explorer.study import findings
from explorer.ui import app
from explorer.ui import lesson as lesson_tab
from explorer.ui import study as study_tab
from tests import browser

TIMEOUT_MS = 90_000
SIZES = {"desktop": {"width": 1400, "height": 900}, "phone": {"width": 390, "height": 844}}


def key_number(step: lesson.Step, m: lesson.Measurement) -> str:
    """The number each step's evidence must show, as the step writes it. A new step must add its own here."""
    v = m.values
    return {"task": lambda: formatting.mse(v["unet_eps_mse"]),            # the U-Net column's heading
            "alignment": lambda: formatting.mse(v["shifted_mse"]),         # the one-pixel-off table
            "window": lambda: f"{v['naive_theory']}×{v['naive_theory']}",  # the receptive-field table
            "windows": lambda: formatting.share(v["naive_shares"][-1]),    # the table of windows
            "scales": lambda: formatting.share(v["skip1_high"]),           # the verdict under the spectra
            "detail": lambda: formatting.mse(v["edge_error"]["naive"]),    # the edge/flat table
            "time": lambda: formatting.mse(v["image_told_mse"]),           # the knocked-out column's heading
            "skips": lambda: formatting.mse(v["image_knocked_mse"]),       # the knocked-out column's heading
            "concat": lambda: formatting.times(v["skip_zero_ratio"]),      # the held-out line beside the chart
            "gradients": lambda: formatting.times(v["fresh_relative"]),    # the held-out line over seeds
            "noise-scales": lambda: formatting.added(v["skip1_added"][0]),  # the verdict under the chart
            "accumulation": lambda: formatting.mse(v["unet"]["final"][0]),  # the held-out line under the chart
            }[step.id]()


# Every number a step's measurement states, as it writes it: multiples, decimals, sizes and shares (not the "95 %"
# that names an interval). Each must be visible somewhere in the tab Show me opens (issue 32 item 3).
STATED = re.compile(r"×[0-9]+(?:,[0-9]{3})*(?:\.[0-9]+)?|\b[0-9]+×[0-9]+\b|\b[0-9]+(?:,[0-9]{3})*\.[0-9]+\b"
                    r"|\b(?!95 %)[0-9]+(?:\.[0-9]+)? %")


def stated_numbers(m: lesson.Measurement) -> list[str]:
    return list(dict.fromkeys(STATED.findall(m.text)))


def comparison_numbers(ctx, step: lesson.Step) -> list[str]:
    """A step whose verdict rests on the trained comparison: the two objective values and the ratio its heading
    prints (explorer/views/study.py comparison_html), as the heading writes them."""
    item = findings.finding(ctx.study, study_tab.trained_claim(ctx.study, lesson.TRAINED_CLAIMS[step.id]))
    numbers = [formatting.fixed(item.without_mean), formatting.fixed(item.with_mean)]
    if item.verdict != findings.UNCLEAR:
        numbers.append(formatting.times(1 / item.ratio if item.verdict == findings.CONTRADICTED else item.ratio))
    return numbers


def trained_numbers(ctx, course, step: lesson.Step) -> list[str]:
    """The numbers the step's trained comparison must show: its heading's, and every number the trained
    measurement's words state. Empty for a step without a decided trained comparison (no second button)."""
    if lesson_tab.trained_target(course, step) is None:
        return []
    stated = [number for extra in step.extras for number in stated_numbers(extra(ctx))]
    return list(dict.fromkeys(comparison_numbers(ctx, step) + stated))


# Each place the evidence writes the number, scrolled to vertically if it is below or above the window (never
# sideways: a number the reader must find by scrolling a table sideways does not count): is it all inside the
# window, inside every box that clips it, and on top at its centre? "" when one place is, else what is wrong.
NUMBER_VISIBLE = """([id, number]) => {
  const evidence = document.getElementById(id);
  const holders = [];
  const walker = document.createTreeWalker(evidence, NodeFilter.SHOW_TEXT);
  for (let n = walker.nextNode(); n; n = walker.nextNode()) {
    if (n.textContent.includes(number) && n.parentElement.getClientRects().length) holders.push(n);
  }
  if (!holders.length) return 'no text node holds it';
  // Words first; a chart's own text (a legend, say) after them.
  holders.sort((a, b) => !!a.parentElement.closest('svg') - !!b.parentElement.closest('svg'));
  const wrong = (node) => {
    const range = document.createRange();
    const start = node.textContent.indexOf(number);
    range.setStart(node, start);
    range.setEnd(node, start + number.length);
    let r = range.getBoundingClientRect();
    // The way back to the step (a link at the window's bottom edge) hides what is under it: a reader scrolls.
    const back = document.getElementById('lesson-back');
    const bottom = back && !back.hidden ? back.getBoundingClientRect().top : innerHeight;
    if (r.top < 0 || r.bottom > bottom) {
      window.scrollBy(0, r.top - innerHeight / 2);
      r = range.getBoundingClientRect();
    }
    if (r.width === 0 || r.height === 0) return 'it has no size';
    if (r.left < 0 || r.right > innerWidth || r.top < 0 || r.bottom > innerHeight) {
      return `outside the window: ${Math.round(r.left)},${Math.round(r.top)} to ${Math.round(r.right)},` +
             `${Math.round(r.bottom)}`;
    }
    for (let box = node.parentElement; box && box !== document.body; box = box.parentElement) {
      const style = getComputedStyle(box);
      if (style.visibility === 'hidden' || Number(style.opacity) === 0) return 'hidden';
      if (style.overflowX !== 'visible' || style.overflowY !== 'visible') {
        const b = box.getBoundingClientRect();
        if (r.left < b.left - 1 || r.right > b.right + 1 || r.top < b.top - 1 || r.bottom > b.bottom + 1) {
          return `cut off by a box that scrolls (${box.tagName.toLowerCase()}.${box.className})`;
        }
      }
    }
    const top = document.elementFromPoint((r.left + r.right) / 2, (r.top + r.bottom) / 2);
    const chart = node.parentElement.closest('svg');  // a chart's text lies under its own transparent hit areas
    if (!top || !(node.parentElement === top || node.parentElement.contains(top) || top.contains(node.parentElement)
                  || (chart && chart.parentElement.contains(top)))) {
      return `covered by ${top ? top.tagName.toLowerCase() + '.' + top.className : 'nothing'}`;
    }
    return '';
  };
  const reasons = [];
  for (const node of holders) {
    const reason = wrong(node);
    if (!reason) return '';
    reasons.push(reason);
  }
  return reasons.join('; ');
}"""


def look(page, evidence: str, numbers: list[str], tab: str, stated: list[str], focus: str = "") -> tuple[list, list]:
    """After a button of a step: (what is wrong with the `numbers` the evidence must show, the `stated` numbers
    not visible in the tab it opened)."""
    try:
        page.wait_for_function("([id, ns]) => { const e = document.getElementById(id);"
                               " return e && ns.every((n) => e.innerText.includes(n)); }", arg=[evidence, numbers])
    except Exception:  # noqa: BLE001 - collect every step's failure, then report them together
        return [(numbers, f"not in the evidence #{evidence}")], stated
    # After the button the evidence is in the window (the page keeps it there while the views fill in).
    page.wait_for_function("(id) => { const e = document.getElementById(id); if (!e) return false;"
                           " const r = e.getBoundingClientRect(); return r.height > 0 && r.top < innerHeight"
                           " && r.bottom > 0; }", arg=evidence)
    if focus:  # the part the step speaks of is in view sideways too
        page.wait_for_function("([id, s]) => { const e = document.getElementById(id).querySelector(s);"
                               " if (!e) return false; const r = e.getBoundingClientRect();"
                               " return r.left >= 0 && r.right <= innerWidth; }", arg=[evidence, focus])
    page.wait_for_timeout(1500)  # the views have filled in and stopped moving the page
    problems = [(number, wrong) for number in numbers if (wrong := page.evaluate(NUMBER_VISIBLE, [evidence, number]))]
    hidden = [number for number in stated if page.evaluate(NUMBER_VISIBLE, [f"tab-{tab}", number])]
    toasts = page.eval_on_selector_all(".toast-body", "(ts) => ts.map((t) => t.innerText.trim())")
    if toasts:  # an error or warning on the way to the evidence is a broken walk, even if it ends well
        problems.append((numbers, f"messages shown: {toasts}"))
        page.eval_on_selector_all(".toast-close", "(bs) => bs.forEach((b) => b.click())")
    return problems, hidden


@pytest.mark.parametrize("size", list(SIZES))
def test_show_me_puts_the_steps_number_on_screen(pages, chromium, app_url, ctx, size):
    """Show me opens the step's own evidence: its key number and every number its measurement states are visible
    there. A step whose verdict rests on the trained comparison has a second button that opens that comparison's
    chart: its two numbers, their ratio and every number the trained measurement states are visible there."""
    course = lesson_tab.Course.of(ctx, app.TAB_IDS)
    target = chromium if size == "phone" else pages
    closable, page, errors = browser.open_page(target, app_url, SIZES[size], TIMEOUT_MS, ready="#lesson-step h3")
    problems, counts = [], {}
    try:
        for index, step in enumerate(course.steps, 1):
            try:
                measured = step.measure(ctx)
                numbers, trained = [key_number(step, measured)], trained_numbers(ctx, course, step)
            except KeyError as missing:
                problems.append((step.id, None, f"the step's measurement has no {missing}"))
                continue
            page.click("#tab-lesson-button")
            page.click(f'#lesson-steps input[value="{step.id}"]')
            page.wait_for_function("(t) => document.querySelector('#lesson-step h3').textContent.includes(t)",
                                   arg=f"Step {index} of")
            page.wait_for_function("() => !document.querySelector('#lesson-measured[data-stale]')")
            if numbers[0] not in page.inner_text("#lesson-step"):
                problems.append((step.id, numbers[0], "not in the step's own words"))
            page.click("#lesson-show-me")
            wrong, hidden = look(page, step.target.evidence, numbers, step.target.tab, stated_numbers(measured),
                                 step.target.focus)
            problems += [(step.id, *problem) for problem in wrong]
            counts[step.id] = (len(hidden), hidden)
            shot(page, size, index, step.id)
            if trained:
                page.click("#tab-lesson-button")
                page.click("#lesson-show-trained")
                comparison = lesson_tab.trained_target(course, step)
                wrong, hidden = look(page, comparison.evidence, comparison_numbers(ctx, step), comparison.tab,
                                     trained)
                problems += [(step.id, "trained", *problem) for problem in wrong]
                counts[f"{step.id} trained"] = (len(hidden), hidden)
                shot(page, size, index, f"{step.id}-trained")
    finally:
        closable.close()
    assert not problems, f"numbers the steps state but their evidence does not show: {problems}"
    assert not errors, errors
    hidden = {key: value[1] for key, value in counts.items() if value[0]}
    assert not hidden, f"stated numbers the tab a step's button opens does not show ({size}): {hidden}"


def shot(page, size: str, index: int, name: str) -> None:
    """A screenshot of the evidence, kept for a look."""
    browser.SHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(browser.SHOTS / f"evidence-{size}-{index:02d}-{name}.png"))
