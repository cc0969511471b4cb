"""The U-Net and the naive CNN: shapes, time conditioning, block names and the probe."""
from __future__ import annotations

import pytest
import torch

from explorer.naive import NaiveCNN
from explorer.probe import Probe
from explorer.unet import UNet, UNetConfig


def build(config: UNetConfig) -> UNet:
    torch.manual_seed(0)
    return UNet(config).eval()


@pytest.mark.parametrize("config", [
    UNetConfig(image_size=32, base_channels=8, channel_mults=(1, 2, 2), attention_resolutions=(8,)),
    UNetConfig(image_size=64, base_channels=8, channel_mults=(1, 2, 2, 4), attention_resolutions=(8,)),
    UNetConfig(image_size=16, base_channels=8, channel_mults=(1, 2), num_res_blocks=2, attention_resolutions=(16, 8)),
], ids=["32px-3-levels", "64px-4-levels", "16px-2-res-blocks"])
def test_unet_output_has_the_input_shape(config):
    model = build(config)
    x = torch.randn(2, 3, config.image_size, config.image_size)
    assert model(x, torch.tensor([0, 999])).shape == x.shape


def test_naive_output_has_the_input_shape():
    x = torch.randn(2, 3, 24, 40)  # any size: it never downsamples
    assert NaiveCNN()(x, torch.tensor([5, 5])).shape == x.shape


def test_config_rejects_an_image_size_the_levels_cannot_halve():
    with pytest.raises(ValueError, match="not divisible by 16"):
        UNetConfig(image_size=60)


def test_timestep_changes_the_unet_but_not_the_naive_cnn(tiny_config):
    unet, naive = build(tiny_config), NaiveCNN().eval()
    x = torch.randn(1, 3, 16, 16)
    early, late = torch.tensor([10]), torch.tensor([900])
    with torch.no_grad():
        assert (unet(x, early) - unet(x, late)).abs().max() > 1e-4
        assert torch.equal(naive(x, early), naive(x, late))


def test_probe_timestep_overrides_the_true_t(tiny_config):
    unet = build(tiny_config)
    x = torch.randn(1, 3, 16, 16)
    with torch.no_grad():
        told = unet(x, torch.tensor([10]), probe=Probe(timestep=900))
        assert torch.allclose(told, unet(x, torch.tensor([900])))


def expected_shape(name: str, config: UNetConfig, batch: int) -> tuple[int, ...]:
    """The output shape of block `name`, from the config alone (the architecture the docstring draws)."""
    if name == "time_mlp":
        return (batch, config.time_emb_dim)
    if name == "in_conv":
        return (batch, config.base_channels, config.image_size, config.image_size)
    if name == "out":
        return (batch, config.in_channels, config.image_size, config.image_size)
    if name.startswith("mid."):
        return (batch, config.level_channels(config.num_levels), config.mid_resolution, config.mid_resolution)
    part, level = name.split(".")[0][:-1], int(name.split(".")[0][-1])
    resolution = config.level_resolution(level)
    if name.endswith(".down"):
        return (batch, config.level_channels(level), resolution // 2, resolution // 2)
    if name.endswith(".up"):  # the channels arriving from the level below
        return (batch, config.level_channels(min(level + 1, config.num_levels)), resolution, resolution)
    assert part in ("enc", "dec", "skip"), name
    return (batch, config.level_channels(level), resolution, resolution)


@pytest.mark.parametrize("config", [
    UNetConfig(image_size=16, base_channels=8, channel_mults=(1, 2), attention_resolutions=(8,)),
    UNetConfig(image_size=32, base_channels=8, channel_mults=(1, 2, 4), num_res_blocks=2, attention_resolutions=(16,)),
], ids=["1-res-block", "2-res-blocks"])
def test_probe_records_every_block_with_its_shape(config):
    model = build(config)
    blocks = model.blocks()
    names = [block.name for block in blocks]
    assert len(names) == len(set(names)), "block names must be unique"
    probe = Probe(record="*")
    with torch.no_grad():
        model(torch.randn(2, 3, config.image_size, config.image_size), torch.tensor([3, 700]), probe=probe)
    assert list(probe.outputs) == names, "blocks() must list the blocks in the order forward records them"
    for block in blocks:
        assert tuple(probe.outputs[block.name].shape) == expected_shape(block.name, config, 2), block.name
        assert (block.module is None) == (block.kind == "skip"), block.name
    if config.num_res_blocks == 2:
        assert {"enc1.res1", "dec1.res1", "enc2.attn", "dec2.attn"} <= set(names)


def test_probe_records_only_what_it_is_asked_for(tiny_config):
    probe = Probe(record={"enc1", "mid.attn"})
    with torch.no_grad():
        build(tiny_config)(torch.randn(1, 3, 16, 16), torch.tensor([5]), probe=probe)
    assert set(probe.outputs) == {"enc1", "mid.attn"}


def test_zeroed_skip_is_zero_and_changes_the_output(tiny_config):
    model = build(tiny_config)
    x, t = torch.randn(1, 3, 16, 16), torch.tensor([100])
    probe = Probe(record={"skip1"}, zero_skips={1})
    with torch.no_grad():
        knocked_out = model(x, t, probe=probe)
        assert not probe.outputs["skip1"].any()
        assert (knocked_out - model(x, t)).abs().max() > 1e-4


def test_naive_blocks_are_recorded():
    model = NaiveCNN().eval()
    probe = Probe(record="*")
    with torch.no_grad():
        model(torch.randn(1, 3, 16, 16), probe=probe)
    assert list(probe.outputs) == [block.name for block in model.blocks()] == [f"layer{i}" for i in range(1, 6)]
    assert probe.outputs["layer5"].shape == (1, 3, 16, 16)
    assert all(probe.outputs[f"layer{i}"].min() >= 0 for i in range(1, 5)), "layers 1-4 end in a ReLU"


def test_default_unet_fits_in_10_mb_as_float16():
    parameters = sum(p.numel() for p in UNet().parameters())
    assert parameters * 2 < 10_000_000
