"""The Trained-alternatives view and the Lesson's trained numbers: what they print is what study.json holds."""
from __future__ import annotations

import dataclasses
import re

import numpy as np
import pytest
import torch

from explorer import lesson
from explorer.analysis.denoise import noisy
from explorer.study import findings
from explorer.study.results import StudyResults
from explorer.study.variants import VARIANTS, build
from explorer.ui.lesson import disagreement, step_markdown
from explorer.views import study as view

TIMESTEPS = [1, 10, 50, 100, 250, 500, 750, 900, 999]


def synthetic(scores: dict[str, list[float]], ladder: dict[str, dict[int, list[float]]] | None = None) -> StudyResults:
    """A study.json in the real schema whose ε-MSE (and objective) per seed is `scores[name]` at every t, at the
    common budget of 1 step; `ladder[name][steps]` adds runs at other budgets."""
    variants, runs = {}, []
    for name in VARIANTS:
        seeds = scores.get(name, [0.5, 0.5])
        variants[name] = {
            "params": 1000 + len(name), "macs": 2_000_000, "window": 11, "images_seen": 64, "steps": 1,
            "seeds": list(range(len(seeds))), "objective": list(seeds),
            "objective_ci95": [min(seeds) - 0.01, max(seeds) + 0.01],
            "curve": {"images_seen": [64, 128], "eps_mse": [[1.0] * len(seeds), [0.9] * len(seeds)]},
            "eps_mse": {str(t): list(seeds) for t in TIMESTEPS},
            "psnr": {str(t): [20.0] * len(seeds) for t in TIMESTEPS},
            "eps_mse_ci95": {str(t): [min(seeds) - 0.01, max(seeds) + 0.01] for t in TIMESTEPS},
            "psnr_ci95": {str(t): [19.5, 20.5] for t in TIMESTEPS},
        }
        budgets = {1: seeds, **(ladder or {}).get(name, {})}
        for steps, values in budgets.items():
            runs += [{"variant": name, "resolution": 32, "seed": seed, "steps": steps, "schedule": "wsd",
                      "images_seen": 64 * steps, "training_macs": 3 * 2_000_000 * 64 * steps, "objective": value,
                      "eps_mse": {str(t): value for t in TIMESTEPS}, "psnr": {str(t): 20.0 for t in TIMESTEPS}}
                     for seed, value in enumerate(values)]
    no_noise = {"eps_mse": {str(t): 1.0 for t in TIMESTEPS}, "psnr": {str(t): 9.0 for t in TIMESTEPS}, "objective": 1.0}
    return StudyResults({"resolution": 32, "timesteps": TIMESTEPS, "heldout_images": 7, "budget": 1,
                         "ladder": [1, 4, 16], "decay_fraction": 0.15,
                         "protocol": {"batch_size": 64, "lr": 1e-3, "warmup": 1, "threads": 1, "steps": 1,
                                      "images_seen": 64},
                         "trained_on": {"device": "cpu"},
                         "references": {"no_noise": no_noise, "no_noise_by_resolution": {"32": no_noise}},
                         "variants": variants, "runs": runs})


def test_the_table_prints_study_json_numbers():
    results = synthetic({"unet": [0.11, 0.13, 0.12], "naive": [0.41, 0.43, 0.42]})
    table = view.table_html(results, 250)
    row = re.search(r"<code>unet</code>.*?</tr>", table).group(0)
    assert f"{results.mean('unet', 'eps_mse', 250):.4f}" in row  # 0.1200
    low, high = results.interval("unet", "eps_mse", 250)
    assert f"{low:.4f} to {high:.4f}" in row  # the 95 % interval, as explorer/formatting.py writes it
    assert "0.1100, 0.1300, 0.1200" in row and "1,004" in row
    assert "predict no noise" in table and "1.0000" in table
    with pytest.raises(ValueError):
        view.table_html(results, 251)


def test_findings_follow_the_numbers_and_show_once_per_claim():
    results = synthetic({"unet": [0.1, 0.11, 0.12], "unet-add": [0.2, 0.21, 0.22], "unet-noskip": [0.05, 0.06, 0.07],
                         "unet-notime": [0.05, 0.2]})
    by_id = {item.claim.id: item for item in findings.verdicts(results)}
    assert by_id["concat"].verdict == findings.HOLDS
    assert by_id["skips"].verdict == findings.CONTRADICTED
    assert by_id["needs-t"].verdict == findings.UNCLEAR
    html = view.findings_html(results)
    assert html.count('<li class="finding') == len(findings.CLAIMS)
    assert by_id["concat"].sentence().split("(")[0].strip() in html


def test_the_lessons_trained_numbers_come_from_the_findings(ctx):
    results = synthetic({"unet": [0.1, 0.11, 0.12], "unet-noskip": [0.05, 0.06, 0.07]})
    with_study = dataclasses.replace(ctx, study=results)
    measured = lesson.measure_trained(with_study, ("skips",))
    assert measured.trained and measured.verdict == lesson.DISAGREES
    assert findings.finding(results, "skips").sentence() in measured.text
    assert lesson.measure_trained(dataclasses.replace(ctx, study=None), ("skips",)).verdict == lesson.NOT_COMPUTED
    steps = {step.id: step for step in lesson.steps(ctx)}
    for step_id in lesson.TRAINED_CLAIMS:
        assert steps[step_id].extras, f"step {step_id} has no trained number"
    assert not steps["task"].extras


def test_a_step_says_when_knockout_and_training_disagree(ctx):
    step = next(step for step in lesson.steps(ctx) if step.id == "skips")
    knockout = lesson.Measurement("cut", verdict=lesson.AGREES)
    trained = lesson.Measurement("trained", verdict=lesson.DISAGREES, trained=True)
    assert "rests on the trained comparison" in disagreement(knockout, (trained,))
    assert disagreement(knockout, (dataclasses.replace(trained, verdict=lesson.AGREES),)) == ""
    text = step_markdown(step, knockout, 1, 2, (trained,))
    assert "Trained alternatives: they disagree" in text and "rests on the trained comparison" in text


def test_skips_by_t_compares_small_and_large_t(ctx):
    results = synthetic({"unet": [0.1, 0.1], "unet-noskip": [0.3, 0.3]})
    data = results.data
    data["variants"]["unet-noskip"]["eps_mse"]["900"] = [0.1, 0.1]  # no cost at large t: agrees
    measured = lesson.measure_trained(dataclasses.replace(ctx, study=results), ("skips-by-t",))
    assert measured.verdict == lesson.AGREES and "×3.0" in measured.text
    data["variants"]["unet-noskip"]["eps_mse"]["10"] = [0.05, 0.05]
    assert lesson.measure_trained(dataclasses.replace(ctx, study=results), ("skips-by-t",)).verdict == lesson.DISAGREES


def test_the_live_side_by_side_scores_each_variant_on_this_image(ctx):
    models = {name: build(name, 32).eval() for name in ("naive", "unet")}
    image = np.zeros((ctx.image_size, ctx.image_size, 3), np.uint8)
    image[16:48, 16:48] = (200, 30, 30)
    x0, x_t, rows = view.live_rows(models, ctx.diffusion, image, 250, 7, 32)
    assert x0.shape == x_t.shape == (3, 32, 32)
    expected_x_t, eps = noisy(ctx.diffusion, x0, 250, 7)
    assert torch.equal(x_t, expected_x_t[0])
    for row in rows:
        with torch.no_grad():
            direct = float((models[row.name](expected_x_t, torch.tensor([250])) - eps).pow(2).mean())
        assert row.eps_mse == pytest.approx(direct, rel=1e-5)
    html = view.live_html(x0, x_t, rows, 250)
    assert html.count("<tr") == 1 + len(rows) and "this image only" in html
    assert view.live_numbers(rows, 250, 7)["variants"]["unet"]["eps_mse"] == rows[1].eps_mse


@pytest.mark.skipif(not (lambda: __import__("explorer.study").study.results())(), reason="study.json not written yet")
def test_the_shipped_study_is_loaded_by_the_app(ctx):
    assert ctx.study is not None and set(ctx.study_models) == set(ctx.study.variants)
    table = view.table_html(ctx.study, 250)
    for name in ctx.study.variants:
        assert f"{ctx.study.mean(name, 'eps_mse', 250):.4f}" in table


def test_every_place_prints_the_one_verdict_for_a_comparison(ctx):
    """The tab, the Lesson and the model card take each claim's verdict from findings.verdicts, never their own."""
    results = synthetic({"unet": [0.1, 0.11], "naive": [0.3, 0.31], "unet-noskip": [0.05, 0.06],
                         "unet-notime": [0.09, 0.2], "naive-t": [0.2, 0.21]},
                        ladder={"naive-t": {4: [0.1, 0.11]}, "unet": {4: [0.05, 0.051]}})
    card = findings.model_card_markdown(results)
    tab = view.findings_html(results)
    with_study = dataclasses.replace(ctx, study=results)
    for item in findings.verdicts(results):
        assert f'<li class="finding {view.VERDICT_CLASS[item.verdict]}"><strong>{item.claim.lesson}' in tab
        assert f"**{item.claim.lesson}** ({item.claim.without} vs {item.claim.with_}): {item.sentence()}" in card
        measured = lesson.measure_trained(with_study, (item.claim.id,))
        assert measured.verdict == lesson.TRAINED_VERDICT[item.verdict]
        assert item.sentence() in measured.text
    t_alone = findings.finding(results, "t-alone")
    assert "the order is the same: unet leads" in t_alone.sentence()  # both budgets: 64 and 256 images


def test_a_step_whose_variants_are_not_trained_yet_says_so(ctx):
    results = synthetic({})
    for name in ("unet-noskip", "naive"):
        del results.data["variants"][name]
    measured = lesson.measure_trained(dataclasses.replace(ctx, study=results), ("skips-by-t",))
    assert measured.verdict == lesson.NOT_COMPUTED and "for this claim" in measured.text


def test_a_network_that_has_not_learned_the_task_is_named_in_its_finding():
    """Issue 28: the U-Net trained without skips scores within 1 % of predicting no noise at 38,400 images; its
    finding says so, and a finding between two networks that learned says nothing of it."""
    results = synthetic({"unet": [0.08, 0.081], "unet-noskip": [0.996, 0.997], "naive-t": [0.07, 0.071]})
    assert results.no_noise() == 1.0  # the synthetic study's
    skips = findings.finding(results, "skips")
    assert skips.not_learned().startswith("unet-noskip has not learned the task at this budget")
    assert skips.not_learned() in skips.sentence()
    assert findings.finding(results, "t-alone").not_learned() == ""
