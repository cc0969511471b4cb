"""The Receptive-field lab: what one output pixel of each network can see, in theory and in fact."""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import plotly.graph_objects as go
import torch
from PIL import Image

from explorer.analysis.receptive_field import Effective, depth_profile, effective
from explorer.render import heat_overlay, tensor_image, titled_row
from explorer.views.context import Context

SCALE = 4
OUTPUT = "output"  # the block-selector value meaning "the network's prediction ε̂"


@dataclass
class FieldView:
    title: str
    effective: Effective
    overlay: Image.Image


def spatial_blocks(ctx: Context) -> list[str]:
    return [OUTPUT] + [name for name in ctx.block_names() if getattr(ctx.fields.get(name), "spatial", False)]


def clickable_image(ctx: Context, image: np.ndarray, t: int, seed: int) -> Image.Image:
    """x_t enlarged SCALE times on the server, so a click's pixel coordinates divide exactly."""
    _, x_t, _ = ctx.x_t(image, t, seed)
    return tensor_image(x_t, SCALE)


def field_view(ctx: Context, x_t: torch.Tensor, t: int, y: int, x: int, model_name: str,
               block: str | None) -> FieldView:
    """One unit's effective field over x_t (1, 3, H, W), drawn on x_t."""
    model = ctx.pair.model(model_name)
    result = effective(model, x_t, t, y, x, block)
    overlay = heat_overlay(tensor_image(x_t), result.grad, result.box, (y, x), SCALE)
    title = ("Naive CNN" if model_name == "naive" else "U-Net") + (f": unit of {block}" if block else ": output")
    return FieldView(title, result, overlay)


def views(ctx: Context, image: np.ndarray, t: int, seed: int, y: int, x: int, block: str) -> list[FieldView]:
    """Both networks' outputs at (y, x), plus the chosen block's unit there if a block is chosen."""
    _, x_t, _ = ctx.x_t(image, t, seed)
    out = [field_view(ctx, x_t, t, y, x, "naive", None), field_view(ctx, x_t, t, y, x, "unet", None)]
    if block != OUTPUT:
        owner = "naive" if ctx.model_of(block) is ctx.pair.naive else "unet"
        out.append(field_view(ctx, x_t, t, y, x, owner, block))
    return out


def overlays_image(fields: list[FieldView]) -> Image.Image:
    """The overlays side by side with their titles: one picture, so they always share a scale."""
    return titled_row([(view.title, view.overlay) for view in fields])


def numbers_markdown(ctx: Context, fields: list[FieldView], t: int) -> str:
    rows = ["| what | theoretical field | 50 % of gradient within | 90 % within | pixels reached | "
            "mass outside the box |", "|---|---|---|---|---|---|"]
    for view in fields:
        result = view.effective
        field = result.field
        y0, y1, x0, x1 = result.box
        theory = f"{field.size_clipped}×{field.size_clipped}" + (" + global" if field.global_via else "")
        r50 = "–" if result.radius_50 is None else f"{2 * result.radius_50 + 1}×{2 * result.radius_50 + 1}"
        r90 = "–" if result.radius_90 is None else f"{2 * result.radius_90 + 1}×{2 * result.radius_90 + 1}"
        rows.append(f"| {view.title} | {theory} (box {y1 - y0 + 1}×{x1 - x0 + 1} here) | {r50} | {r90} | "
                    f"{result.support:,} of {ctx.image_size ** 2:,} | {result.outside_fraction:.1%} |")
    rows.append("\nColours span three decades of gradient magnitude (log scale), brightest at the peak.")
    rows.append(f"\nClicked pixel (y={fields[0].effective.y}, x={fields[0].effective.x}) at t = {t}. The squares "
                "are centred on the clicked pixel (Chebyshev radius). \"Global\" means the block also sees the "
                "whole image through " + _global_sources(fields) + ", beyond its convolutional box.")
    return "\n".join(rows)


def _global_sources(fields: list[FieldView]) -> str:
    sources = sorted({source for view in fields for source in view.effective.field.global_via})
    return " and ".join(sources) if sources else "nothing"


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
    figure.update_layout(title="Receptive field (convolutions only) along each network", height=380,
                         xaxis_title="block, in forward order (hover for its name)", yaxis_title="field size in input pixels",
                         yaxis_type="log", template="plotly_white", margin=dict(l=60, r=20, t=50, b=50),
                         legend=dict(orientation="h", y=-0.2))
    return figure
