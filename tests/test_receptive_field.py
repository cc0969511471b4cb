"""Receptive fields: the arithmetic checked against input gradients, which are exactly zero outside it."""
from __future__ import annotations

import numpy as np
import pytest
import torch
from torch import nn

from explorer.analysis.receptive_field import GROUPNORM, SELF_ATTENTION, depth_profile, effective, theoretical
from explorer.naive import NaiveCNN
from explorer.unet import UNet, UNetConfig

TWO_LEVELS = UNetConfig(image_size=32, base_channels=8, channel_mults=(1, 2), attention_resolutions=(),
                        num_groups=4, dropout=0.0)
THREE_LEVELS = UNetConfig(image_size=64, base_channels=8, channel_mults=(1, 2, 2), num_res_blocks=2,
                          attention_resolutions=(16,), num_heads=2, num_groups=4, dropout=0.0)
# One level: every field stays smaller than the image, so the decoder's boxes are checked, not clipped away.
ONE_LEVEL = UNetConfig(image_size=64, base_channels=8, channel_mults=(1,), attention_resolutions=(),
                       num_groups=4, dropout=0.0)


@pytest.fixture(autouse=True, scope="module")
def one_thread():
    # The CPU is shared: two threads waiting on each other make these small passes ten times slower.
    previous = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(previous)


@pytest.fixture(scope="module")
def pair():
    from explorer.weights import load_pair
    return load_pair()


def build(config: UNetConfig, groupnorm: bool = False) -> UNet:
    """Random weights; without GroupNorm (each replaced by the identity) no unit sees the whole image through it."""
    torch.manual_seed(0)
    model = UNet(config)
    if not groupnorm:
        for module in list(model.modules()):
            for name, child in list(module.named_children()):
                if isinstance(child, nn.GroupNorm):
                    setattr(module, name, nn.Identity())
    return model.eval().requires_grad_(False)


def upsample_allowance(model: UNet) -> dict[str, int]:
    """How far the arithmetic may overshoot one unit's true field on each side: nearest ×2 adds j/2 per upsampling.

    The arithmetic bounds both parities of upsampled units with one interval; a unit of
    either parity falls short of it by at most the sum of the halved jumps upstream.
    """
    fields = theoretical(model)
    allowance, out = 0, {}
    for block in model.blocks():
        if block.kind == "up":
            allowance += fields[block.name].jump  # the jump after ×2 is half the jump before
        out[block.name] = 0 if block.kind == "skip" else allowance
    return out


def test_naive_cnn_sees_11_pixels():
    fields = theoretical(NaiveCNN())
    assert fields["layer5"].size == 11
    assert (fields["layer5"].start, fields["layer5"].end, fields["layer5"].jump) == (-5, 5, 1)
    assert depth_profile(NaiveCNN()) == [("layer1", 3), ("layer2", 5), ("layer3", 7), ("layer4", 9), ("layer5", 11)]
    assert fields["layer5"].global_via == ()


def test_shipped_unet_fields_grow_down_the_encoder_and_flag_global_paths(pair):
    fields = theoretical(pair.unet)
    assert not fields["time_mlp"].spatial
    assert (fields["in_conv"].size, fields["enc1"].size, fields["enc1.down"].size) == (3, 7, 9)
    assert fields["enc4.down"].jump == 16 and fields["out"].jump == 1
    assert fields["out"].size > 64 and fields["out"].size_clipped == 64
    assert fields["in_conv"].global_via == ()
    assert fields["enc1"].global_via == (GROUPNORM,)
    assert fields["enc4.attn"].global_via == (SELF_ATTENTION, GROUPNORM)
    assert SELF_ATTENTION not in fields["skip1"].global_via  # the skip leaves before any attention
    sizes = [size for _, size in depth_profile(pair.unet)]
    assert sizes == sorted(sizes)


@pytest.mark.parametrize("config", [TWO_LEVELS, THREE_LEVELS, ONE_LEVEL],
                         ids=["32px-2-levels", "64px-3-levels-2-res-blocks", "64px-1-level"])
def test_gradients_stay_inside_the_theoretical_box_and_reach_its_edges(config):
    model = build(config)
    side = config.image_size
    x_t = torch.randn(1, 3, side, side, generator=torch.Generator().manual_seed(1))
    allowance = upsample_allowance(model)
    interior = (side // 2 + 1, side // 2 - 3)
    for block in model.blocks()[1:]:  # all but time_mlp
        for y, x in (interior, (0, 0), (side - 1, side - 1)):
            result = effective(model, x_t, 10, y, x, block=block.name, probe_kwargs={"attention": False})
            y0, y1, x0, x1 = result.box
            outside = result.grad.copy()
            outside[y0:y1 + 1, x0:x1 + 1] = 0
            assert not outside.any(), f"{block.name} at {(y, x)}: gradient outside the box {result.box}"
            gaps = np.abs(np.subtract(result.support_box, result.box))
            if (y, x) == interior:
                assert gaps.max() <= allowance[block.name], (
                    f"{block.name}: box {result.box} is looser than the measured support {result.support_box}")
            elif allowance[block.name] == 0:
                assert result.support_box == result.box, f"{block.name} at corner {(y, x)}"


def test_trained_naive_cnn_never_sees_beyond_11_by_11(pair):
    x_t = torch.randn(1, 3, 64, 64, generator=torch.Generator().manual_seed(2))
    for y, x in [(32, 32), (0, 0), (0, 63), (63, 0), (63, 63), (5, 40), (20, 2)]:
        result = effective(pair.naive, x_t, 500, y, x)
        assert result.box == (max(0, y - 5), min(63, y + 5), max(0, x - 5), min(63, x + 5))
        y0, y1, x0, x1 = result.support_box
        assert y0 >= y - 5 and y1 <= y + 5 and x0 >= x - 5 and x1 <= x + 5, f"support {result.support_box} at {(y, x)}"
        assert result.outside_fraction == 0.0
        assert result.radius_50 <= result.radius_90 <= 5
    assert result.support > 50  # a real field, not an all-zero gradient


def test_trained_unet_bottleneck_sees_every_pixel(pair):
    x_t = torch.randn(1, 3, 64, 64, generator=torch.Generator().manual_seed(3))
    for block in ("mid.attn", None):
        result = effective(pair.unet, x_t, 500, 32, 32, block=block)
        assert result.support == 64 * 64, f"{result.block} reaches only {result.support} pixels"


def test_self_attention_alone_reaches_every_pixel():
    model = build(ONE_LEVEL)
    x_t = torch.randn(1, 3, 64, 64, generator=torch.Generator().manual_seed(4))
    local = effective(model, x_t, 10, 32, 32, block="mid.attn", probe_kwargs={"attention": False})
    assert local.field.size == 17 and local.support == 17 * 17
    attending = effective(model, x_t, 10, 32, 32, block="mid.attn")
    assert attending.support == 64 * 64 and attending.outside_fraction > 0


def test_groupnorm_statistics_alone_reach_every_pixel():
    model = build(ONE_LEVEL, groupnorm=True)
    x_t = torch.randn(1, 3, 64, 64, generator=torch.Generator().manual_seed(5))
    result = effective(model, x_t, 10, 32, 32, block="enc1", probe_kwargs={"attention": False})
    assert result.field.size == 7 and result.field.global_via == (GROUPNORM,)
    assert result.support == 64 * 64


def test_effective_leaves_the_shared_model_untouched(pair):
    before = {name: value.clone() for name, value in pair.unet.state_dict().items()}
    effective(pair.unet, torch.zeros(1, 3, 64, 64), 100, 10, 20, block="enc2")
    assert all(not p.requires_grad and p.grad is None for p in pair.unet.parameters())
    assert all(not m._forward_hooks and not m._forward_pre_hooks for m in pair.unet.modules())
    assert all(torch.equal(before[name], value) for name, value in pair.unet.state_dict().items())


@pytest.mark.parametrize("y, x, message", [
    (-1, 5, "outside the image"),
    (5, 64, "outside the image"),
    (3.5, 5, "whole pixel index"),
    ("3", 5, "whole pixel index"),
    (True, 5, "whole pixel index"),
    (None, 5, "whole pixel index"),
])
def test_bad_coordinates_are_refused(y, x, message):
    with pytest.raises(ValueError, match=message):
        effective(NaiveCNN().eval(), torch.zeros(1, 3, 64, 64), 0, y, x)


def test_bad_blocks_and_inputs_are_refused():
    model = build(TWO_LEVELS)
    x_t = torch.zeros(1, 3, 32, 32)
    with pytest.raises(ValueError, match="unknown block 'enc9'"):
        effective(model, x_t, 0, 1, 1, block="enc9")
    with pytest.raises(ValueError, match="no spatial position"):
        effective(model, x_t, 0, 1, 1, block="time_mlp")
    with pytest.raises(ValueError, match=r"shape \(1, C, H, W\)"):
        effective(model, torch.zeros(3, 32, 32), 0, 1, 1)
    with pytest.raises(ValueError, match="record and keep_grad"):
        effective(model, x_t, 0, 1, 1, probe_kwargs={"record": "*"})
