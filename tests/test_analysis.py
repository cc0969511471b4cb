"""Spectra, metrics and the probe: the small maths the views stand on."""
from __future__ import annotations

import math

import pytest
import torch

from explorer.analysis.metrics import blur_sigma_for, eps_mse, gaussian_blur, psnr
from explorer.analysis.spectrum import high_frequency_share, normalised_power, radial_power
from explorer.probe import Probe
from explorer.unet import UNet, UNetConfig


def test_white_noise_has_a_flat_spectrum():
    _, power = radial_power(torch.randn(256, 32, 32, generator=torch.Generator().manual_seed(0)))
    assert power.min() > 0.85 and power.max() < 1.15


@pytest.mark.parametrize("cycles", [1, 4, 12])
def test_a_sinusoid_puts_its_power_at_its_frequency(cycles):
    x = torch.arange(32, dtype=torch.float32)
    wave = torch.sin(2 * math.pi * cycles * x / 32)[None, None, :].expand(2, 32, 32)
    frequencies, power = normalised_power(wave)
    assert frequencies[power.argmax()] == cycles and power.max() > 0.99


def test_high_frequency_share_separates_smooth_from_fine_maps():
    smooth = torch.nn.functional.interpolate(torch.randn(1, 8, 4, 4), scale_factor=16, mode="bilinear")[0]
    fine = torch.randn(8, 64, 64)
    assert high_frequency_share(smooth, 64) < 0.1 < 0.5 < high_frequency_share(fine, 64)


def test_psnr_and_eps_mse_known_values():
    x = torch.zeros(2, 3, 8, 8)
    y = torch.full((2, 3, 8, 8), 0.2)  # error 0.2 on a range of 2 → 0.1 on [0, 1] → 20 dB
    assert torch.allclose(psnr(y, x), torch.tensor([20.0, 20.0]), atol=1e-4)
    assert torch.allclose(eps_mse(y, x), torch.tensor([0.04, 0.04]))


def test_gaussian_blur_keeps_constants_and_smooths_noise():
    constant = torch.full((1, 3, 16, 16), 0.3)
    assert torch.allclose(gaussian_blur(constant, 2.0), constant, atol=1e-6)
    noise = torch.randn(1, 3, 32, 32, generator=torch.Generator().manual_seed(1))
    assert gaussian_blur(noise, 2.0).std() < 0.3 * noise.std()
    assert torch.equal(gaussian_blur(noise, 0.0), noise)


def test_blur_width_interpolates_the_evaluated_table():
    table = {"100": 1.0, "500": 3.0}
    assert blur_sigma_for(50, table) == 1.0
    assert blur_sigma_for(300, table) == pytest.approx(2.0)
    assert blur_sigma_for(999, table) == 3.0


def test_probe_records_only_what_it_is_asked_for():
    model = UNet(UNetConfig(image_size=16, base_channels=8, channel_mults=(1, 2), attention_resolutions=(8,),
                            num_groups=4)).eval()
    probe = Probe(record={"enc1", "mid.attn"})
    with torch.no_grad():
        model(torch.zeros(1, 3, 16, 16), torch.tensor([3]), probe=probe)
    assert set(probe.outputs) == {"enc1", "mid.attn"}
    assert probe.outputs["mid.attn"].shape == (1, 16, 4, 4)
