"""One denoising step as every view and the evaluation see it: noise an image, predict, score."""
from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import nn

from explorer.analysis.metrics import blur_denoise, eps_mse, psnr
from explorer.diffusion import Diffusion
from explorer.probe import Probe


def make_noise(seed: int, shape: tuple[int, ...]) -> torch.Tensor:
    """The noise ε that `seed` stands for: the same seed gives the same noise everywhere."""
    return torch.randn(shape, generator=torch.Generator().manual_seed(int(seed)))


def noisy(diffusion: Diffusion, x0: torch.Tensor, t: int, seed: int) -> tuple[torch.Tensor, torch.Tensor]:
    """x0: (3, H, W) → (x_t, ε), each (1, 3, H, W), with ε drawn from `seed`."""
    eps = make_noise(seed, (1, *x0.shape))
    x_t = diffusion.q_sample(x0[None], torch.tensor([t]), eps)
    return x_t, eps


@dataclass
class Prediction:
    """A model's answer for one x_t: ε̂ and x̂_0 (1, 3, H, W) with their scores against the truth."""

    eps_hat: torch.Tensor
    x0_hat: torch.Tensor
    eps_mse: float
    psnr: float


@torch.no_grad()
def predict(model: nn.Module, diffusion: Diffusion, x_t: torch.Tensor, t: int, x0: torch.Tensor,
            eps: torch.Tensor, probe: Probe | None = None) -> Prediction:
    """Run `model` once at t and score its prediction. x_t, eps: (B, 3, H, W); x0: (B or 1, 3, H, W)."""
    t_batch = torch.full((x_t.shape[0],), int(t), dtype=torch.long)
    eps_hat = model(x_t, t_batch, probe=probe)
    x0_hat = diffusion.predict_x0(x_t, t_batch, eps_hat)
    return Prediction(eps_hat, x0_hat, float(eps_mse(eps_hat, eps).mean()), float(psnr(x0_hat, x0).mean()))


@torch.no_grad()
def predict_blur(diffusion: Diffusion, x_t: torch.Tensor, t: int, x0: torch.Tensor, eps: torch.Tensor,
                 sigma: float) -> Prediction:
    """The classical baseline scored the same way: x̂_0 by blurring, ε̂ implied by it."""
    t_batch = torch.full((x_t.shape[0],), int(t), dtype=torch.long)
    x0_hat = blur_denoise(diffusion, x_t, t_batch, sigma)
    eps_hat = diffusion.eps_from_x0(x_t, t_batch, x0_hat)
    return Prediction(eps_hat, x0_hat, float(eps_mse(eps_hat, eps).mean()), float(psnr(x0_hat, x0).mean()))
