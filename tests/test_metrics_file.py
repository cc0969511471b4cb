"""weights/metrics.json through `Metrics`, and the 95 % intervals every held-out number carries."""
from __future__ import annotations

import copy

import numpy as np
import pytest

from explorer import weights
from explorer.analysis import intervals
from explorer.knockouts import Knockouts
from explorer.metrics import Interval, Metrics


@pytest.fixture(scope="module")
def metrics() -> Metrics:
    loaded = weights.load_pair().metrics()
    assert isinstance(loaded, Metrics)
    return loaded


def test_the_interval_of_a_mean_holds_the_mean_and_narrows_with_more_images():
    rng = np.random.default_rng(1)
    few, many = rng.normal(1.0, 1.0, 20), rng.normal(1.0, 1.0, 2000)
    low, high = intervals.mean_interval(few)
    assert low < few.mean() < high
    wide, narrow = high - low, np.subtract(*intervals.mean_interval(many)[::-1])
    assert narrow < wide / 4
    assert intervals.mean_interval(few) == [low, high], "a fixed seed: the same interval every time"


def test_paired_intervals_see_what_two_separate_intervals_miss():
    rng = np.random.default_rng(2)
    base = rng.uniform(0.5, 5.0, 200)  # images of very different difficulty
    better = base * 0.9  # the same images, 10 % less error each
    low, high = intervals.ratio_interval(better, base)
    assert low == pytest.approx(0.9) and high == pytest.approx(0.9)
    separate = intervals.mean_interval(better), intervals.mean_interval(base)
    assert separate[0][1] > separate[1][0], "unpaired, the two intervals overlap"
    low, high = intervals.difference_interval(better, base)
    assert high < 0


def test_rows_share_their_resamples():
    rows = np.arange(30, dtype=float).reshape(3, 10)
    assert intervals.mean_intervals(rows)[1] == intervals.mean_interval(rows[1])


def test_accessors_read_the_file(metrics):
    t = metrics.timesteps[3]
    index = metrics["timesteps"].index(t)
    assert metrics.eps_mse("unet", t) == metrics["models"]["unet"]["eps_mse"][index]
    assert metrics.psnr("naive", t) == metrics["models"]["naive"]["psnr"][index]
    assert metrics.images == metrics["images"]
    with pytest.raises(KeyError, match="was not evaluated"):
        metrics.eps_mse("unet", 7)


def test_a_knockout_is_read_by_its_typed_value_or_its_row_name(metrics):
    t = metrics.knockout_timesteps[0]
    skip1 = Knockouts(zero_skips=frozenset({1}))
    assert metrics.knockout(skip1, t) == metrics.knockout("skip1 cut", t)
    assert metrics.knockout_ratio(skip1, t) == pytest.approx(metrics.knockout(skip1, t) / metrics.knockout("intact", t))
    assert metrics.knockout_added(skip1, t) == pytest.approx(metrics.knockout(skip1, t) - metrics.knockout("intact", t))


def test_every_stored_interval_holds_its_mean(metrics):
    if "eps_mse_ci95" not in metrics["models"]["unet"]:
        pytest.skip("metrics.json predates the intervals")
    for model in ("unet", "naive", "blur"):
        for t in metrics.timesteps:
            assert metrics.eps_mse(model, t) in metrics.eps_mse_interval(model, t)
            assert metrics.psnr(model, t) in metrics.psnr_interval(model, t)
    for row in metrics.knockout_rows():
        for t in metrics.knockout_timesteps:
            assert metrics.knockout(row, t) in metrics.knockout_interval(row, t)
            if row != "intact":
                assert metrics.knockout_ratio(row, t) in metrics.knockout_ratio_interval(row, t)
                assert metrics.knockout_added(row, t) in metrics.knockout_added_interval(row, t)
    ratio, interval = metrics.unet_over_naive(metrics.timesteps[-1])
    assert isinstance(interval, Interval) and ratio in interval


def test_gradients_are_reported_over_seeds(metrics):
    if not metrics.has("gradients") or "enc1" not in metrics.gradients:
        pytest.skip("metrics.json predates the measure over seeds")
    for network in ("trained", "random_init"):
        for measure in ("absolute", "relative"):
            spread = metrics.gradient_spread(network, measure)
            assert spread.runs >= 2 and spread.low <= spread.mean <= spread.high and spread.sd >= 0
    assert metrics.gradients["images"] > 64, "more than one batch of held-out images"
    assert len(metrics.gradients["fresh_seeds"]) >= 2


def test_a_copy_can_be_changed_without_touching_the_original(metrics):
    changed = copy.deepcopy(metrics)
    changed["images"] = -1
    assert isinstance(changed, Metrics) and metrics.images != -1 and Metrics.of(changed) is changed
    assert Metrics.of({"images": 3}).images == 3
    assert not Metrics.of(None) and Metrics.of(None).gradients is None, "not computed reads as an empty file"


def test_an_interval_unpacks_and_a_mismatched_row_reads_as_none(metrics):
    t = metrics.knockout_timesteps[0]
    low, high = metrics.knockout_interval("intact", t)
    assert low <= metrics.knockout("intact", t) <= high
    changed = copy.deepcopy(metrics)
    changed["knockouts"]["timesteps"] = changed["knockouts"]["timesteps"][:2]  # numbers changed, intervals not
    changed["knockouts"]["eps_mse"] = {name: row[:2] for name, row in changed["knockouts"]["eps_mse"].items()}
    assert changed.knockout_interval("intact", t) is None and changed.knockout_ratio_interval("skip1 cut", t) is None
    assert Metrics.of({"knockouts": {"timesteps": [10], "eps_mse": {"intact": [0.1]}}}).knockout_interval(
        "intact", 10) is None


def test_knockout_table_accessors(metrics):
    assert metrics.has_knockouts() and metrics.has_knockouts(Knockouts(zero_skips=frozenset({1})), "told the wrong t")
    assert not metrics.has_knockouts("skip9 cut") and not Metrics.of(None).has_knockouts()
    assert metrics.told_the_wrong_t == metrics["knockouts"]["told_the_wrong_t"]
    assert Metrics.of(None).told_the_wrong_t is None


def test_gradient_accessors(metrics):
    if not metrics.has("gradients"):
        pytest.skip("metrics.json has no gradients section")
    section = metrics["gradients"]
    assert metrics.gradient_blocks == section["blocks"] and metrics.gradient_images == section["images"]
    norms = metrics.gradient_norms("random_init")
    assert norms == {"intact": section["random_init"]["intact"], "skips_cut": section["random_init"]["skips_cut"]}
    assert metrics.fresh_seeds == section.get("fresh_seeds", [section.get("fresh_seed", 0)])
    assert metrics.gradient_loss("trained") == (section.get("loss") or {}).get("trained")
    assert Metrics.of({"gradients": {"fresh_seed": 3}}).fresh_seeds == [3]


def test_concat_accessors(metrics):
    if not metrics.has("concat"):
        pytest.skip("metrics.json has no concat section")
    section = metrics["concat"]
    t = metrics.concat_timesteps[1]
    index = section["timesteps"].index(t)
    level = section["levels"]["1"]
    assert metrics.concat_channels(1) == level["channels"] and metrics.concat_images == section["images"]
    assert metrics.concat_eps_mse(1, "up_zero", t) == level["eps_mse"]["up_zero"][index]
    ratio = metrics.concat_ratio(1, "skip_zero", t)
    assert ratio == pytest.approx(level["eps_mse"]["skip_zero"][index] / level["eps_mse"]["intact"][index])
    if "ratio_ci95" in level:
        assert ratio in metrics.concat_ratio_interval(1, "skip_zero", t)
    with pytest.raises(KeyError, match="was not evaluated"):
        metrics.concat_ratio(1, "skip_zero", 7)
