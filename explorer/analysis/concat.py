"""Concatenation: what each decoder level takes from its two sources.

At decoder level L the U-Net stacks the upsampled path from below (dec{L}.up) and the skip from
encoder level L (skip{L}) along the channels, and the level's first convolution mixes them back
down. Knocking out one half at a time, by zeros or by its own per-channel spatial mean (which keeps
the input in its usual range, so a large error cannot be blamed on out-of-range values), measures
how much the decoder relies on each.
"""
from __future__ import annotations

import torch

from explorer.analysis.metrics import eps_mse
from explorer.probe import Probe
from explorer.unet import UNet

# variant → (half, replacement) as Probe.zero_concat takes it; "intact" replaces nothing
VARIANTS: dict[str, tuple[str, str] | None] = {
    "intact": None, "skip_zero": ("skip", "zero"), "up_zero": ("up", "zero"),
    "skip_mean": ("skip", "mean"), "up_mean": ("up", "mean")}


def channels(model: UNet) -> dict[int, dict[str, int]]:
    """Per decoder level: channels of the upsampled half, of the skip half, and of the level's output."""
    config = model.config
    out = {}
    for level in range(1, config.num_levels + 1):
        below = config.level_channels(level + 1) if level < config.num_levels else config.level_channels(level)
        out[level] = {"up": below, "skip": config.level_channels(level), "out": config.level_channels(level)}
    return out


def probe_for(level: int, variant: str) -> Probe:
    """The Probe that applies `variant` at decoder `level`."""
    if variant not in VARIANTS:
        raise ValueError(f"unknown concatenation variant {variant!r}: use one of {', '.join(VARIANTS)}")
    choice = VARIANTS[variant]
    return Probe() if choice is None else Probe(zero_concat={level: choice})


@torch.no_grad()
def concat_errors(model: UNet, x_t: torch.Tensor, t: int, eps: torch.Tensor) -> dict[int, dict[str, float]]:
    """Mean ε-MSE over the batch per decoder level and variant. x_t, eps: (B, 3, H, W).

    "intact" is the same at every level (computed once).
    """
    if not isinstance(model, UNet):
        raise ValueError("only the U-Net concatenates skips")
    t_batch = torch.full((len(x_t),), int(t), dtype=torch.long)
    intact = float(eps_mse(model(x_t, t_batch), eps).mean())
    out = {}
    for level in range(1, model.config.num_levels + 1):
        out[level] = {"intact": intact}
        for variant in VARIANTS:
            if variant != "intact":
                eps_hat = model(x_t, t_batch, probe=probe_for(level, variant))
                out[level][variant] = float(eps_mse(eps_hat, eps).mean())
    return out
