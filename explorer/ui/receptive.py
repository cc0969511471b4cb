"""The Receptive-field tab: click a pixel, see what each network's output there depends on."""
from __future__ import annotations

import json

import gradio as gr

from explorer.server import lanes
from explorer.ui import validate
from explorer.ui.architecture import chooser_order
from explorer.ui.inputs import Inputs
from explorer.ui.picker import picked_pixel, picker_js
from explorer.ui.refresh import Refresh
from explorer.views import kept, receptive
from explorer.views.context import Context
from explorer.views.numbers import receptive_fields as field_numbers


def build(ctx: Context, inputs: Inputs, selected_block: gr.State) -> Refresh:
    side = ctx.image_size
    centre = side // 2
    gr.Markdown("Click any pixel of x_t. Each heat map shows how strongly that pixel's predicted noise depends on "
                "every input pixel (the gradient, Luo et al. 2016); the cyan box is the field the layers allow "
                "in theory. Pick a block to see the field of one of its units instead.")
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

    def measure(image, t, seed, y, x, name):
        image, t, seed = validate.image(ctx, image), validate.timestep(t), validate.seed(seed)
        y, x = validate.coordinate(y, side, "y"), validate.coordinate(x, side, "x")
        if name != receptive.OUTPUT:
            name = validate.block(ctx, name)
            if name not in receptive.spatial_blocks(ctx):
                raise gr.Error(f"{name} has no spatial position (it is one vector per image): pick a spatial block")
        return image, t, seed, y, x, kept.receptive_fields(ctx, image, t, seed, y, x, name)

    def render(image, t, seed, y, x, fields):
        return (receptive.overlays_image(fields), receptive.numbers_markdown(ctx, fields, t),
                receptive.clickable_image(ctx, image, t, seed, y, x))

    def show(image, t, seed, y, x, name):
        return render(*measure(image, t, seed, y, x, name))

    def show_with_numbers(image, t, seed, y, x, name):
        """The heat maps, the table as text and as numbers, and x_t with the pixel marked."""
        measured = measure(image, t, seed, y, x, name)
        _, t, seed, _, _, fields = measured
        return render(*measured) + (field_numbers(ctx, fields, t, seed),)

    def on_pick(image, t, seed, name, evt: gr.EventData):
        row, col = picked_pixel(evt, side)
        return (row, col) + show(image, t, seed, row, col, name)

    def choose_block(image, t, seed, y, x, name):
        """The block list changed here: show its field, and make it the shared choice (output is not a block)."""
        return show(image, t, seed, y, x, name) + (name if name in ctx.block_names() else gr.skip(),)

    shared = [inputs.image, inputs.t, inputs.seed]
    outputs = [gallery, numbers, picker]
    lanes.listen(picker.click, on_pick, shared + [block], [y_box, x_box] + outputs, api_name=False, preprocess=False,
                 show_progress="hidden")
    lanes.on([y_box.submit, x_box.submit], show_with_numbers, shared + [y_box, x_box, block], outputs + [field_data],
             api_name="receptive_field", preprocess=False, show_progress="hidden", trigger_mode="always_last",
             api_description="What the prediction (or a block's unit) at pixel (y, x) depends on: heat maps, the "
                             "table as text and as numbers, x_t with the pixel marked")
    lanes.listen(block.input, choose_block, shared + [y_box, x_box, block], outputs + [selected_block], api_name=False,
                 preprocess=False, show_progress="hidden", trigger_mode="always_last")
    return Refresh("receptive", [y_box, x_box, block], outputs, show)


# The page's own follower of the Architecture tab's block list (no request): a spatial block chosen there becomes
# this tab's block; any other leaves it as it is (undefined: Gradio leaves the output alone).
FOLLOW_JS = "(name) => SPATIAL.includes(name) ? name : undefined"


def follow_architecture(ctx: Context, demo: gr.Blocks) -> None:
    """Let this tab's block list follow the Architecture tab's, in the page (call once both tabs exist).

    A diagram click, or a block picked from that tab's list, sets its list (`block-chooser`); this list takes the
    same block when it has a spatial position. Run in the page, a click costs no queued request for it. The other
    ways the shared block changes set this list themselves: a lesson step or a link (explorer/ui/lesson.py), and
    this list itself (`choose_block`)."""
    by_id = {block.elem_id: block for block in demo.blocks.values() if getattr(block, "elem_id", None)}
    chooser, block = by_id.get("block-chooser"), by_id.get("rf-block")
    if chooser is None or block is None:
        return
    spatial = json.dumps(receptive.spatial_blocks(ctx))
    chooser.change(None, chooser, block, js=FOLLOW_JS.replace("SPATIAL", spatial), api_name=False, queue=False,
                   show_progress="hidden")
