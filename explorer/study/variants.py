"""The architectures the study trains: each a small change of the shipped U-Net or naive CNN.

Every variant is built at the study's resolution from its name alone, so a saved file names
what it is and `build` makes it again. The single-resolution variants cannot match the U-Net in
parameters without costing many times its multiply-adds (every layer works at full resolution),
so they are matched in multiply-adds instead (`matched`); the naive CNNs are the lesson's network
as shipped. `explorer.study.cost` counts both for the table.
"""
from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from torch import nn

from explorer.naive import NaiveCNN
from explorer.singlescale import SingleScaleCNN, SingleScaleConfig
from explorer.unet import UNet, UNetConfig

# The study's U-Net: the shipped architecture (levels, multipliers, attention at 8×8 and in the bottleneck)
# at a width that trains in minutes on one CPU core. No dropout: the budget is far too short to overfit.
UNET_BASE_CHANNELS = 16
# The single-resolution variants: as deep as asked (≥ 15 layers) and as wide as the U-Net's
# multiply-adds allow at that depth (tests/test_study.py checks the match).
SINGLE_SCALE_WIDTH = 16
SINGLE_SCALE_DEPTH = 22
DILATIONS = (1, 2, 4, 8)  # cycled: 22 layers reach a window of 1 + 2·(2 + 78) = 161 pixels


def _unet(resolution: int, **changes) -> UNet:
    return UNet(UNetConfig(image_size=resolution, base_channels=UNET_BASE_CHANNELS, dropout=0.0, **changes))


def _single_scale(resolution: int, **changes) -> SingleScaleCNN:
    return SingleScaleCNN(SingleScaleConfig(width=SINGLE_SCALE_WIDTH, depth=SINGLE_SCALE_DEPTH, **changes))


@dataclass(frozen=True)
class Variant:
    name: str
    question: str  # what comparing it with its neighbour answers, in the app's words
    build: Callable[[int], nn.Module]  # resolution → a fresh network
    seeds: int  # how many training seeds the study runs
    matched: str  # "as shipped", "U-Net family" or "multiply-adds": what its size is matched to
    tells_t: bool  # whether the network is given t


VARIANTS: dict[str, Variant] = {variant.name: variant for variant in (
    Variant("naive", "The lesson's five-layer CNN, as shipped: an 11-pixel window, one scale, no t.",
            lambda resolution: NaiveCNN(), 3, "as shipped", False),
    Variant("naive-t", "The same five layers told t: does knowing the noise level alone fix it?",
            lambda resolution: NaiveCNN(time_conditioning=True), 2, "as shipped", True),
    Variant("deep-plain", f"{SINGLE_SCALE_DEPTH} layers at one resolution, no skips and no residual connections.",
            lambda resolution: _single_scale(resolution), 2, "multiply-adds", True),
    Variant("deep-residual", "The same depth with a residual connection around every layer (gradient highways).",
            lambda resolution: _single_scale(resolution, residual=True), 2, "multiply-adds", True),
    Variant("dilated", "The residual stack with dilated convolutions: a window wider than the image, one scale.",
            lambda resolution: _single_scale(resolution, residual=True, dilations=DILATIONS), 2, "multiply-adds", True),
    Variant("unet-noskip", "The U-Net without its skip connections: an encoder-decoder.",
            lambda resolution: _unet(resolution, skip="none"), 3, "U-Net family", True),
    Variant("unet-add", "The U-Net with skips added instead of concatenated.",
            lambda resolution: _unet(resolution, skip="add"), 3, "U-Net family", True),
    Variant("unet-notime", "The U-Net never told t.",
            lambda resolution: _unet(resolution, time_conditioning=False), 2, "U-Net family", False),
    Variant("unet-noattn", "The U-Net without self-attention (none at 8×8, none in the bottleneck).",
            lambda resolution: _unet(resolution, attention_resolutions=(), mid_attention=False), 2,
            "U-Net family", True),
    Variant("unet", "The full U-Net: many scales, concatenated skips, t, attention.",
            lambda resolution: _unet(resolution), 3, "U-Net family", True),
)}


def build(name: str, resolution: int) -> nn.Module:
    """A fresh, untrained network of variant `name` for (B, 3, resolution, resolution) images."""
    if name not in VARIANTS:
        raise ValueError(f"unknown study variant {name!r}: choose one of {', '.join(VARIANTS)}")
    return VARIANTS[name].build(resolution)
