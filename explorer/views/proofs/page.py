"""The "Part by part" tab's pictures and their HTML: attention maps over x_t, the time-conditioning
differences, each a small inline PNG enlarged by the browser."""
from __future__ import annotations

import base64
import html
import io

import numpy as np
import torch
from PIL import Image, ImageDraw

from explorer.render import colorize, enlarge, noise_image, tensor_image
from explorer.views.context import Context
from explorer.views.proofs.compute import AttentionView, TimeView, query_cell

PICK_SCALE = 4  # the attention picker shows x_t enlarged this many times (clicks divide exactly)
MAP_SCALE = 3  # attention maps and noise pictures: enlarged this many times on the server


# ---------------------------------------------------------------- shared helpers

def png_html(image: Image.Image, alt: str, scale: int = MAP_SCALE) -> str:
    """An <img> holding `image` as a small inline PNG, shown `scale` times larger with sharp pixels."""
    buffer = io.BytesIO()
    image.save(buffer, format="PNG")
    data = base64.b64encode(buffer.getvalue()).decode("ascii")
    return (f'<img src="data:image/png;base64,{data}" alt="{html.escape(alt)}" width="{image.width * scale}" '
            f'height="{image.height * scale}" class="pixel-picture">')


def figures_html(items: list[tuple[str, Image.Image]], elem_class: str, scale: int = MAP_SCALE) -> str:
    """Images in a row, each enlarged `scale` times by the browser, with its caption in HTML (not in the picture)."""
    figures = "".join(
        f'<figure class="pixel-figure {elem_class}" style="--w:{image.width * scale}px">'
        f"{png_html(image, caption, scale)}<figcaption>{html.escape(caption)}</figcaption></figure>"
        for caption, image in items)
    return f'<div class="pixel-figures">{figures}</div>'


def attention_picker(ctx: Context, image: np.ndarray, t: int, seed: int, block: str, y: int, x: int) -> str:
    """x_t for picking a query, enlarged PICK_SCALE times by the browser, with the block's grid and the query's
    cell outlined (an SVG over the picture), as HTML. The page turns a click into (y, x) pixels of x_t."""
    _, x_t, _ = ctx.x_t(image, t, seed)
    picture = tensor_image(x_t)
    cell_y, cell_x, side = query_cell(ctx, block, y, x)
    size, step = picture.width, picture.width // side
    shown = size * PICK_SCALE
    lines = "".join(f'<line x1="{i * step}" y1="0" x2="{i * step}" y2="{size}"/>'
                    f'<line x1="0" y1="{i * step}" x2="{size}" y2="{i * step}"/>' for i in range(1, side))
    svg = (f'<svg viewBox="0 0 {size} {size}" width="{shown}" height="{shown}" aria-hidden="true">'
           f'<g stroke="white" stroke-opacity="0.7" stroke-width="1" vector-effect="non-scaling-stroke">{lines}</g>'
           f'<rect x="{cell_x * step}" y="{cell_y * step}" width="{step}" height="{step}" fill="none" '
           'stroke="#00ff66" stroke-width="3" vector-effect="non-scaling-stroke"/></svg>')
    alt = (f"x_t at t = {t} with the {side}×{side} grid of {block}; the query cell (row {cell_y}, column {cell_x}) "
           "is outlined in green. Click a cell.")
    img = png_html(picture, alt, PICK_SCALE).replace('class="pixel-picture"', 'class="pixel-picture proof-source"', 1)
    return f'<div class="proof-picker-frame" data-side="{size}" style="--size:{shown}px">{img}{svg}</div>'


def attention_overlay(x_t: torch.Tensor, weights: torch.Tensor, query: tuple[int, int], scale: int = 1,
                      limit: float | None = None) -> Image.Image:
    """An attention map (h, w) upsampled by the whole factor H/h onto a grey x_t (1, 3, H, W), enlarged `scale`
    times."""
    size = x_t.shape[-1]
    factor = size // weights.shape[-1]
    top = float(weights.max()) if limit is None else limit
    heat = weights.float().repeat_interleave(factor, 0).repeat_interleave(factor, 1)  # (H, W)
    strength = (heat / max(top, 1e-12)).clamp(0, 1).numpy()
    coloured = colorize(strength, 0.0, 1.0, "heat").astype(np.float64)
    grey = np.asarray(tensor_image(x_t).convert("L"), dtype=np.float64)[..., None].repeat(3, axis=2) * 0.45 + 110
    alpha = (0.25 + 0.75 * strength)[..., None]
    out = enlarge(Image.fromarray(((1 - alpha) * grey + alpha * coloured).clip(0, 255).astype(np.uint8)), scale)
    draw = ImageDraw.Draw(out)
    step = factor * scale
    y, x = query
    draw.rectangle((x * step, y * step, (x + 1) * step - 1, (y + 1) * step - 1), outline="#00ff66",
                   width=max(1, scale))
    return out


def attention_html(view: AttentionView) -> str:
    maps = view.maps
    items = [(f"head {index + 1}: entropy {float(maps.entropy[index]):.2f} bits",
              attention_overlay(view.x_t, head, maps.query))
             for index, head in enumerate(maps.heads)]
    items.append((f"mean of the {maps.num_heads} heads", attention_overlay(view.x_t, maps.mean, maps.query)))
    return figures_html(items, "attention-map")


def difference_image(first: torch.Tensor, second: torch.Tensor, scale: int, limit: float = 1.0) -> Image.Image:
    """|first − second| averaged over colours on a fixed 0 … `limit` scale (black: no difference)."""
    difference = (first[0] - second[0]).abs().mean(0)  # (H, W)
    return enlarge(Image.fromarray(colorize(difference, 0.0, limit, "heat")), scale)


def time_html(view: TimeView) -> str:
    rows = []
    for name, title in (("naive", "Naive CNN"), ("unet", "U-Net")):  # one row per network
        first, second = getattr(view, name)
        rows.append(figures_html([(f"{title}: ε̂ told t = {view.t}", noise_image(first)),
                                  (f"{title}: ε̂ told t = {view.other_t}", noise_image(second)),
                                  (f"{title}: |difference| (black = none)", difference_image(first, second, 1))],
                                 "time-pair"))
    return "".join(rows)
