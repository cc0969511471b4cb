"""A note for images that are not emoji: both networks were trained on emoji only.

On a photo the U-Net can do worse than the naive CNN. That is not a contradiction of the
lesson: the U-Net learned what emoji look like, the naive CNN (which sees a small window)
learned a local denoiser that transfers to any picture. The note puts this image's live numbers
beside the held-out emoji's, so the reader sees where the architecture's advantage was measured.

`domain_note(ctx, image, t, seed)` runs both networks; `note_for_scores(ctx, t, unet, naive)`
words scores a view has already computed (the Denoising lab's side-by-side has them).
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch

from explorer.analysis.metrics import eps_mse
from explorer.formatting import HELD_OUT, THIS_IMAGE, mse, share, with_interval
from explorer.metrics import Interval, Metrics
from explorer.views import opened
from explorer.views.context import Context

UPLOAD_SOURCE = "Image: your upload"  # how the input panel's source line starts for an uploaded image


def from_upload(source: str | None) -> bool:
    """Whether the input panel's source line says the current image is an upload."""
    return bool(source) and str(source).startswith(UPLOAD_SOURCE)


@dataclass(frozen=True)
class DomainScores:
    t: int
    unet: float   # this image's ε-MSE at t
    naive: float

    @property
    def ratio(self) -> float:
        """The U-Net's error as a share of the naive CNN's."""
        return self.unet / self.naive if self.naive > 0 else float("inf")


def scores(ctx: Context, image: np.ndarray, t: int, seed: int) -> DomainScores:
    """Both networks' noise error on this image at t, with the same noise as every other view."""
    _, x_t, eps = ctx.x_t(image, t, seed)
    steps = torch.tensor([t])
    with torch.no_grad():
        unet = float(eps_mse(ctx.pair.unet(x_t, steps), eps)[0])
        naive = float(eps_mse(ctx.pair.naive(x_t, steps), eps)[0])
    return DomainScores(int(t), unet, naive)


def heldout_ratio(ctx: Context, t: int) -> tuple[int, float, Interval | None] | None:
    """(evaluated t nearest to t, U-Net ε-MSE / naive ε-MSE on the held-out emoji there, its 95 % interval), from
    metrics.json."""
    metrics = Metrics.of(ctx.metrics)
    try:
        nearest = min(metrics.timesteps, key=lambda evaluated: abs(evaluated - t))
        return int(nearest), *metrics.unet_over_naive(nearest)
    except (AttributeError, KeyError, TypeError, ValueError):
        return None


def _window(ctx: Context) -> str:
    field = ctx.fields.get(f"layer{len(ctx.naive_specs)}") if ctx.naive_specs else None
    size = getattr(field, "size", None)
    return f"{size}×{size} pixels" if size else "a small window"


def note_for_scores(ctx: Context, result: DomainScores) -> str:
    """The note, in Markdown, for scores already computed on a non-emoji image."""
    if ctx.opened is not None:  # the U-Net's place holds a model trained on whatever its folder says
        return (f"**Not one of the held-out emoji.** On {THIS_IMAGE} at t = {result.t}, the U-Net's noise error "
                f"(ε-MSE) is {mse(result.unet)} and the naive CNN's {mse(result.naive)}: the U-Net's is "
                f"{share(result.ratio)} of the naive CNN's. The U-Net here is the opened {ctx.unet_title}, "
                f"{opened.trained_on(ctx)}; the naive CNN learned emoji only, at 64×64.")
    text = (f"**Trained on emoji only.** On {THIS_IMAGE} at t = {result.t}, the U-Net's noise error (ε-MSE) is "
            f"{mse(result.unet)} and the naive CNN's {mse(result.naive)}: the U-Net's is {share(result.ratio)} of "
            f"the naive CNN's.")
    held = heldout_ratio(ctx, result.t)
    if held is not None:
        text += f" On the held-out emoji at t = {held[0]} ({HELD_OUT}) it is {with_interval(held[1], held[2], share)}."
    text += (" Both networks were trained on emoji only. The U-Net learned what emoji look like, and that "
             "knowledge fits other pictures less well; the naive CNN, which sees only " + _window(ctx) + ", "
             "learned a local denoiser that works much the same on any picture. The U-Net's advantage is "
             "measured on the kind of image it was trained for: the held-out emoji.")
    return text


def domain_note(ctx: Context, image: np.ndarray, t: int, seed: int) -> str:
    """The note with this image's live numbers at t (two forward passes)."""
    return note_for_scores(ctx, scores(ctx, image, t, seed))


def upload_note(ctx: Context, image: np.ndarray, t: int, seed: int, source: str | None) -> str:
    """The input panel's note: the domain note for an uploaded image, nothing for a held-out example."""
    return domain_note(ctx, image, t, seed) if from_upload(source) else ""
