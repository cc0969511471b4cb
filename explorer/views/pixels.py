"""Pixel pictures as HTML: small PNGs shown at whole-number zoom, with their labels and colour scales in HTML.

Text drawn into a picture that the browser then rescales turns to mush, and a feature map resized by a
non-integer factor loses rows. So a map travels at its own resolution, the page enlarges it by a whole
number (`image-rendering: pixelated`, class `px`), and every word around it is HTML the browser draws.
"""
from __future__ import annotations

import base64
import io
from html import escape

import numpy as np
import torch
from PIL import Image

from explorer.render import COLORMAPS, colorize


def data_uri(image: Image.Image) -> str:
    buffer = io.BytesIO()
    image.save(buffer, format="PNG", optimize=False, compress_level=6)
    return "data:image/png;base64," + base64.b64encode(buffer.getvalue()).decode("ascii")


def zoom_for(side: int, target: int) -> int:
    """The whole-number zoom that brings a `side`-pixel map closest to `target` CSS pixels (at least 1)."""
    return max(1, round(target / max(side, 1)))


def img(image: Image.Image, zoom: int, alt: str, css_class: str = "px") -> str:
    """An <img> of `image` shown `zoom` times its size (an integer, so every pixel stays a square)."""
    if int(zoom) != zoom or zoom < 1:
        raise ValueError(f"zoom must be a whole number ≥ 1, not {zoom}")
    return (f'<img class="{css_class}" src="{data_uri(image)}" width="{image.width * zoom}" '
            f'height="{image.height * zoom}" alt="{escape(alt)}">')


def map_png(values: torch.Tensor | np.ndarray, limit: float, cmap: str = "diverging") -> Image.Image:
    """A (H, W) map on the symmetric scale ±limit as an RGB picture at its own resolution."""
    return Image.fromarray(colorize(values, -limit, limit, cmap))


def colour_bar(low: float, high: float, cmap: str = "diverging", caption: str = "") -> str:
    """A colour scale drawn by the browser (a CSS gradient) with its end and middle values as text."""
    lut = COLORMAPS[cmap]
    stops = ", ".join("#" + "".join(f"{int(c):02x}" for c in lut[i]) for i in np.linspace(0, 255, 9).astype(int))
    middle = (low + high) / 2
    label = f'<span class="bar-caption">{escape(caption)}</span>' if caption else ""
    return (f'<div class="colour-bar" role="img" aria-label="colour scale from {low:.3g} to {high:.3g}">{label}'
            f'<div class="bar" style="--stops:{stops}"></div>'
            f'<div class="bar-ticks"><span>{low:.3g}</span><span>{middle:.3g}</span><span>{high:.3g}</span></div>'
            f'</div>')
