"""Results many sessions share are computed once: a second identical request (or one arriving while the first
computes) reuses the first's result; any input that changes the result computes anew."""
from __future__ import annotations

import threading
import time

import numpy as np
import pytest

from explorer.knockouts import Knockouts
from explorer.views import denoising, kept, receptive
from explorer.views.memo import Memo


class Counting:
    """Stands in for a view's compute: counts its calls, returns a fresh object each time."""

    def __init__(self, seconds: float = 0.0):
        self.calls, self.seconds = 0, seconds
        self.lock = threading.Lock()

    def __call__(self, *args, **kwargs):
        with self.lock:
            self.calls += 1
        time.sleep(self.seconds)
        return object()


@pytest.fixture(autouse=True)
def empty(ctx):
    ctx.kept.clear()
    yield
    ctx.kept.clear()


@pytest.fixture
def image() -> np.ndarray:
    return np.random.default_rng(0).integers(0, 256, (64, 64, 3), dtype=np.uint8)


def test_a_memo_computes_a_key_once_for_callers_that_arrive_while_it_computes():
    memo, compute = Memo(4), Counting(seconds=0.2)
    results = []
    threads = [threading.Thread(target=lambda: results.append(memo.get("key", compute))) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert compute.calls == 1
    assert len(results) == 8 and all(result is results[0] for result in results)


def test_a_memo_computes_again_after_a_failure_and_stays_bounded():
    memo = Memo(2)

    def fail():
        raise ValueError("no")

    with pytest.raises(ValueError):
        memo.get("key", fail)
    assert memo.get("key", lambda: 1) == 1
    for key in range(5):
        memo.get(key, lambda key=key: key)
    assert len(memo) == 2


def test_the_strip_is_computed_once_per_image_seed_and_knockouts(ctx, image, monkeypatch):
    compute = Counting()
    monkeypatch.setattr(denoising, "scrub_frames", compute)
    first = kept.scrub_frames(ctx, image, 0, Knockouts())
    assert kept.scrub_frames(ctx, image.copy(), 0, Knockouts()) is first
    assert compute.calls == 1
    kept.scrub_frames(ctx, image, 1, Knockouts())
    kept.scrub_frames(ctx, image, 0, Knockouts(zero_skips=frozenset({1})))
    kept.scrub_frames(ctx, 255 - image, 0, Knockouts())
    assert compute.calls == 4


def test_the_side_by_side_and_the_receptive_fields_are_computed_once(ctx, image, monkeypatch):
    compare, fields = Counting(), Counting()
    monkeypatch.setattr(denoising, "compare", compare)
    monkeypatch.setattr(receptive, "views", fields)
    for _ in range(3):
        kept.compare(ctx, image, 250, 0, Knockouts())
        kept.receptive_fields(ctx, image, 250, 0, 32, 32, receptive.OUTPUT)
    assert (compare.calls, fields.calls) == (1, 1)
    kept.compare(ctx, image, 251, 0, Knockouts())
    kept.compare(ctx, image, 250, 0, Knockouts(attention=False))
    kept.receptive_fields(ctx, image, 250, 0, 32, 31, receptive.OUTPUT)
    kept.receptive_fields(ctx, image, 250, 0, 32, 32, "mid.attn")
    assert (compare.calls, fields.calls) == (3, 3)


def test_a_lesson_step_is_measured_once_for_every_learner(ctx):
    measure = Counting()
    first = kept.measurement(ctx, "task", 0, measure)
    assert kept.measurement(ctx, "task", 0, measure) is first
    kept.measurement(ctx, "task", 1, measure)
    kept.measurement(ctx, "skips", 0, measure)
    assert measure.calls == 3


def test_the_kept_strip_equals_a_fresh_one(ctx, image):
    """Keeping changes nothing shown: the kept frames are the frames computed without it."""
    knockouts = Knockouts(zero_skips=frozenset({1}))
    fresh = denoising.scrub_frames(ctx, image, 0, denoising.scrub_grid(), knockouts)
    frames = kept.scrub_frames(ctx, image, 0, knockouts)
    assert [frame.t for frame in frames] == [frame.t for frame in fresh]
    assert all(np.array_equal(a.images[name], b.images[name]) for a, b in zip(frames, fresh) for name in a.images)


def test_each_app_keeps_its_own_results(ctx, image):
    """Kept results belong to one Context (one app), not to the process: another app computes its own."""
    import copy

    other = copy.copy(ctx)
    other.kept = type(ctx.kept)()
    assert kept.compare(other, image, 250, 0, Knockouts()) is not kept.compare(ctx, image, 250, 0, Knockouts())
    assert len(ctx.kept.comparisons) == 1 and len(other.kept.comparisons) == 1
