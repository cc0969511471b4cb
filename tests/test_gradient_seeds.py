"""Gradient highways over seeds: the batched gradient is the whole set's, and each run is its own draw."""
from __future__ import annotations

import pytest
import torch

from explorer import evaluate
from explorer.analysis import gradients
from explorer.diffusion import Diffusion
from explorer.unet import UNet, UNetConfig


@pytest.fixture(scope="module")
def tiny() -> UNet:
    torch.manual_seed(0)
    config = UNetConfig(image_size=16, base_channels=8, channel_mults=(1, 2), attention_resolutions=(8,))
    return UNet(config).eval().requires_grad_(False)


def images(count: int, size: int = 16) -> torch.Tensor:
    return torch.rand((count, 3, size, size), generator=torch.Generator().manual_seed(3)) * 2 - 1


def test_batches_give_the_gradient_of_the_whole_set(tiny):
    x0 = images(5)
    eps = torch.randn(x0.shape, generator=torch.Generator().manual_seed(4))
    t = torch.tensor([10, 250, 500, 900, 50])
    whole = gradients.gradient_norms(tiny, Diffusion(), x0, eps, t)
    batched = gradients.gradient_norms(tiny, Diffusion(), x0, eps, t, batch_size=2)
    for variant in gradients.VARIANTS:
        assert batched.norms[variant] == pytest.approx(whole.norms[variant], rel=1e-4)
        assert batched.loss[variant] == pytest.approx(whole.loss[variant], rel=1e-5)


def test_enc1_ratios_absolute_and_relative():
    blocks = ["in_conv", "enc1", "out"]
    norms = {"intact": [1.0, 4.0, 2.0], "skips_cut": [1.0, 2.0, 8.0]}
    ratios = gradients.enc1_ratios(blocks, norms)
    assert ratios["absolute"] == pytest.approx(2.0)  # 4 / 2
    assert ratios["relative"] == pytest.approx((4.0 / 2.0) / (2.0 / 8.0))  # a larger loss at `out` is divided out


def test_each_run_is_its_own_draw_and_the_summary_spans_them(tiny):
    section = evaluate.evaluate_gradients(tiny, images(3), Diffusion(), 0, timesteps=(10, 900),
                                          fresh_seeds=(0, 1), noise_draws=2, fresh_noise_draws=2)
    runs = section["runs"]
    assert len(runs["trained"]) == 2 and len(runs["random_init"]) == 4
    assert {run["fresh_seed"] for run in runs["random_init"]} == {0, 1}
    first, second = (run["enc1"]["relative"] for run in runs["trained"])
    assert first != second, "two draws of noise and t gave the same number"
    for network in ("trained", "random_init"):
        values = [run["enc1"]["absolute"] for run in runs[network]]
        spread = section["enc1"][network]["absolute"]
        assert spread["runs"] == len(values) and spread["min"] == min(values) and spread["max"] == max(values)
        assert spread["mean"] == pytest.approx(sum(values) / len(values))
    eps0, t0 = evaluate.gradient_draw(3, (3, 16, 16), 0, 0, (10, 900))
    assert torch.equal(eps0, evaluate.fixed_noise(3, (3, 16, 16), 0)), "draw 0 is the evaluation's noise"
    assert t0.tolist() == [10, 900, 10] and evaluate.gradient_draw(3, (3, 16, 16), 0, 1, (10, 900))[1].tolist() == [
        900, 10, 900]
