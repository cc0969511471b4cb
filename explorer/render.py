"""Tensors → pictures: enlarged images, colour maps, channel grids, colour bars and overlays.

Everything returns PIL images (uint8 RGB); each view builds its own Plotly figures.
"""
from __future__ import annotations

import numpy as np
import torch
from PIL import Image, ImageDraw, ImageFont

from explorer.data import to_uint8

_VIRIDIS = ["#440154", "#482878", "#3e4989", "#31688e", "#26828e", "#1f9e89", "#35b779", "#6ece58", "#b5de2b", "#fde725"]
_DIVERGING = ["#2166ac", "#67a9cf", "#d1e5f0", "#f7f7f7", "#fddbc7", "#ef8a62", "#b2182b"]
_HEAT = ["#000004", "#320a5e", "#781c6d", "#bc3754", "#ed6925", "#fbb61a", "#fcffa4"]  # inferno-like


def _lut(anchors: list[str]) -> np.ndarray:
    colours = np.array([[int(h[i:i + 2], 16) for i in (1, 3, 5)] for h in anchors], dtype=np.float64)
    positions = np.linspace(0, 1, len(anchors))
    steps = np.linspace(0, 1, 256)
    return np.stack([np.interp(steps, positions, colours[:, c]) for c in range(3)], axis=1).round().astype(np.uint8)


COLORMAPS = {"viridis": _lut(_VIRIDIS), "diverging": _lut(_DIVERGING), "heat": _lut(_HEAT)}


def font(size: int = 12) -> ImageFont.ImageFont:
    try:
        return ImageFont.load_default(size)
    except TypeError:  # Pillow without scalable default font
        return ImageFont.load_default()


def enlarge(image: Image.Image, scale: int) -> Image.Image:
    """Nearest-neighbour enlargement: pixels stay sharp squares."""
    return image.resize((image.width * scale, image.height * scale), Image.NEAREST) if scale != 1 else image


def tensor_image(x: torch.Tensor, scale: int = 1) -> Image.Image:
    """(3, H, W) or (1, 3, H, W) in [-1, 1] → RGB image, enlarged `scale` times."""
    x = x[0] if x.dim() == 4 else x
    return enlarge(Image.fromarray(to_uint8(x)), scale)


def noise_image(eps: torch.Tensor, scale: int = 1, limit: float = 2.5) -> Image.Image:
    """Noise (3, H, W) of unit variance → RGB image with ±`limit` mapped to 0 … 255."""
    eps = eps[0] if eps.dim() == 4 else eps
    return tensor_image((eps / limit).clamp(-1, 1), scale)


def colorize(values: torch.Tensor | np.ndarray, vmin: float, vmax: float, cmap: str = "viridis") -> np.ndarray:
    """(H, W) values → (H, W, 3) uint8 through a colour map, clipped to [vmin, vmax]."""
    values = values.detach().float().cpu().numpy() if isinstance(values, torch.Tensor) else np.asarray(values, dtype=np.float64)
    span = vmax - vmin if vmax > vmin else 1.0
    index = np.clip((values - vmin) / span * 255.0, 0, 255).astype(np.uint8)
    return COLORMAPS[cmap][index]


def map_image(values, vmin: float, vmax: float, cmap: str = "viridis", size: int = 256) -> Image.Image:
    """A (H, W) map as a colour image enlarged (nearest) to about `size` pixels."""
    array = colorize(values, vmin, vmax, cmap)
    scale = max(1, size // array.shape[0])
    return enlarge(Image.fromarray(array), scale)


def colorbar(vmin: float, vmax: float, cmap: str, width: int = 256) -> Image.Image:
    """A horizontal colour bar with its end values (and middle) written under it."""
    height = 34
    bar = Image.new("RGB", (width, height), "white")
    ramp = COLORMAPS[cmap][np.linspace(0, 255, width - 16).astype(int)]  # (W, 3)
    bar.paste(Image.fromarray(np.repeat(ramp[None], 12, axis=0)), (8, 2))
    draw = ImageDraw.Draw(bar)
    small = font(11)
    middle = (vmin + vmax) / 2
    for value, x, anchor in ((vmin, 8, "la"), (middle, width // 2, "ma"), (vmax, width - 8, "ra")):
        draw.text((x, 17), f"{value:.3g}", fill="black", font=small, anchor=anchor)
    return bar


def stack_vertical(images: list[Image.Image], gap: int = 4) -> Image.Image:
    width = max(image.width for image in images)
    height = sum(image.height for image in images) + gap * (len(images) - 1)
    canvas = Image.new("RGB", (width, height), "white")
    y = 0
    for image in images:
        canvas.paste(image, ((width - image.width) // 2, y))
        y += image.height + gap
    return canvas


def channel_grid(feature: torch.Tensor, channels: list[int], columns: int = 4, tile: int = 64,
                 cmap: str = "diverging") -> tuple[Image.Image, float]:
    """Tiles of the chosen channels of a (C, H, W) map on one symmetric colour scale.

    Each tile is enlarged (nearest) to `tile` pixels so a 4×4 map looks as coarse as it is.
    Returns the grid and the scale limit (values in ±limit).
    """
    chosen = feature[channels].detach().float()  # (K, H, W)
    limit = float(chosen.abs().max().clamp(min=1e-6))
    rows = (len(channels) + columns - 1) // columns
    label_height = 14
    canvas = Image.new("RGB", (columns * (tile + 4), rows * (tile + 4 + label_height)), "white")
    draw = ImageDraw.Draw(canvas)
    small = font(10)
    for i, channel in enumerate(channels):
        image = Image.fromarray(colorize(chosen[i], -limit, limit, cmap)).resize((tile, tile), Image.NEAREST)
        x, y = (i % columns) * (tile + 4), (i // columns) * (tile + 4 + label_height)
        draw.text((x + 1, y), f"ch {channel}", fill="#333333", font=small)
        canvas.paste(image, (x, y + label_height))
    return canvas, limit


def vector_strip(vector: torch.Tensor, width: int = 512, height: int = 40) -> tuple[Image.Image, float]:
    """A (D,) vector as a strip of coloured cells on a symmetric scale (for the time embedding)."""
    limit = float(vector.abs().max().clamp(min=1e-6))
    array = colorize(vector[None].float(), -limit, limit, "diverging")  # (1, D, 3)
    return Image.fromarray(array).resize((width, height), Image.NEAREST), limit


def heat_overlay(image: Image.Image, heat: np.ndarray, box: tuple[int, int, int, int] | None,
                 point: tuple[int, int] | None, scale: int, decades: float = 3.0) -> Image.Image:
    """A heat map (H, W) ≥ 0 over a dimmed grey copy of an RGB image, with an outlined box
    (y0, y1, x0, x1, inclusive) and a marked point (y, x), all enlarged `scale` times.

    Colour and opacity follow log10 of the heat over `decades` decades below its peak, so faint tails
    stay visible; pixels with no influence at all show the image underneath."""
    heat = np.asarray(heat, dtype=np.float64)
    top = heat.max() if heat.max() > 0 else 1.0
    strength = np.clip(1 + np.log10(np.maximum(heat / top, 1e-30)) / decades, 0, 1)  # (H, W) in [0, 1]
    coloured = colorize(strength, 0.0, 1.0, "heat").astype(np.float64)
    grey = np.asarray(image.convert("L"), dtype=np.float64)[..., None].repeat(3, axis=2) * 0.45 + 110
    alpha = np.where(strength > 0, 0.3 + 0.7 * strength, 0.0)[..., None]
    blended = (1 - alpha) * grey + alpha * coloured
    out = enlarge(Image.fromarray(blended.clip(0, 255).astype(np.uint8)), scale)
    draw = ImageDraw.Draw(out)
    if box is not None:
        y0, y1, x0, x1 = box
        draw.rectangle((x0 * scale, y0 * scale, (x1 + 1) * scale - 1, (y1 + 1) * scale - 1), outline="#00e5ff", width=2)
    if point is not None:
        y, x = point
        draw.rectangle((x * scale - 1, y * scale - 1, (x + 1) * scale, (y + 1) * scale), outline="#00ff66", width=2)
    return out


def titled_row(items: list[tuple[str, Image.Image]], gap: int = 12) -> Image.Image:
    """Images side by side, each with a title above it."""
    height = max(image.height for _, image in items) + 20
    width = sum(image.width for _, image in items) + gap * (len(items) - 1)
    canvas = Image.new("RGB", (width, height), "white")
    draw = ImageDraw.Draw(canvas)
    x = 0
    for title, image in items:
        draw.text((x, 2), title, fill="#111", font=font(13))
        canvas.paste(image, (x, 20))
        x += image.width + gap
    return canvas
