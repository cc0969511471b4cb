"""Noise predictors that work at one resolution only: the study's `deep-plain`, `deep-residual` and `dilated`.

They answer what the U-Net's many scales add once depth, a wide window and time are given:

    in_conv                 3 → width, full resolution
    layer1 … layerN         GroupNorm → SiLU → 3×3 conv (dilation d_i) + a shift made from t
                            residual=True adds the layer's input back (x + layer(x))
    out                     GroupNorm → SiLU → 3×3 conv, width → 3

No layer changes the resolution, so every layer costs as much as the U-Net's finest level.
The window (receptive field) is 1 + 2·(1 + Σ d_i + 1) pixels wide.
"""
from __future__ import annotations

from dataclasses import asdict, dataclass

import torch
import torch.nn.functional as F
from torch import nn

from explorer.probe import Probe
from explorer.unet import BlockInfo, TimeEmbedding


@dataclass
class SingleScaleConfig:
    width: int = 32
    depth: int = 16  # hidden layers between in_conv and out
    residual: bool = False
    dilations: tuple[int, ...] = ()  # one per hidden layer, cycled; () means 1 everywhere
    time_conditioning: bool = True
    in_channels: int = 3
    num_groups: int = 8

    def __post_init__(self) -> None:
        self.dilations = tuple(int(d) for d in self.dilations)
        if self.width % self.num_groups:
            raise ValueError(f"width {self.width} cannot be split into {self.num_groups} GroupNorm groups")
        if self.depth < 1:
            raise ValueError("depth must be at least 1")

    def dilation(self, layer: int) -> int:
        """Dilation of hidden layer `layer` (1-based)."""
        return self.dilations[(layer - 1) % len(self.dilations)] if self.dilations else 1

    @property
    def window(self) -> int:
        """Receptive-field width in pixels: each 3×3 conv with dilation d widens it by 2·d."""
        return 1 + 2 * (2 + sum(self.dilation(layer) for layer in range(1, self.depth + 1)))

    def to_dict(self) -> dict:
        return asdict(self)


class SingleScaleLayer(nn.Module):
    def __init__(self, width: int, dilation: int, time_emb_dim: int, residual: bool, num_groups: int):
        super().__init__()
        self.norm = nn.GroupNorm(num_groups, width)
        self.conv = nn.Conv2d(width, width, 3, padding=dilation, dilation=dilation)
        self.time_proj = nn.Linear(time_emb_dim, width) if time_emb_dim else None
        self.residual = residual

    def forward(self, x: torch.Tensor, time_emb: torch.Tensor | None) -> torch.Tensor:
        h = self.conv(F.silu(self.norm(x)))  # (B, width, H, W)
        if self.time_proj is not None:
            h = h + self.time_proj(F.silu(time_emb))[:, :, None, None]  # (B, width, 1, 1) over H, W
        return x + h if self.residual else h


class SingleScaleCNN(nn.Module):
    """ε_θ(x_t, t) with every layer at the input's resolution. forward(x (B, 3, H, W), t (B,)) → (B, 3, H, W)."""

    def __init__(self, config: SingleScaleConfig | None = None):
        super().__init__()
        self.config = config = config or SingleScaleConfig()
        time_emb_dim = 4 * config.width if config.time_conditioning else 0
        self.time_mlp = TimeEmbedding(config.width, time_emb_dim) if config.time_conditioning else None
        self.in_conv = nn.Conv2d(config.in_channels, config.width, 3, padding=1)
        self.layers = nn.ModuleList(
            SingleScaleLayer(config.width, config.dilation(layer), time_emb_dim, config.residual, config.num_groups)
            for layer in range(1, config.depth + 1))
        self.out_norm = nn.GroupNorm(config.num_groups, config.width)
        self.out_conv = nn.Conv2d(config.width, config.in_channels, 3, padding=1)

    def forward(self, x: torch.Tensor, t: torch.Tensor, probe: Probe | None = None) -> torch.Tensor:
        probe = probe if probe is not None else Probe()
        time_emb = self.time_mlp(t) if self.time_mlp is not None else None  # (B, 4·width)
        h = probe.keep("in_conv", self.in_conv(x))  # (B, width, H, W)
        for index, layer in enumerate(self.layers, start=1):
            h = probe.keep(f"layer{index}", layer(h, time_emb))
        return probe.keep("out", self.out_conv(F.silu(self.out_norm(h))))  # (B, 3, H, W)

    def blocks(self) -> list[BlockInfo]:
        return ([BlockInfo("in_conv", "in", module=self.in_conv)]
                + [BlockInfo(f"layer{index}", "conv", module=layer) for index, layer in enumerate(self.layers, start=1)]
                + [BlockInfo("out", "out", module=self.out_conv)])
