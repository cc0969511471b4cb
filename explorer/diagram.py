"""The clickable architecture diagram, laid out as a U from the model's own blocks.

Positions follow the block names and levels that `explorer.analysis.structure.describe`
reports, so a model with another number of levels or attention elsewhere draws itself
differently. The naive CNN is drawn beside the U at the same box size, as the contrast.

Two layouts: our U-Net's (`layout`: one box per level, the level's skip straight across), and one for models
whose blocks sit in containers (`grouped_layout`: a diffusers UNet2DModel's down_blocks.N, mid_block, up_blocks.N),
where a level holds several layers side by side and several skips, each drawn from the block whose output it
carries (`source`) to the block that receives it (`target`).
"""
from __future__ import annotations

from dataclasses import dataclass
from html import escape
from pathlib import Path

from explorer.analysis.structure import BlockSpec

FILL = {
    "time": "#e9e4f5", "in": "#eceff1", "res": "#dbe9f6", "attn": "#fde2c4", "down": "#d5f0ea",
    "up": "#e6dcf3", "skip": "#d9f2d0", "out": "#f8d7da", "conv": "#eeeeee",
}
STROKE = {
    "time": "#6a4c93", "in": "#546e7a", "res": "#2c6fad", "attn": "#d9822b", "down": "#1f8a70",
    "up": "#7b4fb5", "skip": "#3a8f2d", "out": "#b23a48", "conv": "#757575",
}

BOX_W, BOX_H = 150, 40
SMALL_W, SMALL_H = 96, 26
ATTN_W = 96
ROW = 92
TOP = 96
HIT_H = 34  # every block's tap target is at least this tall (a transparent rect behind the drawn box)


@dataclass
class Box:
    spec: BlockSpec
    x: float
    y: float
    w: float
    h: float

    @property
    def cx(self) -> float:
        return self.x + self.w / 2

    @property
    def cy(self) -> float:
        return self.y + self.h / 2


def shape_text(shape: tuple[int, ...]) -> str:
    if len(shape) == 3:
        return f"{shape[0]}×{shape[1]}×{shape[2]}"
    return f"vector of {shape[0]}" if shape else "scalar t"


def layout(unet: list[BlockSpec], naive: list[BlockSpec]) -> tuple[dict[str, Box], float, float]:
    """Positions of every block: encoder down the left, bottleneck at the bottom, decoder up the right."""
    by_name = {spec.name: spec for spec in unet}
    levels = max(spec.level or 0 for spec in unet)
    has_attention = {spec.level for spec in unet if spec.kind == "attn" and spec.level}
    enc_x = 20
    enc_attn_x = enc_x + BOX_W + 10
    gap = 150
    dec_attn_x = enc_attn_x + ATTN_W + gap
    dec_x = dec_attn_x + ATTN_W + 10
    unet_right = dec_x + BOX_W
    boxes: dict[str, Box] = {}

    def place(spec: BlockSpec, x: float, y: float, w: float = BOX_W, h: float = BOX_H) -> None:
        boxes[spec.name] = Box(spec, x, y, w, h)

    extra_res_rows = {}
    for spec in unet:
        row_y = TOP + ((spec.level or 1) - 1) * ROW
        if spec.name == "time_mlp":
            place(spec, (enc_x + unet_right) / 2 - BOX_W / 2, 8)
        elif spec.name == "in_conv":
            place(spec, enc_x, TOP - 58, BOX_W, 30)
        elif spec.name == "out":
            place(spec, dec_x, TOP - 58, BOX_W, 30)
        elif spec.part in ("encoder", "decoder") and spec.kind in ("res", "attn"):
            is_sub = ".res" in spec.name
            if spec.kind == "attn":
                x = enc_attn_x if spec.part == "encoder" else dec_attn_x
                place(spec, x, row_y, ATTN_W, BOX_H)
            elif is_sub:  # extra ResBlocks of a level stack as thin boxes above its main one
                key = (spec.part, spec.level)
                extra_res_rows[key] = extra_res_rows.get(key, 0) + 1
                x = enc_x if spec.part == "encoder" else dec_x
                place(spec, x + 6 * extra_res_rows[key], row_y - 6 * extra_res_rows[key], BOX_W, 8)
            else:
                x = enc_x if spec.part == "encoder" else dec_x
                place(spec, x, row_y)
        elif spec.kind == "down":
            place(spec, enc_x + (BOX_W - SMALL_W) / 2, row_y + BOX_H + 13, SMALL_W, SMALL_H)
        elif spec.kind == "up":
            place(spec, dec_x + (BOX_W - SMALL_W) / 2, row_y + BOX_H + 13, SMALL_W, SMALL_H)
        elif spec.kind == "skip":
            left = enc_attn_x + ATTN_W if spec.level in has_attention else enc_x + BOX_W
            right = dec_attn_x if spec.level in has_attention else dec_x
            place(spec, (left + right) / 2 - 40, row_y + BOX_H / 2 - 12, 80, 24)
    mid = [spec for spec in unet if spec.part == "bottleneck"]
    mid_y = TOP + levels * ROW
    mid_w = 120
    total = len(mid) * mid_w + (len(mid) - 1) * 14
    start = (enc_x + unet_right) / 2 - total / 2
    for index, spec in enumerate(mid):
        place(spec, start + index * (mid_w + 14), mid_y, mid_w, BOX_H)

    naive_x = unet_right + 70
    for index, spec in enumerate(naive):
        place(spec, naive_x, TOP - 58 + index * 76, BOX_W, BOX_H)
    height = max(mid_y + BOX_H + 44, TOP - 58 + len(naive) * 76 + 30)
    assert all(name in boxes for name in by_name), "every block must be placed"
    return boxes, naive_x + BOX_W + 20, height


GROUP_W, GROUP_GAP = 108, 8  # a grouped layout's boxes: one per layer, side by side along its level's row
SKIP_W, SKIP_H, SKIP_GAP = 72, 22, 6  # its skips, stacked in the middle of their level's row
LABEL_H = 18  # room above a row for its containers' names
# On a phone a grouped diagram keeps this share of its own width (not the 700 px of ours) and scrolls sideways, so
# that its many boxes stay big enough to read and to tap.
PHONE_SCALE = 0.75
NAIVE_ROW_X = 130  # where a grouped layout's row of naive CNN layers starts, after its title


def short_name(spec: BlockSpec) -> str:
    """A grouped block's label inside its box: its name within its container (resnets.0 of down_blocks.1)."""
    return spec.name.removeprefix(f"{spec.group}.") if spec.group else spec.name


def grouped_layout(unet: list[BlockSpec], naive: list[BlockSpec]) -> tuple[dict[str, Box], float, float]:
    """Positions for a model whose blocks sit in containers: one row per level (its down block's layers on the left
    in forward order, its up block's on the right), the level's skips stacked between them, the mid block's
    layers along the bottom, the time embedding at the top, the naive CNN on the right."""
    levels = max(spec.level or 0 for spec in unet)
    rows = {level: {"encoder": [], "decoder": [], "skip": []} for level in range(1, levels + 1)}
    for spec in unet:
        if spec.kind == "skip":
            rows[spec.level]["skip"].append(spec)
        elif spec.part in ("encoder", "decoder") and spec.level:
            rows[spec.level][spec.part].append(spec)
    step = GROUP_W + GROUP_GAP
    enc_x = 20
    enc_w = max(len(row["encoder"]) for row in rows.values()) * step
    skip_x = enc_x + enc_w + 40
    dec_x = skip_x + SKIP_W + 40
    dec_w = max(len(row["decoder"]) for row in rows.values()) * step
    unet_right = dec_x + dec_w
    boxes: dict[str, Box] = {}
    top = TOP + 40  # the time embedding above conv_in and conv_out
    y = top + LABEL_H
    for level in range(1, levels + 1):
        row = rows[level]
        for part, x0 in (("encoder", enc_x), ("decoder", dec_x)):
            for index, spec in enumerate(row[part]):
                boxes[spec.name] = Box(spec, x0 + index * step, y, GROUP_W, BOX_H)
        for index, spec in enumerate(row["skip"]):
            boxes[spec.name] = Box(spec, skip_x, y + index * (SKIP_H + SKIP_GAP), SKIP_W, SKIP_H)
        height = max(BOX_H, len(row["skip"]) * (SKIP_H + SKIP_GAP))
        y += height + 30 + LABEL_H
    mid = [spec for spec in unet if spec.part == "bottleneck"]
    start = (enc_x + unet_right) / 2 - (len(mid) * step - GROUP_GAP) / 2
    for index, spec in enumerate(mid):
        boxes[spec.name] = Box(spec, start + index * step, y, GROUP_W, BOX_H)
    bottom = y + BOX_H
    for spec in unet:
        if spec.kind == "time":
            boxes[spec.name] = Box(spec, (enc_x + unet_right) / 2 - BOX_W / 2, 8, BOX_W, BOX_H)
        elif spec.kind == "in":
            boxes[spec.name] = Box(spec, enc_x, top - 58, GROUP_W, 30)
        elif spec.kind == "out":
            boxes[spec.name] = Box(spec, dec_x, top - 58, GROUP_W, 30)
    naive_y = bottom + 90  # the naive CNN in a row under the U: the U is wide enough already
    for index, spec in enumerate(naive):
        boxes[spec.name] = Box(spec, NAIVE_ROW_X + index * (BOX_W + 36), naive_y, BOX_W, BOX_H)
    naive_right = NAIVE_ROW_X + len(naive) * (BOX_W + 36)
    assert all(spec.name in boxes for spec in unet), "every block must be placed"
    return boxes, max(unet_right, naive_right) + 20, naive_y + BOX_H + 60


def grouped_edges(boxes: dict[str, Box], unet: list[BlockSpec], naive: list[BlockSpec]) -> list[str]:
    """The data flow in forward order (elbows between rows), each skip from its source to its target, the naive
    CNN's layers."""
    out = []
    flow = [spec.name for spec in unet if spec.kind not in ("time", "skip")]
    for a, b in zip(flow, flow[1:]):
        box_a, box_b = boxes[a], boxes[b]
        if abs(box_a.y - box_b.y) < 1:
            out.append(_arrow(box_a.x + box_a.w, box_a.cy, box_b.x, box_b.cy))
        elif box_b.y > box_a.y:  # down the encoder, into the bottleneck
            turn = box_b.y - 10
            out.append(_path([(box_a.cx, box_a.y + box_a.h), (box_a.cx, turn), (box_b.cx, turn), (box_b.cx, box_b.y)]))
        else:  # up the decoder, out to conv_out
            turn = box_b.y + box_b.h + 10
            out.append(_path([(box_a.cx, box_a.y), (box_a.cx, turn), (box_b.cx, turn), (box_b.cx, box_b.y + box_b.h)]))
    colour = STROKE["skip"]
    for spec in unet:
        if spec.kind != "skip":
            continue
        skip, source, target = boxes[spec.name], boxes.get(spec.source), boxes.get(spec.target)
        if source is not None:
            out.append(_path([(source.cx + 8, source.y + source.h), (source.cx + 8, skip.cy), (skip.x, skip.cy)],
                             colour, width=1.6))
        if target is not None:
            out.append(_path([(skip.x + skip.w, skip.cy), (target.cx - 8, skip.cy),
                              (target.cx - 8, target.y + target.h)], colour, width=1.6))
    for a, b in zip(naive, naive[1:]):
        box_a, box_b = boxes[a.name], boxes[b.name]
        out.append(_arrow(box_a.x + box_a.w, box_a.cy, box_b.x, box_b.cy))
    return out


def _arrow(x1, y1, x2, y2, colour="#555", dashed=False, width=1.6) -> str:
    dash = ' stroke-dasharray="4 3"' if dashed else ""
    return (f'<line x1="{x1:.1f}" y1="{y1:.1f}" x2="{x2:.1f}" y2="{y2:.1f}" stroke="{colour}" '
            f'stroke-width="{width}"{dash} marker-end="url(#arrow)"/>')


def _path(points: list[tuple[float, float]], colour="#555", dashed=False, width=1.6, arrow=True) -> str:
    dash = ' stroke-dasharray="4 3"' if dashed else ""
    d = "M " + " L ".join(f"{x:.1f} {y:.1f}" for x, y in points)
    end = ' marker-end="url(#arrow)"' if arrow else ""
    return f'<path d="{d}" fill="none" stroke="{colour}" stroke-width="{width}"{dash}{end}/>'


def edges(boxes: dict[str, Box], unet: list[BlockSpec], naive: list[BlockSpec]) -> list[str]:
    """The data flow in forward order, the skips across the U, and t feeding every ResBlock."""
    out = []
    flow = [spec.name for spec in unet if spec.kind not in ("time", "skip")]
    for a, b in zip(flow, flow[1:]):
        box_a, box_b = boxes[a], boxes[b]
        if box_a.spec.kind == "up":  # up → its level's first block: go up into the decoder box
            out.append(_arrow(box_a.cx, box_a.y, box_b.cx, box_b.y + box_b.h))
        elif abs(box_a.cy - box_b.cy) < 1:  # same row
            if box_b.x > box_a.x:
                out.append(_arrow(box_a.x + box_a.w, box_a.cy, box_b.x, box_b.cy))
            else:
                out.append(_arrow(box_a.x, box_a.cy, box_b.x + box_b.w, box_b.cy))
        elif box_b.spec.kind == "up" or (box_a.spec.part == "decoder" and box_b.spec.name == "out"):
            if box_a.spec.kind == "attn":
                out.append(_path([(box_a.cx, box_a.y), (box_a.cx, box_a.y - 8), (box_b.cx + 20, box_a.y - 8),
                                  (box_b.cx + 20, box_b.y + box_b.h)]))
            else:
                out.append(_arrow(box_a.cx, box_a.y, box_b.cx, box_b.y + box_b.h))
        elif box_b.spec.part == "bottleneck" and box_a.spec.part == "encoder":
            out.append(_path([(box_a.cx, box_a.y + box_a.h), (box_a.cx, box_b.cy), (box_b.x, box_b.cy)]))
        elif box_a.spec.part == "bottleneck" and box_b.spec.part == "decoder":
            out.append(_path([(box_a.x + box_a.w, box_a.cy), (box_b.cx, box_a.cy), (box_b.cx, box_b.y + box_b.h)]))
        elif box_a.spec.kind == "attn" and box_b.spec.kind == "down":
            out.append(_path([(box_a.cx, box_a.y + box_a.h), (box_a.cx, box_b.cy), (box_b.x + box_b.w, box_b.cy)]))
        else:
            out.append(_arrow(box_a.cx, box_a.y + box_a.h, box_b.cx, box_b.y))
    for spec in unet:
        if spec.kind != "skip":
            continue
        skip = boxes[spec.name]
        source = boxes.get(f"enc{spec.level}.attn") or boxes[f"enc{spec.level}"]
        target = boxes.get(f"dec{spec.level}") if f"dec{spec.level}.attn" not in boxes else boxes[f"dec{spec.level}"]
        target_x = target.x if f"dec{spec.level}.attn" not in boxes else boxes[f"dec{spec.level}.attn"].x
        colour = STROKE["skip"]
        out.append(_arrow(source.x + source.w, skip.cy, skip.x, skip.cy, colour, width=2.2))
        if f"dec{spec.level}.attn" in boxes:  # the skip joins before the ResBlock: route under the attention box
            attn = boxes[f"dec{spec.level}.attn"]
            out.append(_path([(skip.x + skip.w, skip.cy), (attn.x - 6, skip.cy), (attn.x - 6, attn.y + attn.h + 6),
                              (target.x + 12, attn.y + attn.h + 6), (target.x + 12, target.y + target.h)], colour,
                             width=2.2))
        else:
            out.append(_arrow(skip.x + skip.w, skip.cy, target_x, skip.cy, colour, width=2.2))
    time_box = boxes["time_mlp"]  # one short stub: the badges on the ResBlocks show where t arrives
    out.append(_path([(time_box.cx, time_box.y + time_box.h), (time_box.cx, time_box.y + time_box.h + 14)],
                     STROKE["time"], dashed=True, width=1.2, arrow=False))
    for a, b in zip(naive, naive[1:]):
        box_a, box_b = boxes[a.name], boxes[b.name]
        out.append(_arrow(box_a.cx, box_a.y + box_a.h, box_b.cx, box_b.y))
    return out


def render_svg(unet: list[BlockSpec], naive: list[BlockSpec], selected: str | None = None,
               fields: dict[str, int] | None = None) -> str:
    """The whole diagram as inline SVG. Each block is a focusable `<g data-block=name>`.

    fields: theoretical receptive-field sizes by block name, shown in each block's tooltip.
    """
    grouped = any(spec.group for spec in unet)
    boxes, width, height = (grouped_layout if grouped else layout)(unet, naive)
    fields = fields or {}
    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {width:.0f} {height:.0f}" '
        + (f'class="unet-diagram grouped" style="--phone-width: {width * PHONE_SCALE:.0f}px" ' if grouped
           else 'class="unet-diagram" ')
        + 'role="group" aria-label="U-Net and naive CNN architecture">',
        '<defs><marker id="arrow" viewBox="0 0 10 10" refX="9" refY="5" markerWidth="7" markerHeight="7" '
        'orient="auto-start-reverse"><path d="M 0 0 L 10 5 L 0 10 z" fill="#555"/></marker></defs>',
    ]
    parts += (grouped_edges if grouped else edges)(boxes, unet, naive)
    naive_box = boxes[naive[0].name]
    unet_label_y = height - 18
    if grouped:
        parts += _group_labels(boxes, unet)
        caption_y = naive_box.y - 54
        parts.append(f'<text x="20" y="{caption_y}" class="caption">down_blocks (left, one row per '
                     f'resolution) → mid_block (bottom) → up_blocks (right). Green: the skips, numbered as the down '
                     f'path pushes them,<tspan x="20" dy="16">each from the block whose output it carries to the '
                     f'ResNet that concatenates it. Purple (t): the time embedding enters that block.</tspan></text>')
        parts.append(f'<line x1="20" y1="{naive_box.y - 20}" x2="{width - 20}" y2="{naive_box.y - 20}" '
                     f'stroke="#bbb" stroke-dasharray="6 4"/>')
        parts.append(f'<text x="20" y="{naive_box.y + 16}" class="caption"><tspan font-weight="600">Naive CNN'
                     f'</tspan><tspan x="20" dy="15">no t, one scale</tspan></text>')
    else:
        parts.append(f'<text x="20" y="{unet_label_y}" class="caption">U-Net: encoder (left) → bottleneck (bottom) '
                     f'→ decoder (right). Green: skip connections. Purple (t): the time embedding enters that block.'
                     f'</text>')
        parts.append(f'<line x1="{naive_box.x - 45}" y1="10" x2="{naive_box.x - 45}" y2="{height - 40}" '
                     f'stroke="#bbb" stroke-dasharray="6 4"/>')
        parts.append(f'<text x="{naive_box.cx}" y="{naive_box.y - 26}" text-anchor="middle" class="caption">'
                     f'<tspan font-weight="600">Naive CNN</tspan><tspan x="{naive_box.cx}" dy="15">no t, one scale'
                     f'</tspan></text>')
    for name, box in boxes.items():
        spec = box.spec
        kind = spec.kind
        is_selected = name == selected
        stroke_width = 3.5 if is_selected else 1.4
        classes = "block selected" if is_selected else "block"
        tip = f"{name}: {spec.kind} · out {shape_text(spec.output_shape)} · {spec.parameters:,} parameters"
        if spec.kind == "skip" and spec.source:
            tip += f" · carries {spec.source} to {spec.target}"
        if name in fields:
            tip += f" · receptive field {fields[name]}×{fields[name]}"
        label = (short_name(spec) if grouped else name) if box.h >= 22 else ""
        hit_h = max(box.h, HIT_H)
        parts.append(
            f'<g data-block="{escape(name)}" class="{classes}" tabindex="0" role="button" '
            f'aria-pressed="{str(is_selected).lower()}" aria-label="{escape(tip)}">'
            f'<title>{escape(tip)}</title>'
            f'<rect class="hit" x="{box.x:.1f}" y="{box.cy - hit_h / 2:.1f}" width="{box.w:.1f}" height="{hit_h:.1f}" '
            f'fill="transparent" pointer-events="all"/>'
            f'<rect x="{box.x:.1f}" y="{box.y:.1f}" width="{box.w:.1f}" height="{box.h:.1f}" rx="6" '
            f'fill="{FILL[kind]}" stroke="{"#111" if is_selected else STROKE[kind]}" stroke-width="{stroke_width}"/>')
        if label:
            small = box.h < BOX_H
            name_class = "name small" if grouped and box.w < BOX_W else "name"
            parts.append(f'<text x="{box.cx:.1f}" y="{box.y + (box.h / 2 + 4 if small else 17):.1f}" '
                         f'text-anchor="middle" class="{name_class}">{escape(label)}</text>')
            if not small:
                parts.append(f'<text x="{box.cx:.1f}" y="{box.y + 32:.1f}" text-anchor="middle" class="shape">'
                             f'{escape(shape_text(spec.output_shape))}</text>')
        if kind == "res" and box.h >= 24:  # the time embedding enters every ResBlock
            parts.append(f'<circle cx="{box.x + box.w - 9:.1f}" cy="{box.y + 9:.1f}" r="7" fill="{STROKE["time"]}"/>'
                         f'<text x="{box.x + box.w - 9:.1f}" y="{box.y + 12.5:.1f}" text-anchor="middle" '
                         f'class="badge">t</text>')
        parts.append("</g>")
    parts.append("</svg>")
    return "\n".join(parts)


def _group_labels(boxes: dict[str, Box], unet: list[BlockSpec]) -> list[str]:
    """Each container's name (down_blocks.1, mid_block, up_blocks.2) above its first box."""
    first: dict[str, Box] = {}
    for spec in unet:
        if spec.group and spec.kind != "skip" and spec.group not in first:
            first[spec.group] = boxes[spec.name]
    return [f'<text x="{box.x:.1f}" y="{box.y - 5:.1f}" class="group">{escape(group)}</text>'
            for group, box in first.items()]


def diagram_html(svg: str) -> str:
    """The SVG in a frame that scrolls sideways when it is narrower than a phone's width (700 CSS pixels, in
    diagram.css): the diagram keeps that width, so its labels stay readable and its blocks big enough to tap
    (a container query: the frame's own width decides, whatever the screen)."""
    return ('<div class="diagram-frame"><p class="diagram-hint">The diagram is wider than this screen: swipe it '
            'sideways to see all of it, tap a block to select it.</p><div class="diagram-scroll">' + svg
            + '</div></div>')


# The diagram's style, scoped by Gradio to its element; the phone width is written there as 700px (and 699px).
DIAGRAM_CSS = Path(__file__).with_name("diagram.css").read_text(encoding="utf-8")
