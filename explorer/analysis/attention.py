"""Attention maps: where one position (a query) of a self-attention block looks.

The weights come from the one forward pass, recorded through the `Probe` (the block writes
softmax(q kᵀ / √d) out explicitly only for that request); nothing is hooked onto the model.
"""
from __future__ import annotations

import math
from dataclasses import dataclass, replace

import torch

from explorer.probe import Probe
from explorer.unet import UNet


def attention_blocks(model: UNet) -> list[str]:
    """The self-attention blocks, in forward order (e.g. enc4.attn, mid.attn, dec4.attn)."""
    return [block.name for block in model.blocks() if block.kind == "attn"]


def block_resolution(model: UNet, name: str) -> int:
    """Side of the square map an attention block works on."""
    blocks = attention_blocks(model)
    if name not in blocks:
        raise ValueError(f"unknown attention block {str(name)[:40]!r}: pick one of {', '.join(blocks)}")
    info = next(block for block in model.blocks() if block.name == name)
    return model.config.mid_resolution if info.level is None else model.config.level_resolution(info.level)


def entropy_bits(weights: torch.Tensor) -> torch.Tensor:
    """Shannon entropy in bits of attention rows (…, keys) → (…). 0: one key; log2(keys): uniform."""
    return -(weights * torch.log2(weights.clamp(min=1e-30))).sum(-1)


@dataclass
class AttentionMaps:
    """One query's attention in one block.

    heads: (nh, h, w) weights per head (each map sums to 1); mean: (h, w), their average.
    entropy: (nh,) bits of this query's row per head; entropy_all: (nh,) mean over every query.
    max_entropy: log2(h·w), the entropy of looking everywhere equally.
    """

    block: str
    resolution: int
    query: tuple[int, int]
    heads: torch.Tensor
    mean: torch.Tensor
    entropy: torch.Tensor
    entropy_all: torch.Tensor
    max_entropy: float

    @property
    def num_heads(self) -> int:
        return self.heads.shape[0]


@torch.no_grad()
def attention_maps(model: UNet, x_t: torch.Tensor, t: int, block: str, y: int, x: int,
                   probe: Probe | None = None) -> AttentionMaps:
    """Where query (y, x), in the block's own grid, attends in `block` for x_t (1, 3, H, W) at t.

    probe: knock-outs to apply (its attention recording is set here).
    """
    side = block_resolution(model, block)
    for value, what in ((y, "y"), (x, "x")):
        if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value < side:
            raise ValueError(f"query {what} = {value!r} is outside {block}'s {side}×{side} map: use 0 … {side - 1}")
    if x_t.dim() != 4 or x_t.shape[0] != 1:
        raise ValueError(f"x_t must be one image (1, C, H, W), got {tuple(x_t.shape)}")
    probe = replace(probe or Probe(), record_attention=frozenset({block}), outputs={}, attention_weights={},
                    time_vectors={}, time_features={})
    if not probe.attention:
        raise ValueError("attention is switched off in this probe: there are no weights to show")
    model(x_t, torch.tensor([int(t)]), probe=probe)
    weights = probe.attention_weights[block][0].float()  # (nh, HW, HW)
    row = weights[:, y * side + x, :]  # (nh, HW)
    heads = row.reshape(-1, side, side)  # (nh, h, w)
    return AttentionMaps(block, side, (y, x), heads, heads.mean(0), entropy_bits(row),
                         entropy_bits(weights).mean(-1), math.log2(side * side))
