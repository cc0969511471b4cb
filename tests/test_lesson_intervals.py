"""Every held-out number the Lesson's steps and the views quote comes with its 95 % interval over images, written
one way (explorer/formatting.py); a file without intervals still reads, with the numbers alone.

The numbers and their intervals are taken from each step's own values (`<name>` beside `<name>_ci95`), so a step
that quotes a held-out number without its interval fails here whatever the number is.
"""
from __future__ import annotations

import copy
import dataclasses
import re

import pytest

from explorer import formatting, lesson
from explorer.metrics import Metrics
from explorer.views import denoising, proofs
from explorer.views.proofs import text as proofs_text

FORMATS = (formatting.times, formatting.mse, formatting.added, formatting.db, formatting.db_change, formatting.share)
SPREAD_OVER_RUNS = "_sd"  # a measure reported over seeds (mean, sd, range) rather than over images


@pytest.fixture(scope="module")
def measured(ctx):
    return {step.id: step.measure(ctx) for step in lesson.steps(ctx)}


def quoted_pairs(values: dict):
    """(name, value, bounds, is_list_element) for every `<name>` with a `<name>_ci95` beside it, nested dicts too."""
    for name, value in values.items():
        if isinstance(value, dict):
            yield from quoted_pairs(value)
        bounds = values.get(f"{name}_ci95")
        if f"{name}_ci95" not in values or bounds is None:
            continue
        if isinstance(value, list):
            for element, element_bounds in zip(value, bounds):
                if element_bounds is not None:
                    yield name, element, element_bounds, True
        else:
            yield name, value, bounds, False


def appears(token: str, text: str) -> bool:
    """`token` as a whole number in `text`: "3.6 dB" is not in "+3.6 dB", nor "×1.1" in "×1.15"."""
    return re.search(r"(?<![0-9.,+\-×])" + re.escape(token) + r"(?![0-9])", text) is not None


def check_intervals(step_id: str, m: lesson.Measurement) -> int:
    """Asserts that each number of the step's values that the text quotes is followed by its interval; returns how
    many numbers with an interval the text quotes."""
    count = 0
    for name, value, bounds, in_list in quoted_pairs(m.values):
        found = [fmt for fmt in FORMATS if appears(fmt(value), m.text)]
        for fmt in found:
            assert formatting.with_interval(value, bounds, fmt) in m.text, (
                f"{step_id}: {name} = {fmt(value)} is quoted without its interval "
                f"{formatting.interval(*bounds, format=fmt)}")
        assert in_list or found, f"{step_id}: {name} has an interval but the text never quotes it"
        count += bool(found)
    return count


def test_every_held_out_number_a_step_quotes_carries_its_interval(measured):
    for step_id, m in measured.items():
        quoted = check_intervals(step_id, m)
        if formatting.HELD_OUT in m.text and not any(key.endswith(SPREAD_OVER_RUNS) for key in m.values):
            assert quoted, f"{step_id} quotes a held-out average with no interval: {m.text}"
            assert formatting.INTERVAL in m.text


def test_a_step_that_quotes_intervals_glosses_the_word(ctx, measured):
    for step in lesson.steps(ctx):
        if formatting.INTERVAL in measured[step.id].text:
            assert formatting.INTERVAL in step.words, f"{step.id} quotes intervals without the glossary line"
    assert not re.search(r"[0-9]", lesson.GLOSSARY[formatting.INTERVAL])


def test_the_intervals_are_the_files(ctx, measured):
    metrics = Metrics.of(ctx.metrics)
    skips = measured["skips"].values
    t = skips["t"]
    assert skips["skip1_at_t_ci95"] == tuple(metrics.knockout_ratio_interval("skip1 cut", t))
    assert skips["skip1_at_t"] in metrics.knockout_ratio_interval("skip1 cut", t)
    detail = measured["detail"].values
    assert detail["gap_ci95"] == tuple(metrics.psnr_gap(measured["detail"].values["t"])[1])
    paired = ctx.metrics.get("unet_vs_naive")
    if paired:
        index = metrics.timesteps.index(detail["t"])
        assert list(detail["gap_ci95"]) == paired["psnr_gap_db_ci95"][index]


def without_intervals(metrics: dict) -> dict:
    """A copy of the file as it was before the intervals: every `*_ci95` key removed, at any depth."""
    def strip(value):
        if isinstance(value, dict):
            return {key: strip(item) for key, item in value.items() if not key.endswith("_ci95")}
        return value
    return Metrics(strip(copy.deepcopy(dict(metrics))))


def test_a_file_without_intervals_gives_the_numbers_alone(ctx, measured):
    bare = dataclasses.replace(ctx, metrics=without_intervals(ctx.metrics))
    for step in lesson.steps(ctx):
        if step.id == "accumulation":  # weights/accumulation.json, not metrics.json
            continue
        m = step.measure(bare)
        assert formatting.INTERVAL not in m.text, step.id
        assert m.verdict == measured[step.id].verdict, step.id
    skips = next(step for step in lesson.steps(ctx) if step.id == "skips").measure(bare)
    assert formatting.times(skips.values["skip1_at_t"]) in skips.text


def test_one_interval_form():
    assert formatting.with_interval(0.01494, (0.01395, 0.01597)) == "0.01494 (95 % interval 0.01395 to 0.01597)"
    assert formatting.with_interval(61.1, (57.3, 65.5), formatting.times) == "×61.1 (95 % interval ×57.3 to ×65.5)"
    assert formatting.with_interval(61.1, None, formatting.times) == "×61.1"
    assert formatting.span((3.41, 3.87), formatting.db_change) == "+3.4 dB to +3.9 dB"


def test_the_views_quote_held_out_intervals(ctx):
    metrics = Metrics.of(ctx.metrics)
    table = denoising.knockouts_table_html(metrics.knockouts)
    assert table.count('class="knockout-interval"') == len(metrics.knockout_rows())
    t = metrics.knockout_timesteps[-1]
    skip1 = metrics.knockout_ratio_interval("skip1 cut", t)
    assert formatting.span(skip1, formatting.times) in table
    assert formatting.span(metrics.knockout_interval("intact", t)) in table
    verdict = proofs.bottleneck_verdict(metrics.knockouts, metrics.images)
    first = metrics.knockout_timesteps[0]
    added = metrics.knockout_added("bottleneck bypassed", first)
    assert formatting.with_interval(added, metrics.knockout_added_interval("bottleneck bypassed", first),
                                 formatting.added) in verdict
    if metrics.has("concat"):
        t = metrics.concat_timesteps[2]
        sentence = proofs_text.concat_heldout_sentence(metrics, t)
        ratio = metrics.concat_ratio(1, "skip_zero", t)
        bounds = metrics.concat_ratio_interval(1, "skip_zero", t)
        assert formatting.with_interval(ratio, bounds, formatting.times) in sentence
