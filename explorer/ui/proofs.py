"""The "Part by part" tab: each of the lesson's claims about a part of the U-Net, measured live."""
from __future__ import annotations

import gradio as gr

from explorer.ui import limits, validate
from explorer.ui.inputs import Inputs
from explorer.ui.picker import picked_pixel, picker_js
from explorer.ui.plots import plot
from explorer.ui.refresh import Refresh
from explorer.views import proofs
from explorer.views.context import Context

TAB = "proofs"


def build(ctx: Context, inputs: Inputs) -> Refresh:
    side = ctx.image_size
    blocks = proofs.attention_blocks(ctx)
    default_block = "mid.attn" if "mid.attn" in blocks else blocks[0]
    gr.Markdown("The lesson makes a claim about each part of the U-Net. Here each claim meets a measurement on "
                "these trained weights, for your image, t and seed (and, where it has been measured, on the "
                "held-out set). Where the numbers disagree with the lesson, the text says so.")

    with gr.Column(variant="panel", elem_id="proof-gradients"):
        gr.Markdown("### Gradient highways\nLesson: *skip connections let the training signal flow straight back "
                    "to the early layers.* One backward pass of the noise loss gives every parameter's gradient; each "
                    "point is the size of one block's gradient, divided by the size at the output head `out`, in "
                    "diagram order. Solid: skips intact; dashed: every skip cut. Blue: the trained weights; grey: "
                    "the same U-Net freshly initialised, as it is when training starts.")
        with gr.Row(equal_height=False):
            gradients_live = gr.Plot(label="This image", elem_id="proof-gradients-live", show_label=False)
            gr.Plot(plot(proofs.gradients_heldout_figure(ctx.metrics)), label="Held-out",
                    elem_id="proof-gradients-heldout", show_label=False)
        gradients_text = gr.Markdown(elem_id="proof-gradients-text")

    with gr.Column(variant="panel", elem_id="proof-concat"):
        gr.Markdown("### What each decoder level takes from each source\nLesson: *the skip is concatenated, not "
                    "added, so both sources reach the decoder whole.* Each decoder level stacks the upsampled path "
                    "from below and the skip from the encoder. Replace one half (by zeros, or by its own per-channel "
                    "average) and see how many times worse the noise prediction gets.")
        concat_table = gr.Markdown(elem_id="proof-concat-table")
        gr.Plot(plot(proofs.concat_heldout_figure(ctx.metrics)), label="Held-out", elem_id="proof-concat-heldout",
                show_label=False)
        gr.Markdown(proofs.CONCAT_NOTE, elem_id="proof-concat-note")

    with gr.Column(variant="panel", elem_id="proof-bottleneck"):
        gr.Markdown("### The bottleneck and the skips across t\nLesson: *at large t the bottleneck matters most; at "
                    "small t, the skips.* Each line is the noise error with one part switched off, as a multiple of "
                    "the intact U-Net's: the bottleneck bypassed (its three blocks pass their input through), each "
                    "skip cut, attention off. The Denoising lab has the same switches.")
        bottleneck_chart = gr.Plot(label="Knock-outs against t", elem_id="proof-bottleneck-chart", show_label=False)
        bottleneck_text = gr.Markdown(elem_id="proof-bottleneck-verdict")

    with gr.Column(variant="panel", elem_id="proof-attention"):
        gr.Markdown("### Attention maps\nLesson: *self-attention gives global context at low resolution.* Pick a "
                    "block and click a position of x_t (the query): the maps show where that position looks, per "
                    "head and averaged.")
        with gr.Row(equal_height=False):
            with gr.Column(scale=1, min_width=280):
                block = gr.Radio(blocks, value=default_block, label="Attention block", elem_id="proof-attention-block")
                gr.Markdown("**Click a query position on x_t**")
                picker = gr.HTML(elem_id="proof-attention-picker", js_on_load=picker_js("proof-source"))
                with gr.Row():
                    y_box = gr.Number(side // 2, precision=0, label="y (row, pixels)", minimum=0, maximum=side - 1,
                                      elem_id="proof-attention-y", min_width=80)
                    x_box = gr.Number(side // 2, precision=0, label="x (column, pixels)", minimum=0,
                                      maximum=side - 1, elem_id="proof-attention-x", min_width=80)
            with gr.Column(scale=3):
                attention_maps = gr.HTML(elem_id="proof-attention-maps")
                attention_text = gr.Markdown(elem_id="proof-attention-entropy")

    with gr.Column(variant="panel", elem_id="proof-time"):
        gr.Markdown("### Time conditioning\nLesson: *the network must know t; the naive CNN cannot.* Both networks "
                    "get the same x_t and are told two different t.")
        other_t = gr.Slider(1, 999, value=999, step=1, label="Second t told to both networks", elem_id="proof-time-other")
        time_pairs = gr.HTML(elem_id="proof-time-pairs")
        time_text = gr.Markdown(elem_id="proof-time-text")
        gr.Markdown("How hard t pushes each ResBlock: the size of the vector t adds to the block's features, "
                    "divided by the size of those features (0: t changes nothing there; 1: as large as the features).")
        with gr.Row(equal_height=False):
            time_live = gr.Plot(label="This image", elem_id="proof-time-live", show_label=False)
            gr.Plot(plot(proofs.time_heatmap((ctx.metrics or {}).get("time_conditioning"), "Held-out images")),
                    label="Held-out", elem_id="proof-time-heldout", show_label=False)

    def attention_block(name) -> str:
        if not isinstance(name, str) or name not in blocks:
            shown = str(name)[:40] if name is not None else "nothing"
            raise gr.Error(f"Unknown attention block {shown!r}: pick one of {', '.join(blocks)}")
        return name

    def attention_view(image, t, seed, name, y, x):
        image, t, seed = validate.image(ctx, image), validate.timestep(t), validate.seed(seed)
        name = attention_block(name)
        y, x = validate.coordinate(y, side, "y"), validate.coordinate(x, side, "x")
        try:
            view = proofs.attention(ctx, image, t, seed, name, y, x)
        except ValueError as error:
            raise gr.Error(str(error)) from None
        return (proofs.attention_picker(ctx, image, t, seed, name, y, x), proofs.attention_html(view),
                proofs.attention_markdown(view))

    def time_view(image, t, seed, other):
        image, t, seed = validate.image(ctx, image), validate.timestep(t), validate.seed(seed)
        other = validate.timestep(other, "The second t")
        view = proofs.time_view(ctx, image, t, seed, other)
        return (proofs.time_html(view), proofs.time_markdown(view, ctx.metrics),
                plot(proofs.time_heatmap(view.table, f"This image (seed {seed})", t)))

    @limits.long_job("Part-by-part refresh")
    def show_all(image, t, seed, name, y, x, other):
        image, t, seed = validate.image(ctx, image), validate.timestep(t), validate.seed(seed)
        gradients, concat, live = proofs.measured_parts(ctx, image, t, seed)
        return (plot(proofs.gradients_live_figure(gradients)), proofs.gradients_markdown(gradients, ctx.metrics),
                proofs.concat_markdown(ctx, concat, t),
                plot(proofs.bottleneck_figure(ctx.metrics, t, live)), proofs.bottleneck_markdown(live, t, ctx.metrics),
                *attention_view(image, t, seed, name, y, x), *time_view(image, t, seed, other))

    def on_pick(image, t, seed, name, evt: gr.EventData):
        y, x = picked_pixel(evt, side)
        return (y, x) + attention_view(image, t, seed, name, y, x)

    shared = [inputs.image, inputs.t, inputs.seed]
    attention_outputs = [picker, attention_maps, attention_text]
    time_outputs = [time_pairs, time_text, time_live]
    picker.click(on_pick, shared + [block], [y_box, x_box] + attention_outputs, api_name=False, preprocess=False,
                  show_progress="hidden")
    gr.on([block.input, y_box.submit, x_box.submit], attention_view, shared + [block, y_box, x_box],
          attention_outputs, api_name="proof_attention", preprocess=False, show_progress="hidden",
          trigger_mode="always_last")
    other_t.change(time_view, shared + [other_t], time_outputs, api_name="proof_time", preprocess=False,
                    show_progress="hidden", trigger_mode="always_last")
    outputs = [gradients_live, gradients_text, concat_table, bottleneck_chart, bottleneck_text,
               *attention_outputs, *time_outputs]
    # Four backward passes per refresh: computed when t is let go of, not at every step of a drag.
    return Refresh(TAB, [block, y_box, x_box, other_t], outputs, show_all, follows_drag=False)
