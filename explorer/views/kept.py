"""Results many sessions share, computed once for all of them.

A class following the Lesson asks for the same things at the same moment: each step's "Show me" sets the same
image, t, seed and knock-outs, so every learner's page asks for the same side-by-side view, the same strip of
t values (seconds of compute each) and the same receptive fields, and opens the same step text. Each function
here is a view's pure function kept in a bounded `Memo`, keyed on every input that changes its result: the
models (by identity: the key holds them, so an address is never reused for other weights while kept), the
image (by its digest), t, the seed, the knock-outs, the pixel, the block. Callers asking for a key that is
being computed wait for it instead of computing it again (`Memo`).
"""
from __future__ import annotations

import numpy as np

from explorer.data import image_digest
from explorer.knockouts import Knockouts
from explorer.views import denoising, receptive
from explorer.views.context import Context
from explorer.views.memo import SharedRun


def _models(ctx: Context) -> tuple:
    return ctx.pair.unet, ctx.pair.naive


def scrub_frames(ctx: Context, image: np.ndarray, seed: int, knockouts: Knockouts) -> list[denoising.Tiles]:
    """`denoising.scrub_frames` on the scrub grid, kept."""
    grid = denoising.scrub_grid()
    key = (_models(ctx), image_digest(image), int(seed), knockouts, tuple(grid))
    return ctx.kept.strips.get(key, lambda: denoising.scrub_frames(ctx, image, seed, grid, knockouts))


def compare(ctx: Context, image: np.ndarray, t: int, seed: int, knockouts: Knockouts) -> denoising.Comparison:
    """`denoising.compare`, kept (its tensors are read, never written, by the views)."""
    key = (_models(ctx), image_digest(image), int(t), int(seed), knockouts)
    return ctx.kept.comparisons.get(key, lambda: denoising.compare(ctx, image, t, seed, knockouts))


def receptive_fields(ctx: Context, image: np.ndarray, t: int, seed: int, y: int, x: int,
                     block: str) -> list[receptive.FieldView]:
    """`receptive.views` (the backward passes for one pixel), kept."""
    key = (_models(ctx), image_digest(image), int(t), int(seed), int(y), int(x), block)
    return ctx.kept.fields.get(key, lambda: receptive.views(ctx, image, t, seed, y, x, block))


def measurement(ctx: Context, step_id: str, index: int, measure):
    """A Lesson step's measurement (`index` 0: the step's own, 1 …: its extras), kept: `measure(ctx)` reads
    the shipped metrics or runs the models on the step's fixed target, the same for every learner."""
    return ctx.kept.measurements.get((_models(ctx), step_id, index), lambda: measure(ctx))


def heldout_digests(ctx: Context) -> frozenset[str]:
    """`denoising.heldout_digests` (the held-out images' fingerprints), computed once per app."""
    return ctx.kept.sets.get((_models(ctx), "heldout digests"), lambda: denoising.heldout_digests(ctx))


def reverse_process(ctx: Context, image: np.ndarray | None, t: int, seed: int, num_steps: int,
                    every: int) -> SharedRun[denoising.ReverseFrame]:
    """`denoising.reverse_process`, shared: a class asking for the same one (`image` None: from pure noise)
    computes it once, each learner reading its frames as they come (`SharedRun`). A run that failed is
    started again by the next caller."""
    key = (_models(ctx), None if image is None else image_digest(image), int(t), int(seed), int(num_steps),
           int(every))

    def start() -> SharedRun[denoising.ReverseFrame]:
        return SharedRun(denoising.reverse_process(ctx, image, t, seed, num_steps, every=every))

    run = ctx.kept.reverse.get(key, start)
    if run.error is not None:
        ctx.kept.reverse.discard(key)
        run = ctx.kept.reverse.get(key, start)
    return run


def view(ctx: Context, name: str, image: np.ndarray, inputs: tuple, compute):
    """A whole tab's outputs, `compute()`, kept for the tab `name`, the image and its other `inputs` (each one
    that changes what the tab shows, as hashable values)."""
    return ctx.kept.views.get((_models(ctx), name, image_digest(image), inputs), compute)
