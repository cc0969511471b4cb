"""Time conditioning: how hard t pushes each ResBlock, and the naive CNN's blindness to it.

Every ResBlock adds one vector per image, time_proj(silu(emb(t))), to all positions of its first
convolution's output h. Its share is ‖vector broadcast over H·W‖ / ‖h‖ = √(H·W)·‖v‖ / ‖h‖:
about 0 means t barely moves the block, about 1 means the time vector is as large as the features.
"""
from __future__ import annotations

import math

import torch
from torch import nn

from explorer.analysis.metrics import TIMESTEPS
from explorer.diffusion import Diffusion
from explorer.probe import Probe
from explorer.unet import UNet


def resblock_names(model: UNet) -> list[str]:
    """The ResBlocks (the blocks t enters), in forward order."""
    return [block.name for block in model.blocks() if block.kind == "res"]


@torch.no_grad()
def time_shift(model: UNet, x_t: torch.Tensor, t: torch.Tensor) -> dict[str, torch.Tensor]:
    """Per ResBlock, per image: ‖time vector over H·W‖ / ‖features it is added to‖. x_t (B, 3, H, W), t (B,)."""
    probe = Probe(record_time="*")
    model(x_t, t, probe=probe)
    out = {}
    for name in resblock_names(model):
        vector, features = probe.time_vectors[name], probe.time_features[name]  # (B, C), (B, C, H, W)
        spread = vector.float().norm(dim=1) * math.sqrt(features.shape[-2] * features.shape[-1])  # (B,)
        out[name] = spread / features.float().flatten(1).norm(dim=1).clamp(min=1e-12)
    return out


@torch.no_grad()
def shift_table(model: UNet, diffusion: Diffusion, x0: torch.Tensor, eps: torch.Tensor,
                timesteps=TIMESTEPS, batch_size: int = 64) -> dict:
    """Mean time shift over images, per ResBlock and t: {"timesteps", "blocks", "shift": [[per t] per block]}.

    x0, eps: (N, 3, H, W); image i gets the same ε at every t.
    """
    blocks = resblock_names(model)
    sums = {name: [0.0] * len(timesteps) for name in blocks}
    for column, t in enumerate(timesteps):
        for start in range(0, len(x0), batch_size):
            x0_batch, eps_batch = x0[start:start + batch_size], eps[start:start + batch_size]
            t_batch = torch.full((len(x0_batch),), int(t), dtype=torch.long)
            shifts = time_shift(model, diffusion.q_sample(x0_batch, t_batch, eps_batch), t_batch)
            for name in blocks:
                sums[name][column] += float(shifts[name].sum())
    return {"timesteps": list(timesteps), "blocks": blocks,
            "shift": [[value / len(x0) for value in sums[name]] for name in blocks]}


@torch.no_grad()
def image_shift_table(model: UNet, diffusion: Diffusion, x0: torch.Tensor, eps: torch.Tensor,
                      timesteps=TIMESTEPS) -> dict:
    """The same table for one image (1, 3, H, W) and its ε, as a single forward over all t at once."""
    t_batch = torch.tensor([int(t) for t in timesteps], dtype=torch.long)
    count = len(t_batch)
    x_t = diffusion.q_sample(x0.expand(count, -1, -1, -1), t_batch, eps.expand(count, -1, -1, -1))
    shifts = time_shift(model, x_t, t_batch)
    blocks = resblock_names(model)
    return {"timesteps": list(timesteps), "blocks": blocks, "shift": [shifts[name].tolist() for name in blocks]}


@torch.no_grad()
def told_other_t(model: nn.Module, x_t: torch.Tensor, t: int, other_t: int) -> tuple[torch.Tensor, torch.Tensor]:
    """The model's ε̂ for the same x_t (1, 3, H, W), told t and then `other_t`."""
    first = model(x_t, torch.tensor([int(t)]))
    second = model(x_t, torch.tensor([int(other_t)]))
    return first, second
