"""The denoiser interface: our U-Net, the naive CNN and a diffusers UNet2DModel behind `DiffusersUNet`.

Tiny random UNet2DModels (8–32 channels, 32×32) so that each test runs in well under a second. Every knock-out is
checked against a reference written with diffusers' own blocks, not with the adapter's hooks.
"""
from __future__ import annotations

import copy
import threading

import pytest
import torch

from explorer import denoiser
from explorer.analysis.structure import describe
from explorer.diffusion import Diffusion
from explorer.naive import NaiveCNN
from explorer.probe import Probe
from explorer.unet import UNet

diffusers = pytest.importorskip("diffusers")
from explorer.diffusers_unet import DiffusersUNet, UnsupportedModel, check_config  # noqa: E402

TINY = dict(sample_size=32, block_out_channels=(8, 16, 16), layers_per_block=2, norm_num_groups=4,
            attention_head_dim=4, down_block_types=("DownBlock2D", "AttnDownBlock2D", "DownBlock2D"),
            up_block_types=("UpBlock2D", "AttnUpBlock2D", "UpBlock2D"))
# diffusers' other block families: ResNets that resample (and scale-shift time conditioning) …
RESNET_SAMPLING = dict(sample_size=32, block_out_channels=(8, 16), layers_per_block=1, norm_num_groups=4,
                       attention_head_dim=4, down_block_types=("ResnetDownsampleBlock2D", "AttnDownBlock2D"),
                       up_block_types=("AttnUpBlock2D", "ResnetUpsampleBlock2D"), downsample_type="resnet",
                       upsample_type="resnet", resnet_time_scale_shift="scale_shift")
# … and NCSN++'s skip blocks (an image pyramid beside the features) with a Fourier time embedding
SKIP_BLOCKS = dict(sample_size=32, block_out_channels=(32, 64), layers_per_block=1, norm_num_groups=4,
                   attention_head_dim=8, down_block_types=("SkipDownBlock2D", "AttnSkipDownBlock2D"),
                   up_block_types=("AttnSkipUpBlock2D", "SkipUpBlock2D"), time_embedding_type="fourier")


def tiny_unet2d(config: dict = TINY, seed: int = 0):
    torch.manual_seed(seed)
    return diffusers.UNet2DModel(**config).eval()


@pytest.fixture(scope="module")
def adapter() -> DiffusersUNet:
    return DiffusersUNet(tiny_unet2d()).eval().requires_grad_(False)


def inputs(batch: int = 2, size: int = 32) -> tuple[torch.Tensor, torch.Tensor]:
    generator = torch.Generator().manual_seed(3)
    return torch.randn(batch, 3, size, size, generator=generator), torch.tensor([10, 600][:batch])


def reference(unet, x, t, zero_skip: int | None = None) -> torch.Tensor:
    """UNet2DModel.forward for plain blocks, written out with the skip `zero_skip` (1-based, push order) zeroed."""
    emb = unet.time_embedding(unet.time_proj(t))
    h = unet.conv_in(x)
    pushed = [h]
    for block in unet.down_blocks:
        h, outputs = block(hidden_states=h, temb=emb)
        pushed += list(outputs)
    if zero_skip is not None:
        pushed[zero_skip - 1] = torch.zeros_like(pushed[zero_skip - 1])
    h = unet.mid_block(h, emb)
    for block in unet.up_blocks:
        count = len(block.resnets)
        h, pushed = block(h, tuple(pushed[-count:]), emb), pushed[:-count]
    return unet.conv_out(unet.conv_act(unet.conv_norm_out(h)))


# --- the interface ----------------------------------------------------------------------------------------------------

def test_every_model_is_a_denoiser(tiny_config, adapter):
    for model in (UNet(tiny_config), NaiveCNN(), adapter):
        assert isinstance(model, denoiser.Denoiser)
        assert model.in_channels == 3 and model.image_size > 0
    unet = UNet(tiny_config)
    assert [(block.name, block.source, block.target) for block in denoiser.skips(unet)] == [
        ("skip1", "enc1", "dec1"), ("skip2", "enc2", "dec2")]
    assert denoiser.bottleneck(unet) == ["mid.res1", "mid.attn", "mid.res2"]
    assert unet.time_embedding(torch.tensor([5])).shape == (1, tiny_config.time_emb_dim)
    assert NaiveCNN().time_embedding(torch.tensor([5])) is None and denoiser.skips(NaiveCNN()) == []


def test_the_adapter_returns_the_models_output_unchanged(adapter):
    x, t = inputs()
    with torch.no_grad():
        expected = adapter.unet(x, t).sample
        assert torch.equal(adapter(x, t), expected)
        assert torch.equal(adapter(x, t, Probe(record="*", record_time="*",
                                               record_attention=set(denoiser.attention_blocks(adapter)))), expected)


def test_blocks_follow_diffusers_names_and_the_skips_their_sources(adapter):
    names = [block.name for block in adapter.blocks()]
    modules = dict(adapter.unet.named_modules())
    assert all(name in modules for name in names if not name.startswith("skip"))
    assert names[:3] == ["time_embedding", "conv_in", "down_blocks.0.resnets.0"] and names[-1] == "conv_out"
    assert "down_blocks.1.attentions.1" in names and "mid_block.attentions.0" in names
    skips = denoiser.skips(adapter)
    # conv_in, then per level: 2 layers + the downsampler (none after the last level)
    assert len(skips) == adapter.num_skips == 1 + 3 * 2 + 2
    assert skips[0].source == "conv_in" and skips[0].target == "up_blocks.2.resnets.2"
    assert skips[-1].source == "down_blocks.2.resnets.1" and skips[-1].target == "up_blocks.0.resnets.0"
    assert {block.target for block in skips} == {f"up_blocks.{i}.resnets.{j}" for i in range(3) for j in range(3)}
    for skip in skips:  # each skip sits just before the ResNet that receives it
        assert names[names.index(skip.name) + 1] == skip.target
    # the recorded skip is its source's recorded output, tensor for tensor
    probe = Probe(record="*")
    with torch.no_grad():
        adapter(*inputs(), probe=probe)
    assert set(probe.outputs) == set(names)
    for skip in skips:
        assert torch.equal(probe.outputs[skip.name], probe.outputs[skip.source]), skip.name


def test_shapes_and_parameters_from_structure_describe(adapter):
    specs = {spec.name: spec for spec in describe(adapter, adapter.image_size)}
    assert specs["conv_in"].output_shape == (8, 32, 32)
    assert specs["down_blocks.1.attentions.0"].output_shape == (16, 16, 16)
    assert specs["skip1"].output_shape == (8, 32, 32) and specs["skip1"].parameters == 0
    assert specs["up_blocks.2.resnets.2"].input_shape == (8 + 8, 32, 32)  # h and skip1, concatenated
    assert sum(spec.parameters for spec in specs.values()) <= sum(p.numel() for p in adapter.parameters())


# --- knock-outs -------------------------------------------------------------------------------------------------------

@pytest.mark.parametrize("skip", [1, 4, 7, 9])
def test_a_skip_knockout_blanks_exactly_that_skip(adapter, skip):
    x, t = inputs()
    probe = Probe(zero_skips={skip}, record={f"skip{skip}"})
    with torch.no_grad():
        knocked = adapter(x, t, probe)
        assert torch.allclose(knocked, reference(adapter.unet, x, t, zero_skip=skip), atol=1e-6)
        assert not torch.allclose(knocked, adapter(x, t), atol=1e-4)
    assert probe.outputs[f"skip{skip}"].abs().max() == 0  # recorded as the decoder receives it


def test_attention_off_bottleneck_bypassed_and_told_t(adapter):
    x, t = inputs()
    no_attention, no_mid = copy.deepcopy(adapter.unet), copy.deepcopy(adapter.unet)
    for name in denoiser.attention_blocks(adapter):
        no_attention.get_submodule(name).forward = lambda hidden_states, *args, **kwargs: hidden_states
    no_mid.mid_block.forward = lambda hidden_states, temb=None: hidden_states
    with torch.no_grad():
        assert torch.allclose(adapter(x, t, Probe(attention=False)), no_attention(x, t).sample, atol=1e-6)
        probe = Probe(bypass_mid=True, record={"mid_block.resnets.1", "down_blocks.2.resnets.1"})
        assert torch.allclose(adapter(x, t, probe), no_mid(x, t).sample, atol=1e-6)
        assert torch.equal(probe.outputs["mid_block.resnets.1"], probe.outputs["down_blocks.2.resnets.1"])
        assert torch.equal(adapter(x, t, Probe(timestep=999)), adapter.unet(x, torch.tensor([999, 999])).sample)
    with pytest.raises(ValueError, match="skip1 … skip9"):
        adapter(x, t, Probe(zero_skips={10}))


def test_concat_halves_by_skip_number(adapter):
    x, t = inputs()
    probe = Probe(zero_concat={1: ("skip", "mean")}, record={"skip1", "conv_in"})
    with torch.no_grad():
        adapter(x, t, probe)
    assert torch.allclose(probe.outputs["skip1"], probe.outputs["conv_in"].mean(dim=(2, 3), keepdim=True)
                          .expand_as(probe.outputs["conv_in"]))


# --- attention maps, time ---------------------------------------------------------------------------------------------

def test_attention_weights_rebuild_the_blocks_output(adapter):
    name = "down_blocks.1.attentions.0"
    probe = Probe(record={name, "down_blocks.1.resnets.0"}, record_attention={name})
    with torch.no_grad():
        adapter(*inputs(), probe=probe)
        weights = probe.attention_weights[name]  # (B, heads, HW, HW)
        assert weights.shape == (2, 4, 16 * 16, 16 * 16)
        assert torch.allclose(weights.sum(-1), torch.ones(2, 4, 256), atol=1e-5)
        attention, h = adapter.unet.get_submodule(name), probe.outputs["down_blocks.1.resnets.0"]
        tokens = attention.group_norm(h.reshape(2, 16, 256)).transpose(1, 2)  # (B, HW, C)
        values = attention.to_v(tokens).reshape(2, 256, 4, 4).transpose(1, 2)  # (B, heads, HW, d)
        mixed = (weights @ values).transpose(1, 2).reshape(2, 256, 16)  # (B, HW, C)
        rebuilt = attention.to_out[0](mixed).transpose(1, 2).reshape(2, 16, 16, 16) + h
        assert torch.allclose(rebuilt / attention.rescale_output_factor, probe.outputs[name], atol=1e-5)


def test_time_embedding_and_time_vectors(adapter):
    x, t = inputs()
    probe = Probe(record={"time_embedding"}, record_time="*")
    with torch.no_grad():
        adapter(x, t, probe)
        assert torch.allclose(adapter.time_embedding(t), probe.outputs["time_embedding"])
    assert set(probe.time_vectors) == set(denoiser.resnets(adapter))
    name = "up_blocks.1.resnets.0"
    assert probe.time_vectors[name].shape == (2, 16) and probe.time_features[name].shape == (2, 16, 16, 16)


# --- sharing one model between threads --------------------------------------------------------------------------------

def test_concurrent_calls_keep_their_own_probes(adapter):
    x, t = inputs()
    hooks = sum(len(module._forward_hooks) + len(module._forward_pre_hooks) for module in adapter.modules())
    with torch.no_grad():
        expected = {skip: adapter(x, t, Probe(zero_skips={skip} if skip else set())) for skip in (0, 1, 5)}
    results, barrier = {}, threading.Barrier(3)

    def run(skip: int) -> None:
        barrier.wait()
        for _ in range(5):
            probe = Probe(zero_skips={skip} if skip else set(), record={f"skip{skip or 2}"})
            with torch.no_grad():
                out = adapter(x, t, probe)
            results.setdefault(skip, []).append((out, set(probe.outputs)))

    threads = [threading.Thread(target=run, args=(skip,)) for skip in (0, 1, 5)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    for skip, runs in results.items():
        for out, recorded in runs:
            assert torch.equal(out, expected[skip]) and recorded == {f"skip{skip or 2}"}
    assert hooks == sum(len(module._forward_hooks) + len(module._forward_pre_hooks) for module in adapter.modules())


# --- other block families, prediction types, refusals -----------------------------------------------------------------

@pytest.mark.parametrize("config", [RESNET_SAMPLING, SKIP_BLOCKS], ids=["resnet-sampling", "skip-blocks"])
def test_other_block_families(config):
    adapter = DiffusersUNet(tiny_unet2d(config)).eval().requires_grad_(False)
    x, t = inputs()
    probe = Probe(record="*", record_time="*", record_attention=set(denoiser.attention_blocks(adapter)))
    with torch.no_grad():
        intact = adapter(x, t, probe)
        assert torch.equal(intact, adapter.unet(x, t).sample)
        for skip in denoiser.skips(adapter):
            assert not torch.allclose(adapter(x, t, Probe(zero_skips={skip.skip})), intact, atol=1e-5)
            if skip.source in probe.outputs:
                assert torch.equal(probe.outputs[skip.name], probe.outputs[skip.source])
    assert set(probe.outputs) == {block.name for block in adapter.blocks()}
    assert probe.attention_weights and probe.time_vectors


def test_v_and_x0_predictions_become_epsilon():
    unet = tiny_unet2d()
    x, t = inputs()
    for prediction_type in ("v_prediction", "sample"):
        diffusion = Diffusion(prediction_type=prediction_type)
        with torch.no_grad():
            output = unet(x, t).sample
            assert torch.allclose(DiffusersUNet(unet, diffusion)(x, t), diffusion.eps_from_output(output, x, t))


@pytest.mark.parametrize("change, words", [
    (dict(_class_name="UNet2DConditionModel"), "UNet2DConditionModel.*cross-attention"),
    (dict(class_embed_type="timestep"), "class-conditioned"),
    (dict(num_class_embeds=10), "class-conditioned"),
    (dict(in_channels=4, out_channels=4), "latent model"),
    (dict(out_channels=6), "more than the noise"),
    (dict(sample_size=512), "sample_size 512"),
    (dict(sample_size=(32, 64)), r"sample_size \(32, 64\)"),
    (dict(time_embedding_type="learned"), "learned"),
    (dict(down_block_types=("DownBlock2D", "CrossAttnDownBlock2D", "DownBlock2D")), "CrossAttnDownBlock2D"),
    (dict(up_block_types=("UpBlock2D", "KUpBlock2D", "UpBlock2D")), "KUpBlock2D"),
])
def test_unsupported_models_are_refused_with_what_is_supported(change, words):
    with pytest.raises(UnsupportedModel, match=words) as refusal:
        check_config({**TINY, **change})
    assert "AttnDownBlock2D" in str(refusal.value) and "UNet2DModel" in str(refusal.value)


def test_a_conditional_model_object_is_refused():
    model = diffusers.UNet2DConditionModel(sample_size=32, block_out_channels=(32, 64), layers_per_block=1,
                                           norm_num_groups=8, cross_attention_dim=16,
                                           down_block_types=("CrossAttnDownBlock2D", "DownBlock2D"),
                                           up_block_types=("UpBlock2D", "CrossAttnUpBlock2D"), in_channels=4,
                                           out_channels=4, attention_head_dim=8)
    with pytest.raises(UnsupportedModel, match="UNet2DConditionModel"):
        DiffusersUNet(model)
