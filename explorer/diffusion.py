"""The diffusion process: noise schedule, q(x_t | x_0), x̂_0 from ε̂, DDPM and DDIM samplers.

Timesteps are integers 0 ... T-1 indexing the schedule (t = 0 is the least noisy).
Samplers take the model as an argument, so the U-Net and the naive CNN share them,
and they are generators that yield every step, so a UI can stream frames.
"""
from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass

import torch

NoisePredictor = Callable[[torch.Tensor, torch.Tensor], torch.Tensor]


@dataclass
class Frame:
    """One step of a reverse process: the new sample, and the x̂_0 the model predicted on the way."""

    t: int  # the timestep just denoised
    sample: torch.Tensor  # (B, C, H, W), x_{t_next}
    pred_x0: torch.Tensor  # (B, C, H, W), clipped to [-1, 1]
    step: int  # 1-based index of this step
    num_steps: int


NUM_TIMESTEPS = 1000  # T: the schedule every shipped model was trained with (Diffusion's default)


class Diffusion:
    """Linear β schedule (DDPM: 1e-4 to 0.02 over T = 1000) and the maths on top of it."""

    def __init__(self, num_timesteps: int = NUM_TIMESTEPS, beta_start: float = 1e-4, beta_end: float = 0.02):
        self.num_timesteps = num_timesteps
        betas = torch.linspace(beta_start, beta_end, num_timesteps, dtype=torch.float64)
        alphas_cumprod = torch.cumprod(1.0 - betas, dim=0)
        self.betas = betas.float()
        self.alphas_cumprod = alphas_cumprod.float()
        self.alphas_cumprod_prev = torch.cat([torch.ones(1, dtype=torch.float64), alphas_cumprod[:-1]]).float()
        self.sqrt_alphas_cumprod = alphas_cumprod.sqrt().float()
        self.sqrt_one_minus_alphas_cumprod = (1.0 - alphas_cumprod).sqrt().float()
        # DDPM eq. 7: variance of the posterior q(x_{t-1} | x_t, x_0)
        self.posterior_variance = (betas * (1.0 - torch.cat([torch.ones(1, dtype=torch.float64), alphas_cumprod[:-1]]))
                                   / (1.0 - alphas_cumprod)).float()

    @property
    def max_t(self) -> int:
        """The noisiest timestep, T - 1 (x_t is then almost pure noise)."""
        return self.num_timesteps - 1

    def check_timestep(self, t: int) -> None:
        if not 0 <= int(t) < self.num_timesteps:
            raise ValueError(f"timestep {t} is outside 0 ... {self.num_timesteps - 1}")

    def snr_db(self, t: int) -> float:
        """Signal-to-noise ratio ᾱ_t / (1 - ᾱ_t) in decibels."""
        alpha_bar = float(self.alphas_cumprod[t])
        return 10.0 * torch.log10(torch.tensor(alpha_bar / (1.0 - alpha_bar))).item()

    def _gather(self, values: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
        return values.to(t.device)[t].float()[:, None, None, None]  # (B, 1, 1, 1)

    def q_sample(self, x0: torch.Tensor, t: torch.Tensor, noise: torch.Tensor) -> torch.Tensor:
        """x_t = √ᾱ_t x_0 + √(1-ᾱ_t) ε   (DDPM eq. 4). x0, noise: (B, C, H, W); t: (B,)."""
        return (self._gather(self.sqrt_alphas_cumprod, t) * x0
                + self._gather(self.sqrt_one_minus_alphas_cumprod, t) * noise)

    def predict_x0(self, x_t: torch.Tensor, t: torch.Tensor, eps: torch.Tensor, clip: bool = True) -> torch.Tensor:
        """x̂_0 = (x_t - √(1-ᾱ_t) ε̂) / √ᾱ_t   (DDPM eq. 4 solved for x_0)."""
        x0 = ((x_t - self._gather(self.sqrt_one_minus_alphas_cumprod, t) * eps)
              / self._gather(self.sqrt_alphas_cumprod, t))
        return x0.clamp(-1.0, 1.0) if clip else x0

    def eps_from_x0(self, x_t: torch.Tensor, t: torch.Tensor, x0: torch.Tensor) -> torch.Tensor:
        """The noise implied by a clean-image estimate: ε = (x_t - √ᾱ_t x_0) / √(1-ᾱ_t)."""
        return ((x_t - self._gather(self.sqrt_alphas_cumprod, t) * x0)
                / self._gather(self.sqrt_one_minus_alphas_cumprod, t))

    def ddpm_sample(self, model: NoisePredictor, x_t: torch.Tensor, t_start: int,
                    generator: torch.Generator | None = None) -> Iterator[Frame]:
        """Ancestral sampling from x_t at t_start down to x_0, one step per timestep (DDPM Algorithm 2)."""
        self.check_timestep(t_start)
        x = x_t
        for step, t in enumerate(range(t_start, -1, -1), start=1):
            t_batch = torch.full((x.shape[0],), t, dtype=torch.long, device=x.device)
            eps = model(x, t_batch)
            pred_x0 = self.predict_x0(x, t_batch, eps)
            # DDPM eq. 7: posterior mean from the clipped x̂_0
            alpha_bar, alpha_bar_prev = self.alphas_cumprod[t], self.alphas_cumprod_prev[t]
            beta = self.betas[t]
            mean = (alpha_bar_prev.sqrt() * beta / (1 - alpha_bar)) * pred_x0 \
                + ((1 - beta).sqrt() * (1 - alpha_bar_prev) / (1 - alpha_bar)) * x
            if t > 0:
                noise = torch.randn(x.shape, generator=generator, device=x.device, dtype=x.dtype)
                x = mean + self.posterior_variance[t].sqrt() * noise
            else:
                x = mean
            yield Frame(t, x, pred_x0, step, t_start + 1)

    def ddim_timesteps(self, t_start: int, num_steps: int) -> list[int]:
        """num_steps timesteps from t_start down to 0, evenly spaced, without repeats."""
        self.check_timestep(t_start)
        if num_steps < 1:
            raise ValueError("the number of DDIM steps must be at least 1")
        num_steps = min(num_steps, t_start + 1)
        steps = torch.linspace(t_start, 0, num_steps).round().long().tolist()
        return sorted(set(steps), reverse=True)

    def ddim_sample(self, model: NoisePredictor, x_t: torch.Tensor, t_start: int, num_steps: int = 50,
                    eta: float = 0.0, generator: torch.Generator | None = None) -> Iterator[Frame]:
        """DDIM (Song et al. 2021, eq. 12) from x_t at t_start to x_0 in num_steps steps; eta = 0 is deterministic."""
        timesteps = self.ddim_timesteps(t_start, num_steps)
        x = x_t
        for step, t in enumerate(timesteps, start=1):
            t_prev = timesteps[step] if step < len(timesteps) else -1
            t_batch = torch.full((x.shape[0],), t, dtype=torch.long, device=x.device)
            eps = model(x, t_batch)
            pred_x0 = self.predict_x0(x, t_batch, eps)
            eps = self.eps_from_x0(x, t_batch, pred_x0)  # consistent with the clipped x̂_0
            alpha_bar_prev = self.alphas_cumprod[t_prev] if t_prev >= 0 else torch.tensor(1.0)
            sigma = eta * ((1 - alpha_bar_prev) / (1 - self.alphas_cumprod[t])
                           * (1 - self.alphas_cumprod[t] / alpha_bar_prev)).sqrt()
            # DDIM eq. 12: x_{t-1} = √ᾱ_{t-1} x̂_0 + √(1-ᾱ_{t-1}-σ²) ε̂ + σ z
            x = alpha_bar_prev.sqrt() * pred_x0 + (1 - alpha_bar_prev - sigma ** 2).clamp(min=0).sqrt() * eps
            if eta > 0 and t_prev >= 0:
                x = x + sigma * torch.randn(x.shape, generator=generator, device=x.device, dtype=x.dtype)
            yield Frame(t, x, pred_x0, step, len(timesteps))
