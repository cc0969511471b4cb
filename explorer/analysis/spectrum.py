"""Radially averaged power spectra of feature maps: which spatial frequencies a level carries.

Frequencies are in cycles per image, whatever the map's resolution, so a 64×64 level
and an 8×8 level share one axis: an 8×8 map can hold at most 4 cycles per image.
"""
from __future__ import annotations

from functools import lru_cache

import numpy as np
import torch

# "High" frequencies for the summary number: above a quarter of the input's Nyquist limit.
HIGH_FREQUENCY_FRACTION = 0.25


@lru_cache(maxsize=16)
def _rings(side: int) -> tuple[np.ndarray, np.ndarray]:
    """For a side×side FFT grid: each cell's ring index (rounded radius in cycles per map), and ring sizes."""
    frequency = np.fft.fftfreq(side) * side  # cycles per map
    radius = np.rint(np.hypot(frequency[:, None], frequency[None, :])).astype(np.int64).ravel()
    radius = np.minimum(radius, side // 2 + 1)  # corners beyond Nyquist go to one discarded ring
    return radius, np.bincount(radius, minlength=side // 2 + 2)


def radial_power(feature: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """feature: (C, H, W) with H == W. Returns (frequencies 1 … H/2 in cycles per image, mean power per ring).

    Each channel's own mean is removed first (the DC term says nothing about detail), and
    the spectrum is averaged over channels.
    """
    channels, height, width = feature.shape
    if height != width:
        raise ValueError(f"spectra need square maps, got {height}×{width}")
    centred = feature.float() - feature.float().mean(dim=(1, 2), keepdim=True)
    power = (torch.fft.fft2(centred).abs() ** 2).mean(dim=0).numpy().ravel() / (height * width)  # (H·W,)
    radius, counts = _rings(height)
    sums = np.bincount(radius, weights=power, minlength=len(counts))
    nyquist = height // 2
    rings = (sums / np.maximum(counts, 1))[1:nyquist + 1]  # drop DC (0) and the beyond-Nyquist corners
    return torch.arange(1, nyquist + 1, dtype=torch.float32), torch.from_numpy(rings).float()


def normalised_power(feature: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """radial_power scaled so the rings sum to 1: the share of the map's variation at each frequency."""
    frequencies, power = radial_power(feature)
    return frequencies, power / power.sum().clamp(min=1e-20)


def high_frequency_share(feature: torch.Tensor, image_size: int) -> float:
    """Share of a map's power above HIGH_FREQUENCY_FRACTION of the input's Nyquist frequency."""
    frequencies, power = normalised_power(feature)
    cutoff = HIGH_FREQUENCY_FRACTION * image_size / 2
    return float(power[frequencies > cutoff].sum())
