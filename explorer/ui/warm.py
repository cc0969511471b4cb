"""The Lesson's evidence, computed before the first learner asks for it.

On a fresh app the first Show me of a step computes its tab from nothing: four backward passes and a dozen forwards
for Part by part, a view and a strip of 48 t values for the Denoising lab (6–10 s on a 2-core CPU), and a class's
first learner waits for all of it. `lesson_jobs` lists, step by step, the calls that learner's page would make (the
step's measurements, its tab's refresh with the values Show me sets, and what the page asks for after it), and
`start` runs them once in a background thread at the lowest priority, so the kept results (explorer/views/kept.py)
are there when the first learner comes. A learner who comes earlier is not slowed: the thread yields the cores to
every request, and a result it is computing is waited for, not computed twice (views/memo.py).
"""
from __future__ import annotations

import contextlib
import inspect
import logging
import os
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, fields

from explorer.ui import lesson
from explorer.ui.refresh import Refresh

log = logging.getLogger("unet_explorer")
NICE = 19  # the lowest priority: every request's thread goes first


@dataclass(frozen=True)
class Job:
    what: str  # "step 3 (window): the receptive tab", for the log
    run: Callable[[], object]  # a handler's call; a generator is run to its end


def lesson_jobs(course: lesson.Course, controls: lesson.Controls, refreshes: list[Refresh]) -> list[Job]:
    """For each step of `course`, in order: its measurements, then the refresh of each tab its buttons open
    (`lesson.evidence_targets`), called with the values they give the controls (the components' own values for the
    rest), then its `follow_up`."""
    by_tab = {refresh.tab: refresh for refresh in refreshes}
    jobs = []
    for number, step in enumerate(course.steps, 1):
        name = f"step {number} ({step.id})"
        jobs.append(Job(f"{name}: its measurements", lambda step=step: lesson.measurements(course, step)))
        for target in lesson.evidence_targets(course, step):
            if target.tab in by_tab:
                jobs += target_jobs(name, course, controls, by_tab[target.tab], target)
    return jobs


def target_jobs(name: str, course: lesson.Course, controls: lesson.Controls, refresh: Refresh,
                target) -> list[Job]:
    """The refresh of `target`'s tab with the values its button gives the controls, then its `follow_up`."""
    settings = lesson.settings(course, lesson.target_state(target))
    settings.ddim_steps = target.ddim_steps
    given = {id(component): value
             for component, value in zip(controls.outputs(), (getattr(settings, f.name) for f in fields(settings)))
             if value is not None}

    def value(component):
        return given[id(component)] if id(component) in given else component.value

    args = (value(controls.image), value(controls.t), value(controls.seed),
            *(value(component) for component in refresh.inputs))
    jobs = [Job(f"{name}: the {target.tab} tab", lambda: refresh.fn(*args))]
    if refresh.follow_up is not None:
        jobs.append(Job(f"{name}: after the {target.tab} tab", lambda: refresh.follow_up(*args)))
    return jobs


def run(jobs) -> int:
    """Each job in order (a generator to its end); a job that fails is logged and skipped. Returns how many
    failed."""
    failed = 0
    for job in jobs:
        try:
            result = job.run()
            if inspect.isgenerator(result):
                for _ in result:
                    pass
        except Exception as error:  # noqa: BLE001 - a warm-up that fails leaves the learner to compute it, as before
            failed += 1
            log.warning("the Lesson's warm-up: %s failed (%s: %s)", job.what, type(error).__name__,
                        str(error)[:200].replace("\n", " "))
    return failed


def start(jobs) -> threading.Thread:
    """`run(jobs)` in a daemon thread at the lowest priority (Linux: nice is per thread); logs when it is done."""
    def work() -> None:
        with contextlib.suppress(OSError, AttributeError):  # not Linux: the same priority as the requests
            os.setpriority(os.PRIO_PROCESS, threading.get_native_id(), NICE)
        began = time.monotonic()
        failed = run(jobs)
        log.info("the Lesson's warm-up computed %d of %d jobs in %.0f s", len(jobs) - failed, len(jobs),
                 time.monotonic() - began)

    thread = threading.Thread(target=work, name="lesson-warm-up", daemon=True)
    thread.start()
    return thread
