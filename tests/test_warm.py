"""The Lesson's warm-up (explorer/ui/warm.py): each step's evidence computed before the first learner asks."""
from __future__ import annotations

import dataclasses
import logging

from explorer.server import lanes
from explorer.ui import warm
from explorer.ui.app import build_page
from explorer.ui.lesson import Course
from explorer.views.memo import Kept


def page_of(ctx):
    fresh = dataclasses.replace(ctx, kept=Kept())  # nothing kept yet, as on a fresh app
    with lanes.building(2, 1, 0):
        return fresh, build_page(fresh)


def test_every_step_has_its_measurements_and_its_tab_computed_ahead(ctx):
    fresh, page = page_of(ctx)
    steps = Course.of(fresh, ("lesson", "architecture", "denoising", "receptive", "proofs", "study")).steps
    whats = [job.what for job in page.warm_up]
    for number, step in enumerate(steps, 1):
        assert f"step {number} ({step.id}): its measurements" in whats
        assert any(what.startswith(f"step {number} ({step.id}): the ") for what in whats), step.id
    # The Denoising lab's steps also compute the strip of t values the page asks for after the view.
    assert any(what.startswith("step 1 (task): after the denoising tab") for what in whats), whats


def test_the_warm_up_fills_what_show_me_then_reads(ctx):
    """Run two steps' jobs (the first step whose Show me opens Part by part, and the last whose Show me opens the
    Denoising lab): the page's refresh for those steps then finds its results kept (the same objects back)."""
    fresh, page = page_of(ctx)
    whats = [job.what for job in page.warm_up]
    proofs = next(what for what in whats if what.endswith(": the proofs tab"))
    lab = [what for what in whats if what.endswith(": after the denoising tab")][-1]
    steps = tuple(what.split(":")[0] + ":" for what in (proofs, lab))
    chosen = [job for job in page.warm_up if job.what.startswith(steps)]
    assert len(chosen) >= 5, [job.what for job in chosen]
    assert len(fresh.kept.views) == len(fresh.kept.strips) == 0
    assert warm.run(chosen) == 0
    assert len(fresh.kept.views) >= 1 and len(fresh.kept.strips) >= 1 and len(fresh.kept.measurements) >= 2
    views = len(fresh.kept.views)
    refresh = next(job for job in chosen if job.what == proofs)
    assert refresh.run() is refresh.run()  # the refresh Show me presses returns the tab the warm-up kept
    assert len(fresh.kept.views) == views


def test_a_failing_job_is_logged_and_the_rest_still_run(caplog):
    ran = []

    def broken():
        raise RuntimeError("out of memory")

    def gen():
        yield 1
        ran.append("generator to its end")

    jobs = [warm.Job("step 1 (x): the x tab", broken), warm.Job("step 2 (y): the y tab", gen)]
    with caplog.at_level(logging.WARNING, logger="unet_explorer"):
        assert warm.run(jobs) == 1
    assert ran == ["generator to its end"]
    assert "step 1 (x): the x tab failed (RuntimeError: out of memory)" in caplog.text


def test_start_runs_the_jobs_in_a_background_thread_at_the_lowest_priority():
    seen = {}

    def note():
        import os
        import threading

        seen["nice"] = os.getpriority(os.PRIO_PROCESS, threading.get_native_id())
        seen["thread"] = threading.current_thread().name

    thread = warm.start([warm.Job("step 1 (x): noted", note)])
    thread.join(timeout=30)
    assert not thread.is_alive() and thread.daemon
    assert seen == {"nice": warm.NICE, "thread": "lesson-warm-up"}
