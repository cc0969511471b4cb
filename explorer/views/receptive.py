"""The Receptive-field lab: what one output pixel of each network can see, in theory and in fact.

Pictures are pixel images at whole-number zoom with the boxes and squares drawn over them as SVG and every
label in HTML (views/pixels.py), so they stay sharp and readable at any screen size.
"""
from __future__ import annotations

from dataclasses import dataclass
from html import escape

import numpy as np
import plotly.graph_objects as go
import torch
from PIL import Image

from explorer.analysis.receptive_field import Effective, depth_profile, effective
from explorer.formatting import share
from explorer.render import colorize, tensor_image
from explorer.views import pixels
from explorer.views.context import Context
from explorer.views.levels import figure_layout

SCALE = 4  # whole-number zoom of the 64×64 pictures: 256 CSS pixels (other sizes: the zoom nearest to that width)
OUTPUT = "output"  # the block-selector value meaning "the network's prediction ε̂"
# The U-Net's dependence is a sharp peak at the clicked pixel over a broad field 2 to 4 factors of ten
# weaker that still holds most of the mass: the scale spans 5 decades below the peak, and any pixel with
# any influence at all keeps at least FLOOR of the colour ramp, so neither part disappears.
DECADES = 5.0
FLOOR = 0.12

BOX_COLOUR = "#00e5ff"      # the theoretical field
SQUARE_50_COLOUR = "#7cff4d"
SQUARE_90_COLOUR = "#ffffff"
POINT_COLOUR = "#ff3df2"    # the clicked pixel


@dataclass
class FieldView:
    title: str
    effective: Effective
    overlay: Image.Image  # the heat map over x_t at 64×64 (the page enlarges it SCALE times)


def spatial_blocks(ctx: Context) -> list[str]:
    return [OUTPUT] + [name for name in ctx.block_names() if getattr(ctx.fields.get(name), "spatial", False)]


def _square(y: int, x: int, radius: int, side: int) -> tuple[int, int, int, int]:
    """The square y±radius, x±radius clipped to the image: (y0, y1, x0, x1) inclusive."""
    return max(0, y - radius), min(side - 1, y + radius), max(0, x - radius), min(side - 1, x + radius)


def _rect(box: tuple[int, int, int, int], colour: str, dashed: bool = False, width: float = 0.6) -> str:
    y0, y1, x0, x1 = box
    dash = ' stroke-dasharray="1.6 1"' if dashed else ""
    return (f'<rect x="{x0}" y="{y0}" width="{x1 - x0 + 1}" height="{y1 - y0 + 1}" fill="none" '
            f'stroke="{colour}" stroke-width="{width}"{dash} vector-effect="non-scaling-stroke"/>')


def _point(y: int, x: int) -> str:
    """The clicked pixel: its own square outlined, with a dark halo so it shows on any colour."""
    return (f'<rect x="{x - 0.5}" y="{y - 0.5}" width="2" height="2" fill="none" stroke="#000" stroke-width="4" '
            f'vector-effect="non-scaling-stroke"/><rect x="{x - 0.5}" y="{y - 0.5}" width="2" height="2" '
            f'fill="none" stroke="{POINT_COLOUR}" stroke-width="2" vector-effect="non-scaling-stroke"/>')


def _framed(image: Image.Image, svg_body: str, alt: str, css_class: str = "") -> str:
    """A pixel picture enlarged to about 64 × SCALE CSS pixels (a whole-number zoom) with SVG marks drawn over it in
    the picture's own coordinates."""
    side = image.width
    zoom = pixels.zoom_for(side, 64 * SCALE)
    return (f'<div class="rf-frame {css_class}" style="--w:{side * zoom}px;--h:{image.height * zoom}px">'
            f'{pixels.img(image, zoom, alt, "px rf-source")}'
            f'<svg viewBox="0 0 {side} {image.height}" aria-hidden="true" preserveAspectRatio="none">{svg_body}</svg>'
            f'</div>')


def clickable_image(ctx: Context, image: np.ndarray, t: int, seed: int, y: int | None = None,
                    x: int | None = None) -> str:
    """x_t for picking a pixel, enlarged SCALE times by the browser, the chosen pixel (y, x) marked, as HTML.

    The page turns a click into (y, x) from the picture's rendered box, so any zoom gives exact pixels.
    """
    _, x_t, _ = ctx.x_t(image, t, seed)
    picture = tensor_image(x_t)
    mark = _point(y, x) if y is not None and x is not None else ""
    where = f"; the chosen pixel (y={y}, x={x}) is outlined in magenta" if mark else ""
    return (f'<div class="rf-picker-frame" data-side="{picture.width}">'
            + _framed(picture, mark, f"x_t at t = {t}, the noisy image both networks see{where}. Click a pixel.")
            + "</div>")


def field_overlay(image: Image.Image, heat: np.ndarray) -> Image.Image:
    """A heat map (H, W) ≥ 0 over a dimmed grey copy of `image`, at the image's own resolution.

    Colour follows log10 of the heat over DECADES decades below its peak, and every pixel with any
    influence is at least FLOOR bright; pixels with none show the image underneath.
    """
    heat = np.asarray(heat, dtype=np.float64)
    top = float(heat.max()) if heat.max() > 0 else 1.0
    relative = heat / top
    strength = np.where(heat > 0, np.clip(1 + np.log10(np.maximum(relative, 1e-30)) / DECADES, 0, 1), 0.0)
    strength = np.where(heat > 0, FLOOR + (1 - FLOOR) * strength, 0.0)  # (H, W) in {0} ∪ [FLOOR, 1]
    coloured = colorize(strength, 0.0, 1.0, "heat").astype(np.float64)
    grey = np.asarray(image.convert("L"), dtype=np.float64)[..., None].repeat(3, axis=2) * 0.45 + 110
    alpha = np.where(strength > 0, 0.55 + 0.45 * strength, 0.0)[..., None]
    blended = (1 - alpha) * grey + alpha * coloured
    return Image.fromarray(blended.clip(0, 255).astype(np.uint8))


def field_view(ctx: Context, x_t: torch.Tensor, t: int, y: int, x: int, model_name: str,
               block: str | None) -> FieldView:
    """One unit's effective field over x_t (1, 3, H, W)."""
    model = ctx.pair.model(model_name)
    result = effective(model, x_t, t, y, x, block)
    title = ("Naive CNN" if model_name == "naive" else "U-Net") + (f": unit of {block}" if block else ": output")
    return FieldView(title, result, field_overlay(tensor_image(x_t), result.grad))


def views(ctx: Context, image: np.ndarray, t: int, seed: int, y: int, x: int, block: str) -> list[FieldView]:
    """Both networks' outputs at (y, x), plus the chosen block's unit there if a block is chosen."""
    _, x_t, _ = ctx.x_t(image, t, seed)
    out = [field_view(ctx, x_t, t, y, x, "naive", None), field_view(ctx, x_t, t, y, x, "unet", None)]
    if block != OUTPUT:
        owner = "naive" if ctx.model_of(block) is ctx.pair.naive else "unet"
        out.append(field_view(ctx, x_t, t, y, x, owner, block))
    return out


def square_size(radius: int | None, side: int) -> tuple[str, bool]:
    """'57×57', or the clipped size and True when the square y±r, x±r is wider than the image."""
    if radius is None:
        return "–", False
    width = 2 * radius + 1
    return (f"{min(width, side)}×{min(width, side)}", width > side)


def overlays_image(fields: list[FieldView]) -> str:
    """The heat maps side by side, each with its title, boxes and squares: HTML around 64×64 pictures."""
    figures = []
    for view in fields:
        result = view.effective
        side = view.overlay.width
        marks = _rect(result.box, BOX_COLOUR, width=2)
        for radius, colour in ((result.radius_90, SQUARE_90_COLOUR), (result.radius_50, SQUARE_50_COLOUR)):
            if radius is not None:
                marks += _rect(_square(result.y, result.x, radius, side), colour, dashed=True, width=2)
        marks += _point(result.y, result.x)
        r50, _ = square_size(result.radius_50, side)
        r90, _ = square_size(result.radius_90, side)
        alt = (f"{view.title}: how much its prediction at pixel (y={result.y}, x={result.x}) depends on each input "
               f"pixel, brighter is more; half of it lies within {r50}, 90 % within {r90}.")
        figures.append(f'<figure class="rf-figure"><figcaption>{escape(view.title)}</figcaption>'
                       f'{_framed(view.overlay, marks, alt)}</figure>')
    legend = (f'<p class="rf-legend"><span class="swatch" style="--swatch:{BOX_COLOUR}"></span>field the '
              f'layers allow · <span class="swatch dashed" style="--swatch:{SQUARE_50_COLOUR}"></span>square '
              f'with 50 % of the dependence · <span class="swatch dashed" style="--swatch:#888"></span>white: '
              f'90 % · <span class="swatch" style="--swatch:{POINT_COLOUR}"></span>the clicked pixel</p>')
    return f'<div class="rf-figures">{"".join(figures)}</div>{legend}'


def numbers_markdown(ctx: Context, fields: list[FieldView], t: int) -> str:
    """One column per network (or block), one row per measure: narrow enough for a phone."""
    side = ctx.image_size
    header = "| | " + " | ".join(view.title for view in fields) + " |"
    rule = "|---|" + "---|" * len(fields)
    theory, half, most, reached, outside = [], [], [], [], []
    clipped_any = False
    for view in fields:
        result = view.effective
        field = result.field
        y0, y1, x0, x1 = result.box
        height, width = y1 - y0 + 1, x1 - x0 + 1  # this unit's own box: near the edges it sees less than its window
        text = (f"{field.size}×{field.size}" if (height, width) == (field.size, field.size) else
                f"{height}×{width} here ({field.size}×{field.size} window, cut off at the image's edge)")
        if field.global_via:
            text += " and the whole image (via " + ", ".join(field.global_via) + ")"
        theory.append(text)
        half.append(square_size(result.radius_50, side)[0])
        size, clipped = square_size(result.radius_90, side)
        clipped_any |= clipped
        most.append(f"{size} (clipped: the square is wider than the image)" if clipped else size)
        reached.append(f"{result.support:,} of {side ** 2:,} ({share(result.support / side ** 2)})")
        outside.append(share(result.outside_fraction))
    rows = [header, rule,
            "| field the layers allow | " + " | ".join(theory) + " |",
            "| square holding half the dependence | " + " | ".join(half) + " |",
            "| square holding 90 % | " + " | ".join(most) + " |",
            "| input pixels that matter at all | " + " | ".join(reached) + " |",
            "| dependence outside the allowed box | " + " | ".join(outside) + " |"]
    notes = [f"\nClicked pixel (y={fields[0].effective.y}, x={fields[0].effective.x}) at t = {t}. Each square is "
             "centred on the clicked pixel and counts the gradient inside it; brighter colour means more "
             "dependence, on a log scale over five factors of ten below the peak; any pixel that matters at all "
             "stays at least dimly lit."]
    if any(view.effective.field.global_via for view in fields):
        notes.append("\n\"The whole image (via …)\": self-attention lets every position look at every other; "
                     "GroupNorm divides each map by its own mean and spread, computed over the whole map. Both make "
                     "the output depend a little on every input pixel, outside the box the layers allow.")
    if clipped_any:
        notes.append(f"\nA square that would reach past the image's edge is drawn and counted only inside the "
                     f"{side}×{side} image.")
    return "\n".join(rows + notes)


def depth_figure(ctx: Context) -> go.Figure:
    """Theoretical receptive-field size against depth: naive CNN layers vs the U-Net's path."""
    figure = go.Figure()
    profiles = {name: depth_profile(ctx.pair.model(name)) for name in ("naive", "unet")}
    for model_name, colour in (("naive", "#757575"), ("unet", "#2c6fad")):
        profile = profiles[model_name]
        names = [name for name, _ in profile]
        sizes = [size for _, size in profile]
        figure.add_trace(go.Scatter(x=list(range(1, len(names) + 1)), y=sizes, mode="lines+markers",
                                    name="Naive CNN" if model_name == "naive" else "U-Net", text=names,
                                    line=dict(color=colour),
                                    hovertemplate="%{text}: %{y}×%{y} pixels<extra></extra>"))
    longest = max(len(profile) for profile in profiles.values())
    figure.add_trace(go.Scatter(x=[1, longest], y=[ctx.image_size] * 2, mode="lines", hoverinfo="skip",
                                name=f"the whole image ({ctx.image_size} px)",
                                line=dict(color="#b23a48", dash="dash")))
    figure.update_layout(**figure_layout("Receptive field along each network", 440,
                                         xaxis={"title": {"text": "block, in forward order (hover for its name)"}},
                                         yaxis={"title": {"text": "field size in input pixels"}, "type": "log",
                                                "dtick": 1}))
    return figure
