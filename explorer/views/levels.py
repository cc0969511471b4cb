"""The all-levels view: every level's feature maps at its own resolution, and their spectra."""
from __future__ import annotations

import numpy as np
import plotly.graph_objects as go
import torch
from PIL import Image, ImageDraw

from explorer.analysis.activations import record, summarise
from explorer.analysis.spectrum import high_frequency_share, normalised_power
from explorer.render import colorize, font
from explorer.views.context import Context
from explorer.views.denoising import PLOT_TEMPLATE

CHANNELS_PER_LEVEL = 6
TILE = 56


def level_names(ctx: Context) -> list[str]:
    """enc1 … encN, the bottleneck's last block, decN … dec1, plus the skips and the upsampled paths."""
    levels = ctx.pair.unet.config.num_levels
    return ([f"enc{i}" for i in range(1, levels + 1)] + ["mid.res2"] + [f"dec{i}" for i in range(levels, 0, -1)])


def spectrum_names(ctx: Context) -> list[str]:
    levels = ctx.pair.unet.config.num_levels
    return level_names(ctx) + [f"skip{i}" for i in range(1, levels + 1)] + [f"dec{i}.up" for i in range(1, levels + 1)]


def record_levels(ctx: Context, image: np.ndarray, t: int, seed: int) -> dict[str, torch.Tensor]:
    _, x_t, _ = ctx.x_t(image, t, seed)
    return record(ctx.pair.unet, x_t, t, spectrum_names(ctx))


def level_grid(ctx: Context, outputs: dict[str, torch.Tensor]) -> Image.Image:
    """One row per level: its name and resolution, then its most active channels, each on its own scale."""
    names = level_names(ctx)
    label_width = 132
    width = label_width + CHANNELS_PER_LEVEL * (TILE + 4)
    canvas = Image.new("RGB", (width, len(names) * (TILE + 6)), "white")
    draw = ImageDraw.Draw(canvas)
    for row, name in enumerate(names):
        activation = summarise(name, outputs[name], k=CHANNELS_PER_LEVEL)
        channels, height, _ = activation.tensor.shape
        y = row * (TILE + 6)
        draw.text((4, y + 12), name, fill="#111", font=font(14))
        draw.text((4, y + 32), f"{channels} ch, {height}x{height}", fill="#555", font=font(11))
        for column, channel in enumerate(activation.top_channels):
            values = activation.tensor[channel]
            limit = float(values.abs().max().clamp(min=1e-6))
            tile = Image.fromarray(colorize(values, -limit, limit, "diverging")).resize((TILE, TILE), Image.NEAREST)
            canvas.paste(tile, (label_width + column * (TILE + 4), y))
    return canvas


def spectrum_figure(ctx: Context, outputs: dict[str, torch.Tensor], t: int, group: str = "levels") -> dict:
    """Radially averaged power spectra (share of each map's variance per frequency), one line per map,
    as a plain Plotly figure dict.

    group: "levels" (enc, bottleneck, dec) or "skips" (what each skip carries vs what the upsampled path carries).
    """
    levels = ctx.pair.unet.config.num_levels
    if group == "skips":
        names = [name for i in range(1, levels + 1) for name in (f"skip{i}", f"dec{i}.up")]
    else:
        names = level_names(ctx)
    data = []
    for name in names:
        frequencies, power = normalised_power(outputs[name][0])
        dashed = name.endswith(".up") or name.startswith("dec")
        data.append({"type": "scatter", "x": frequencies.tolist(), "y": power.tolist(), "mode": "lines+markers",
                     "name": name, "line": {"dash": "dash" if dashed else "solid", "width": 2}, "marker": {"size": 4},
                     "hovertemplate": f"{name}<br>%{{x:.0f}} cycles/image<br>%{{y:.3%}} of power<extra></extra>"})
    title = ("What each skip carries (solid) vs the upsampled path it joins (dashed)" if group == "skips"
             else "Where each level's variation lives")
    layout = {"title": {"text": f"{title}, t = {t}"}, "height": 380, "template": PLOT_TEMPLATE,
              "margin": {"l": 60, "r": 20, "t": 50, "b": 50},
              "xaxis": {"title": {"text": f"spatial frequency (cycles per image; {ctx.image_size // 2} is the finest)"}},
              "yaxis": {"title": {"text": "share of the map's power"}, "type": "log", "exponentformat": "power"}}
    return {"data": data, "layout": layout}


def high_frequency_sweep(ctx: Context, image: np.ndarray, seed: int,
                         timesteps=(1, 50, 100, 250, 500, 750, 900, 999)) -> go.Figure:
    """How the share of high-frequency power of each skip and each upsampled path moves with t."""
    levels = ctx.pair.unet.config.num_levels
    names = [f"skip{i}" for i in range(1, levels + 1)] + [f"dec{i}.up" for i in range(1, levels + 1)] + ["mid.res2"]
    shares = {name: [] for name in names}
    for t in timesteps:
        outputs = record_levels(ctx, image, t, seed)
        for name in names:
            shares[name].append(high_frequency_share(outputs[name][0], ctx.image_size))
    figure = go.Figure()
    for name in names:
        figure.add_trace(go.Scatter(x=list(timesteps), y=shares[name], mode="lines+markers", name=name,
                                    line=dict(dash="dash" if name.endswith(".up") else "solid")))
    cutoff = int(0.25 * ctx.image_size / 2)
    figure.update_layout(title=f"Share of power above {cutoff} cycles/image, against t", height=360,
                         xaxis_title="timestep t", yaxis_title="high-frequency share", yaxis_tickformat=".0%",
                         template="plotly_white", margin=dict(l=60, r=20, t=50, b=50))
    return figure
