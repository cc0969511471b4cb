"""What a block is doing to the current image: its recorded output, summarised for display."""
from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import nn

from explorer.probe import Probe


@dataclass
class Activation:
    """One block's output for one image, and which channels are most active.

    tensor: (C, H, W) for spatial blocks, (D,) for the time embedding.
    top_channels: channel indices by decreasing mean |activation|.
    mean_map: (H, W) mean over channels, None for non-spatial blocks.
    """

    name: str
    tensor: torch.Tensor
    top_channels: list[int]
    mean_map: torch.Tensor | None

    @property
    def spatial(self) -> bool:
        return self.tensor.dim() == 3


def summarise(name: str, output: torch.Tensor, k: int = 16) -> Activation:
    """output: (1, C, H, W) or (1, D) as recorded by a Probe."""
    tensor = output[0].detach().float()
    if tensor.dim() == 3:
        strength = tensor.abs().mean(dim=(1, 2))  # (C,)
        mean_map = tensor.mean(dim=0)  # (H, W)
    else:
        strength, mean_map = tensor.abs(), None
    top = torch.argsort(strength, descending=True)[:k].tolist()
    return Activation(name, tensor, top, mean_map)


@torch.no_grad()
def record(model: nn.Module, x_t: torch.Tensor, t: int, names, probe: Probe | None = None) -> dict[str, torch.Tensor]:
    """One forward pass of `model` at (x_t, t) that keeps the outputs of `names` (and ε̂ as "eps_hat").

    probe: knock-out settings to apply (its record set is replaced). Returns {name: (1, ...)}.
    """
    probe = Probe(record=frozenset(names), zero_skips=probe.zero_skips, attention=probe.attention,
                  timestep=probe.timestep, bypass_mid=probe.bypass_mid, zero_concat=probe.zero_concat) \
        if probe is not None else Probe(record=frozenset(names))
    eps_hat = model(x_t, torch.tensor([int(t)]), probe=probe)
    return {**probe.outputs, "eps_hat": eps_hat}
