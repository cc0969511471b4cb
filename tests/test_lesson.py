"""The guided lesson (explorer/lesson.py) and its shareable URL state (explorer/ui/urlstate.py).

Every number a step shows is recomputed here from weights/metrics.json or from the same live
computation, and must appear in the step's text; the text must branch on the data; the words of a
step carry no typed numbers; a URL query, good or garbage, parses to a state plus notes, never an error.
"""
from __future__ import annotations

import copy
import dataclasses
import re

import pytest
import torch

from explorer import formatting, lesson
from explorer.analysis import accumulation
from explorer.analysis.spectrum import high_frequency_share
from explorer.emoji_names import emoji_name, image_label
from explorer.ui import lesson as lesson_ui
from explorer.ui import urlstate
from explorer.views import claims, denoising, levels, proofs, receptive
from explorer.views.context import MAX_SEED, Context

DIGITS = re.compile(r"[0-9]")


@pytest.fixture(scope="module")
def steps(ctx):
    return {step.id: step for step in lesson.steps(ctx)}


@pytest.fixture(scope="module")
def measured(ctx, steps):
    return {step_id: step.measure(ctx) for step_id, step in steps.items()}


def with_metrics(ctx: Context, metrics: dict | None) -> Context:
    return dataclasses.replace(ctx, metrics=metrics)


def image_of(ctx, step):
    stem = lesson.image_stem(ctx, step.target.image)
    return stem, lesson.image_array(ctx, stem)


# --- the steps as data ----------------------------------------------------------------------------------------------

def test_there_are_about_ten_steps_with_unique_ids_and_known_tabs(steps):
    assert 8 <= len(steps) <= 12
    tabs = {"denoising", "receptive", "architecture", lesson.PROOFS_TAB}
    for step in steps.values():
        assert step.target.tab in tabs, step.id
        assert step.target.evidence, f"{step.id} scrolls to nothing"


def test_the_words_of_a_step_carry_no_typed_numbers(steps):
    for step in steps.values():
        title = re.sub(r"^Problem [0-9]:", "", step.title)  # the lesson's own numbering of its four problems
        for text in (title, step.text, step.see):
            text = re.sub(r"\b(skip|enc|dec|layer)[0-9]", "", text)  # block names are names, not numbers
            assert not DIGITS.search(text), f"{step.id}: a number typed into {text!r}"
        sentences = [s for s in re.split(r"(?<=[.!?])\s+", step.text.strip()) if s]
        assert 2 <= len(sentences) <= 5, f"{step.id} has {len(sentences)} sentences"


def test_every_jargon_word_a_step_uses_is_glossed_in_one_line(steps, measured):
    for word, line in lesson.GLOSSARY.items():
        assert "\n" not in line and not DIGITS.search(line), word
    for step_id, step in steps.items():
        assert set(step.words) <= set(lesson.GLOSSARY), step_id
        text = step.text + step.see + measured[step_id].text
        for word in ("ε-MSE", "PSNR", "receptive field", "self-attention", "GroupNorm", "cycles per image", "DDIM",
                     "concatenation"):
            if word in text:
                assert word in step.words, f"{step_id} uses {word!r} without its one-line gloss"


def test_each_step_shows_its_words_and_what_to_see(ctx, steps, measured):
    ids = list(steps)
    for number, (step_id, step) in enumerate(steps.items(), 1):
        markdown = lesson_ui.step_markdown(step, measured[step_id], number, len(ids))
        assert step.title in markdown and step.see in markdown and measured[step_id].text in markdown
        assert "What you should see" in markdown and f"Step {number} of {len(ids)}" in markdown
        words = lesson_ui.words_markdown(step)
        for line in lesson.glossary_lines(step.words):
            assert line in words


# --- every number equals its source ---------------------------------------------------------------------------------

def test_task_numbers_are_the_live_shapes_and_errors(ctx, steps, measured):
    step, m = steps["task"], measured["task"]
    stem, image = image_of(ctx, step)
    comparison = denoising.compare(ctx, image, step.target.t, step.target.seed)
    assert m.values["input_shape"] == tuple(comparison.x_t.shape[1:]) == (3, ctx.image_size, ctx.image_size)
    assert m.values["unet_shape"] == tuple(comparison.predictions["unet"].eps_hat.shape[1:])
    assert m.values["values_per_image"] == 3 * ctx.image_size ** 2
    assert m.values["unet_eps_mse"] == pytest.approx(comparison.predictions["unet"].eps_mse, rel=1e-6)
    assert m.values["naive_eps_mse"] == pytest.approx(comparison.predictions["naive"].eps_mse, rel=1e-6)
    for text in (f"{3 * ctx.image_size ** 2:,}", lesson.mse(m.values["unet_eps_mse"]),
                 lesson.mse(m.values["naive_eps_mse"]), image_label(stem), "this image"):
        assert text in m.text
    assert m.verdict == lesson.AGREES


def test_window_numbers_are_the_theoretical_and_measured_fields(ctx, steps, measured):
    step, m = steps["window"], measured["window"]
    _, image = image_of(ctx, step)
    y, x = step.target.pixel
    fields = receptive.views(ctx, image, step.target.t, step.target.seed, y, x, receptive.OUTPUT)
    size = ctx.fields[ctx.naive_specs[-1].name].size
    assert m.values["naive_theory"] == size
    assert m.values["naive_support"] == fields[0].effective.support == size * size
    assert m.values["unet_support"] == fields[1].effective.support
    assert m.values["unet_r90"] == 2 * fields[1].effective.radius_90 + 1
    for text in (f"{size}×{size}", f"{size * size:,}", f"{ctx.image_size ** 2:,}",
                 f"{m.values['unet_r90']}×{m.values['unet_r90']}"):
        assert text in m.text
    assert m.verdict == lesson.AGREES


def test_scales_numbers_are_the_model_shapes_and_live_spectra(ctx, steps, measured):
    step, m = steps["scales"], measured["scales"]
    _, image = image_of(ctx, step)
    outputs = levels.record_levels(ctx, image, step.target.t, step.target.seed)
    skip = high_frequency_share(outputs["skip1"][0], ctx.image_size)
    up = high_frequency_share(outputs["dec1.up"][0], ctx.image_size)
    assert m.values["skip1_high"] == pytest.approx(skip) and m.values["up1_high"] == pytest.approx(up)
    assert m.values["naive_sizes"] == [ctx.image_size]
    assert m.values["bottleneck"] == ctx.spec("mid.res2").output_shape[-1]
    assert lesson.share(skip) in m.text and lesson.share(up) in m.text
    assert ("fine detail that the coarse path has lost" in m.text) == (skip > up)
    # The same sentence as the Part by part tab's scales panel, where the step points.
    view = claims.scales_view(ctx, m.values["image"], image, step.target.t, step.target.seed)
    assert claims.scales_sentence(view) in m.text and f"above {view.cutoff:g} cycles per image" in m.text
    assert step.target.evidence == "proof-scales"


def test_detail_numbers_are_the_live_edge_errors_and_the_held_out_psnr(ctx, steps, measured):
    step, m, t = steps["detail"], measured["detail"], steps["detail"].target.t
    stem, image = image_of(ctx, step)
    view = claims.detail_view(ctx, stem, image, t, step.target.seed)
    assert claims.detail_sentence(view) in m.text
    for name in ("naive", "unet"):
        assert lesson.mse(view.edge_error[name]) in m.text and lesson.mse(view.flat_error[name]) in m.text
    index = ctx.metrics["timesteps"].index(t)
    unet, naive = ctx.metrics["models"]["unet"]["psnr"][index], ctx.metrics["models"]["naive"]["psnr"][index]
    assert m.values["unet_psnr"] == unet and m.values["naive_psnr"] == naive
    assert formatting.db(unet) in m.text and formatting.db(naive) in m.text and "held-out average" in m.text
    edge, flat = m.values["edge_ratio"], m.values["flat_ratio"]
    assert m.verdict == (lesson.AGREES if edge > flat and edge > 1 else lesson.PARTLY if edge > 1 else lesson.DISAGREES)
    assert ("along the edges" in m.text)


def test_the_edge_mask_finds_an_edge():
    x0 = torch.zeros(1, 3, 32, 32)
    x0[..., 16:] = 1.0  # one vertical edge between columns 15 and 16
    mask = claims.edge_mask(x0, 0.1)
    assert mask[:, 15:17].all() and not mask[:, :13].any() and not mask[:, 19:].any()


def test_time_numbers_are_live_and_from_the_knockout_table(ctx, steps, measured):
    step, m = steps["time"], measured["time"]
    _, image = image_of(ctx, step)
    _, x_t, _ = ctx.x_t(image, step.target.t, step.target.seed)
    with torch.no_grad():
        same = torch.equal(ctx.pair.naive(x_t, torch.tensor([1])), ctx.pair.naive(x_t, torch.tensor([999])))
    assert same and m.values["naive_difference"] == 0
    table = ctx.metrics["knockouts"]["eps_mse"]
    ratios = [w / i for w, i in zip(table["told the wrong t"], table["intact"])]
    assert m.values["heldout_ratios"] == pytest.approx(ratios)
    assert lesson.times(min(ratios)) in m.text and lesson.times(max(ratios)) in m.text
    told = step.target.knockouts.told_t
    comparison = denoising.compare(ctx, image, step.target.t, step.target.seed, denoising.Knockouts(told_t=told))
    live = comparison.predictions["knocked"].eps_mse / comparison.predictions["unet"].eps_mse
    assert m.values["image_ratio"] == pytest.approx(live) and lesson.times(live) in m.text


def test_skips_numbers_are_the_knockout_table(ctx, steps, measured):
    m, t = measured["skips"], steps["skips"].target.t
    knockouts = ctx.metrics["knockouts"]
    index = knockouts["timesteps"].index(t)
    ratio = knockouts["eps_mse"]["skip1 cut"][index] / knockouts["eps_mse"]["intact"][index]
    assert m.values["skip1_at_t"] == pytest.approx(ratio)
    assert lesson.times(ratio) in m.text


def test_accumulation_numbers_are_the_held_out_file(ctx, steps, measured):
    m = measured["accumulation"]
    results = claims.accumulation_results(ctx)
    assert results is not None, "weights/accumulation.json is missing: python -m explorer.analysis.accumulation"
    text, verdict = claims.accumulation_sentence(results)
    assert m.text.startswith(text) and m.verdict == verdict
    paired = results["naive_over_unet"]["final"]
    assert f"{lesson.times(paired['ratio'])} (95 % interval {lesson.times(paired['ci95'][0])}" in m.text
    unet = results["models"]["unet"]
    assert lesson.mse(unet["final"][str(results["detail_steps"])]["mean"][0]) in m.text
    assert lesson.mse(unet["detail"]["added"][0]) in m.text and "95 % interval" in m.text
    assert steps["accumulation"].target.evidence == "proof-accumulation"


def test_the_ideal_trajectory_is_walked_exactly_by_an_oracle(ctx):
    x0 = torch.rand(2, 3, 16, 16) * 2 - 1
    eps = torch.randn(2, 3, 16, 16)
    diffusion = ctx.diffusion

    def oracle(x, t):  # the noise that puts x on the ideal path
        return diffusion.eps_from_x0(x, t, x0)

    run = accumulation.trajectories(oracle, diffusion, x0, eps, 250, 10)
    assert run.gap.max() < 1e-4 and run.one_step.max() < 1e-4 and run.jump.max() < 1e-4

    def biased(x, t):  # the same small error in the clean-image estimate at every step
        return diffusion.eps_from_x0(x, t, x0 + 0.05)

    run = accumulation.trajectories(biased, diffusion, x0, eps, 250, 10)
    assert run.gap[0].min() > 0 and (run.gap[-1] > run.gap[0]).all()


def accumulation_results(unet_final: float, naive_final: float, added: float) -> dict:
    def model(first: float, final: float) -> dict:
        return {"final": {"1": {"mean": [final, final, final]}, "20": {"mean": [final, final * 0.9, final * 1.1]}},
                "detail": {"gap": [[first, first, first]] * 20, "one_step": [[added / 20] * 3] * 20,
                           "added": [added, added, added], "compounded_share": 0.0}}
    return {"t_start": 250, "detail_steps": 20, "images": 8,
            "models": {"unet": model(0.01, unet_final), "naive": model(0.02, naive_final)}}


def test_accumulation_verdict_follows_the_data():
    grows_and_compounds = accumulation_results(0.3, 0.9, 0.2)  # ends above its one-step sum; naive ×3 from ×2
    assert claims.accumulation_sentence(grows_and_compounds)[1] == "agrees"
    only_piles_up = accumulation_results(0.1, 0.15, 0.2)
    text, verdict = claims.accumulation_sentence(only_piles_up)
    assert verdict == "partly" and "does not compound" in text
    shrinks = accumulation_results(0.001, 0.001, 0.2)
    assert claims.accumulation_sentence(shrinks)[1] == "disagrees"


# --- the proofs' numbers: "not computed yet" until evaluate writes them, then read from metrics.json ----------------

def test_proof_steps_say_not_computed_yet_without_their_keys(ctx, steps):
    bare = copy.deepcopy(ctx.metrics)
    for key in ("concat", "gradients"):
        bare.pop(key, None)
    bare["knockouts"]["eps_mse"].pop("bottleneck bypassed", None)
    for step_id in ("concat", "gradients", "noise-scales"):
        m = steps[step_id].measure(with_metrics(ctx, bare))
        assert m.verdict == lesson.NOT_COMPUTED and lesson.NOT_COMPUTED in m.text
        assert not DIGITS.search(m.text), f"{step_id} shows a number it has not measured: {m.text}"
    for step in steps.values():  # weights with no metrics.json at all: no step fails
        if True:
            assert step.measure(with_metrics(ctx, None)).verdict in (lesson.NOT_COMPUTED, lesson.AGREES,
                                                                     lesson.PARTLY, lesson.DISAGREES)
    assert "held-out" not in steps["detail"].measure(with_metrics(ctx, None)).text


def knockout_metrics(ctx, bottleneck: list[float], skip1: list[float]) -> dict:
    metrics = copy.deepcopy(ctx.metrics)
    table = metrics["knockouts"]
    table["timesteps"] = [10, 250, 900]
    table["eps_mse"] = {"intact": [0.1, 0.01, 0.001], "bottleneck bypassed": bottleneck, "skip1 cut": skip1}
    return metrics


def test_noise_scales_text_follows_the_data(ctx, steps):
    step = steps["noise-scales"]
    # The bottleneck adds the most error at the highest t and skip1 at the lowest: as the lesson says.
    agree = step.measure(with_metrics(ctx, knockout_metrics(ctx, [0.1, 0.05, 0.2], [5.0, 0.02, 0.002])))
    assert agree.verdict == lesson.AGREES and "as the lesson says" in agree.text
    assert agree.values["bottleneck_peak_t"] == 900 and agree.values["skip1_peak_t"] == 10
    # Bottleneck costs most at mid t; skip1's ratio is largest at high t but its added error largest at low t.
    mid = step.measure(with_metrics(ctx, knockout_metrics(ctx, [0.2, 0.5, 0.002], [1.0, 0.5, 0.4])))
    assert mid.values["bottleneck_peak_t"] == 250 and "its largest cost is at t = 250" in mid.text
    assert lesson.times(2.0) in mid.text and lesson.added(0.399) in mid.text and lesson.times(400.0) in mid.text
    assert mid.values["skip1_peak_t"] == 10
    assert mid.verdict == lesson.PARTLY and "costs the most at small t" in mid.text
    # Both against the lesson.
    both = step.measure(with_metrics(ctx, knockout_metrics(ctx, [0.2, 0.5, 0.002], [0.1, 0.01, 0.5])))
    assert both.verdict == lesson.DISAGREES and both.text.count("against the lesson") == 2


def test_noise_scales_is_one_verdict_in_the_lesson_and_the_part_by_part_tab(ctx, steps):
    knockouts = ctx.metrics["knockouts"]
    if "bottleneck bypassed" not in knockouts["eps_mse"]:
        pytest.skip("weights/metrics.json has no 'bottleneck bypassed' row yet (python -m explorer.evaluate)")
    m = steps["noise-scales"].measure(ctx)
    shown = proofs.bottleneck_markdown({}, 250, ctx.metrics)
    assert m.text in shown  # the very same sentences, not a second opinion
    verdict_words = {lesson.AGREES: "agrees with the lesson", lesson.PARTLY: "agrees only in part",
                     lesson.DISAGREES: "disagrees with the lesson"}
    assert verdict_words[m.verdict] in shown
    added = [b - i for b, i in zip(knockouts["eps_mse"]["bottleneck bypassed"], knockouts["eps_mse"]["intact"])]
    assert m.values["bottleneck_added"] == pytest.approx(added)
    assert lesson.added(added[0]) in m.text and lesson.added(added[-1]) in m.text


def test_emoji_are_named_by_their_unicode_names():
    assert emoji_name("1f353") == "strawberry" and emoji_name("00a9-fe0f") == "copyright sign"
    assert image_label("1f353") == "the strawberry (1f353)"
    assert emoji_name("not-hex") == "not-hex"


def test_one_ratio_format_everywhere():
    from explorer import formatting

    assert [formatting.times(v) for v in (1.0634, 38.21, 2711.4)] == ["×1.06", "×38.2", "×2,711"]
    from explorer import model_card
    from explorer.views.proofs import text as proofs_text

    assert proofs_text.times is formatting.times is model_card.times and lesson.times is formatting.times
    assert "×1.06" in denoising.knockouts_table_html({"timesteps": [10], "eps_mse": {"intact": [0.5], "x": [0.5317]},
                                                      "told_the_wrong_t": "n/a"})
    assert formatting.mse(0.0003091) == "0.0003091" and formatting.share(0.0005) == "0.05%"


def concat_metrics(ctx, skip_zero: float, up_zero: float) -> dict:
    metrics = copy.deepcopy(ctx.metrics)
    metrics["concat"] = {"timesteps": [250], "levels": {"1": {
        "channels": {"up": 64, "skip": 32, "out": 32},
        "eps_mse": {"intact": [0.01], "skip_zero": [skip_zero], "up_zero": [up_zero], "skip_mean": [0.02],
                    "up_mean": [0.02]}}}}
    return metrics


def test_concat_text_follows_the_data(ctx, steps):
    step = steps["concat"]
    both = step.measure(with_metrics(ctx, concat_metrics(ctx, 0.5, 0.02)))
    assert both.verdict == lesson.AGREES and "leans on the skip more" in both.text
    assert lesson.times(50.0) in both.text and lesson.times(2.0) in both.text and "96 channels" in both.text
    one = step.measure(with_metrics(ctx, concat_metrics(ctx, 0.5, 0.01)))
    assert one.verdict == lesson.PARTLY and "barely uses the upsampled path" in one.text
    if "concat" in ctx.metrics:
        real = step.measure(ctx)
        concat = ctx.metrics["concat"]
        level = concat["levels"]["1"]
        index = concat["timesteps"].index(real.values["t"])
        errors = level["eps_mse"]
        assert real.values["skip_channels"] == level["channels"]["skip"]
        skip = errors["skip_zero"][index] / errors["intact"][index]
        up = errors["up_zero"][index] / errors["intact"][index]
        assert real.values["skip_zero_ratio"] == pytest.approx(skip) and lesson.times(skip) in real.text
        assert real.values["up_zero_ratio"] == pytest.approx(up) and lesson.times(up) in real.text


def gradient_metrics(ctx, trained: tuple[float, float], random_init: tuple[float, float]) -> dict:
    """enc1's norms (intact, skips cut) with the output head's at 1 in both variants."""
    metrics = copy.deepcopy(ctx.metrics)
    metrics["gradients"] = {"timesteps": [250], "images": 4, "blocks": ["in_conv", "enc1", "dec1", "out"],
                            "trained": {"intact": [1.0, trained[0], 1.0, 1.0],
                                        "skips_cut": [1.0, trained[1], 1.0, 1.0]},
                            "random_init": {"intact": [1.0, random_init[0], 1.0, 1.0],
                                            "skips_cut": [1.0, random_init[1], 1.0, 1.0]}}
    return metrics


def test_gradients_text_follows_the_data(ctx, steps):
    step = steps["gradients"]
    highway = step.measure(with_metrics(ctx, gradient_metrics(ctx, (0.3, 0.01), (0.2, 0.1))))
    assert highway.verdict == lesson.AGREES and highway.values["block"] == "enc1"
    assert lesson.times(30.0) in highway.text and lesson.times(2.0) in highway.text
    none = step.measure(with_metrics(ctx, gradient_metrics(ctx, (0.01, 0.3), (0.1, 0.2))))
    assert none.verdict == lesson.DISAGREES and "Against the lesson" in none.text
    # A network whose loss (and so every gradient) is larger with the skips cut: measured relative to `out`.
    metrics = gradient_metrics(ctx, (0.3, 0.01), (0.2, 0.1))
    metrics["gradients"]["trained"]["skips_cut"] = [50.0, 0.5, 50.0, 50.0]
    scaled = step.measure(with_metrics(ctx, metrics))
    assert scaled.values["trained_ratio"] == pytest.approx(30.0)
    if "gradients" in ctx.metrics:
        real = step.measure(ctx)
        gradients = ctx.metrics["gradients"]
        blocks = gradients["blocks"]
        index, out = blocks.index(real.values["block"]), blocks.index("out")
        intact, cut = gradients["trained"]["intact"], gradients["trained"]["skips_cut"]
        expected = (intact[index] / intact[out]) / (cut[index] / cut[out])
        assert real.values["trained_ratio"] == pytest.approx(expected)
        assert lesson.times(real.values["trained_relative"]) in real.text
        assert lesson.times(real.values["fresh_relative"]) in real.text


def test_skips_text_says_when_a_deeper_skip_matters_more(ctx, steps):
    metrics = copy.deepcopy(ctx.metrics)
    rows = metrics["knockouts"]["eps_mse"]
    rows["skip3 cut"] = [value * 1e4 for value in rows["intact"]]
    m = steps["skips"].measure(with_metrics(ctx, metrics))
    assert m.verdict == lesson.PARTLY and "a deeper skip matters more" in m.text


# --- URL state ------------------------------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def choices(ctx, steps):
    return urlstate.Choices(steps=tuple(steps), tabs=("lesson", "architecture", "denoising", "receptive"),
                            images=tuple(path.stem for path in ctx.examples),
                            blocks=tuple(ctx.block_names()) + ("output",), image_size=ctx.image_size,
                            num_levels=ctx.pair.unet.config.num_levels)


def test_a_good_query_parses_to_its_state(ctx, choices):
    stem = ctx.examples[0].stem
    state = urlstate.parse({"step": "time", "tab": "denoising", "image": stem, "t": "900", "seed": "7",
                            "block": "enc2", "pixel": "10,20", "knockouts": "skip1,told:10,attention"}, choices)
    assert state.notes == ()
    assert (state.step, state.tab, state.image, state.t, state.seed, state.block, state.pixel) == (
        "time", "denoising", stem, 900, 7, "enc2", (10, 20))
    assert state.knockouts == ("skip1", "told:10", "attention")
    assert urlstate.parse({"step": "2", "ko": ""}, choices).step == list(choices.steps)[1]
    assert urlstate.parse({"ko": ""}, choices).knockouts == ()


def test_encode_and_parse_round_trip(ctx, choices):
    state = urlstate.UrlState(step="skips", tab="receptive", image=ctx.examples[1].stem, t=12, seed=MAX_SEED,
                              block="output", pixel=(0, ctx.image_size - 1), knockouts=("skip2", "bottleneck"))
    query = urlstate.encode(state)
    assert query.startswith("step=skips&tab=receptive&")
    parsed = urlstate.parse(dict(pair.split("=", 1) for pair in query.split("&")), choices)
    assert parsed == state and parsed.notes == ()


@pytest.mark.parametrize("key,value", [
    ("t", "abc"), ("t", "0"), ("t", "1000"), ("t", "2.5"), ("t", "-3"), ("t", ""), ("t", "1e3"), ("t", "9" * 400),
    ("seed", "-1"), ("seed", str(MAX_SEED + 1)), ("seed", "x"),
    ("pixel", "64,0"), ("pixel", "1"), ("pixel", "a,b"), ("pixel", "1,2,3"), ("pixel", "-1,5"),
    ("block", "nope"), ("block", "<script>alert(1)</script>"), ("tab", "settings"), ("image", "../../etc/passwd"),
    ("step", "0"), ("step", "99"), ("step", "nope"),
    ("knockouts", "skip9"), ("knockouts", "skip1,everything"), ("knockouts", "told:0"), ("knockouts", "told:x"),
])
def test_a_malformed_value_is_ignored_with_a_note(choices, key, value):
    state = urlstate.parse({key: value, "t": "500"} if key != "t" else {key: value}, choices)
    assert getattr(state, key) is None
    assert len(state.notes) == 1 and state.notes[0].startswith(f"`{key}=")
    assert len(state.notes[0]) < 300 and state.notes[0].count("`") == 2  # the value shown short, as code
    if key != "t":
        assert state.t == 500  # the good settings of the same link still apply


def test_unknown_keys_are_noted_and_the_rest_applies(choices):
    state = urlstate.parse({"tab": "denoising", "colour": "red", "`x`": "1"}, choices)
    assert state.tab == "denoising" and len(state.notes) == 2
    note = urlstate.note_markdown(state.notes)
    assert "colour" in note and "could not be used" in note
    assert urlstate.note_markdown([]) == ""
    flood = urlstate.parse({f"k{i}": "x" * 5000 for i in range(500)}, choices)
    assert len(flood.notes) == 500 and len(urlstate.note_markdown(flood.notes)) < 2000
    assert "and 488 more" in urlstate.note_markdown(flood.notes)
    assert urlstate.parse({}, choices).empty


def test_current_state_records_what_each_tab_shows(ctx):
    stem = ctx.examples[0].stem
    source = lesson_ui.source_text(stem)
    assert lesson_ui.image_of_source(ctx, source) == stem
    assert lesson_ui.image_of_source(ctx, "Image: your upload (centre square)") is None
    common = dict(step="time", source=source, t=900, seed=0, block="enc1", rf_y=5, rf_x=6, rf_block="output",
                  override_t=True, told_t=10, skips=["skip2", "skip3", "skip4"], attention=True)
    denoise = lesson_ui.current_state(ctx, tab="denoising", **common)
    assert urlstate.encode(denoise) == f"step=time&tab=denoising&image={stem}&t=900&seed=0&knockouts=skip1,told:10"
    field = lesson_ui.current_state(ctx, tab="receptive", **common)
    assert (field.block, field.pixel, field.knockouts) == ("output", (5, 6), None)
    blocks = lesson_ui.current_state(ctx, tab="architecture", **common)
    assert (blocks.block, blocks.pixel) == ("enc1", None)
    odd = lesson_ui.current_state(ctx, tab="receptive", **{**common, "t": float("nan"), "seed": "x", "rf_y": None,
                                                           "rf_x": float("inf")})
    assert (odd.t, odd.seed, odd.pixel) == (None, None, None)


def test_each_step_target_is_a_state_the_url_can_carry(ctx, steps, choices):
    for step in steps.values():
        state = lesson_ui.target_state(step.target)
        query = urlstate.encode(dataclasses.replace(state, step=step.id))
        if step.target.tab not in choices.tabs:
            continue
        parsed = urlstate.parse(dict(pair.split("=", 1) for pair in query.split("&")), choices)
        assert parsed.notes == (), (step.id, parsed.notes)
        assert parsed.tab == step.target.tab and parsed.t == step.target.t


# --- the tab in the built app ---------------------------------------------------------------------------------------

def test_the_app_opens_on_the_lesson_and_every_step_points_at_something(ctx, steps):
    import gradio as gr

    from explorer.ui.app import build_app

    demo = build_app(ctx)
    blocks = list(demo.blocks.values())
    tabs = [block for block in blocks if isinstance(block, gr.Tab)]
    assert tabs[0].id == lesson_ui.LESSON_TAB
    assert next(block for block in blocks if isinstance(block, gr.Tabs)).selected == lesson_ui.LESSON_TAB
    ids = {block.elem_id for block in blocks if getattr(block, "elem_id", None)}
    chooser = next(block for block in blocks if getattr(block, "elem_id", None) == "lesson-steps")
    shown = [value for _, value in chooser.choices]
    assert shown == [step.id for step in steps.values() if step.target.tab in {tab.id for tab in tabs}]
    for step_id in shown:
        target = steps[step_id].target
        assert target.evidence in ids, f"step {step_id} scrolls to #{target.evidence}, which the app does not have"
        assert not target.press or target.press in ids, f"step {step_id} presses #{target.press}: not in the app"
