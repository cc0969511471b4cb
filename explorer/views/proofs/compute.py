"""The "Part by part" tab's live measurements, as dataclasses and plain numbers: gradient norms, the
concatenation and knock-out errors, attention maps and the time-conditioning tables."""
from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

import numpy as np
import torch

from explorer.analysis import attention as attention_analysis
from explorer.analysis import concat as concat_analysis
from explorer.analysis import timecond
from explorer.analysis.denoise import make_noise, predict
from explorer.analysis.gradients import GradientNorms, gradient_norms
from explorer.data import image_digest, to_tensor
from explorer.diffusion import NUM_TIMESTEPS
from explorer.knockouts import single_knockouts, wrong_timestep
from explorer.views.context import Context

GRADIENT_BATCH = 4  # noise draws of the current image per gradient variant (4 variants: 16 samples in all)
BOTTLENECK_ROWS = ("bottleneck bypassed", "skip1 cut", "skip2 cut", "skip3 cut", "skip4 cut", "attention off")


def _noise_batch(seed: int, count: int, shape: tuple[int, ...]) -> torch.Tensor:
    """ε for seeds seed, seed + 1, …: the first is the app's own ε for `seed`. (count, *shape)."""
    return torch.cat([make_noise(seed + index, (1, *shape)) for index in range(count)])


# ---------------------------------------------------------------- 1. gradient highways

@dataclass
class GradientView:
    t: int
    batch: int
    trained: GradientNorms
    fresh: GradientNorms


def gradients(ctx: Context, image: np.ndarray, t: int, seed: int, batch: int = GRADIENT_BATCH) -> GradientView:
    """One backward pass per variant (trained/fresh × skips intact/cut) on `batch` noise draws of the image at t.

    The trained and the fresh U-Net run in two threads (torch releases the GIL, and each pass has its own
    graph): on two cores the four passes cost about two.
    """
    x0 = to_tensor(image)[None].expand(batch, -1, -1, -1)  # (B, 3, H, W)
    eps = _noise_batch(seed, batch, tuple(x0.shape[1:]))
    with ThreadPoolExecutor(max_workers=2) as pool:
        trained = pool.submit(gradient_norms, ctx.pair.unet, ctx.diffusion, x0, eps, t)
        fresh = pool.submit(gradient_norms, ctx.pair.unet, ctx.diffusion, x0, eps, t, fresh=True)
        return GradientView(t, batch, trained.result(), fresh.result())


# ---------------------------------------------------------------- 2. concatenation

def concat_live(ctx: Context, image: np.ndarray, t: int, seed: int) -> dict[int, dict[str, float]]:
    _, x_t, eps = ctx.x_t(image, t, seed)
    return concat_analysis.concat_errors(ctx.pair.unet, x_t, t, eps)



def measured_parts(ctx: Context, image: np.ndarray, t: int, seed: int) -> tuple[GradientView, dict, dict]:
    """The tab's three measured parts for this image, t and seed: gradients, concatenation halves, knock-outs
    (kept: four backward passes and a dozen forward passes, the same for everyone who asks the same)."""
    return ctx.kept.parts.get((ctx.pair.unet, image_digest(image), int(t), int(seed)),
                         lambda: (gradients(ctx, image, t, seed), concat_live(ctx, image, t, seed),
                                  bottleneck_live(ctx, image, t, seed)))


def bookkeeping(ctx: Context) -> dict[int, dict[str, int]]:
    return concat_analysis.channels(ctx.pair.unet)


# ---------------------------------------------------------------- 3. the bottleneck and the skips across t

def bottleneck_live(ctx: Context, image: np.ndarray, t: int, seed: int) -> dict[str, float]:
    """ε-MSE multiplier (× intact) of each knock-out for this image at t."""
    x0, x_t, eps = ctx.x_t(image, t, seed)
    knockouts = [k for k in single_knockouts(ctx.pair.unet.config.num_levels) if not k.told_wrong]  # intact first
    errors = {k.row_name(): predict(ctx.pair.unet, ctx.diffusion, x_t, t, x0, eps, probe=k.probe()).eps_mse
              for k in knockouts}
    return {name: value / errors["intact"] for name, value in errors.items() if name != "intact"}


def multipliers(knockouts: dict) -> dict[str, list[float]]:
    intact = knockouts["eps_mse"]["intact"]
    return {name: [value / base for value, base in zip(values, intact)]
            for name, values in knockouts["eps_mse"].items() if name != "intact"}


# ---------------------------------------------------------------- 4. attention maps

def attention_blocks(ctx: Context) -> list[str]:
    return attention_analysis.attention_blocks(ctx.pair.unet)


def query_cell(ctx: Context, block: str, y: int, x: int) -> tuple[int, int, int]:
    """The block's grid cell under image pixel (y, x), and the block's side."""
    side = attention_analysis.block_resolution(ctx.pair.unet, block)
    return y * side // ctx.image_size, x * side // ctx.image_size, side


@dataclass
class AttentionView:
    maps: attention_analysis.AttentionMaps
    x_t: torch.Tensor
    pixel: tuple[int, int]


def attention(ctx: Context, image: np.ndarray, t: int, seed: int, block: str, y: int, x: int) -> AttentionView:
    """Attention of the cell under image pixel (y, x) in `block`. Raises ValueError for a bad block or pixel."""
    if not (0 <= y < ctx.image_size and 0 <= x < ctx.image_size):
        raise ValueError(f"pixel ({y}, {x}) is outside the {ctx.image_size}×{ctx.image_size} image")
    cell_y, cell_x, _ = query_cell(ctx, block, y, x)
    _, x_t, _ = ctx.x_t(image, t, seed)
    maps = attention_analysis.attention_maps(ctx.pair.unet, x_t, t, block, cell_y, cell_x)
    return AttentionView(maps, x_t, (y, x))


# ---------------------------------------------------------------- 5. time conditioning

def other_timestep(t: int, num_timesteps: int = NUM_TIMESTEPS) -> int:
    """The default second t: the far end of the schedule, as in the "told the wrong t" knock-out."""
    return wrong_timestep(t, num_timesteps)


@dataclass
class TimeView:
    t: int
    other_t: int
    naive: tuple[torch.Tensor, torch.Tensor]
    unet: tuple[torch.Tensor, torch.Tensor]
    naive_identical: bool
    unet_identical: bool
    table: dict



def image_shift_table(ctx: Context, image: np.ndarray, seed: int) -> dict:
    """Blocks × t time shift for this image and seed (kept: it does not depend on the current t)."""
    def compute() -> dict:
        x0 = to_tensor(image)[None]
        eps = make_noise(seed, (1, *x0.shape[1:]))
        return timecond.image_shift_table(ctx.pair.unet, ctx.diffusion, x0, eps)

    return ctx.kept.shift_tables.get((ctx.pair.unet, image_digest(image), int(seed)), compute)


def time_view(ctx: Context, image: np.ndarray, t: int, seed: int, other_t: int) -> TimeView:
    """Both networks told t and `other_t` for the same x_t (the far end of the schedule if `other_t` is t)."""
    other_t = other_timestep(t, ctx.diffusion.num_timesteps) if other_t == t else other_t
    _, x_t, _ = ctx.x_t(image, t, seed)
    naive = timecond.told_other_t(ctx.pair.naive, x_t, t, other_t)
    unet = timecond.told_other_t(ctx.pair.unet, x_t, t, other_t)
    return TimeView(t, other_t, naive, unet, bool(torch.equal(*naive)), bool(torch.equal(*unet)),
                    image_shift_table(ctx, image, seed))
