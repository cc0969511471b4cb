"""The naive noise predictor the lesson argues against: five 3×3 convolutions, nothing else."""
from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from explorer.probe import Probe
from explorer.unet import BlockInfo, TimeEmbedding

TIME_BASE = 32  # sinusoid width of the time embedding of `naive-t` (the study's naive CNN told t)


class NaiveCNN(nn.Module):
    """Five 3×3 convolutions 3→64→64→64→64→3 with padding 1 and ReLU between them.

    `forward(x, t)` accepts t to share the U-Net's interface and ignores it: this
    network cannot know how noisy its input is. Every layer keeps the full
    resolution, so its receptive field is 1 + 5·2 = 11 pixels wide.
    Block names: layer1 ... layer5 (layerN is conv N followed by its ReLU, if any).

    With `time_conditioning=True` (the study's `naive-t`, not the shipped model) each of the four
    hidden layers also adds a learned per-channel shift made from t, as the U-Net's ResBlocks do.
    """

    def __init__(self, in_channels: int = 3, hidden_dim: int = 64, time_conditioning: bool = False):
        super().__init__()
        self.in_channels = in_channels
        self.hidden_dim = hidden_dim
        self.time_conditioning = time_conditioning
        if time_conditioning:
            self.time_mlp = TimeEmbedding(TIME_BASE, 4 * TIME_BASE)
            self.time_proj = nn.ModuleList(nn.Linear(4 * TIME_BASE, hidden_dim) for _ in range(4))
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
        """x: (B, 3, H, W). t is ignored unless time_conditioning. Returns ε̂ (B, 3, H, W)."""
        probe = probe if probe is not None else Probe()
        time_emb = F.silu(self.time_mlp(t)) if self.time_conditioning else None  # (B, 4·TIME_BASE)
        h = x
        for index, start in enumerate(range(0, len(self.layers), 2), start=1):
            h = self.layers[start](h)
            if time_emb is not None and index <= len(self.time_proj):
                h = h + self.time_proj[index - 1](time_emb)[:, :, None, None]  # (B, hidden, 1, 1) over H, W
            h = probe.keep(f"layer{index}", self.layers[start + 1:start + 2](h))
        return h

    image_size = 64  # the size it was trained at; being all convolutions, it takes any size

    def time_embedding(self, t: torch.Tensor) -> torch.Tensor | None:
        """The time vector of `naive-t` (B, 4·TIME_BASE); None for the shipped naive CNN, which is not told t."""
        return self.time_mlp(t) if self.time_conditioning else None

    def blocks(self) -> list[BlockInfo]:
        return [BlockInfo(f"layer{index}", "conv", module=self.layers[start])
                for index, start in enumerate(range(0, len(self.layers), 2), start=1)]
