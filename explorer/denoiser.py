"""The one interface the app drives a noise predictor through: our `UNet`, the `NaiveCNN`, a diffusers `UNet2DModel`.

A denoiser is called as `model(x_t, t, probe=Probe(...))` and returns ε̂; everything else a view needs is read
from its named blocks (`blocks()`: names, kinds, levels, and for each skip what it carries and where it goes),
from the `Probe` of the call (recordings, knock-outs, attention weights, time vectors) and from
`time_embedding(t)`. Shapes and parameter counts come from `explorer.analysis.structure.describe`, which runs
one dry forward on a private copy.

| what | our UNet | NaiveCNN | DiffusersUNet (explorer/diffusers_unet.py) |
| --- | --- | --- | --- |
| block names | enc1, enc1.down, mid.attn, skip3, dec2 … | layer1 … layer5 | diffusers' module names, skip1 … skipN |
| skips | one per level (skipN = level N) | none | one per down-path output, several per level |
| knock-outs | skips, attention, bottleneck, told t | told t (naive-t only) | skips, attention, bottleneck, told t |
"""
from __future__ import annotations

from typing import Protocol, runtime_checkable

import torch

from explorer.probe import Probe
from explorer.unet import BlockInfo


@runtime_checkable
class Denoiser(Protocol):
    """What the app asks of a noise predictor.

    image_size: the side of the square images it was trained at; in_channels: 3 (RGB).
    __call__(x, t, probe=None): x (B, C, H, W) in [-1, 1], t (B,) integer timesteps → ε̂ (B, C, H, W); the probe
        of this call says what to record and what to knock out, and receives the recordings.
    blocks(): every named block in forward order (`BlockInfo`): the names the probe, the diagram and the
        knock-outs use.
    time_embedding(t): the vector the network is told for t (B,) → (B, D), or None for a network not told t.
    """

    image_size: int
    in_channels: int

    def __call__(self, x: torch.Tensor, t: torch.Tensor, probe: Probe | None = None) -> torch.Tensor: ...

    def blocks(self) -> list[BlockInfo]: ...

    def time_embedding(self, t: torch.Tensor) -> torch.Tensor | None: ...


def skips(model: Denoiser) -> list[BlockInfo]:
    """The skip blocks, by number (skip1 first): each with `source` (whose output it carries) and `target`."""
    return sorted((block for block in model.blocks() if block.kind == "skip"), key=lambda block: block.skip)


def attention_blocks(model: Denoiser) -> list[str]:
    """The self-attention blocks, in forward order."""
    return [block.name for block in model.blocks() if block.kind == "attn"]


def bottleneck(model: Denoiser) -> list[str]:
    """The blocks the "bottleneck bypassed" knock-out passes over (empty: the model has none)."""
    return [block.name for block in model.blocks() if block.part == "bottleneck"]


def resnets(model: Denoiser) -> list[str]:
    """The residual blocks, whose time vectors a probe can record (`Probe.record_time`)."""
    return [block.name for block in model.blocks() if block.kind == "res"]
