"""The noise schedule, q(x_t | x_0) and the two samplers."""
from __future__ import annotations

import math

import pytest
import torch

from explorer.diffusion import Diffusion
from explorer.unet import UNet


@pytest.fixture(scope="module")
def diffusion() -> Diffusion:
    return Diffusion()


def test_schedule_matches_known_values(diffusion):
    # ᾱ_T = Π (1 - β_t) over the linear schedule, computed in float64 apart from the code under test.
    alpha_bar_last = math.prod(1.0 - (1e-4 + (0.02 - 1e-4) * i / 999) for i in range(1000))
    assert alpha_bar_last == pytest.approx(4.0358e-5, rel=1e-4)
    assert diffusion.num_timesteps == len(diffusion.betas) == len(diffusion.alphas_cumprod) == 1000
    assert diffusion.betas[0].item() == pytest.approx(1e-4, rel=1e-6)
    assert diffusion.betas[-1].item() == pytest.approx(0.02, rel=1e-6)
    assert diffusion.alphas_cumprod[0].item() == pytest.approx(1 - 1e-4, rel=1e-7)
    assert diffusion.alphas_cumprod[-1].item() == pytest.approx(alpha_bar_last, rel=1e-5)
    assert (diffusion.alphas_cumprod[1:] < diffusion.alphas_cumprod[:-1]).all(), "ᾱ must fall strictly"
    assert torch.allclose(diffusion.sqrt_alphas_cumprod ** 2 + diffusion.sqrt_one_minus_alphas_cumprod ** 2,
                          torch.ones(1000), atol=1e-6)
    assert diffusion.posterior_variance[0].item() == 0.0
    assert diffusion.snr_db(250) == pytest.approx(0.37, abs=0.01), "t = 250 is roughly where signal equals noise"


def test_q_sample_matches_the_closed_form_distribution(diffusion):
    generator = torch.Generator().manual_seed(0)
    x0 = torch.rand(1, 3, 4, 4, generator=generator) * 2 - 1
    count = 20_000
    for t in (50, 500, 999):
        noise = torch.randn(count, 3, 4, 4, generator=generator)
        x_t = diffusion.q_sample(x0.expand(count, -1, -1, -1), torch.full((count,), t), noise)
        alpha_bar = diffusion.alphas_cumprod[t].item()
        # DDPM eq. 4: x_t ~ N(√ᾱ_t x_0, (1 - ᾱ_t) I); standard errors over 20 000 draws are < 0.01 of the std
        std = math.sqrt(1 - alpha_bar)
        assert torch.allclose(x_t.mean(0), math.sqrt(alpha_bar) * x0[0], atol=5 * std / math.sqrt(count))
        assert torch.allclose(x_t.var(0), torch.full((3, 4, 4), 1 - alpha_bar), rtol=0.05)


def test_predict_x0_and_eps_from_x0_invert_q_sample(diffusion):
    x0 = torch.rand(4, 3, 8, 8) * 2 - 1
    noise = torch.randn(4, 3, 8, 8)
    t = torch.tensor([0, 10, 300, 800])
    x_t = diffusion.q_sample(x0, t, noise)
    assert torch.allclose(diffusion.predict_x0(x_t, t, noise), x0, atol=1e-3)
    assert torch.allclose(diffusion.eps_from_x0(x_t, t, x0), noise, atol=1e-3)


def oracle(diffusion: Diffusion, x0: torch.Tensor):
    """A perfect noise predictor for a known x0: it returns the ε that x_t implies."""
    return lambda x_t, t: diffusion.eps_from_x0(x_t, t, x0)


@pytest.mark.parametrize("sampler", ["ddpm", "ddim"])
def test_a_perfect_predictor_leads_both_samplers_back_to_x0(diffusion, sampler):
    x0 = torch.rand(2, 3, 8, 8) * 1.8 - 0.9
    x_t = diffusion.q_sample(x0, torch.full((2,), 999), torch.randn(2, 3, 8, 8))
    if sampler == "ddpm":
        frames = list(diffusion.ddpm_sample(oracle(diffusion, x0), x_t, 999, torch.Generator().manual_seed(0)))
    else:
        frames = list(diffusion.ddim_sample(oracle(diffusion, x0), x_t, 999, num_steps=20))
    assert torch.allclose(frames[-1].sample, x0, atol=1e-3)
    assert torch.allclose(frames[0].pred_x0, x0, atol=1e-2)


@pytest.mark.parametrize("sampler", ["ddpm", "ddim-eta-1"])
def test_one_stochastic_step_draws_from_the_true_posterior(diffusion, sampler):
    # With a perfect predictor, x_{t-1} ~ q(x_{t-1} | x_t, x_0) = N(μ̃, β̃_t I) (DDPM eq. 6-7), computed here in float64.
    t, count = 300, 20_000
    generator = torch.Generator().manual_seed(1)
    x0 = torch.rand(1, 3, 4, 4, generator=generator) * 1.8 - 0.9
    x_t = diffusion.q_sample(x0, torch.tensor([t]), torch.randn(1, 3, 4, 4, generator=generator))
    betas = torch.linspace(1e-4, 0.02, 1000, dtype=torch.float64)
    alpha_bar = torch.cumprod(1 - betas, 0)
    beta, alpha_bar_t, alpha_bar_prev = betas[t].item(), alpha_bar[t].item(), alpha_bar[t - 1].item()
    mean = (math.sqrt(alpha_bar_prev) * beta / (1 - alpha_bar_t)) * x0[0] \
        + (math.sqrt(1 - beta) * (1 - alpha_bar_prev) / (1 - alpha_bar_t)) * x_t[0]
    variance = beta * (1 - alpha_bar_prev) / (1 - alpha_bar_t)
    batch = x_t.expand(count, -1, -1, -1)
    if sampler == "ddpm":
        frame = next(diffusion.ddpm_sample(oracle(diffusion, x0), batch, t, generator))
    else:  # DDIM with η = 1 and every timestep is DDPM (Song et al. 2021, section 4.1)
        frame = next(diffusion.ddim_sample(oracle(diffusion, x0), batch, t, num_steps=1000, eta=1.0,
                                           generator=generator))
    assert torch.allclose(frame.sample.mean(0), mean.float(), atol=5 * math.sqrt(variance / count))
    assert torch.allclose(frame.sample.var(0), torch.full((3, 4, 4), variance), rtol=0.05)


@pytest.fixture(scope="module")
def tiny_unet() -> UNet:
    torch.manual_seed(0)
    from explorer.unet import UNetConfig
    return UNet(UNetConfig(image_size=16, base_channels=8, channel_mults=(1, 2), attention_resolutions=(8,))).eval()


def test_ddim_is_deterministic_for_a_fixed_seed(diffusion, tiny_unet):
    noise = torch.randn(2, 3, 16, 16, generator=torch.Generator().manual_seed(3))
    with torch.no_grad():
        first = [frame.sample for frame in diffusion.ddim_sample(tiny_unet, noise, 999, num_steps=5)]
        second = [frame.sample for frame in diffusion.ddim_sample(tiny_unet, noise.clone(), 999, num_steps=5)]
        stochastic = [list(diffusion.ddim_sample(tiny_unet, noise, 999, num_steps=5, eta=1.0,
                                                 generator=torch.Generator().manual_seed(seed)))[-1].sample
                      for seed in (7, 7, 8)]
    assert all(torch.equal(a, b) for a, b in zip(first, second))
    assert torch.equal(stochastic[0], stochastic[1]), "the same generator seed gives the same η > 0 sample"
    assert not torch.equal(stochastic[0], stochastic[2])
    assert not torch.equal(stochastic[0], first[-1])


@pytest.mark.parametrize("t_start, num_steps, expected", [(999, 50, 50), (999, 1000, 1000), (30, 50, 31),
                                                          (0, 50, 1), (500, 7, 7)])
def test_ddim_starts_anywhere_with_the_right_frame_count(diffusion, t_start, num_steps, expected):
    x = torch.randn(1, 3, 4, 4)
    frames = list(diffusion.ddim_sample(lambda x_t, t: torch.zeros_like(x_t), x, t_start, num_steps))
    assert len(frames) == expected
    assert [frame.step for frame in frames] == list(range(1, expected + 1))
    assert all(frame.num_steps == expected for frame in frames)
    assert frames[0].t == t_start and frames[-1].t == 0
    assert all(a.t > b.t for a, b in zip(frames, frames[1:]))


@pytest.mark.parametrize("t_start", [0, 1, 17])
def test_ddpm_starts_anywhere_with_one_frame_per_timestep(diffusion, t_start):
    x = torch.randn(1, 3, 4, 4)
    frames = list(diffusion.ddpm_sample(lambda x_t, t: torch.zeros_like(x_t), x, t_start,
                                        torch.Generator().manual_seed(0)))
    assert [frame.t for frame in frames] == list(range(t_start, -1, -1))
    assert frames[-1].num_steps == frames[-1].step == t_start + 1


@pytest.mark.parametrize("t_start", [-1, 1000])
def test_samplers_reject_a_timestep_outside_the_schedule(diffusion, t_start):
    x = torch.randn(1, 3, 4, 4)
    with pytest.raises(ValueError, match="outside 0"):
        next(diffusion.ddpm_sample(lambda x_t, t: x_t, x, t_start))
    with pytest.raises(ValueError, match="outside 0"):
        next(diffusion.ddim_sample(lambda x_t, t: x_t, x, t_start))
