"""Results many sessions share are computed once: a second identical request (or one arriving while the first
computes) reuses the first's result; any input that changes the result computes anew."""
from __future__ import annotations

import threading
import time

import numpy as np
import pytest
import torch

from explorer.knockouts import Knockouts
from explorer.views import denoising, kept, receptive
from explorer.views.memo import Memo, SharedRun


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


def test_a_shared_run_computes_each_item_once_for_readers_at_their_own_pace():
    produced = []

    def items():
        for index in range(5):
            time.sleep(0.02)
            produced.append(index)
            yield index

    run = SharedRun(items())
    readers = [[] for _ in range(6)]

    def read(into, pause):
        for item in run:
            into.append(item)
            time.sleep(pause)

    threads = [threading.Thread(target=read, args=(into, 0.01 * n)) for n, into in enumerate(readers)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert produced == [0, 1, 2, 3, 4]  # computed once, though six readers read them
    assert all(into == [0, 1, 2, 3, 4] for into in readers)
    assert list(run) == [0, 1, 2, 3, 4]  # a late reader gets every item at once


def test_a_shared_run_computes_only_what_is_read_and_shares_its_error():
    produced = []

    def items():
        for index in range(3):
            produced.append(index)
            yield index
        raise ValueError("broken at the end")

    run = SharedRun(items())
    assert next(iter(run)) == 0 and produced == [0]  # nobody read further: nothing more computed
    with pytest.raises(ValueError, match="broken"):
        list(run)
    with pytest.raises(ValueError, match="broken"):  # every reader that reaches it
        list(run)


def test_a_class_asking_the_same_reverse_process_shares_one(ctx, image, monkeypatch):
    calls = []

    def reverse_process(ctx, image, t, seed, num_steps, every=1):
        calls.append((t, seed, num_steps))
        return iter(range(3))

    monkeypatch.setattr(denoising, "reverse_process", reverse_process)
    first = kept.reverse_process(ctx, image, 250, 0, 20, 2)
    assert kept.reverse_process(ctx, image.copy(), 250, 0, 20, 2) is first
    assert list(first) == list(kept.reverse_process(ctx, image, 250, 0, 20, 2)) == [0, 1, 2]
    kept.reverse_process(ctx, image, 250, 1, 20, 2)  # another seed, another run
    kept.reverse_process(ctx, None, 999, 0, 20, 2)  # from pure noise
    assert calls == [(250, 0, 20), (250, 1, 20), (999, 0, 20)]


def test_a_failed_reverse_process_is_started_again(ctx, image, monkeypatch):
    attempts = []

    def reverse_process(ctx, image, t, seed, num_steps, every=1):
        attempts.append(1)
        if len(attempts) == 1:
            raise RuntimeError("out of memory")
        yield "frame"

    monkeypatch.setattr(denoising, "reverse_process", reverse_process)
    with pytest.raises(RuntimeError):
        list(kept.reverse_process(ctx, image, 250, 0, 20, 2))
    assert list(kept.reverse_process(ctx, image, 250, 0, 20, 2)) == ["frame"]


def test_the_shared_reverse_process_equals_a_fresh_one(ctx, image):
    fresh = list(denoising.reverse_process(ctx, image, 300, 3, 4, every=2))
    shared = list(kept.reverse_process(ctx, image, 300, 3, 4, 2))
    assert [frame.step for frame in shared] == [frame.step for frame in fresh]
    for a, b in zip(shared, fresh):
        assert all(torch.equal(a.samples[name], b.samples[name]) for name in ("naive", "unet"))
