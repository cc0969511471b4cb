"""The Architecture view: the diagram, and the panel for the selected block."""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from PIL import Image, ImageDraw

from explorer.analysis.activations import record, summarise
from explorer.diagram import render_svg, shape_text
from explorer.explanations import explain
from explorer.render import channel_grid, colorbar, font, map_image, stack_vertical, vector_strip
from explorer.views.context import Context

TOP_CHANNELS = 8


@dataclass
class BlockPanel:
    name: str
    markdown: str
    activation: Image.Image


def field_size(ctx: Context, name: str) -> int | None:
    field = ctx.fields.get(name)
    return getattr(field, "size_clipped", None) if field is not None else None


def diagram(ctx: Context, selected: str | None) -> str:
    sizes = {name: size for name in ctx.block_names() if (size := field_size(ctx, name))}
    return render_svg(ctx.unet_specs, ctx.naive_specs, selected, sizes)


def facts_markdown(ctx: Context, name: str) -> str:
    spec = ctx.spec(name)
    field = ctx.fields.get(name)
    rows = [("Input", shape_text(spec.input_shape)), ("Output", shape_text(spec.output_shape)),
            ("Parameters", f"{spec.parameters:,}")]
    if field is not None and getattr(field, "size", None):
        note = f"{field.size_clipped}×{field.size_clipped} input pixels"
        if field.size != field.size_clipped:
            note += f" ({field.size}×{field.size} before clipping to the {ctx.image_size}×{ctx.image_size} image)"
        rows.append(("Receptive field (convolutions)", note))
        if field.global_via:
            rows.append(("Also sees the whole image through", ", ".join(field.global_via)))
    elif spec.kind == "time":
        rows.append(("Receptive field", "not spatial: one vector per image"))
    return "| property | value |\n|---|---|\n" + "\n".join(f"| {key} | {value} |" for key, value in rows)


def activation_image(name: str, output) -> Image.Image:
    """The most active channels as a grid, the mean map, and their colour scales, in one picture."""
    activation = summarise(name, output, k=TOP_CHANNELS)
    if not activation.spatial:
        strip, limit = vector_strip(activation.tensor, width=520, height=36)
        caption = _caption(f"{name}: all {activation.tensor.numel()} values of the time embedding", 520)
        return stack_vertical([caption, strip, colorbar(-limit, limit, "diverging", 520)])
    grid, limit = channel_grid(activation.tensor, activation.top_channels, columns=4, tile=64)
    mean = activation.mean_map
    mean_limit = float(mean.abs().max().clamp(min=1e-6))
    mean_image = map_image(mean, -mean_limit, mean_limit, "diverging", size=136)
    resolution = activation.tensor.shape[-1]
    left = stack_vertical([_caption(f"{TOP_CHANNELS} most active of {activation.tensor.shape[0]} channels "
                                    f"({resolution}x{resolution})", grid.width), grid,
                           colorbar(-limit, limit, "diverging", grid.width)])
    right = stack_vertical([_caption("mean over channels", 150), mean_image.resize((136, 136), Image.NEAREST),
                            colorbar(-mean_limit, mean_limit, "diverging", 150)])
    canvas = Image.new("RGB", (left.width + right.width + 16, max(left.height, right.height)), "white")
    canvas.paste(left, (0, 0))
    canvas.paste(right, (left.width + 16, 0))
    return canvas


def _caption(text: str, width: int) -> Image.Image:
    image = Image.new("RGB", (max(width, 10), 18), "white")
    ImageDraw.Draw(image).text((2, 2), text, fill="#222", font=font(12))
    return image


def block_panel(ctx: Context, image: np.ndarray, t: int, seed: int, name: str) -> BlockPanel:
    """Explanation, facts and live activations of block `name` for the current x_t."""
    spec = ctx.spec(name)
    title, what, why = explain(spec, field_size(ctx, name))
    _, x_t, _ = ctx.x_t(image, t, seed)
    outputs = record(ctx.model_of(name), x_t, t, {name})
    markdown = (f"### {name} · {title}\n\n**What it does.** {what}\n\n**Why it is there.** {why}\n\n"
                f"{facts_markdown(ctx, name)}\n\n*Activations below: this block's output for the current "
                f"image at t = {t}.*")
    return BlockPanel(name, markdown, activation_image(name, outputs[name]))
