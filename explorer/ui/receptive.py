"""The Receptive-field tab: click a pixel, see what each network's output there depends on."""
from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import gradio as gr

from explorer.ui import validate
from explorer.ui.architecture import chooser_order
from explorer.ui.picker import picked_pixel, picker_js
from explorer.ui.refresh import Refresh, tab_refresh
from explorer.ui.wiring import Wire, wire
from explorer.views import kept, opened, receptive
from explorer.views.context import Context
from explorer.views.numbers import receptive_fields as field_numbers

TAB = "receptive"

# The page's own follower of the Architecture tab's block list (no request): a spatial block chosen there becomes
# this tab's block; any other leaves it as it is (undefined: Gradio leaves the output alone).
FOLLOW_JS = Path(__file__).with_name("follow_block.js").read_text(encoding="utf-8")


@dataclass
class Receptive:
    picker: gr.HTML
    y_box: gr.Number
    x_box: gr.Number
    block: gr.Dropdown
    gallery: gr.HTML
    numbers: gr.Markdown
    field_data: gr.JSON

    @property
    def outputs(self) -> list:
        return [self.gallery, self.numbers, self.picker]


# --- handlers ---------------------------------------------------------------------------------------------------------

def measure(ctx: Context, image, t, seed, y, x, name):
    side = ctx.image_size
    image, t, seed = validate.image(ctx, image), validate.timestep_of(ctx, t), validate.seed(seed)
    y, x = validate.coordinate(y, side, "y"), validate.coordinate(x, side, "x")
    if name != receptive.OUTPUT:
        name = validate.block(ctx, name)
        if name not in receptive.spatial_blocks(ctx):
            raise gr.Error(f"{name} has no spatial position (it is one vector per image): pick a spatial block")
    return image, t, seed, y, x, kept.receptive_fields(ctx, image, t, seed, y, x, name)


def render(ctx: Context, image, t, seed, y, x, fields) -> tuple:
    return (receptive.overlays_image(fields), receptive.numbers_markdown(ctx, fields, t),
            receptive.clickable_image(ctx, image, t, seed, y, x))


def show(ctx: Context, image, t, seed, y, x, name) -> tuple:
    """The heat maps, the table and x_t with the pixel marked (the tab's refresh)."""
    return render(ctx, *measure(ctx, image, t, seed, y, x, name))


def show_with_numbers(ctx: Context, image, t, seed, y, x, name) -> tuple:
    """The heat maps, the table as text and as numbers, and x_t with the pixel marked."""
    measured = measure(ctx, image, t, seed, y, x, name)
    _, t, seed, _, _, fields = measured
    return render(ctx, *measured) + (field_numbers(ctx, fields, t, seed),)


def on_pick(ctx: Context, image, t, seed, name, evt: gr.EventData) -> tuple:
    row, col = picked_pixel(evt, ctx.image_size)
    return (row, col) + show(ctx, image, t, seed, row, col, name)


def choose_block(ctx: Context, image, t, seed, y, x, name) -> tuple:
    """The block list changed here: show its field, and make it the shared choice (output is not a block)."""
    return show(ctx, image, t, seed, y, x, name) + (name if name in ctx.block_names() else gr.skip(),)


# --- layout -----------------------------------------------------------------------------------------------------------

def build(ctx: Context) -> Receptive:
    side = ctx.image_size
    centre = side // 2
    gr.Markdown("Click any pixel of x_t. Each heat map shows how strongly that pixel's predicted noise depends on "
                "every input pixel (the gradient, Luo et al. 2016); the cyan box is the field the layers allow "
                "in theory. Pick a block to see the field of one of its units instead. " + opened.which_is_which(ctx))
    with gr.Row(equal_height=False):
        with gr.Column(scale=1, min_width=280):
            gr.Markdown("**Click a pixel of x_t**", elem_id="rf-picker-title")
            picker = gr.HTML(elem_id="rf-picker", js_on_load=picker_js("rf-source"), label="x_t with the pixel")
            with gr.Row():
                y_box = gr.Number(centre, precision=0, label="y (row)", minimum=0, maximum=side - 1, elem_id="rf-y",
                                  min_width=80)
                x_box = gr.Number(centre, precision=0, label="x (column)", minimum=0, maximum=side - 1,
                                  elem_id="rf-x", min_width=80)
            block = gr.Dropdown(chooser_order(receptive.spatial_blocks(ctx)), value=receptive.OUTPUT,
                                elem_id="rf-block", label="Block (shared with the Architecture tab)")
        with gr.Column(scale=3, min_width=300, elem_id="rf-evidence"):  # the lesson's Show me scrolls here
            gallery = gr.HTML(elem_id="rf-overlays", label="Receptive-field heat maps")
            numbers = gr.Markdown(elem_id="rf-numbers", label="Receptive-field table")
            field_data = gr.JSON(visible=False, label="Receptive fields (numbers)", elem_id="rf-numbers-data")
    gr.Markdown("How far each block can see through its convolutions alone (attention and GroupNorm aside), "
                "block by block along each network; the dashed line is the whole image.")
    gr.Plot(receptive.depth_figure(ctx), label="Theoretical receptive field by depth", elem_id="rf-depth",
            show_label=False)
    return Receptive(picker, y_box, x_box, block, gallery, numbers, field_data)


# --- wiring -----------------------------------------------------------------------------------------------------------

def wires(layout: Receptive, shared: list, selected_block: gr.State) -> list[Wire]:
    """`shared`: the input panel's (image, t, seed); `selected_block`: the block the tabs share."""
    pixel = [layout.y_box, layout.x_box]
    return [
        wire(layout.picker.click, on_pick, shared + [layout.block], pixel + layout.outputs, api_name=False,
             preprocess=False, show_progress="hidden"),
        wire([layout.y_box.submit, layout.x_box.submit], show_with_numbers, shared + pixel + [layout.block],
             layout.outputs + [layout.field_data], api_name="receptive_field", preprocess=False,
             show_progress="hidden", trigger_mode="always_last",
             api_description="What the prediction (or a block's unit) at pixel (y, x) depends on: heat maps, the "
                             "table as text and as numbers, x_t with the pixel marked"),
        wire(layout.block.input, choose_block, shared + pixel + [layout.block], layout.outputs + [selected_block],
             api_name=False, preprocess=False, show_progress="hidden", trigger_mode="always_last"),
    ]


def refresher(ctx: Context, layout: Receptive) -> Refresh:
    return tab_refresh(TAB, ctx, show, [layout.y_box, layout.x_box, layout.block], layout.outputs)


def follow_wires(ctx: Context, layout: Receptive, chooser: gr.Dropdown) -> list[Wire]:
    """This tab's block list follows the Architecture tab's (`chooser`), in the page: a diagram click, or a block
    picked from that list, sets it; this list takes the same block when it has a spatial position, at no queued
    request. The other ways the shared block changes set this list themselves: a lesson step or a link
    (explorer/ui/lesson.py), and this list itself (`choose_block`)."""
    spatial = json.dumps(receptive.spatial_blocks(ctx))
    return [wire(chooser.change, None, [chooser], layout.block, js=FOLLOW_JS.replace("SPATIAL", spatial),
                 api_name=False, queue=False, show_progress="hidden")]
