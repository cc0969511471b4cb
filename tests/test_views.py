"""The views as the app calls them: diagram, block panel, levels, denoising lab, receptive field."""
from __future__ import annotations

import re
import threading

import numpy as np
import pytest
import torch

from explorer import weights
from explorer.analysis.activations import record
from explorer.analysis.structure import describe
from explorer.diagram import render_svg
from explorer.evaluate import evaluate
from explorer.explanations import _WHAT, _WHY, explain
from explorer.naive import NaiveCNN
from explorer.unet import UNet, UNetConfig
from explorer.views import architecture, denoising, levels, receptive
from explorer.views.context import Context


@pytest.fixture(scope="module")
def image(ctx) -> np.ndarray:
    return ctx.image(ctx.examples[5])


def svg_blocks(svg: str) -> list[str]:
    return re.findall(r'data-block="([^"]+)"', svg)


@pytest.mark.parametrize("config", [
    UNetConfig(image_size=32, base_channels=8, channel_mults=(1, 2), attention_resolutions=(), num_groups=4),
    UNetConfig(image_size=64, base_channels=16, channel_mults=(1, 2, 2), num_res_blocks=2,
               attention_resolutions=(16,), num_groups=4),
])
def test_diagram_draws_exactly_the_models_blocks(config):
    unet, naive = UNet(config), NaiveCNN()
    svg = render_svg(describe(unet), describe(naive, config.image_size))
    assert sorted(svg_blocks(svg)) == sorted([b.name for b in unet.blocks()] + [b.name for b in naive.blocks()])
    # the shapes written in the diagram come from the dry forward pass of this config
    assert f"{config.base_channels}×{config.image_size}×{config.image_size}" in svg


def test_a_different_checkpoint_draws_a_different_diagram(tmp_path):
    config = UNetConfig(image_size=32, base_channels=8, channel_mults=(1, 2, 2), attention_resolutions=(8,),
                        num_groups=4)
    weights.save(UNet(config), tmp_path, "unet")
    weights.save(NaiveCNN(hidden_dim=16), tmp_path, "naive")
    small = Context.load(tmp_path)
    svg = architecture.diagram(small, "mid.attn")
    names = svg_blocks(svg)
    assert "enc3" in names and "enc4" not in names and "dec3.attn" in names
    assert "8×32×32" in svg


def test_every_block_has_an_explanation(ctx):
    for spec in ctx.unet_specs + ctx.naive_specs:
        title, what, why = explain(spec, 11)
        assert title and len(what) > 60 and len(why) > 40, spec.name
    assert {"time", "in", "attn", "down", "up", "skip", "out", "conv"} <= {key.split("_")[0] for key in _WHAT}
    assert _WHAT.keys() == _WHY.keys()


def test_panel_activations_equal_the_blocks_output_captured_independently(ctx, image):
    t, seed, name = 300, 7, "enc2"
    _, x_t, _ = ctx.x_t(image, t, seed)
    captured = {}
    module = dict((b.name, b.module) for b in ctx.pair.unet.blocks())[name]
    handle = module.register_forward_hook(lambda m, args, out: captured.setdefault("out", out.detach()))
    try:
        with torch.no_grad():
            ctx.pair.unet(x_t, torch.tensor([t]))
    finally:
        handle.remove()
    recorded = record(ctx.pair.unet, x_t, t, {name})[name]
    assert torch.equal(recorded, captured["out"])
    panel = architecture.block_panel(ctx, image, t, seed, name)
    assert panel.name == name and "ResBlock" in panel.markdown and panel.activation.count("<img") > 1


def test_a_request_leaves_nothing_behind_on_the_shared_model(ctx, image):
    model = ctx.pair.unet
    before = {key: value.clone() for key, value in model.state_dict().items()}
    hooks_before = sum(len(m._forward_hooks) + len(m._forward_pre_hooks) for m in model.modules())
    architecture.block_panel(ctx, image, 100, 0, "mid.attn")
    denoising.compare(ctx, image, 100, 0, denoising.Knockouts(7, frozenset({1, 2}), False))
    receptive.views(ctx, image, 100, 0, 10, 20, "enc2")
    levels.record_levels(ctx, image, 100, 0)
    hooks_after = sum(len(m._forward_hooks) + len(m._forward_pre_hooks) for m in model.modules())
    assert hooks_after == hooks_before
    assert not model.training and not any(p.requires_grad for p in model.parameters())
    assert all(torch.equal(before[key], value) for key, value in model.state_dict().items())


def test_side_by_side_numbers_equal_the_evaluation_code(ctx, image):
    t, seed = 250, 11
    comparison = denoising.compare(ctx, image, t, seed)
    x0 = comparison.x0
    # evaluate() draws image i's noise from seed + i: image 0 with `seed` is this request
    result = evaluate({"unet": ctx.pair.unet, "naive": ctx.pair.naive}, x0, ctx.diffusion, seed, timesteps=(t,))
    # The view runs its networks in kept worker threads and evaluate() in this one: on a many-core machine the two
    # may sum a convolution in a different order, which moves float32 results by a few parts in a million.
    for name in ("unet", "naive"):
        assert comparison.predictions[name].eps_mse == pytest.approx(result[name]["eps_mse"][0], rel=1e-5)
        assert comparison.predictions[name].psnr == pytest.approx(result[name]["psnr"][0], rel=1e-5)


def test_telling_the_true_t_reproduces_the_intact_unet_exactly(ctx, image):
    t = 420
    comparison = denoising.compare(ctx, image, t, 3, denoising.Knockouts(told_t=t))
    assert torch.equal(comparison.predictions["knocked"].eps_hat, comparison.predictions["unet"].eps_hat)
    wrong = denoising.compare(ctx, image, t, 3, denoising.Knockouts(told_t=20))
    assert not torch.equal(wrong.predictions["knocked"].eps_hat, wrong.predictions["unet"].eps_hat)


@pytest.mark.parametrize("level", [1, 2, 3, 4])
def test_zeroing_a_skip_changes_the_output(ctx, image, level):
    comparison = denoising.compare(ctx, image, 250, 0, denoising.Knockouts(zero_skips=frozenset({level})))
    difference = (comparison.predictions["knocked"].eps_hat - comparison.predictions["unet"].eps_hat).abs().max()
    assert difference > 1e-3


def test_attention_switch_changes_the_output(ctx, image):
    comparison = denoising.compare(ctx, image, 600, 0, denoising.Knockouts(attention=False))
    assert not torch.allclose(comparison.predictions["knocked"].eps_hat, comparison.predictions["unet"].eps_hat)


def test_interleaved_requests_with_different_knockouts_get_what_they_would_get_alone(ctx, image):
    settings = [denoising.Knockouts(), denoising.Knockouts(zero_skips=frozenset({1})),
                denoising.Knockouts(attention=False), denoising.Knockouts(told_t=900)]
    alone = [denoising.compare(ctx, image, 300, 5, k).predictions.get("knocked") for k in settings]
    results: dict[int, object] = {}

    def run(index: int) -> None:
        for _ in range(3):
            results[index] = denoising.compare(ctx, image, 300, 5, settings[index]).predictions.get("knocked")

    threads = [threading.Thread(target=run, args=(index,)) for index in range(len(settings))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    for index, expected in enumerate(alone):
        if expected is None:
            assert results[index] is None
        else:
            assert torch.equal(results[index].eps_hat, expected.eps_hat)


def test_reverse_process_is_deterministic_and_streams_frames(ctx, image):
    first = list(denoising.reverse_process(ctx, image, 400, 9, 10, every=2))
    second = list(denoising.reverse_process(ctx, image, 400, 9, 10, every=2))
    assert [frame.step for frame in first] == [1, 2, 4, 6, 8, 10]
    for a, b in zip(first, second):
        assert all(torch.equal(a.samples[name], b.samples[name]) for name in ("naive", "unet"))
    assert first[-1].t == 0 and len(first[-1].drift["unet"]) == 10
    noise_frames = list(denoising.reverse_process(ctx, None, 999, 9, 5))
    assert noise_frames[0].t == 999 and len(noise_frames) == 5
    gif = denoising.animation_gif(first)
    assert gif[:6] == b"GIF89a"


def test_curves_read_the_evaluation_file(ctx):
    figure = denoising.curves_figure(ctx, 250)
    unet_trace = next(trace for trace in figure["data"] if trace["name"] == "U-Net (held-out)")
    assert unet_trace["y"] == ctx.metrics["models"]["unet"]["eps_mse"]
    assert [shape["x0"] for shape in figure["layout"]["shapes"]] == [250, 250]


def test_levels_view_follows_the_image_and_t(ctx, image):
    outputs = levels.record_levels(ctx, image, 250, 0)
    assert set(levels.level_names(ctx)) <= outputs.keys()
    assert outputs["mid.res2"].shape[-1] == ctx.pair.unet.config.mid_resolution
    other = levels.record_levels(ctx, ctx.image(ctx.examples[9]), 250, 0)
    assert not torch.equal(outputs["enc1"], other["enc1"])
    later = levels.record_levels(ctx, image, 900, 0)
    assert not torch.equal(outputs["dec1"], later["dec1"])
    figure = levels.spectrum_figure(ctx, outputs, 250)
    assert {trace["name"] for trace in figure["data"]} == set(levels.level_names(ctx))


def test_receptive_views_report_the_naive_field_and_global_unet(ctx, image):
    fields = receptive.views(ctx, image, 250, 0, 0, 63, "layer3")
    naive, unet, unit = (view.effective for view in fields)
    assert naive.field.size == 11 and naive.outside_fraction == 0.0
    assert naive.support <= 6 * 6  # a corner pixel sees at most the 6×6 quarter of its 11×11 window
    assert unet.support > naive.support
    assert unit.field.size == 7
    markdown = receptive.numbers_markdown(ctx, fields, 250)
    assert "11×11" in markdown


def test_a_kept_worker_takes_its_callers_torch_threads():
    """A thread keeps the torch thread count it first computed with; the Denoising lab's kept workers take their
    caller's for each forward (`with_threads`), so a result's last bits do not depend on which worker ran it."""
    from concurrent.futures import ThreadPoolExecutor

    from explorer.views.denoising.compute import with_threads

    before = torch.get_num_threads()
    other = 1 if before != 1 else 2
    with ThreadPoolExecutor(max_workers=1) as worker:
        assert worker.submit(torch.get_num_threads).result() == before  # the worker has computed: its count is kept
        try:
            torch.set_num_threads(other)
            assert worker.submit(torch.get_num_threads).result() == before
            assert worker.submit(with_threads, other, torch.get_num_threads).result() == other
        finally:
            torch.set_num_threads(before)
