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
