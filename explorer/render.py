"""Tensors → pictures: enlarged images and colour maps.

PIL images (uint8 RGB) or uint8 RGB arrays; each view builds its own Plotly figures.
"""
from __future__ import annotations

import numpy as np
import torch
from PIL import Image

from explorer.data import to_uint8

_DIVERGING = ["#2166ac", "#67a9cf", "#d1e5f0", "#f7f7f7", "#fddbc7", "#ef8a62", "#b2182b"]
_HEAT = ["#000004", "#320a5e", "#781c6d", "#bc3754", "#ed6925", "#fbb61a", "#fcffa4"]  # inferno-like


def _lut(anchors: list[str]) -> np.ndarray:
    colours = np.array([[int(h[i:i + 2], 16) for i in (1, 3, 5)] for h in anchors], dtype=np.float64)
    positions = np.linspace(0, 1, len(anchors))
    steps = np.linspace(0, 1, 256)
    return np.stack([np.interp(steps, positions, colours[:, c]) for c in range(3)], axis=1).round().astype(np.uint8)


COLORMAPS = {"diverging": _lut(_DIVERGING), "heat": _lut(_HEAT)}


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


def colorize(values: torch.Tensor | np.ndarray, vmin: float, vmax: float, cmap: str) -> np.ndarray:
    """(H, W) values → (H, W, 3) uint8 through the colour map `cmap` (a key of COLORMAPS), clipped to
    [vmin, vmax]."""
    if isinstance(values, torch.Tensor):
        values = values.detach().float().cpu().numpy()
    else:
        values = np.asarray(values, dtype=np.float64)
    span = vmax - vmin if vmax > vmin else 1.0
    index = np.clip((values - vmin) / span * 255.0, 0, 255).astype(np.uint8)
    return COLORMAPS[cmap][index]
