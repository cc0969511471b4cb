"""The app's views and handlers with a diffusers UNet2DModel in the U-Net's place (`Context.load(model=...)`).

Two models: the shipped trained one (weights/diffusers-unet, one ResNet per block, 8 skips) and a tiny random one
with two layers per block and attention (9 skips), written here by `save_pretrained` without a scheduler. Each
handler is called as the page calls it; nothing downloads. The browser and the API walk of the running app:
tests/test_browser_diffusers.py.
"""
from __future__ import annotations

import json
from pathlib import Path
from types import SimpleNamespace

import gradio as gr
import pytest
import torch

from explorer.ui import architecture, denoising, inputs, receptive
from explorer.views import levels, opened
from explorer.views.context import DEFAULT_SEED, DEFAULT_T, Context
from explorer.views.receptive import OUTPUT

diffusers = pytest.importorskip("diffusers")
from explorer.diffusers_unet import DiffusersUNet, UnsupportedModel  # noqa: E402
from tests.test_denoisers import RESNET_SAMPLING, SKIP_BLOCKS, TINY, tiny_unet2d  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent
SHIPPED = ROOT / "weights" / "diffusers-unet"


@pytest.fixture(scope="module")
def shipped() -> Context:
    return Context.load(model=str(SHIPPED))


@pytest.fixture(scope="module")
def layered(tmp_path_factory) -> Context:
    """A bare UNet2DModel folder (no scheduler config): two layers per block, attention at the second level."""
    folder = tmp_path_factory.mktemp("layered")
    tiny_unet2d(TINY).save_pretrained(folder)
    return Context.load(model=folder)


@pytest.fixture(params=["shipped", "layered"])
def ctx(request) -> Context:
    return request.getfixturevalue(request.param)


def image(ctx: Context):
    return inputs.first_image(ctx)


def traces(shown) -> list[dict]:
    """The traces of a figure as gr.Plot receives it (explorer/ui/plots.py)."""
    return json.loads(shown.plot)["data"]


def all_skips_on(ctx: Context) -> denoising.Switches:
    return denoising.Switches(False, DEFAULT_T, ctx.skip_names(), True, False)


# --- the context ---------------------------------------------------------------------------------------------------

def test_the_model_takes_the_unets_place_with_its_schedule(shipped, layered):
    assert isinstance(shipped.pair.unet, DiffusersUNet) and shipped.diffusion is shipped.opened.diffusion
    assert shipped.image_size == 32 and shipped.skip_names() == [f"skip{n}" for n in range(1, 9)]
    assert layered.skip_names() == [f"skip{n}" for n in range(1, 10)]  # conv_in, 2 layers × 3 levels, 2 downsamplers
    assert not shipped.shipped_only and shipped.study is None
    # weights/metrics.json's diffusers_unet section measured these weights (its sha256): read as this model's table
    assert "skip8 cut" in shipped.metrics.knockout_rows() and "naive" not in shipped.metrics["models"]
    assert layered.metrics is None  # other weights: none of those numbers
    # the shipped naive CNN beside it, described at the model's size
    assert {spec.output_shape[-1] for spec in shipped.naive_specs} == {32}
    names = shipped.block_names()
    assert "mid_block.attentions.0" in names and "layer1" in names and "enc1" not in names
    assert shipped.fields["skip1"].size == 3  # conv_in's 3×3 field, carried across
    assert shipped.fields["conv_out"].size > shipped.fields["mid_block.resnets.1"].size


def test_the_shipped_unet_keeps_its_names():
    ctx = Context.load()
    assert ctx.shipped_only and ctx.unet_title == "U-Net" and ctx.skip_names() == ["skip1", "skip2", "skip3", "skip4"]
    assert levels.level_names(ctx) == ["enc1", "enc2", "enc3", "enc4", "mid.res2", "dec4", "dec3", "dec2", "dec1"]
    assert levels.skip_pairs(ctx) == [(f"skip{n}", f"dec{n}.up") for n in range(1, 5)]
    assert opened.model_note(ctx) == "" and opened.which_is_which(ctx) == ""


def test_the_page_names_the_model_and_what_it_was_trained_on(shipped, layered):
    note = opened.model_note(shipped)
    for words in ("diffusers-unet", "1,525,411 parameters", "32×32 px", "DDPMScheduler", "linear β",
                  "over 1000 steps, predicting ε", "752 steps", "trained at 64×64", opened.LEFT_OUT):
        assert words in note, words
    note = opened.model_note(layered)
    assert "DDPM schedule is assumed" in note and "no training.json" in note and "schedule (assumed)" in note


def test_a_model_the_explorer_cannot_open_says_what_is_supported(tmp_path):
    unet = tiny_unet2d(dict(TINY, class_embed_type="timestep"))
    unet.save_pretrained(tmp_path / "conditional")
    with pytest.raises(UnsupportedModel, match="class-conditioned.*supported"):
        Context.load(model=tmp_path / "conditional")


def test_a_model_whose_fields_cannot_be_drawn_is_refused_with_why(tmp_path):
    tiny_unet2d(SKIP_BLOCKS).save_pretrained(tmp_path / "ncsnpp-like")
    with pytest.raises(UnsupportedModel, match="receptive fields.*FIR"):
        Context.load(model=tmp_path / "ncsnpp-like")


def test_a_v_predicting_cosine_model_of_500_steps(tmp_path):
    """The schedule is the model's: t runs to 499, the note says what is predicted, the views work on it."""
    scheduler = diffusers.DDIMScheduler(num_train_timesteps=500, beta_schedule="squaredcos_cap_v2",
                                        prediction_type="v_prediction")
    diffusers.DDIMPipeline(unet=tiny_unet2d(RESNET_SAMPLING), scheduler=scheduler).save_pretrained(tmp_path / "v")
    ctx = Context.load(model=tmp_path / "v")
    note = opened.model_note(ctx)
    assert "squaredcos_cap_v2 β" in note and "over 500 steps, predicting v" in note and "velocity" in note
    with pytest.raises(gr.Error, match="between 1 and 499"):
        denoising.side_by_side(ctx, image(ctx), 700, DEFAULT_SEED, all_skips_on(ctx))
    _, numbers = denoising.side_by_side_with_numbers(ctx, image(ctx), 499, DEFAULT_SEED, all_skips_on(ctx))
    assert numbers["t"] == 499
    assert architecture.select_block(ctx, image(ctx), 10, DEFAULT_SEED, "down_blocks.0.downsamplers.0")[1] == \
        "down_blocks.0.downsamplers.0"  # a ResNet that halves the size: its field has a rule


# --- Architecture ----------------------------------------------------------------------------------------------------

def test_every_block_is_drawn_and_shows_its_panel(ctx):
    picture = image(ctx)
    diagram = architecture.architecture.diagram(ctx, None)
    for name in ctx.block_names():
        assert f'data-block="{name}"' in diagram
    for name in ctx.block_names():
        drawn, shown, markdown, activation, shared, _, facts = architecture.select_block(
            ctx, picture, DEFAULT_T, DEFAULT_SEED, name)
        assert shown == shared == name and f"### {name}" in markdown and "<img" in activation, name
        assert 'aria-pressed="true"' in drawn and facts["block"] == name
    skip = next(spec for spec in ctx.unet_specs if spec.kind == "skip")
    markdown = architecture.select_block(ctx, picture, DEFAULT_T, DEFAULT_SEED, skip.name)[2]
    assert skip.source in markdown and skip.target in markdown  # what it carries, and to which ResNet
    assert architecture.evidence_for(ctx, "mid_block.attentions.0") == ""  # Part by part is not in this page


def test_the_default_block_is_the_bottleneck_attention(shipped):
    assert architecture.default_block(shipped) == "mid_block.attentions.0"


def test_every_level_and_the_skips_beside_their_paths(ctx):
    maps, spectrum, skip_spectrum, naive_maps, naive_spectrum, summary = architecture.show_levels(
        ctx, image(ctx), DEFAULT_T, DEFAULT_SEED)
    assert maps.count('class="level-row"') == len(levels.level_names(ctx)) and "One scale against" in summary
    assert len(traces(skip_spectrum)) == 2 * len(ctx.skip_names())
    sweep = architecture.run_sweep(ctx, image(ctx), DEFAULT_SEED)["value"]
    assert {trace.name for trace in sweep.data} == set(ctx.skip_names()) | {
        beside for _, beside in levels.skip_pairs(ctx)} | {levels.bottleneck_name(ctx)}


def test_the_held_out_table_and_curves_of_the_shipped_diffusers_model(shipped, layered):
    from explorer.views import denoising as lab

    table = lab.knockouts_table_html(shipped.metrics.knockouts)
    assert "skip8 cut" in table and "bottleneck bypassed" in table
    names = {trace["name"] for trace in lab.curves_figure(shipped)["data"]}
    assert names == {"U-Net (held-out)", "Gaussian blur (held-out)"}  # the naive CNN was not scored at 32×32
    assert lab.curves_figure(layered)["data"] == []
    panel = architecture.select_block(shipped, image(shipped), DEFAULT_T, DEFAULT_SEED, "skip1")[2]
    assert "Measured on the 64 held-out images: cutting skip1 multiplies" in panel


def test_an_uploads_note_says_what_each_network_learned(shipped, layered):
    from explorer.views import domain

    plain = torch.full((32, 32, 3), 128, dtype=torch.uint8).numpy()
    note = domain.domain_note(shipped, plain, DEFAULT_T, DEFAULT_SEED)
    assert "opened UNet2DModel diffusers-unet, trained 752 steps" in note and "emoji only, at 64×64" in note
    assert "no training.json" in domain.domain_note(layered, plain, DEFAULT_T, DEFAULT_SEED)


# --- Denoising lab ---------------------------------------------------------------------------------------------------

def test_a_skip_knockout_changes_the_models_prediction(ctx):
    picture = image(ctx)
    _, intact = denoising.side_by_side_with_numbers(ctx, picture, DEFAULT_T, DEFAULT_SEED, all_skips_on(ctx))
    assert "knocked" not in intact["models"]
    cut = denoising.Switches(False, DEFAULT_T, ctx.skip_names()[1:], True, False)  # skip1 cut
    html, numbers = denoising.side_by_side_with_numbers(ctx, picture, DEFAULT_T, DEFAULT_SEED, cut)
    assert numbers["knockouts"]["cut_skips"] == ["skip1"] and "skip1 cut" in html
    assert numbers["models"]["knocked"]["eps_mse"] != numbers["models"]["unet"]["eps_mse"]
    assert numbers["models"]["unet"] == intact["models"]["unet"]
    last = ctx.skip_names()[-1]  # the deepest skip, past our U-Net's four
    _, numbers = denoising.side_by_side_with_numbers(ctx, picture, DEFAULT_T, DEFAULT_SEED, denoising.Switches(
        False, DEFAULT_T, ctx.skip_names()[:-1], True, False))
    assert numbers["knockouts"]["cut_skips"] == [last]
    assert numbers["models"]["knocked"]["eps_mse"] != numbers["models"]["unet"]["eps_mse"]


def test_skips_beyond_the_models_are_refused(shipped):
    with pytest.raises(gr.Error, match="skip1 … skip8"):
        denoising.knockouts(shipped, denoising.Switches(False, DEFAULT_T, ["skip9"], True, False))


def test_the_strip_the_curve_and_the_reverse_process(shipped):
    picture = image(shipped)
    strip = denoising.scrub_strip(shipped, picture, DEFAULT_T, DEFAULT_SEED, all_skips_on(shipped), None)
    assert strip[0].size[1] > 0
    curve, _ = denoising.image_curve(shipped, picture, DEFAULT_T, DEFAULT_SEED)
    assert any("this image" in trace["name"] for trace in traces(curve))
    request = SimpleNamespace(session_hash=None)
    frames = list(denoising.run_reverse(shipped, picture, DEFAULT_T, DEFAULT_SEED, 3, False, request))
    assert "Step 3 of 3" in frames[-2][1] and frames[-1][4].endswith(".gif")
    frames = list(denoising.run_reverse(shipped, None, 999, DEFAULT_SEED, 2, True, request))
    assert "Step 2 of 2" in frames[-2][1] and frames[-1][4].endswith(".gif")


# --- Receptive field -------------------------------------------------------------------------------------------------

def test_the_receptive_field_of_the_output_and_of_a_block(ctx):
    picture, centre = image(ctx), ctx.image_size // 2
    gallery, table, picker, numbers = receptive.show_with_numbers(ctx, picture, DEFAULT_T, DEFAULT_SEED, centre,
                                                                 centre, OUTPUT)
    assert gallery.count("<figure") == 2 and [row["title"] for row in numbers["fields"]] == [
        "Naive CNN: output", "U-Net: output"]
    attention = next(name for name in ctx.block_names() if ctx.spec(name).kind == "attn")
    gallery, *_ = receptive.show(ctx, picture, DEFAULT_T, DEFAULT_SEED, centre, centre, attention)
    assert gallery.count("<figure") == 3 and attention in gallery
    with pytest.raises(gr.Error, match="no spatial position"):
        receptive.measure(ctx, picture, DEFAULT_T, DEFAULT_SEED, centre, centre, "time_embedding")


def test_skip1_sees_conv_ins_3x3_window(shipped):
    """skip1 carries conv_in's output: 3×3 pixels around the unit, the theoretical box."""
    from explorer.analysis.receptive_field import effective

    _, x_t, _ = shipped.x_t(image(shipped), DEFAULT_T, DEFAULT_SEED)
    result = effective(shipped.pair.unet, x_t, DEFAULT_T, 16, 16, "skip1")
    assert result.box == (15, 17, 15, 17) and result.support_box == (15, 17, 15, 17)
    assert torch.count_nonzero(torch.as_tensor(result.grad)) == 9


# --- the page --------------------------------------------------------------------------------------------------------

def test_the_page_has_the_model_tabs_only(shipped):
    from explorer.server import lanes
    from explorer.ui.app import build_app

    with lanes.building(quick=2, long=1):
        demo = build_app(shipped)
    names = {block_fn.api_name for block_fn in demo.fns.values() if block_fn.api_name}
    assert {"select_block", "levels", "denoise", "denoise_from_here", "generate_from_noise", "receptive_field",
            "image_curve", "frequency_sweep"} <= names
    assert not {name for name in names if name.startswith(("proof", "study"))}
    config = demo.get_config_file()
    tabs = [component["props"].get("elem_id") for component in config["components"] if component["type"] == "tabitem"]
    assert tabs == ["tab-architecture", "tab-denoising", "tab-receptive"]
    markdown = " ".join(str(component["props"].get("value")) for component in config["components"]
                        if component["type"] == "markdown")
    assert opened.LEFT_OUT in markdown and "Here **U-Net** is the opened UNet2DModel diffusers-unet" in markdown


# --- app.py --model --------------------------------------------------------------------------------------------------

@pytest.mark.parametrize("source, env, words", [
    ("no/such/folder/here", {}, "neither a folder nor a Hugging Face Hub id"),
    # a Hub id goes through the folder code after its download; offline and not in the cache, the Hub says so
    ("google/ddpm-cifar10-32", {"HF_HUB_OFFLINE": "1"}, "cached snapshot"),
])
def test_app_py_says_why_a_model_does_not_open(tmp_path, source, env, words):
    import os
    import subprocess
    import sys

    done = subprocess.run([sys.executable, "app.py", "--model", source], cwd=ROOT, capture_output=True, text=True,
                          timeout=300, env={**os.environ, "HF_HOME": str(tmp_path / "hf"), **env})
    assert done.returncode == 1 and f"app.py: --model {source}: " in done.stderr and words in done.stderr, \
        done.stderr[-2000:]
