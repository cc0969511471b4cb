"""The all-levels view: every level's feature maps at its own resolution, and their spectra.

Beside the U-Net's levels, the naive CNN's five layers: all at the input's resolution, because it has
no other scale. Maps are pixel pictures at whole-number zoom (views/pixels.py), their labels HTML.
"""
from __future__ import annotations

from html import escape

import numpy as np
import plotly.graph_objects as go
import torch

from explorer import formatting
from explorer.analysis.activations import record, summarise
from explorer.analysis.metrics import TIMESTEPS
from explorer.analysis.spectrum import HIGH_FREQUENCY_FRACTION, high_frequency_share, normalised_power
from explorer.views import pixels
from explorer.views.context import Context
from explorer.views.denoising import PLOT_TEMPLATE

CHANNELS_PER_LEVEL = 6
TILE = 64  # CSS pixels a full-resolution map is shown at; smaller maps get the whole-number zoom nearest to it


def level_names(ctx: Context) -> list[str]:
    """Each encoder level's ResBlock output (enc1 … encN), the bottleneck's (mid.res2), each decoder level's (decN
    … dec1): the last ResBlock of each level, read from the U-Net's blocks (a diffusers model's too)."""
    last: dict[tuple[str, int | None], str] = {}
    for spec in ctx.unet_specs:
        if spec.part in ("encoder", "bottleneck", "decoder") and spec.kind == "res":
            last[(spec.part, spec.level if spec.part != "bottleneck" else None)] = spec.name
    levels = max(spec.level or 0 for spec in ctx.unet_specs)
    return ([last[("encoder", i)] for i in range(1, levels + 1) if ("encoder", i) in last]
            + [last[key] for key in [("bottleneck", None)] if key in last]
            + [last[("decoder", i)] for i in range(levels, 0, -1) if ("decoder", i) in last])


def bottleneck_name(ctx: Context) -> str:
    """The bottleneck's output (mid.res2; a diffusers model's mid_block.resnets.1), or the deepest level's."""
    names = level_names(ctx)
    return names[len(names) // 2]


def skip_pairs(ctx: Context) -> list[tuple[str, str]]:
    """Each skip beside the path it is concatenated with: the block just before it in forward order (dec3.up for
    our skip3; the up path's previous layer or upsampler in a diffusers model), by skip number."""
    pairs, previous = [], None
    for spec in ctx.unet_specs:
        if spec.kind == "skip":
            pairs.append((int(spec.name.removeprefix("skip")), spec.name, previous))
        elif spec.kind != "time":
            previous = spec.name
    return [(skip, beside) for _, skip, beside in sorted(pairs)]


def naive_names(ctx: Context) -> list[str]:
    """The naive CNN's layers in forward order (layer1 … layer5)."""
    return [spec.name for spec in ctx.naive_specs]


def spectrum_names(ctx: Context) -> list[str]:
    pairs = skip_pairs(ctx)
    return list(dict.fromkeys(level_names(ctx) + [skip for skip, _ in pairs] + [beside for _, beside in pairs]))


def record_levels(ctx: Context, image: np.ndarray, t: int, seed: int) -> dict[str, torch.Tensor]:
    """One forward pass of each network on the same x_t, keeping every level (U-Net) and every layer (naive)."""
    _, x_t, _ = ctx.x_t(image, t, seed)
    outputs = record(ctx.pair.unet, x_t, t, spectrum_names(ctx))
    naive = record(ctx.pair.naive, x_t, t, naive_names(ctx))
    naive.pop("eps_hat", None)
    return {**outputs, **naive}


def _grid_html(outputs: dict[str, torch.Tensor], names: list[str], label: str) -> str:
    """One row per map: its name, channels and resolution in HTML, then its most active channels as pixels."""
    rows = []
    for name in names:
        activation = summarise(name, outputs[name], k=CHANNELS_PER_LEVEL)
        channels, side, _ = activation.tensor.shape
        zoom = pixels.zoom_for(side, TILE) if side <= TILE else 1
        tiles = []
        for channel in activation.top_channels:
            values = activation.tensor[channel]
            limit = float(values.abs().max().clamp(min=1e-6))
            tiles.append(pixels.img(pixels.map_png(values, limit), zoom,
                                    f"{name}, channel {channel}: {side}×{side} map"))
        rows.append(f'<div class="level-row"><div class="level-name"><b>{escape(name)}</b>'
                    f'<span>{channels} ch · {side}×{side}</span></div>'
                    f'<div class="level-tiles">{"".join(tiles)}</div></div>')
    return f'<div class="level-grid" role="group" aria-label="{escape(label)}">{"".join(rows)}</div>'


def level_grid(ctx: Context, outputs: dict[str, torch.Tensor]) -> str:
    """The U-Net's levels, enc1 down to the bottleneck and back up to dec1, as HTML."""
    return _grid_html(outputs, level_names(ctx), "U-Net feature maps, one row per level")


def naive_grid(ctx: Context, outputs: dict[str, torch.Tensor]) -> str:
    """The naive CNN's five layers, all at the input's resolution, as HTML."""
    return _grid_html(outputs, naive_names(ctx), "Naive CNN feature maps, one row per layer")


def scales_markdown(ctx: Context, outputs: dict[str, torch.Tensor]) -> str:
    """A few live sentences comparing the two networks' resolutions and fine-scale power."""
    cutoff = HIGH_FREQUENCY_FRACTION * ctx.image_size / 2

    def share(name: str) -> float:
        return high_frequency_share(outputs[name][0], ctx.image_size)

    naive = [share(name) for name in naive_names(ctx)]
    naive_sides = sorted({outputs[name].shape[-1] for name in naive_names(ctx)})
    unet_sides = sorted({outputs[name].shape[-1] for name in level_names(ctx)}, reverse=True)
    fine = [name for name in level_names(ctx) if outputs[name].shape[-1] / 2 > cutoff]
    coarse_sides = [side for side in unet_sides if side / 2 <= cutoff]
    text = (f"**One scale against {len(unet_sides)}.** The naive CNN's {len(naive)} layers are all "
            f"{' and '.join(f'{side}×{side}' for side in naive_sides)}; the U-Net's levels run "
            f"{' → '.join(f'{side}×{side}' for side in unet_sides)} and back up. ")
    if coarse_sides:
        patch = ctx.image_size // max(coarse_sides)
        text += (f"A map of side n holds at most n/2 cycles per image, so the U-Net's levels at "
                 f"{max(coarse_sides)}×{max(coarse_sides)} and smaller carry nothing finer than {cutoff:g} cycles "
                 f"per image: each of their values stands for a {patch}×{patch} patch of the image or more. ")
    fine_shares = [share(name) for name in fine]
    text += (f"Share of power finer than {cutoff:g} cycles per image for this x_t: naive layers "
             f"{formatting.share(min(naive))} to {formatting.share(max(naive))}")
    if fine_shares:
        fine_sides = sorted({outputs[name].shape[-1] for name in fine}, reverse=True)
        text += (f"; the U-Net's {' and '.join(f'{side}×{side}' for side in fine_sides)} levels "
                 f"{formatting.share(min(fine_shares))} to {formatting.share(max(fine_shares))}")
    return text + "."


def figure_layout(title: str, height: int, **extra) -> dict:
    """Shared layout: a short title on the left, the legend under the plot and the mode bar standing upright
    in the right margin, so neither covers the title or the data on a narrow phone screen."""
    layout = {"title": {"text": title, "x": 0, "xanchor": "left", "font": {"size": 15}}, "height": height,
              "template": PLOT_TEMPLATE, "margin": {"l": 56, "r": 36, "t": 40, "b": 40},
              "modebar": {"orientation": "v"},
              "legend": {"orientation": "h", "yanchor": "top", "y": -0.3, "x": 0, "font": {"size": 11},
                         "entrywidth": 0.5, "entrywidthmode": "fraction"}}
    layout.update(extra)
    return layout


def spectrum_figure(ctx: Context, outputs: dict[str, torch.Tensor], t: int, group: str = "levels") -> dict:
    """Radially averaged power spectra (share of each map's variance per frequency), one line per map,
    as a plain Plotly figure dict.

    group: "levels" (enc, bottleneck, dec), "skips" (what each skip carries vs what the upsampled path
    carries) or "naive" (the naive CNN's layers, with the U-Net's finest and coarsest level in grey).
    """
    references: list[str] = []
    besides = {beside for _, beside in skip_pairs(ctx)}
    if group == "skips":
        names = [name for pair in skip_pairs(ctx) for name in pair]
    elif group == "naive":
        names = naive_names(ctx)
        references = [level_names(ctx)[0], bottleneck_name(ctx)]
    else:
        names = level_names(ctx)
    decoder = {spec.name for spec in ctx.unet_specs if spec.part == "decoder"}
    data = []
    for name in names + references:
        frequencies, power = normalised_power(outputs[name][0])
        side = outputs[name].shape[-1]
        reference = name in references
        dashed = (name in besides) if group == "skips" else name in decoder
        label = f"U-Net {name}" if reference else name
        line = {"dash": "dash" if dashed else "solid", "width": 2}
        if reference:  # the U-Net's finest level dotted, its coarsest dash-dotted, both grey
            line = {"dash": "dot" if name == references[0] else "dashdot", "width": 2,
                    "color": "#9e9e9e" if name == references[0] else "#424242"}
        data.append({"type": "scatter", "x": frequencies.tolist(), "y": power.tolist(), "mode": "lines+markers",
                     "name": label, "line": line, "marker": {"size": 4},
                     "hovertemplate": f"{label} ({side}×{side})<br>%{{x:.0f}} cycles/image<br>%{{y:.3%}} of power"
                                          "<extra></extra>"})
    title = {"skips": "Skips vs upsampled paths", "naive": "Naive CNN layers"}.get(group, "U-Net levels")
    layout = figure_layout(f"{title}, t = {t}", 460,
                           xaxis={"title": {"text": f"cycles per image ({ctx.image_size // 2}: the finest)"}},
                           yaxis={"title": {"text": "share of the map's power"}, "type": "log",
                                  "exponentformat": "power", "dtick": 1})  # a label per factor of ten only
    return {"data": data, "layout": layout}


def high_frequency_sweep(ctx: Context, image: np.ndarray, seed: int,
                         timesteps: tuple[int, ...] = TIMESTEPS) -> go.Figure:
    """How the share of high-frequency power of each skip and each upsampled path moves with t."""
    pairs = skip_pairs(ctx)
    besides = [beside for _, beside in pairs]
    names = list(dict.fromkeys([skip for skip, _ in pairs] + besides + [bottleneck_name(ctx)]))
    shares = {name: [] for name in names}
    for t in timesteps:
        outputs = record_levels(ctx, image, t, seed)
        for name in names:
            shares[name].append(high_frequency_share(outputs[name][0], ctx.image_size))
    figure = go.Figure()
    for name in names:
        figure.add_trace(go.Scatter(x=list(timesteps), y=shares[name], mode="lines+markers", name=name,
                                    line=dict(dash="dash" if name in besides else "solid")))
    cutoff = HIGH_FREQUENCY_FRACTION * ctx.image_size / 2
    figure.update_layout(**figure_layout(f"Power above {cutoff:g} cycles/image against t", 420,
                                         xaxis={"title": {"text": "timestep t"}},
                                         yaxis={"title": {"text": "high-frequency share"}, "tickformat": ".0%"}))
    return figure
