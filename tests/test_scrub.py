"""Scrubbing t: the strip of precomputed frames, the exact single-step view, and the /denoise endpoint agree.

While t is dragged the page shows a strip frame computed ahead (batched over a grid of t); when it is let go,
the exact view for that t. These tests check that a strip frame is the single-step view at its t (same
image and seed, up to the rounding of a batched forward), that the HTML view carries exactly those pictures
and numbers, and that the endpoint returns that view.
"""
from __future__ import annotations

import base64
import html
import io
import json
import re

import numpy as np
import pytest
from PIL import Image

from explorer.views import denoising
from tests.server import api_client

INTACT = denoising.Knockouts()
BROKEN = denoising.Knockouts(told_t=40, zero_skips=frozenset({1}))


@pytest.fixture(scope="module")
def image(ctx) -> np.ndarray:
    return ctx.image(ctx.examples[5])


# --- reading the view's HTML back --------------------------------------------------------------------------------

def view_parts(view: str) -> dict:
    """The exact view's t, strip key, sprite (as an array) and t-dependent texts, read from its HTML."""
    # As sent, or as the page holds it (the view's script adds the picture's blob URL to the style).
    root = re.search(r'<div class="sbs" data-t="(\d+)" data-key="(\w+)" data-exact="data:image/png;base64,'
                     r'([A-Za-z0-9+/=]+)" style="--ncols:\s*(\d+);\s*--tile:\s*(\d+)px;?[^"]*">', view)
    assert root, view[:300]
    sprite = np.asarray(Image.open(io.BytesIO(base64.b64decode(root.group(3)))).convert("RGB"))
    texts: dict[str, str] = {}
    for name, text in re.findall(r'<span data-f="([\w-]+)"[^>]*>([^<]*)</span>', view):
        texts.setdefault(name, html.unescape(text))
    return {"t": int(root.group(1)), "key": root.group(2), "sprite": sprite, "ncols": int(root.group(4)),
            "tile": int(root.group(5)), "texts": texts}


def cut(sprite: np.ndarray, row: int, column: int, size: int) -> np.ndarray:
    return sprite[row * size:(row + 1) * size, column * size:(column + 1) * size]


def assert_close_pictures(expected: np.ndarray, actual: np.ndarray, what: str) -> None:
    """Equal up to a batched forward's rounding: colour levels within 1 on 99 % of values, within 0.05 on average.

    (x̂₀ divides by √ᾱ_t, 0.006 at t = 999: there a 1e-6 difference in ε̂ moves a few values by a level or two.)"""
    difference = np.abs(expected.astype(np.int16) - actual.astype(np.int16))
    assert expected.shape == actual.shape, what
    assert difference.mean() < 0.05 and (difference > 1).mean() < 0.01, (
        f"{what}: mean level difference {difference.mean():.3f}, {(difference > 1).mean():.2%} of values off by > 1")


# --- the strip --------------------------------------------------------------------------------------------------

def test_the_grid_spans_every_t_densely_where_the_picture_changes_fast():
    grid = denoising.scrub_grid()
    assert grid == sorted(set(grid)) and grid[0] == 1 and grid[-1] == 999
    assert len(grid) == denoising.SCRUB_FRAMES
    gaps = np.diff(grid)
    assert gaps[0] <= 3 and gaps.max() <= 45, gaps  # small steps at small t, none larger than ~4 % of the range


@pytest.mark.parametrize("knockouts", [INTACT, BROKEN], ids=["intact", "knocked-out"])
def test_a_strip_frame_is_the_single_step_view_at_its_t(ctx, image, knockouts):
    grid = denoising.scrub_grid()
    picks = [0, 9, 23, 35, len(grid) - 1]
    frames = denoising.scrub_frames(ctx, image, 7, [grid[i] for i in picks], knockouts)
    for frame in frames:
        single = denoising.comparison_tiles(denoising.compare(ctx, image, frame.t, 7, knockouts))
        assert frame.t == single.t and set(frame.images) == set(single.images)
        assert np.array_equal(frame.images["x_t"], single.images["x_t"]), "x_t must be the same noisy image"
        for name in frame.images:
            assert_close_pictures(single.images[name], frame.images[name], f"t={frame.t} {name}")
        for model, (mse, quality) in single.scores.items():
            assert frame.scores[model][0] == pytest.approx(mse, rel=1e-4, abs=1e-7), (frame.t, model)
            assert frame.scores[model][1] == pytest.approx(quality, abs=1e-3), (frame.t, model)
        assert frame.blur_sigma == single.blur_sigma


def test_the_strip_picture_and_meta_hold_the_frames_in_order(ctx, image):
    grid = denoising.scrub_grid()[:6]
    frames = denoising.scrub_frames(ctx, image, 3, grid, BROKEN)
    names = denoising.tile_names(BROKEN)
    strip = np.asarray(denoising.scrub_strip(frames, BROKEN))
    size = ctx.image_size
    assert strip.shape == (len(grid) * size, len(names) * size, 3)
    for row, frame in enumerate(frames):
        for column, name in enumerate(names):
            assert np.array_equal(cut(strip, row, column, size), frame.images[name]), (frame.t, name)
    key = denoising.strip_key(image, 3, BROKEN)
    meta = denoising.scrub_meta_html(key, frames, BROKEN)
    assert f'data-key="{key}"' in meta
    assert json.loads(html.unescape(re.search(r'data-grid="([^"]+)"', meta).group(1))) == grid
    texts = json.loads(html.unescape(re.search(r'data-texts="([^"]+)"', meta).group(1)))
    assert texts == [denoising.frame_texts(frame, BROKEN) for frame in frames]


def test_the_strip_key_names_everything_but_t(image):
    key = denoising.strip_key(image, 3, INTACT)
    assert key == denoising.strip_key(image.copy(), 3, denoising.Knockouts())
    others = {denoising.strip_key(image, 4, INTACT), denoising.strip_key(image, 3, BROKEN),
              denoising.strip_key(255 - image, 3, INTACT),
              denoising.strip_key(image, 3, denoising.Knockouts(attention=False))}
    assert key not in others and len(others) == 4


# --- the exact view ---------------------------------------------------------------------------------------------

@pytest.mark.parametrize("knockouts", [INTACT, BROKEN], ids=["intact", "knocked-out"])
def test_the_view_shows_the_comparisons_pictures_and_numbers(ctx, image, knockouts):
    comparison = denoising.compare(ctx, image, 333, 5, knockouts)
    tiles = denoising.comparison_tiles(comparison)
    view = view_parts(denoising.side_by_side_html(comparison, "k123"))
    names = denoising.tile_names(knockouts)
    size = ctx.image_size
    assert (view["t"], view["key"], view["ncols"], view["tile"]) == (333, "k123", len(names), size)
    for column, name in enumerate(names):
        assert np.array_equal(cut(view["sprite"], 0, column, size), tiles.images[name]), name
    assert np.array_equal(cut(view["sprite"], 1, 0, size), denoising.to_uint8(comparison.x0[0]))
    assert np.array_equal(cut(view["sprite"], 1, 1, size), denoising.noise_pixels(comparison.eps))
    assert view["texts"] == denoising.frame_texts(tiles, knockouts)


def test_every_label_is_text_and_every_column_is_the_same_size(ctx, image):
    """Issue 9: no text drawn into scaled pictures; the blur column no smaller than the networks' columns."""
    view = denoising.side_by_side_html(denoising.compare(ctx, image, 100, 0, BROKEN), "k")
    for label in ("predicted noise ε̂", "predicted clean image x̂₀", "error |x̂₀ − x₀|", "Naive CNN", "U-Net: told t=40",
                  "Gaussian blur", "x₀: the clean image", "the true noise ε"):
        assert html.escape(label, quote=False) in view or label in view, label
    # Every tile is one cell of the same sprite grid, drawn at the same size by the same CSS class.
    assert len(re.findall(r'class="sbs-tile vary"', view)) == 1 + 3 * 4
    assert not re.search(r'sbs-tile (vary|fixed)[^"]*small', view)


def test_the_reverse_pictures_carry_no_text(ctx, image):
    frames = list(denoising.reverse_process(ctx, image, 200, 1, 6))
    picture = np.asarray(denoising.reverse_frame_image(frames[-1], scale=1))
    size, gap = ctx.image_size, denoising.REVERSE_GAP
    assert picture.shape == (size, 4 * size + 3 * gap, 3)
    for index, (name, kind) in enumerate(denoising.REVERSE_TILES):
        tensor = frames[-1].samples[name] if kind == "sample" else frames[-1].pred_x0[name]
        tile = picture[:, index * (size + gap):index * (size + gap) + size]
        assert np.array_equal(tile, denoising.to_uint8(tensor[0].clamp(-1, 1))), (name, kind)
    strip = denoising.frame_strip(frames, count=4)
    assert strip.count("<th scope=\"col\">t = ") == 4 and "Naive CNN</th>" in strip and "U-Net</th>" in strip


def test_the_knockout_table_names_its_metric(ctx):
    table = denoising.knockouts_table_html(ctx.metrics["knockouts"])
    assert "ε-MSE" in table and "lower is better" in table and "intact U-Net" in table
    assert table.count("<tr>") == 1 + len(ctx.metrics["knockouts"]["eps_mse"])


def test_the_steps_note_says_when_ddim_takes_fewer_steps(ctx):
    assert denoising.steps_note(ctx, 250, 50) == ""
    note = denoising.steps_note(ctx, 250, 1000)
    assert "251" in note and "1000" in note


# --- the endpoint -----------------------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def client(app_url):
    return api_client(app_url)


@pytest.mark.parametrize("t, override, told, skips",
                         [(255, False, 250, None), (640, True, 30, ["skip2", "skip3", "skip4"])],
                         ids=["grid-t-intact", "off-grid-t-knocked-out"])
def test_the_endpoint_returns_the_exact_view(client, ctx, t, override, told, skips):
    skip_names = [f"skip{level}" for level in range(1, ctx.pair.unet.config.num_levels + 1)]
    skips = skip_names if skips is None else skips
    reply = client.predict(t, 11, override, told, skips, True, False, api_name="/denoise")  # False: no bypass
    view = view_parts(reply if isinstance(reply, str) else reply[0])
    image = ctx.image(ctx.examples[0])  # a new session's image
    knockouts = denoising.Knockouts(told_t=told if override else None,
                                    zero_skips=frozenset(int(name[4:]) for name in skip_names if name not in skips))
    comparison = denoising.compare(ctx, image, t, 11, knockouts)
    expected = view_parts(denoising.side_by_side_html(comparison, denoising.strip_key(image, 11, knockouts)))
    assert (view["t"], view["key"], view["ncols"]) == (expected["t"], expected["key"], expected["ncols"])
    assert_close_pictures(expected["sprite"], view["sprite"], f"/denoise at t={t}")
    assert view["texts"].keys() == expected["texts"].keys()


# --- one event per change, for the shown tab only ------------------------------------------------------------------

def test_each_change_of_t_writes_one_tabs_outputs_only(ctx):
    """The refresh of the shown tab is one event that writes that tab's outputs (no skipped outputs of the others),
    and the Denoising lab is refreshed when t is let go of, not at every step of a drag."""
    from explorer.ui.app import build_app

    config = build_app(ctx).get_config_file()
    props = {c["id"]: c.get("props", {}) for c in config["components"]}
    tab_of: dict[int, str] = {}

    def walk(node, tab=None):
        elem_id = props.get(node["id"], {}).get("elem_id") or ""
        tab = elem_id[4:] if elem_id.startswith("tab-") else tab
        if tab:
            tab_of[node["id"]] = tab
        for child in node.get("children", []):
            walk(child, tab)

    walk(config["layout"])
    slider = next(i for i, p in props.items() if p.get("elem_id") == "timestep")
    buttons = {p["elem_id"][len("refresh-"):]: i for i, p in props.items()
               if str(p.get("elem_id", "")).startswith("refresh-")}
    assert {"architecture", "denoising", "receptive"} <= set(buttons)
    for dependency in config["dependencies"]:
        targets = [tuple(target) for target in dependency["targets"]]
        refreshing = {(slider, "change"), (slider, "release")} | {(button, "click") for button in buttons.values()}
        if not refreshing & set(targets):
            continue
        tabs = {tab_of[o] for o in dependency["outputs"] if o in tab_of}
        assert len(tabs) <= 1, f"one event writes outputs of the tabs {tabs}"
        for tab, button in buttons.items():
            if (button, "click") in targets:
                assert tabs == {tab}, (tab, tabs)
        if (slider, "change") in targets and dependency.get("backend_fn"):
            assert not any(tab_of.get(o) == "denoising" for o in dependency["outputs"])
