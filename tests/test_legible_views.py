"""Figures that a learner can read: the views' HTML, pictures and numbers, checked without a browser.

Each test here guards one defect that was found by looking at the app (issue 9 and issue 10 §6):
maps resampled by non-integer factors, text drawn into rescaled pictures, "8 most active of 3
channels", a 90 % square wider than the image, heat maps too faint to see, a crash on weights
without a step count, a dropdown whose exact name loses to a longer one.
"""
from __future__ import annotations

import base64
import io
import re
from types import SimpleNamespace

import numpy as np
import pytest
from PIL import Image

from explorer.analysis.activations import record
from explorer.diagram import HIT_H, layout
from explorer.ui.app import weights_note
from explorer.ui.architecture import chooser_order
from explorer.views import architecture, levels, receptive

IMG = re.compile(r'<img [^>]*src="data:image/png;base64,([^"]+)"[^>]*width="(\d+)" height="(\d+)" alt="([^"]*)"')


@pytest.fixture(scope="module")
def image(ctx) -> np.ndarray:
    return ctx.image(ctx.examples[0])


def pictures(html: str) -> list[tuple[Image.Image, int, int, str]]:
    """Every <img> in `html`: (decoded picture, shown width, shown height, alt text)."""
    found = [(Image.open(io.BytesIO(base64.b64decode(data))), int(w), int(h), alt)
             for data, w, h, alt in IMG.findall(html)]
    assert found, f"no pixel pictures in {html[:200]}"
    return found


def assert_whole_number_zoom(html: str) -> None:
    for picture, width, height, alt in pictures(html):
        assert width % picture.width == 0 and height % picture.height == 0, (alt, picture.size, width, height)
        assert width // picture.width == height // picture.height, alt
        assert alt.strip(), "a picture without alt text"


# --- the input panel's note ---------------------------------------------------------------------------------------

@pytest.mark.parametrize("unet_meta", [{}, {"training": {}}, {"training": None}, {"training": {"steps": "many"}}])
def test_weights_note_without_step_counts(unet_meta):
    """`python app.py --weights DIR` crashed when DIR's metadata had no training.steps ('?' formatted with :,)."""
    fake = SimpleNamespace(pair=SimpleNamespace(unet_meta=unet_meta, naive_meta={}), metrics=None)
    note = weights_note(fake)
    assert "U-Net trained ? steps" in note and "naive CNN ? steps" in note


def test_weights_note_with_step_counts(ctx):
    steps = ctx.pair.unet_meta["training"]["steps"]
    assert f"{steps:,} steps" in weights_note(ctx)


# --- the block list -----------------------------------------------------------------------------------------------

def test_exact_block_names_come_before_longer_ones(ctx):
    """Typing "dec3" + Enter takes the first match: dec3 must come before dec3.up."""
    names = ctx.block_names()
    ordered = chooser_order(names)
    assert sorted(ordered) == sorted(names)
    for name in names:
        for other in names:
            if other.startswith(name + "."):
                assert ordered.index(name) < ordered.index(other), (name, other)
    assert ordered.index("dec3") < ordered.index("dec3.up")


# --- the block panel ----------------------------------------------------------------------------------------------

def block_output(ctx, image, name, t=250):
    _, x_t, _ = ctx.x_t(image, t, 0)
    return record(ctx.model_of(name), x_t, t, {name})[name]


@pytest.mark.parametrize("name, words", [("out", "all 3 channels"), ("layer5", "all 3 channels"),
                                         ("mid.attn", "the 8 most active of 128 channels")])
def test_channel_count_is_never_more_than_there_are(ctx, image, name, words):
    html = architecture.activation_image(name, block_output(ctx, image, name))
    assert words in html
    assert not re.search(r"8 most active of [1-7] channels", html)
    assert_whole_number_zoom(html)


def test_time_embedding_has_its_words_outside_the_picture(ctx, image):
    """The time_mlp stripe had its caption drawn into a picture the browser rescaled (garbled text)."""
    html = architecture.activation_image("time_mlp", block_output(ctx, image, "time_mlp"))
    assert "all 128 values of the time embedding" in html
    (picture, width, height, alt), = pictures(html)
    assert picture.size == (16, 8)  # one cell per value, nothing else in the picture
    assert_whole_number_zoom(html)


def test_spatial_maps_are_shown_at_their_own_resolution(ctx, image):
    html = architecture.activation_image("enc3", block_output(ctx, image, "enc3"))
    sides = {picture.width for picture, *_ in pictures(html)}
    assert sides == {16}, sides


# --- the all-levels view ------------------------------------------------------------------------------------------

def test_level_maps_use_whole_number_zoom_and_their_own_resolution(ctx, image):
    """The level grid resized 64×64 maps to 56×56 (8 rows and columns dropped)."""
    outputs = levels.record_levels(ctx, image, 250, 0)
    html = levels.level_grid(ctx, outputs)
    assert_whole_number_zoom(html)
    shown = pictures(html)
    assert len(shown) == len(levels.level_names(ctx)) * levels.CHANNELS_PER_LEVEL
    expected = [outputs[name].shape[-1] for name in levels.level_names(ctx) for _ in range(levels.CHANNELS_PER_LEVEL)]
    assert [picture.width for picture, *_ in shown] == expected
    for name in levels.level_names(ctx):
        assert f"<b>{name}</b>" in html  # labels are HTML, not pixels


def test_naive_layers_sit_beside_the_levels_at_full_resolution(ctx, image):
    """Issue 10 §6: the naive CNN's five layers, all 64×64, with the same spectra."""
    outputs = levels.record_levels(ctx, image, 250, 0)
    names = levels.naive_names(ctx)
    assert names == ["layer1", "layer2", "layer3", "layer4", "layer5"]
    assert all(outputs[name].shape[-2:] == (ctx.image_size, ctx.image_size) for name in names)
    html = levels.naive_grid(ctx, outputs)
    assert_whole_number_zoom(html)
    assert {picture.width for picture, *_ in pictures(html)} == {ctx.image_size}
    figure = levels.spectrum_figure(ctx, outputs, 250, group="naive")
    traces = {trace["name"]: trace for trace in figure["data"]}
    assert set(names) <= traces.keys()
    levels_figure = levels.spectrum_figure(ctx, outputs, 250)
    assert traces["layer1"]["x"] == levels_figure["data"][0]["x"]  # the same frequency axis as enc1
    summary = levels.scales_markdown(ctx, outputs)
    assert "64×64 → 32×32 → 16×16 → 8×8 → 4×4" in summary and "are all 64×64" in summary


def test_figures_keep_titles_clear_of_the_mode_bar(ctx, image):
    outputs = levels.record_levels(ctx, image, 250, 0)
    for group in ("levels", "skips", "naive"):
        layout_ = levels.spectrum_figure(ctx, outputs, 250, group=group)["layout"]
        assert layout_["modebar"]["orientation"] == "v" and layout_["title"]["xanchor"] == "left"
        assert len(layout_["title"]["text"]) <= 36, layout_["title"]["text"]  # fits a phone-wide chart


# --- the receptive-field lab --------------------------------------------------------------------------------------

def test_ninety_percent_square_is_clipped_to_the_image(ctx, image):
    """At a corner the 90 % square of the U-Net is wider than the image (111×111): clip it and say so."""
    fields = receptive.views(ctx, image, 900, 0, 0, 0, receptive.OUTPUT)
    unet = fields[1].effective
    assert 2 * unet.radius_90 + 1 > ctx.image_size, "this case must reach past the image"
    markdown = receptive.numbers_markdown(ctx, fields, 900)
    assert f"{2 * unet.radius_90 + 1}×" not in markdown
    assert f"{ctx.image_size}×{ctx.image_size} (clipped" in markdown
    html = receptive.overlays_image(fields)
    for x, y, width, height in re.findall(r'<rect x="([\d.-]+)" y="([\d.-]+)" width="([\d.]+)" height="([\d.]+)"',
                                          html):
        assert float(x) + float(width) <= ctx.image_size + 1.5 and float(y) + float(height) <= ctx.image_size + 1.5


def test_overlays_draw_the_half_and_ninety_percent_squares(ctx, image):
    fields = receptive.views(ctx, image, 250, 0, 20, 30, receptive.OUTPUT)
    html = receptive.overlays_image(fields)
    assert html.count(f'stroke="{receptive.SQUARE_50_COLOUR}"') == 2
    assert html.count(f'stroke="{receptive.SQUARE_90_COLOUR}"') == 2
    assert html.count(f'stroke="{receptive.BOX_COLOUR}"') == 2
    assert_whole_number_zoom(html)
    assert all("depends on each input pixel" in alt for *_, alt in pictures(html))


@pytest.mark.parametrize("t, y, x", [(900, 32, 32), (900, 0, 0), (250, 0, 63)])
def test_every_pixel_that_matters_is_visible_in_the_heat_map(ctx, image, t, y, x):
    """The U-Net's heat map was almost invisible at t = 900 and at corners (3 decades below the peak)."""
    fields = receptive.views(ctx, image, t, 0, y, x, receptive.OUTPUT)
    view = fields[1]
    grad = view.effective.grad
    _, x_t, _ = ctx.x_t(image, t, 0)
    plain = receptive.field_overlay(Image.fromarray(np.asarray(receptive.tensor_image(x_t))), np.zeros_like(grad))
    shown = np.abs(np.asarray(view.overlay, dtype=int) - np.asarray(plain, dtype=int)).sum(axis=-1)
    visible = shown[grad > 0] > 30
    assert visible.mean() > 0.99, f"only {visible.mean():.0%} of the pixels that matter are visible"


def test_the_chosen_pixel_is_marked_on_the_picker(ctx, image):
    html = receptive.clickable_image(ctx, image, 250, 0, 12, 40)
    assert 'x="39.5" y="11.5"' in html and receptive.POINT_COLOUR in html
    (picture, width, height, alt), = pictures(html)
    assert picture.size == (ctx.image_size, ctx.image_size) and width == receptive.SCALE * ctx.image_size
    assert "y=12, x=40" in alt


# --- the diagram --------------------------------------------------------------------------------------------------

def test_every_block_has_a_tap_target_and_the_diagram_can_scroll(ctx):
    html = architecture.diagram(ctx, "mid.attn")
    assert 'class="diagram-scroll"' in html and "diagram-hint" in html
    boxes, _, _ = layout(ctx.unet_specs, ctx.naive_specs)
    heights = re.findall(r'data-block="([^"]+)"[^>]*>.*?<rect class="hit" [^>]*height="([\d.]+)"', html, re.S)
    assert {name for name, _ in heights} == set(boxes)
    assert min(float(height) for _, height in heights) >= HIT_H
