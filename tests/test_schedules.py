"""Our schedules against diffusers' schedulers: ᾱ, one DDPM step and one DDIM step agree to 1e-5.

Every β schedule diffusers' DDPMScheduler and DDIMScheduler share, with each prediction type (the network's
output turned into ε by `Diffusion.eps_from_output`, which our samplers take).
"""
from __future__ import annotations

import pytest
import torch

from explorer.diffusion import BETA_SCHEDULES, NUM_TIMESTEPS, PREDICTION_TYPES, Diffusion

diffusers = pytest.importorskip("diffusers")

TOLERANCE = 1e-5
# beta_start/beta_end as the models that use each schedule set them (DDPM; latent diffusion; unused by cosine)
BETAS = {"linear": (1e-4, 0.02), "scaled_linear": (0.00085, 0.012), "squaredcos_cap_v2": (1e-4, 0.02)}


def scheduler_config(beta_schedule: str, prediction_type: str = "epsilon") -> dict:
    beta_start, beta_end = BETAS[beta_schedule]
    return dict(num_train_timesteps=NUM_TIMESTEPS, beta_start=beta_start, beta_end=beta_end,
                beta_schedule=beta_schedule, prediction_type=prediction_type, clip_sample=True)


def network_output(seed: int = 0) -> tuple[torch.Tensor, torch.Tensor]:
    generator = torch.Generator().manual_seed(seed)
    x_t = torch.randn(2, 3, 8, 8, generator=generator)
    output = torch.randn(2, 3, 8, 8, generator=generator)
    return x_t, output


@pytest.mark.parametrize("beta_schedule", BETA_SCHEDULES)
def test_alphas_cumprod_agree_with_diffusers(beta_schedule):
    config = scheduler_config(beta_schedule)
    ours = Diffusion.from_config(config)
    theirs = diffusers.DDPMScheduler(**config)
    assert ours.num_timesteps == len(theirs.alphas_cumprod)
    assert (ours.alphas_cumprod - theirs.alphas_cumprod).abs().max() <= TOLERANCE
    assert (ours.betas - theirs.betas).abs().max() <= TOLERANCE


@pytest.mark.parametrize("prediction_type", PREDICTION_TYPES)
@pytest.mark.parametrize("beta_schedule", BETA_SCHEDULES)
@pytest.mark.parametrize("t", [0, 500, 990])
def test_one_ddpm_step_agrees_with_diffusers(beta_schedule, prediction_type, t):
    config = scheduler_config(beta_schedule, prediction_type)
    ours, theirs = Diffusion.from_config(config), diffusers.DDPMScheduler(**config)
    x_t, output = network_output(t)

    def model(x, t_batch):
        return ours.eps_from_output(output, x, t_batch)

    frame = next(ours.ddpm_sample(model, x_t, t, generator=torch.Generator().manual_seed(7)))
    expected = theirs.step(output, t, x_t, generator=torch.Generator().manual_seed(7)).prev_sample
    assert (frame.sample - expected).abs().max() <= TOLERANCE


@pytest.mark.parametrize("prediction_type", PREDICTION_TYPES)
@pytest.mark.parametrize("beta_schedule", BETA_SCHEDULES)
def test_one_ddim_step_agrees_with_diffusers(beta_schedule, prediction_type):
    config = scheduler_config(beta_schedule, prediction_type)
    ours, theirs = Diffusion.from_config(config), diffusers.DDIMScheduler(**config)
    theirs.set_timesteps(50)  # "leading" spacing: 980, 960, …, 0, as ours from t = 980 in 50 steps
    t = int(theirs.timesteps[0])
    assert ours.ddim_timesteps(t, 50) == theirs.timesteps.tolist()
    x_t, output = network_output(1)

    def model(x, t_batch):
        return ours.eps_from_output(output, x, t_batch)

    frame = next(ours.ddim_sample(model, x_t, t, num_steps=50))
    # ours re-derives ε from the clipped x̂_0, which is diffusers' use_clipped_model_output
    expected = theirs.step(output, t, x_t, eta=0.0, use_clipped_model_output=True).prev_sample
    assert (frame.sample - expected).abs().max() <= TOLERANCE


def test_the_default_schedule_is_unchanged():
    default = Diffusion()
    assert default.beta_schedule == "linear" and default.prediction_type == "epsilon"
    assert default.num_timesteps == NUM_TIMESTEPS
    assert torch.equal(default.alphas_cumprod, Diffusion.from_config({}).alphas_cumprod)
    assert float(default.alphas_cumprod[0]) == pytest.approx(1 - 1e-4)
    assert float(default.alphas_cumprod[999]) == pytest.approx(4.0358e-05, rel=1e-4)


def test_eps_from_output_inverts_each_prediction_type():
    x0, eps = torch.randn(2, 3, 4, 4), torch.randn(2, 3, 4, 4)
    t = torch.tensor([100, 700])
    for prediction_type in PREDICTION_TYPES:
        diffusion = Diffusion(prediction_type=prediction_type)
        x_t = diffusion.q_sample(x0, t, eps)
        a, b = diffusion._gather(diffusion.sqrt_alphas_cumprod, t), diffusion._gather(
            diffusion.sqrt_one_minus_alphas_cumprod, t)
        output = {"epsilon": eps, "sample": x0, "v_prediction": a * eps - b * x0}[prediction_type]
        assert torch.allclose(diffusion.eps_from_output(output, x_t, t), eps, atol=1e-4)


def test_trained_betas_and_refusals():
    diffusion = Diffusion.from_config({"trained_betas": [0.1, 0.2, 0.3]})
    assert diffusion.num_timesteps == 3 and diffusion.max_t == 2
    with pytest.raises(ValueError, match="sigmoid.*linear, scaled_linear, squaredcos_cap_v2"):
        Diffusion.from_config({"beta_schedule": "sigmoid"})
    with pytest.raises(ValueError, match="v_prediction"):
        Diffusion.from_config({"prediction_type": "flow"})
    with pytest.raises(ValueError, match="σ"):
        Diffusion.from_config({"_class_name": "ScoreSdeVeScheduler"})
    with pytest.raises(ValueError, match="σ"):  # consistency models' Karras σ schedule
        Diffusion.from_config({"_class_name": "CMStochasticIterativeScheduler", "sigma_min": 0.002, "sigma_max": 80.0})
    with pytest.raises(ValueError, match="zero terminal SNR"):
        Diffusion.from_config({"rescale_betas_zero_snr": True})
