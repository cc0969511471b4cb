"""The naive noise predictor the lesson argues against: five 3×3 convolutions, nothing else."""
from __future__ import annotations

import torch
from torch import nn

from explorer.probe import Probe
from explorer.unet import BlockInfo


class NaiveCNN(nn.Module):
    """Five 3×3 convolutions 3→64→64→64→64→3 with padding 1 and ReLU between them.

    `forward(x, t)` accepts t to share the U-Net's interface and ignores it: this
    network cannot know how noisy its input is. Every layer keeps the full
    resolution, so its receptive field is 1 + 5·2 = 11 pixels wide.
    Block names: layer1 ... layer5 (layerN is conv N followed by its ReLU, if any).
    """

    def __init__(self, in_channels: int = 3, hidden_dim: int = 64):
        super().__init__()
        self.in_channels = in_channels
        self.hidden_dim = hidden_dim
        self.layers = nn.Sequential(
            nn.Conv2d(in_channels, hidden_dim, 3, padding=1),
            nn.ReLU(),
            nn.Conv2d(hidden_dim, hidden_dim, 3, padding=1),
            nn.ReLU(),
            nn.Conv2d(hidden_dim, hidden_dim, 3, padding=1),
            nn.ReLU(),
            nn.Conv2d(hidden_dim, hidden_dim, 3, padding=1),
            nn.ReLU(),
            nn.Conv2d(hidden_dim, in_channels, 3, padding=1),
        )

    def forward(self, x: torch.Tensor, t: torch.Tensor | None = None, probe: Probe | None = None) -> torch.Tensor:
        """x: (B, 3, H, W). t is ignored. Returns ε̂ (B, 3, H, W)."""
        probe = probe if probe is not None else Probe()
        h = x
        for index, start in enumerate(range(0, len(self.layers), 2), start=1):
            h = probe.keep(f"layer{index}", self.layers[start:start + 2](h))
        return h

    def blocks(self) -> list[BlockInfo]:
        return [BlockInfo(f"layer{index}", "conv", module=self.layers[start])
                for index, start in enumerate(range(0, len(self.layers), 2), start=1)]
