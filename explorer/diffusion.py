"""The diffusion process: noise schedule, q(x_t | x_0), x̂_0 from ε̂, DDPM and DDIM samplers.

Timesteps are integers 0 ... T-1 indexing the schedule (t = 0 is the least noisy).
Samplers take the model as an argument, so the U-Net and the naive CNN share them,
and they are generators that yield every step, so a UI can stream frames.
"""
from __future__ import annotations

import math
from collections.abc import Callable, Iterator, Mapping, Sequence
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
BETA_SCHEDULES = ("linear", "scaled_linear", "squaredcos_cap_v2")  # diffusers' names for them
PREDICTION_TYPES = ("epsilon", "v_prediction", "sample")  # what a network may predict; the views see ε
# Schedulers of the σ (variance-exploding) family: no β schedule, so nothing here applies to them.
SIGMA_SCHEDULERS = ("ScoreSdeVeScheduler", "KarrasVeScheduler", "ScoreSdeVpScheduler")
MAX_BETA = 0.999  # squaredcos_cap_v2: the cap on β near t = T (Nichol & Dhariwal 2021, section 3.2)


def betas_for(beta_schedule: str, num_timesteps: int, beta_start: float, beta_end: float) -> torch.Tensor:
    """β_t for t = 0 … T-1 in float64, as diffusers' schedulers define them.

    linear: evenly spaced from beta_start to beta_end (DDPM); scaled_linear: evenly spaced in √β, squared
    (latent diffusion); squaredcos_cap_v2: from ᾱ(t) = cos²((t/T + 0.008) / 1.008 · π/2), β capped at 0.999
    (improved DDPM eq. 17); beta_start and beta_end are not used.
    """
    if beta_schedule == "linear":
        return torch.linspace(beta_start, beta_end, num_timesteps, dtype=torch.float64)
    if beta_schedule == "scaled_linear":
        return torch.linspace(beta_start ** 0.5, beta_end ** 0.5, num_timesteps, dtype=torch.float64) ** 2
    if beta_schedule == "squaredcos_cap_v2":
        def alpha_bar(time: float) -> float:  # improved DDPM eq. 17
            return math.cos((time + 0.008) / 1.008 * math.pi / 2) ** 2
        # improved DDPM eq. 18: β_t = 1 - ᾱ_t / ᾱ_{t-1}
        return torch.tensor([min(1 - alpha_bar((step + 1) / num_timesteps) / alpha_bar(step / num_timesteps),
                                 MAX_BETA) for step in range(num_timesteps)], dtype=torch.float64)
    raise ValueError(f"beta_schedule {beta_schedule!r} is not supported: use one of {', '.join(BETA_SCHEDULES)}")


class Diffusion:
    """A β schedule (by default DDPM's: linear, 1e-4 to 0.02 over T = 1000) and the maths on top of it.

    beta_schedule: one of BETA_SCHEDULES; trained_betas: β_t given outright (diffusers' `trained_betas`).
    prediction_type: what the network predicts (PREDICTION_TYPES); `eps_from_output` turns it into ε, which
    the samplers and the views use. Our models predict ε.
    """

    def __init__(self, num_timesteps: int = NUM_TIMESTEPS, beta_start: float = 1e-4, beta_end: float = 0.02,
                 beta_schedule: str = "linear", prediction_type: str = "epsilon",
                 trained_betas: Sequence[float] | None = None):
        if prediction_type not in PREDICTION_TYPES:
            raise ValueError(f"prediction_type {prediction_type!r} is not supported: use one of "
                             f"{', '.join(PREDICTION_TYPES)}")
        if trained_betas is not None:
            betas = torch.tensor(list(trained_betas), dtype=torch.float64)
            num_timesteps, beta_schedule = len(betas), "trained"
        else:
            betas = betas_for(beta_schedule, num_timesteps, beta_start, beta_end)
        self.num_timesteps = num_timesteps
        self.beta_schedule = beta_schedule
        self.prediction_type = prediction_type
        alphas_cumprod = torch.cumprod(1.0 - betas, dim=0)
        self.betas = betas.float()
        self.alphas_cumprod = alphas_cumprod.float()
        self.alphas_cumprod_prev = torch.cat([torch.ones(1, dtype=torch.float64), alphas_cumprod[:-1]]).float()
        self.sqrt_alphas_cumprod = alphas_cumprod.sqrt().float()
        self.sqrt_one_minus_alphas_cumprod = (1.0 - alphas_cumprod).sqrt().float()
        # DDPM eq. 7: variance of the posterior q(x_{t-1} | x_t, x_0)
        self.posterior_variance = (betas * (1.0 - torch.cat([torch.ones(1, dtype=torch.float64), alphas_cumprod[:-1]]))
                                   / (1.0 - alphas_cumprod)).float()
        # DDPM eq. 7: the posterior mean's weights on x̂_0 and on x_t, in float64 (1 - ᾱ_t in float32 loses four
        # digits near t = 0, where ᾱ_t is 0.9999)
        alphas_cumprod_prev = torch.cat([torch.ones(1, dtype=torch.float64), alphas_cumprod[:-1]])
        self.posterior_mean_coef_x0 = (alphas_cumprod_prev.sqrt() * betas / (1.0 - alphas_cumprod)).float()
        self.posterior_mean_coef_xt = ((1.0 - betas).sqrt() * (1.0 - alphas_cumprod_prev)
                                       / (1.0 - alphas_cumprod)).float()

    @classmethod
    def from_config(cls, config: Mapping) -> Diffusion:
        """The schedule a diffusers `scheduler_config.json` describes (DDPM, DDIM, PNDM … share its keys).

        Keys read: num_train_timesteps, beta_start, beta_end, beta_schedule, trained_betas, prediction_type;
        missing ones take diffusers' defaults, which are this class's. Raises ValueError for a schedule that
        is not a β schedule of BETA_SCHEDULES, or that rescales β to zero terminal SNR.
        """
        name = config.get("_class_name", "a scheduler")
        if name in SIGMA_SCHEDULERS or any(key in config for key in ("sigma_min", "sigma_max", "sigma_data")):
            raise ValueError(f"{name} is a σ (variance-exploding) schedule: the explorer supports β schedules "
                             f"({', '.join(BETA_SCHEDULES)}), as DDPMScheduler and DDIMScheduler define them")
        if config.get("rescale_betas_zero_snr"):
            raise ValueError(f"{name} rescales β to zero terminal SNR, which the explorer does not support")
        return cls(num_timesteps=int(config.get("num_train_timesteps", NUM_TIMESTEPS)),
                   beta_start=float(config.get("beta_start", 1e-4)), beta_end=float(config.get("beta_end", 0.02)),
                   beta_schedule=str(config.get("beta_schedule", "linear")),
                   prediction_type=str(config.get("prediction_type", "epsilon")),
                   trained_betas=config.get("trained_betas"))

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

    def eps_from_output(self, output: torch.Tensor, x_t: torch.Tensor, t: torch.Tensor,
                        told_t: torch.Tensor | None = None) -> torch.Tensor:
        """The ε̂ a network's output implies for x_t at t, whatever its prediction_type. (B, C, H, W).

        told_t: the t the network was told (a knock-out), if not t. A v or x̂_0 prediction is read at the t
        the network was told, then re-expressed as the noise of x_t at its true t.
        """
        if self.prediction_type == "epsilon":
            return output
        if self.prediction_type == "sample":
            return self.eps_from_x0(x_t, t, output)
        told_t = t if told_t is None else told_t
        # v = √ᾱ ε - √(1-ᾱ) x_0 (Salimans & Ho 2022, section 4), so x_0 = √ᾱ x_t - √(1-ᾱ) v
        x0 = (self._gather(self.sqrt_alphas_cumprod, told_t) * x_t
              - self._gather(self.sqrt_one_minus_alphas_cumprod, told_t) * output)
        return self.eps_from_x0(x_t, t, x0)

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
            mean = self.posterior_mean_coef_x0[t] * pred_x0 + self.posterior_mean_coef_xt[t] * x
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
