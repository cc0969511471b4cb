"""The Architecture view: the diagram, and the panel for the selected block."""
from __future__ import annotations

import html
from dataclasses import dataclass

import numpy as np
import torch

from explorer.analysis.activations import record, summarise
from explorer.diagram import diagram_html, render_svg, shape_text
from explorer.explanations import explain, field_facts
from explorer.views import pixels
from explorer.views.context import Context

TOP_CHANNELS = 8


@dataclass
class BlockPanel:
    name: str
    markdown: str
    activation: str  # HTML: pixel images with their labels and colour scales


def diagram(ctx: Context, selected: str | None) -> str:
    # the window one unit sees, unclipped: clipped to the image, enc4's 77 would read as "every unit sees all 64×64"
    sizes = {name: field.size for name in ctx.block_names() if (field := ctx.fields.get(name)) and field.spatial}
    return diagram_html(render_svg(ctx.unet_specs, ctx.naive_specs, selected, sizes))


def facts_markdown(ctx: Context, name: str) -> str:
    spec = ctx.spec(name)
    field = ctx.fields.get(name)
    rows = [("Input", shape_text(spec.input_shape)), ("Output", shape_text(spec.output_shape)),
            ("Parameters", f"{spec.parameters:,}")]
    if field is not None and getattr(field, "size", None):
        side = spec.output_shape[-1] if len(spec.output_shape) == 3 else None
        note = field_facts(field, side, ctx.image_size)
        rows.append(("Receptive field (convolutions)", note))
        if field.global_via:
            rows.append(("Also sees the whole image through", ", ".join(field.global_via)))
    elif spec.kind == "time":
        rows.append(("Receptive field", "not spatial: one vector per image"))
    return "| property | value |\n|---|---|\n" + "\n".join(f"| {key} | {value} |" for key, value in rows)


def channel_caption(shown: int, channels: int) -> str:
    """'the 8 most active of 128 channels', or 'all 3 channels' when there are no more than we show."""
    return f"all {channels} channels" if channels <= shown else f"the {shown} most active of {channels} channels"


def activation_image(name: str, output) -> str:
    """The most active channels, the mean map and their colour scales, as HTML around pixel images.

    Every channel tile shares one symmetric scale (blue negative, white zero, red positive), so
    tiles compare; the mean map has its own.
    """
    activation = summarise(name, output, k=TOP_CHANNELS)
    if not activation.spatial:
        return _vector_html(name, activation.tensor)
    tensor = activation.tensor  # (C, H, W)
    channels, side, _ = tensor.shape
    shown = activation.top_channels
    limit = float(tensor[shown].abs().max().clamp(min=1e-6))
    zoom = pixels.zoom_for(side, 64)
    tiles = "".join(
        f'<figure class="tile"><figcaption>ch {channel}</figcaption>'
        f'{pixels.img(pixels.map_png(tensor[channel], limit), zoom, f"{name} channel {channel}, {side}×{side} map")}'
        f'</figure>' for channel in shown)
    mean = activation.mean_map
    mean_limit = float(mean.abs().max().clamp(min=1e-6))
    mean_zoom = pixels.zoom_for(side, 128)
    mean_alt = f"{name}: mean over all {channels} channels, {side}×{side} map"
    return (f'<div class="activation" role="group" aria-label="{name} activations">'
            f'<div class="activation-part"><p class="part-title">{channel_caption(len(shown), channels)} '
            f'({side}×{side}, each shown {zoom}× enlarged)</p><div class="tiles">{tiles}</div>'
            f'{pixels.colour_bar(-limit, limit)}</div>'
            f'<div class="activation-part"><p class="part-title">mean over channels</p>'
            f'{pixels.img(pixels.map_png(mean, mean_limit), mean_zoom, mean_alt)}'
            f'{pixels.colour_bar(-mean_limit, mean_limit)}</div></div>')


def _vector_html(name: str, vector) -> str:
    """A (D,) vector as rows of 16 cells in reading order (values 0–15 on the first row, and so on)."""
    values = vector.detach().float()
    size = values.numel()
    columns = 16
    rows = -(-size // columns)
    padded = torch.zeros(rows * columns)
    padded[:size] = values
    limit = float(values.abs().max().clamp(min=1e-6))
    grid = pixels.map_png(padded.reshape(rows, columns), limit)
    alt = f"{name}: the {size} values of the time embedding, {columns} per row"
    return (f'<div class="activation" role="group" aria-label="{name} activations"><div class="activation-part">'
            f'<p class="part-title">{name}: all {size} values of the time embedding, {columns} per row '
            f'(values 0–{columns - 1} on the first row)</p>{pixels.img(grid, 16, alt)}'
            f'{pixels.colour_bar(-limit, limit)}</div></div>')


def block_panel(ctx: Context, image: np.ndarray, t: int, seed: int, name: str) -> BlockPanel:
    """Explanation, facts and live activations of block `name` for the current x_t."""
    spec = ctx.spec(name)
    title, what, why = explain(spec, ctx.fields.get(name), ctx.metrics, ctx.image_size)
    _, x_t, _ = ctx.x_t(image, t, seed)
    outputs = record(ctx.model_of(name), x_t, t, {name})
    markdown = (f"### {name} · {title}\n\n**What it does.** {what}\n\n**Why it is there.** {why}\n\n"
                f"{facts_markdown(ctx, name)}\n\n*Activations below: this block's output for the current "
                f"image at t = {t}.*")
    return BlockPanel(name, markdown, activation_image(name, outputs[name]))


# The "Part by part" tab's sections (their elem_ids in explorer/ui/proofs.py) and what each one shows.
EVIDENCE = {
    "proof-gradients": "gradient highways",
    "proof-concat": "what each decoder level takes from each source",
    "proof-bottleneck": "the bottleneck and the skips across t",
    "proof-attention": "attention maps",
    "proof-time": "time conditioning",
}


def evidence_sections(ctx: Context, name: str) -> list[str]:
    """The "Part by part" sections that measure what block `name` is for, the most specific first."""
    kind = ctx.spec(name).kind
    level = name.split(".")[0]
    if kind == "attn":
        return ["proof-attention"] + (["proof-bottleneck"] if level == "mid" else [])
    if kind in ("skip", "up"):
        return ["proof-concat"]
    if kind == "time":
        return ["proof-time"]
    if kind == "in":
        return ["proof-gradients"]
    if kind == "res":
        if level == "mid":
            return ["proof-bottleneck", "proof-time"]
        if level.startswith("dec"):
            return ["proof-concat", "proof-time"]
        return (["proof-gradients"] if level == "enc1" else []) + ["proof-time"]
    return []


def evidence_html(ctx: Context, name: str) -> str:
    """Buttons that open block `name`'s evidence in the "Part by part" tab; empty when no section measures it.

    Each button carries its section's elem_id; an attention block's button also names the block, so the
    attention section can show that block's maps."""
    if name not in ctx.block_names() or not ctx.shipped_only:  # Part by part measures the shipped U-Net only
        return ""
    buttons = []
    for section in evidence_sections(ctx, name):
        query = f' data-query-block="{html.escape(name)}"' if section == "proof-attention" else ""
        buttons.append(f'<button type="button" class="evidence-link" data-evidence="{section}"{query}>'
                       f'See the evidence: {html.escape(EVIDENCE[section])} →</button>')
    if not buttons:
        return ""
    return (f'<nav class="evidence-links" aria-label="Where {html.escape(name)} is measured">'
            f'<span class="evidence-lead">Measured in <i>Part by part</i>:</span>{"".join(buttons)}</nav>')
