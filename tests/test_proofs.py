"""The "Part by part" measurements: probe arguments, gradient highways, concatenation, bypass, attention,
time conditioning, their views and the evaluation's sections."""
from __future__ import annotations

import copy
import threading

import numpy as np
import pytest
import torch
from torch import nn

from explorer import evaluate
from explorer.analysis import attention, concat, gradients, timecond
from explorer.analysis.denoise import make_noise
from explorer.diffusion import Diffusion
from explorer.naive import NaiveCNN
from explorer.probe import Probe
from explorer.unet import UNet, UNetConfig
from explorer.views import denoising, proofs
from explorer.views.memo import Memo


@pytest.fixture(autouse=True, scope="module")
def one_thread():
    """One torch thread, as each app request gets: on a busy shared machine, idle-spinning OpenMP threads
    make these small models many times slower."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


@pytest.fixture
def tiny(tiny_config) -> UNet:
    torch.manual_seed(0)
    return UNet(tiny_config).eval().requires_grad_(False)


def batch(config: UNetConfig, count: int = 2, seed: int = 0) -> tuple[torch.Tensor, torch.Tensor]:
    generator = torch.Generator().manual_seed(seed)
    shape = (count, 3, config.image_size, config.image_size)
    return torch.rand(shape, generator=generator) * 2 - 1, torch.randn(shape, generator=generator)


@pytest.fixture(scope="module")
def image(ctx) -> np.ndarray:
    return ctx.image(ctx.examples[3])


# --- gradient highways ------------------------------------------------------------------------------------------

def direct_norms(model: UNet, x_t, t, eps, probe: Probe) -> dict[str, float]:
    """The same measurement written plainly: backward() on a copy, then sum the squared .grad per block."""
    private = copy.deepcopy(model).requires_grad_(True)
    loss = (private(x_t, t, probe=probe) - eps).pow(2).mean()
    loss.backward()
    parameters = dict(private.named_parameters())
    return {block: float(sum(parameters[name].grad.pow(2).sum() for name in names).sqrt())
            for block, names in gradients.block_parameters(private).items()}


def test_gradient_norms_equal_direct_autograd(tiny):
    diffusion = Diffusion()
    x0, eps = batch(tiny.config, 3)
    t = torch.tensor([10, 500, 900])
    result = gradients.gradient_norms(tiny, diffusion, x0, eps, t)
    x_t = diffusion.q_sample(x0, t, eps)
    for variant, probe in (("intact", Probe()), ("skips_cut", Probe(zero_skips=frozenset({1, 2})))):
        expected = direct_norms(tiny, x_t, t, eps, probe)
        assert result.blocks == list(expected)
        assert result.norms[variant] == pytest.approx([expected[name] for name in result.blocks], rel=1e-4)
    # The blocks come in diagram order and every parameter belongs to one of them.
    assert result.blocks[0] == "time_mlp" and result.blocks[-1] == "out"
    assert result.relative("intact")[-1] == pytest.approx(1.0)


def test_the_shared_model_is_left_alone(tiny):
    before = {name: parameter.clone() for name, parameter in tiny.state_dict().items()}
    x0, eps = batch(tiny.config)
    gradients.gradient_norms(tiny, Diffusion(), x0, eps, 250)
    gradients.gradient_norms(tiny, Diffusion(), x0, eps, 250, fresh=True)
    assert not any(parameter.requires_grad for parameter in tiny.parameters())
    assert all(parameter.grad is None for parameter in tiny.parameters())
    assert all(torch.equal(before[name], value) for name, value in tiny.state_dict().items())


def test_concurrent_gradient_requests_agree(tiny):
    x0, eps = batch(tiny.config)
    expected = gradients.gradient_norms(tiny, Diffusion(), x0, eps, 250).norms
    results = []

    def run():
        results.append(gradients.gradient_norms(tiny, Diffusion(), x0, eps, 250).norms)

    threads = [threading.Thread(target=run) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert all(result == expected for result in results)


def test_cutting_every_skip_starves_enc1_at_random_init():
    model = gradients.fresh_unet(UNetConfig())
    x0, eps = batch(model.config, 4)
    result = gradients.gradient_norms(model, Diffusion(), x0, eps, 250, fresh=True)
    enc1 = result.blocks.index("enc1")
    assert result.norms["skips_cut"][enc1] < result.norms["intact"][enc1]
    assert proofs.enc1_ratio(result.blocks, result.norms["intact"], result.norms["skips_cut"]) > 1


def test_fresh_init_is_fixed(tiny_config):
    first, second = gradients.fresh_unet(tiny_config), gradients.fresh_unet(UNetConfig(**tiny_config.to_dict()))
    assert first is second  # made once per config
    torch.manual_seed(123)
    rebuilt = UNet(tiny_config)
    torch.manual_seed(gradients.FRESH_SEED)
    reference = UNet(tiny_config)
    assert all(torch.equal(a, b) for a, b in zip(first.state_dict().values(), reference.state_dict().values()))
    assert not all(torch.equal(a, b) for a, b in zip(first.state_dict().values(), rebuilt.state_dict().values()))


# --- concatenation ------------------------------------------------------------------------------------------------

@pytest.mark.parametrize("half", ["skip", "up"])
@pytest.mark.parametrize("replacement", ["zero", "mean"])
@pytest.mark.parametrize("level", [1, 2])
def test_replacing_one_half_changes_the_output_and_is_recorded(tiny, half, replacement, level):
    x, _ = batch(tiny.config)
    t = torch.tensor([100, 700])
    names = {"skip": f"skip{level}", "up": f"dec{level}.up"}
    intact = Probe(record="*")
    reference = tiny(x, t, probe=intact)
    probe = Probe(record="*", zero_concat={level: (half, replacement)})
    output = tiny(x, t, probe=probe)
    assert not torch.allclose(output, reference)
    replaced, original = probe.outputs[names[half]], intact.outputs[names[half]]
    if replacement == "zero":
        assert torch.count_nonzero(replaced) == 0
    else:
        mean = original.mean(dim=(2, 3), keepdim=True)  # (B, C, 1, 1)
        assert torch.allclose(replaced, mean.expand_as(original))
    other = names["up" if half == "skip" else "skip"]
    assert torch.equal(probe.outputs[other], intact.outputs[other])


def test_concat_bookkeeping(ctx):
    channels = concat.channels(ctx.pair.unet)
    assert channels[1] == {"up": 64, "skip": 32, "out": 32}
    for level, entry in channels.items():
        decoder = ctx.spec(f"dec{level}")
        assert decoder.input_shape[0] == entry["up"] + entry["skip"]
        assert decoder.output_shape[0] == entry["out"]


# --- the bottleneck bypassed ----------------------------------------------------------------------------------------

class PassThrough(nn.Module):
    def forward(self, x, *args, **kwargs):
        return x


def test_bypass_equals_a_hand_built_forward(tiny):
    x, _ = batch(tiny.config)
    t = torch.tensor([3, 800])
    hand_built = copy.deepcopy(tiny)
    hand_built.mid_res1, hand_built.mid_attn, hand_built.mid_res2 = PassThrough(), PassThrough(), PassThrough()
    probe = Probe(bypass_mid=True, record={"mid.res2", "enc2.down"})
    assert torch.equal(tiny(x, t, probe=probe), hand_built(x, t))
    assert torch.equal(probe.outputs["mid.res2"], probe.outputs["enc2.down"])  # the bottleneck passed it through
    assert not torch.allclose(tiny(x, t), hand_built(x, t))


def test_knockouts_carry_the_bypass():
    knockouts = denoising.Knockouts(bypass_mid=True)
    assert knockouts.active and knockouts.probe().bypass_mid
    assert "bottleneck bypassed" in knockouts.describe()
    assert not denoising.Knockouts().probe().bypass_mid


# --- attention ------------------------------------------------------------------------------------------------------

def test_attention_rows_sum_to_one_and_maps_have_the_block_resolution(ctx, image):
    _, x_t, _ = ctx.x_t(image, 300, 1)
    unet = ctx.pair.unet
    assert attention.attention_blocks(unet) == ["enc4.attn", "mid.attn", "dec4.attn"]
    probe = Probe(record_attention={"enc4.attn", "mid.attn", "dec4.attn"})
    explicit = unet(x_t, torch.tensor([300]), probe=probe)
    assert torch.allclose(explicit, unet(x_t, torch.tensor([300])), atol=1e-5)  # the same as the fused kernel
    for name, side in (("enc4.attn", 8), ("mid.attn", 4), ("dec4.attn", 8)):
        weights = probe.attention_weights[name]  # (1, heads, HW, HW)
        assert weights.shape == (1, 4, side * side, side * side)
        assert torch.allclose(weights.sum(-1), torch.ones(1, 4, side * side), atol=1e-5)
        maps = attention.attention_maps(unet, x_t, 300, name, side - 1, 0)
        assert maps.heads.shape == (4, side, side) and maps.mean.shape == (side, side)
        assert torch.allclose(maps.heads.flatten(1).sum(1), torch.ones(4), atol=1e-5)
        assert maps.max_entropy == pytest.approx(np.log2(side * side))
        assert bool(((maps.entropy >= 0) & (maps.entropy <= maps.max_entropy + 1e-4)).all())


def test_attention_only_when_asked(tiny):
    x, _ = batch(tiny.config)
    probe = Probe()
    tiny(x, torch.tensor([5, 5]), probe=probe)
    assert probe.attention_weights == {}


def test_attention_view_places_the_query(ctx, image):
    view = proofs.attention(ctx, image, 250, 0, "mid.attn", 63, 0)
    assert view.maps.query == (3, 0) and view.maps.resolution == 4
    html = proofs.attention_html(view)
    assert html.count("<img") == 5 and 'width="192"' in html  # 64 px pictures shown 3 times larger
    picker = proofs.attention_picker(ctx, image, 250, 0, "enc4.attn", 10, 50)
    assert 'data-side="64"' in picker and "row 1, column 6" in picker


@pytest.mark.parametrize("block, y, x, message", [
    ("enc1", 0, 0, "unknown attention block"),
    ("nope", 0, 0, "unknown attention block"),
    ("mid.attn", 4, 0, "outside mid.attn's 4×4 map"),
    ("enc4.attn", 0, -1, "outside"),
    ("dec4.attn", 1.5, 0, "outside"),
])
def test_bad_attention_queries_get_clear_errors(ctx, image, block, y, x, message):
    _, x_t, _ = ctx.x_t(image, 250, 0)
    with pytest.raises(ValueError, match=message):
        attention.attention_maps(ctx.pair.unet, x_t, 250, block, y, x)


def test_bad_view_inputs_get_clear_errors(ctx, image):
    with pytest.raises(ValueError, match="outside the 64×64 image"):
        proofs.attention(ctx, image, 250, 0, "mid.attn", 64, 3)
    with pytest.raises(ValueError, match="unknown attention block"):
        proofs.attention(ctx, image, 250, 0, "mid.res1", 3, 3)
    with pytest.raises(ValueError, match="naive CNN has no skips"):
        gradients.gradient_norms(NaiveCNN(), Diffusion(), *batch(UNetConfig(), 1), 250)
    _, x_t, _ = ctx.x_t(image, 250, 0)
    with pytest.raises(ValueError, match="switched off"):
        attention.attention_maps(ctx.pair.unet, x_t, 250, "mid.attn", 1, 1, probe=Probe(attention=False))


@pytest.mark.parametrize("zero_concat, message", [
    ({1: ("left", "zero")}, "'skip' or 'up'"),
    ({1: ("skip", "noise")}, "'zero' or 'mean'"),
    ({0: ("skip", "zero")}, "decoder levels"),
    ({1: "skip"}, "pair"),
])
def test_bad_probe_arguments(zero_concat, message):
    with pytest.raises(ValueError, match=message):
        Probe(zero_concat=zero_concat)


def test_a_level_the_model_lacks(tiny):
    with pytest.raises(ValueError, match="levels 1 … 2"):
        tiny(*batch(tiny.config)[:1], torch.tensor([1, 1]), probe=Probe(zero_concat={3: ("up", "zero")}))


# --- time conditioning ------------------------------------------------------------------------------------------------

def test_the_naive_cnn_is_bit_for_bit_t_blind(ctx, image):
    _, x_t, _ = ctx.x_t(image, 250, 0)
    first, second = timecond.told_other_t(ctx.pair.naive, x_t, 3, 990)
    assert torch.equal(first, second)
    first, second = timecond.told_other_t(ctx.pair.unet, x_t, 3, 990)
    assert not torch.equal(first, second)
    view = proofs.time_view(ctx, image, 250, 0, 999)
    assert view.naive_identical and not view.unet_identical
    assert "bit for bit identical" in proofs.time_markdown(view, ctx.metrics)


def test_time_vectors_are_what_the_blocks_add(tiny):
    x, _ = batch(tiny.config)
    t = torch.tensor([10, 900])
    probe = Probe(record_time="*")
    tiny(x, t, probe=probe)
    assert list(probe.time_vectors) == timecond.resblock_names(tiny)
    emb = tiny.time_mlp(t)
    block = tiny.encoder[0].res[0]
    expected = block.time_proj(torch.nn.functional.silu(emb))
    assert torch.allclose(probe.time_vectors["enc1"], expected)
    shifts = timecond.time_shift(tiny, x, t)
    feature_norm = probe.time_features["enc1"].flatten(1).norm(dim=1)
    size = probe.time_features["enc1"].shape[-1] ** 2
    assert torch.allclose(shifts["enc1"], expected.norm(dim=1) * size ** 0.5 / feature_norm)


def test_shift_table_for_one_image_matches_the_batched_one(tiny):
    diffusion = Diffusion()
    x0, eps = batch(tiny.config, 1)
    one = timecond.image_shift_table(tiny, diffusion, x0, eps, (10, 500))
    many = timecond.shift_table(tiny, diffusion, x0, eps, (10, 500))
    assert one["blocks"] == many["blocks"]
    assert np.allclose(one["shift"], many["shift"], rtol=1e-4)


# --- views and the evaluation ---------------------------------------------------------------------------------------

def test_views_from_the_shipped_weights(ctx, image):
    view = proofs.gradients(ctx, image, 250, 0, batch=2)
    text = proofs.gradients_markdown(view, ctx.metrics)
    assert "gradient reaching enc1 is" in text
    figure = proofs.gradients_live_figure(view)
    assert [trace["x"] for trace in figure["data"]][0][:3] == ["time_mlp", "in_conv", "enc1"]
    errors = proofs.concat_live(ctx, image, 250, 0)
    table = proofs.concat_markdown(ctx, errors, 250)
    assert "96 = 64 upsampled (dec1.up) + 32 from skip1, mixed down to 32" in table
    assert all(errors[level]["skip_zero"] != errors[level]["intact"] for level in errors)
    live = proofs.bottleneck_live(ctx, image, 250, 0)
    assert set(live) == set(proofs.BOTTLENECK_ROWS)
    assert "This image at t = 250" in proofs.bottleneck_markdown(live, 250, ctx.metrics)


def test_measured_parts_are_kept_per_image_t_and_seed(ctx, image):
    """The tab's three measured parts are computed once per (image, t, seed) and equal a direct computation."""
    first = proofs.measured_parts(ctx, image, 250, 0)
    assert proofs.measured_parts(ctx, image, 250, 0) is first
    assert proofs.concat_live(ctx, image, 250, 0) == first[1]
    assert proofs.bottleneck_live(ctx, image, 250, 0) == first[2]
    assert proofs.measured_parts(ctx, image, 251, 0) is not first
    assert proofs.measured_parts(ctx, image[::-1].copy(), 250, 0) is not first


def test_a_memo_keeps_its_most_recent_values_only():
    memo, calls = Memo(2), []

    def compute(value):
        calls.append(value)
        return value * 10

    assert [memo.get(key, lambda k=key: compute(k)) for key in (1, 2, 1, 3, 1, 2)] == [10, 20, 10, 30, 10, 20]
    assert calls == [1, 2, 3, 2]  # 1 was used again before 3 came, so 2 went first
    assert len(memo) == 2


def knockout_section(bypass: list[float], skip1: list[float]) -> dict:
    intact = [0.1, 0.05, 0.01, 0.004, 0.0003]
    return {"timesteps": [10, 50, 250, 500, 900],
            "eps_mse": {"intact": intact, "bottleneck bypassed": [b * i for b, i in zip(bypass, intact)],
                        "skip1 cut": [s * i for s, i in zip(skip1, intact)]}}


def test_the_verdict_follows_the_numbers():
    # Multipliers; the verdict reads the error each knock-out adds (multiplier − 1, times the intact error).
    against = proofs.bottleneck_verdict(knockout_section([1.1, 1.3, 1.6, 2.0, 1.03], [13, 25, 66, 200, 2700]))
    assert "agrees only in part" in against and "the bottleneck does not matter most at large t" in against
    assert "costs the most at small t, as the lesson says" in against and "×2,700" in against
    agrees = proofs.bottleneck_verdict(knockout_section([1.0, 1.0, 1.0, 1.0, 1000.0], [30, 20, 10, 5, 2]))
    assert "agrees with the lesson" in agrees and "against the lesson" not in agrees
    assert "not computed yet" in proofs.bottleneck_verdict(None)


def test_evaluation_sections_keep_their_keys(tiny):
    diffusion = Diffusion()
    x0, _ = batch(tiny.config, 3)
    section = evaluate.evaluate_gradients(tiny, x0, diffusion, 0, timesteps=(10, 900), images=2)
    assert section["images"] == 2 and section["timesteps"] == [10, 900]
    assert section["blocks"][-1] == "out"
    for source in ("trained", "random_init"):
        assert set(section[source]) >= {"intact", "skips_cut"}
        assert len(section[source]["intact"]) == len(section["blocks"])
    section = evaluate.evaluate_concat(tiny, x0, diffusion, 0, timesteps=(10, 900), batch_size=2)
    assert set(section["levels"]) == {"1", "2"}
    assert section["levels"]["1"]["channels"] == {"up": 16, "skip": 8, "out": 8}
    assert set(section["levels"]["1"]["eps_mse"]) == {"intact", "skip_zero", "up_zero", "skip_mean", "up_mean"}
    assert all(len(values) == 2 for values in section["levels"]["2"]["eps_mse"].values())
    section = evaluate.evaluate_time_conditioning(tiny, x0, diffusion, 0, batch_size=2)
    assert section["blocks"] == timecond.resblock_names(tiny)
    assert np.array(section["shift"]).shape == (len(section["blocks"]), len(section["timesteps"]))
    knockouts = evaluate.evaluate_knockouts(tiny, x0, diffusion, 0, timesteps=(10,))
    assert "bottleneck bypassed" in knockouts["eps_mse"]
    card = proofs.model_card_markdown({"knockouts": knockouts, "images": 3})
    assert "bottleneck" in card


def test_same_noise_as_the_app(ctx, image):
    """The gradient batch's first noise is exactly the app's ε for the seed."""
    _, _, eps = ctx.x_t(image, 250, 7)
    from explorer.views.proofs.compute import _noise_batch  # the module's own helper, not the package's API

    assert torch.equal(_noise_batch(7, 3, (3, 64, 64))[:1], eps)
    assert torch.equal(eps, make_noise(7, (1, 3, 64, 64)))
