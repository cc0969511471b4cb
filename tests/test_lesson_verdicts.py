"""One verdict per claim (issue 32 item 4): a Lesson step's verdict and the verdict of the panel its Show me opens
come from one function (`model_card.one_verdict`) and agree; a step whose trained verdict is asked of the study tests
that step's claim; a step that moves t says so before Show me is pressed."""
from __future__ import annotations

import dataclasses
import re

import pytest

from explorer import lesson, model_card
from explorer.study import findings
from explorer.ui import app
from explorer.ui import lesson as lesson_tab
from explorer.ui import study as study_tab
from explorer.views import claims, proofs
from explorer.views.context import DEFAULT_T
from explorer.views.memo import Kept
from tests.test_study_view import synthetic


def with_study(ctx, study):
    """The app's models with another study, and caches of its own (a step's measurements are kept by step)."""
    return dataclasses.replace(ctx, study=study, kept=Kept())


MARKS = {mark.split(" ", 1)[0]: verdict for verdict, mark in model_card.VERDICT_MARKS.items()}


def printed_verdict(text: str) -> str | None:
    """The verdict a step or a panel prints ("Verdict: ✓ …"), or None where it prints none."""
    found = re.search(r"Verdict: (\S+)", re.sub(r"<[^>]+>|\*", "", text))
    return MARKS.get(found.group(1), lesson.NOT_COMPUTED) if found else None


def panel_text(course: lesson_tab.Course, step: lesson.Step, target: lesson.Target) -> str:
    """What the panel a step's button opens (`target`) says, made by the functions the tabs use ("" for a panel that
    states no verdict)."""
    ctx = course.ctx
    measured, extras = lesson_tab.measurements(course, step)
    if target.evidence == study_tab.COMPARISON:
        heading, _ = study_tab.show_comparison(ctx, lesson.TRAINED_CLAIMS[step.id], 1,
                                               lesson.verdict_line(measured, extras))
        return heading.value
    if target.evidence == "proof-bottleneck":
        return proofs.bottleneck_markdown({}, target.t, ctx.metrics, ctx.study)
    if target.evidence == "proof-detail":
        stem = lesson.image_stem(ctx, target.image)
        view = claims.detail_view(ctx, stem, lesson.image_array(ctx, stem), target.t, target.seed)
        return claims.detail_markdown(view, ctx.study)
    return ""


def panel_verdicts(course: lesson_tab.Course, step: lesson.Step) -> list[str]:
    """The verdicts printed by the panels the step's buttons open (Show me, and its trained comparison)."""
    printed = (printed_verdict(panel_text(course, step, target))
               for target in lesson_tab.evidence_targets(course, step))
    return [verdict for verdict in printed if verdict is not None]


# Studies that answer the steps' claims in different ways: none yet, the skips cost more at large t (against the
# knock-out's reading), the plain stack told t losing at small t.
def study_against_skips_by_t():
    results = synthetic({"unet": [0.1, 0.11], "unet-noskip": [0.3, 0.31], "naive-t": [0.2, 0.21],
                         "naive": [0.3, 0.31]})
    results.data["variants"]["unet-noskip"]["eps_mse"]["10"] = [0.11, 0.12]  # small cost at small t: against
    return results


STUDIES = {"none": lambda: None, "against skips-by-t": study_against_skips_by_t,
           "naive-t holds": lambda: synthetic({"unet": [0.1, 0.11], "naive-t": [0.3, 0.31]})}


@pytest.mark.parametrize("study", list(STUDIES))
def test_each_step_and_the_panel_its_show_me_opens_print_one_verdict(ctx, study):
    course = lesson_tab.Course.of(with_study(ctx, STUDIES[study]()), app.TAB_IDS)
    stated = 0
    for step in course.steps:
        measured, extras = lesson_tab.measurements(course, step)
        evidence = lesson_tab.evidence_markdown(measured, extras)
        verdict = lesson.verdict(measured, extras)
        assert printed_verdict(evidence) == verdict, (step.id, evidence[:200])
        panels = panel_verdicts(course, step)
        stated += bool(panels)
        assert all(panel == verdict for panel in panels), f"step {step.id} says {verdict}, its panels {panels}"
        if lesson.trained_of(extras) is not None:  # a verdict that rests on the study is printed where its buttons go
            assert panels, f"step {step.id} rests on the trained alternatives; no panel it opens states a verdict"
    assert stated >= 2


def test_the_knock_out_and_the_trained_study_disagreeing_on_skips_by_t_give_one_verdict_in_both_places(ctx):
    study = study_against_skips_by_t()
    course = lesson_tab.Course.of(with_study(ctx, study), app.TAB_IDS)
    step = course.step("noise-scales")
    measured, extras = lesson_tab.measurements(course, step)
    assert lesson.trained_of(extras).verdict == lesson.DISAGREES
    assert lesson.verdict(measured, extras) == lesson.DISAGREES
    panel = panel_text(course, step, step.target)
    assert printed_verdict(panel) == lesson.DISAGREES and "rests on the trained alternatives" in panel
    assert findings.skips_by_t(study).sentence() in panel


def test_the_detail_steps_trained_verdict_tests_its_own_claim(ctx):
    """Step 6 (a plain stack loses fine detail) asks the study for the plain stack told t against the U-Net at a
    small t, not for the U-Net without skips (another claim: step 8's)."""
    assert lesson.TRAINED_CLAIMS["detail"] != lesson.TRAINED_CLAIMS["skips"]
    results = synthetic({"unet": [0.1, 0.11], "naive-t": [0.3, 0.31], "unet-noskip": [0.05, 0.06]})
    measured = lesson.measure_trained(dataclasses.replace(ctx, study=results), lesson.TRAINED_CLAIMS["detail"])
    assert "naive-t" in measured.text and "unet-noskip" not in measured.text
    assert f"t = {results.timesteps[1]}" in measured.text
    assert measured.verdict == lesson.AGREES
    results.data["variants"]["naive-t"]["eps_mse"][str(results.timesteps[1])] = [0.01, 0.02]
    assert lesson.measure_trained(dataclasses.replace(ctx, study=results),
                                  lesson.TRAINED_CLAIMS["detail"]).verdict == lesson.DISAGREES


def test_a_step_that_moves_t_says_so_before_show_me(ctx):
    course = lesson_tab.Course.of(ctx, app.TAB_IDS)
    moved = [step for step in course.steps if step.target.t not in (None, DEFAULT_T)]
    assert moved, "no step moves t: the check below checks nothing"
    for step in course.steps:
        heading = lesson_tab.claim_markdown(course, step)
        says = f"moves t to {step.target.t}" in heading
        assert says == (step in moved), step.id


def test_one_verdict_lets_the_trained_alternatives_decide():
    assert model_card.one_verdict(lesson.PARTLY, lesson.DISAGREES) == lesson.DISAGREES
    assert model_card.one_verdict(lesson.AGREES, None) == lesson.AGREES
    assert model_card.one_verdict(lesson.AGREES, lesson.NOT_COMPUTED) == lesson.AGREES
    line = model_card.verdict_line(lesson.PARTLY, lesson.DISAGREES)
    assert printed_verdict(line) == lesson.DISAGREES and "agrees only in part" in line
