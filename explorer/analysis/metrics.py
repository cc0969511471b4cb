"""Denoising metrics and the classical baseline, shared by the evaluation command and the app.

Images are tensors in [-1, 1]. PSNR is measured on that range (peak-to-peak 2), which
equals PSNR on [0, 1] images.
"""
from __future__ import annotations

import math

import torch
import torch.nn.functional as F

from explorer.diffusion import NUM_TIMESTEPS, Diffusion

# The evaluation's t grid: every held-out curve (weights/metrics.json, the study, the app's per-image curves) uses it.
TIMESTEPS = (1, 10, 50, 100, 250, 500, 750, 900, NUM_TIMESTEPS - 1)
# Its inner part, for the costlier held-out measurements (knock-outs, gradients, concatenation) and the
# signal-against-noise spectra: t from almost clean to almost pure noise, without the schedule's two ends.
INNER_TIMESTEPS = (10, 50, 250, 500, 900)

# Blur widths (in pixels) the classical baseline chooses from; 0 means no blur.
BLUR_SIGMAS = (0.0, 0.5, 0.75, 1.0, 1.25, 1.5, 2.0, 2.5, 3.0, 4.0, 5.0, 6.0, 8.0, 12.0, 16.0, 24.0)


def eps_mse(eps_hat: torch.Tensor, eps: torch.Tensor) -> torch.Tensor:
    """Per-image mean squared error of the predicted noise. (B, C, H, W) → (B,)."""
    return (eps_hat.float() - eps.float()).pow(2).flatten(1).mean(1)


def psnr(x0_hat: torch.Tensor, x0: torch.Tensor) -> torch.Tensor:
    """Per-image PSNR in dB of images in [-1, 1]. (B, C, H, W) → (B,)."""
    mse = (x0_hat.float().clamp(-1, 1) - x0.float()).pow(2).flatten(1).mean(1)
    return 10.0 * torch.log10(4.0 / mse.clamp(min=1e-10))


def gaussian_blur(x: torch.Tensor, sigma: float) -> torch.Tensor:
    """Separable Gaussian blur with reflected borders. x: (B, C, H, W)."""
    if sigma <= 0:
        return x
    radius = min(int(math.ceil(3 * sigma)), x.shape[-1] - 1)
    offsets = torch.arange(-radius, radius + 1, dtype=torch.float32, device=x.device)
    kernel = torch.exp(-0.5 * (offsets / sigma) ** 2)
    kernel = kernel / kernel.sum()
    channels = x.shape[1]
    horizontal = kernel.view(1, 1, 1, -1).repeat(channels, 1, 1, 1)  # (C, 1, 1, K)
    vertical = kernel.view(1, 1, -1, 1).repeat(channels, 1, 1, 1)  # (C, 1, K, 1)
    x = F.conv2d(F.pad(x, (radius, radius, 0, 0), mode="reflect"), horizontal, groups=channels)
    return F.conv2d(F.pad(x, (0, 0, radius, radius), mode="reflect"), vertical, groups=channels)


def blur_denoise(diffusion: Diffusion, x_t: torch.Tensor, t: torch.Tensor, sigma: float) -> torch.Tensor:
    """The classical baseline's x̂_0: undo the signal scaling, x_t / √ᾱ_t, then blur the noise away."""
    scaled = x_t / diffusion.sqrt_alphas_cumprod.to(x_t.device)[t][:, None, None, None]
    return gaussian_blur(scaled, sigma).clamp(-1, 1)


def blur_sigma_for(t: int, table: dict[int, float] | None) -> float:
    """The baseline's blur width at t: linear in t between the widths `python -m explorer.evaluate` chose.

    table: {t: sigma} from weights/metrics.json; without one, a width that grows with the noise level.
    """
    if not table:
        return 0.0 if t < 5 else min(BLUR_SIGMAS[-1], 0.05 * t ** 0.75)
    points = sorted((int(k), float(v)) for k, v in table.items())
    if t <= points[0][0]:
        return points[0][1]
    for (t0, s0), (t1, s1) in zip(points, points[1:]):
        if t <= t1:
            return s0 + (s1 - s0) * (t - t0) / (t1 - t0)
    return points[-1][1]
