"""Radially averaged power spectra of feature maps: which spatial frequencies a level carries.

Frequencies are in cycles per image, whatever the map's resolution, so a 64×64 level
and an 8×8 level share one axis: an 8×8 map can hold at most 4 cycles per image.
"""
from __future__ import annotations

import torch

# "High" frequencies for the summary number: above a quarter of the input's Nyquist limit.
HIGH_FREQUENCY_FRACTION = 0.25


def radial_power(feature: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """feature: (C, H, W) with H == W. Returns (frequencies in cycles per image, mean power per ring).

    Each channel's own mean is removed first (the DC term says nothing about detail), and
    the spectrum is averaged over channels.
    """
    channels, height, width = feature.shape
    centred = feature.float() - feature.float().mean(dim=(1, 2), keepdim=True)
    power = torch.fft.fft2(centred).abs().pow(2).mean(dim=0) / (height * width)  # (H, W)
    fy = torch.fft.fftfreq(height) * height  # cycles per map = cycles per image
    fx = torch.fft.fftfreq(width) * width
    radius = torch.sqrt(fy[:, None] ** 2 + fx[None, :] ** 2).round().long()  # (H, W)
    nyquist = height // 2
    sums = torch.zeros(nyquist + 1).index_add_(0, radius.clamp(max=nyquist + 1).flatten().clamp(max=nyquist),
                                              power.flatten() * (radius.flatten() <= nyquist))
    counts = torch.zeros(nyquist + 1).index_add_(0, radius.flatten().clamp(max=nyquist),
                                                (radius.flatten() <= nyquist).float())
    frequencies = torch.arange(nyquist + 1, dtype=torch.float32)
    return frequencies[1:], (sums / counts.clamp(min=1))[1:]


def normalised_power(feature: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """radial_power scaled so the rings sum to 1: the share of the map's variation at each frequency."""
    frequencies, power = radial_power(feature)
    return frequencies, power / power.sum().clamp(min=1e-20)


def high_frequency_share(feature: torch.Tensor, image_size: int) -> float:
    """Share of a map's power above HIGH_FREQUENCY_FRACTION of the input's Nyquist frequency."""
    frequencies, power = normalised_power(feature)
    cutoff = HIGH_FREQUENCY_FRACTION * image_size / 2
    return float(power[frequencies > cutoff].sum())
