"""The "Part by part" tab: each of the lesson's claims about a part of the U-Net, measured live."""
from __future__ import annotations

import gradio as gr

from explorer.server import lanes
from explorer.ui import validate
from explorer.ui.inputs import Inputs
from explorer.ui.picker import picked_pixel, picker_js
from explorer.ui.plots import plot
from explorer.ui.refresh import Refresh
from explorer.views import claims, kept, numbers, proofs
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
                picker = gr.HTML(elem_id="proof-attention-picker", js_on_load=picker_js("proof-source"),
                                 label="x_t with the query")
                with gr.Row():
                    y_box = gr.Number(side // 2, precision=0, label="y (row, pixels)", minimum=0, maximum=side - 1,
                                      elem_id="proof-attention-y", min_width=80)
                    x_box = gr.Number(side // 2, precision=0, label="x (column, pixels)", minimum=0,
                                      maximum=side - 1, elem_id="proof-attention-x", min_width=80)
            with gr.Column(scale=3):
                attention_maps = gr.HTML(elem_id="proof-attention-maps", label="Attention maps")
                attention_text = gr.Markdown(elem_id="proof-attention-entropy", label="Attention entropy")
                attention_data = gr.JSON(visible=False, label="Attention entropy (numbers)",
                                         elem_id="proof-attention-numbers")

    with gr.Column(variant="panel", elem_id="proof-time"):
        gr.Markdown("### Time conditioning\nLesson: *the network must know t; the naive CNN cannot.* Both networks "
                    "get the same x_t and are told two different t.")
        other_t = gr.Slider(1, ctx.diffusion.max_t, value=ctx.diffusion.max_t, step=1,
                            label="Second t told to both networks", elem_id="proof-time-other")
        time_pairs = gr.HTML(elem_id="proof-time-pairs", label="Predictions told two t")
        time_text = gr.Markdown(elem_id="proof-time-text", label="Time conditioning summary")
        time_data = gr.JSON(visible=False, label="Time conditioning (numbers)", elem_id="proof-time-numbers")
        gr.Markdown("How hard t pushes each ResBlock: the size of the vector t adds to the block's features, "
                    "divided by the size of those features (0: t changes nothing there; 1: as large as the features).")
        with gr.Row(equal_height=False):
            time_live = gr.Plot(label="This image", elem_id="proof-time-live", show_label=False)
            heldout_time = ctx.metrics.time_conditioning if ctx.metrics else None
            gr.Plot(plot(proofs.time_heatmap(heldout_time, "Held-out images")),
                    label="Held-out", elem_id="proof-time-heldout", show_label=False)

    with gr.Column(variant="panel", elem_id="proof-scales"):
        gr.Markdown("### Scales: what the skip brings, and what the noise drowns\nLesson: *a fixed-resolution network "
                    "cannot process every scale; the skips hand the fine scales across.* The first chart splits the "
                    "power of skip1 and of the upsampled path it joins (dec1.up) by spatial frequency: fine detail "
                    "sits at the right. The shaded band is what the numbers call *high frequencies*. The second "
                    "chart compares the image with the noise at each frequency, for several t: above the dotted "
                    "line the image is stronger than the noise there.")
        with gr.Row(equal_height=False):
            scales_chart = gr.Plot(label="Spectra", elem_id="proof-scales-chart", show_label=False)
            snr_chart = gr.Plot(label="Image against noise", elem_id="proof-snr-chart", show_label=False)
        scales_text = gr.Markdown(elem_id="proof-scales-text")

    with gr.Column(variant="panel", elem_id="proof-detail"):
        gr.Markdown("### Where detail gets lost\nLesson: *a plain stack of convolutions washes out fine detail.* "
                    "Below: the busiest patch of the clean image (the most edge pixels), and the same patch of each "
                    "network's clean-image estimate, enlarged 8 times. The numbers compare each network's error on "
                    "the edge pixels with its error elsewhere.")
        detail_zoom = gr.HTML(elem_id="proof-detail-zoom")
        detail_text = gr.Markdown(elem_id="proof-detail-text")

    with gr.Column(variant="panel", elem_id="proof-windows"):
        gr.Markdown("### How much of a bigger picture each window sees\nLesson: *11×11 is far too small for "
                    "256×256 or 512×512 images.*")
        gr.Markdown(claims.windows_markdown(claims.windows_view(ctx)), elem_id="proof-windows-table")

    with gr.Column(variant="panel", elem_id="proof-shift"):
        gr.Markdown("### One pixel off\nLesson: *the predicted noise must line up exactly with the input; "
                    "off-by-one errors create artifacts.* The U-Net's own predicted noise, used as it is and moved "
                    "one pixel to the right.")
        shift_pictures = gr.HTML(elem_id="proof-shift-pictures")
        shift_text = gr.Markdown(elem_id="proof-shift-text")

    with gr.Column(variant="panel", elem_id="proof-accumulation"):
        results = claims.accumulation_results(ctx)
        gr.Markdown("### Do small errors pile up over the sampling steps?\nLesson: *errors accumulate across "
                    "sampling steps.* From x_t, DDIM run with the true noise at every step follows an ideal path "
                    "that lands exactly on the clean image. Each network walks its own path from the same x_t. "
                    "Solid: how far its path is from the ideal one so far. Dotted: the sum of its one-step errors "
                    "(each step taken from the ideal point), which is where the solid line would end if errors "
                    "only added up.")
        gr.Plot(plot(claims.accumulation_figure(results)), label="Held-out trajectories",
                elem_id="proof-accumulation-chart", show_label=False)
        gr.Markdown(claims.accumulation_sentence(results)[0] if results else
                    "Held-out trajectories: not computed yet for these weights (weights/accumulation.json is "
                    "missing; docs/training.md says how to make it).", elem_id="proof-accumulation-text")

    def claims_views(image, t, seed):
        stem = claims.stem_of(ctx, image)
        scales = claims.scales_view(ctx, stem, image, t, seed)
        detail = claims.detail_view(ctx, stem, image, t, seed)
        shift = claims.shift_view(ctx, stem, image, t, seed)
        shifted = [(f"U-Net's x̂₀, noise {name}", claims.Image.fromarray(picture))
                   for name, picture in (("aligned", shift.x0_hat["aligned"]),
                                         ("moved one pixel right", shift.x0_hat["shifted"]))]
        return (plot(claims.scales_figure(scales)), plot(claims.snr_figure(scales)),
                claims.scales_sentence(scales) + "\n\n" + claims.snr_sentence(scales),
                proofs.figures_html(claims.detail_images(detail), "detail-zoom", scale=1),
                claims.detail_sentence(detail), proofs.figures_html(shifted, "shift-pair"),
                claims.shift_sentence(shift))

    def attention_block(name) -> str:
        if not isinstance(name, str) or name not in blocks:
            shown = str(name)[:40] if name is not None else "nothing"
            raise gr.Error(f"Unknown attention block {shown!r}: pick one of {', '.join(blocks)}")
        return name

    def attention_shown(image, t, seed, name, y, x):
        """The section's outputs and the view they show."""
        image, t, seed = validate.image(ctx, image), validate.timestep(t), validate.seed(seed)
        name = attention_block(name)
        y, x = validate.coordinate(y, side, "y"), validate.coordinate(x, side, "x")
        try:
            view = proofs.attention(ctx, image, t, seed, name, y, x)
        except ValueError as error:
            raise gr.Error(str(error)) from None
        return (proofs.attention_picker(ctx, image, t, seed, name, y, x), proofs.attention_html(view),
                proofs.attention_markdown(view)), view

    def attention_view(image, t, seed, name, y, x):
        return attention_shown(image, t, seed, name, y, x)[0]

    def attention_with_numbers(image, t, seed, name, y, x):
        shown, view = attention_shown(image, t, seed, name, y, x)
        return shown + (numbers.attention(view),)

    def time_shown(image, t, seed, other):
        """The section's outputs and the view they show."""
        image, t, seed = validate.image(ctx, image), validate.timestep(t), validate.seed(seed)
        other = validate.timestep(other, "The second t")
        view = proofs.time_view(ctx, image, t, seed, other)
        return (proofs.time_html(view), proofs.time_markdown(view, ctx.metrics),
                plot(proofs.time_heatmap(view.table, f"This image (seed {seed})", t))), view

    def time_view(image, t, seed, other):
        return time_shown(image, t, seed, other)[0]

    def time_with_numbers(image, t, seed, other):
        shown, view = time_shown(image, t, seed, other)
        return shown + (numbers.time_conditioning(view),)

    @lanes.long_job("Part-by-part refresh")
    def show_all(image, t, seed, name, y, x, other):
        image, t, seed = validate.image(ctx, image), validate.timestep(t), validate.seed(seed)

        def compute():
            gradients, concat, live = proofs.measured_parts(ctx, image, t, seed)
            return (plot(proofs.gradients_live_figure(gradients)), proofs.gradients_markdown(gradients, ctx.metrics),
                    proofs.concat_markdown(ctx, concat, t), plot(proofs.bottleneck_figure(ctx.metrics, t, live)),
                    proofs.bottleneck_markdown(live, t, ctx.metrics),
                    *attention_view(image, t, seed, name, y, x), *time_view(image, t, seed, other),
                    *claims_views(image, t, seed))

        # The whole tab, kept: a class on one Lesson step asks for the same image, t, seed and picks.
        return kept.view(ctx, "proofs", image, (t, seed, str(name), str(y), str(x), str(other)), compute)

    def on_pick(image, t, seed, name, evt: gr.EventData):
        y, x = picked_pixel(evt, side)
        return (y, x) + attention_view(image, t, seed, name, y, x)

    shared = [inputs.image, inputs.t, inputs.seed]
    attention_outputs = [picker, attention_maps, attention_text]
    time_outputs = [time_pairs, time_text, time_live]
    lanes.listen(picker.click, on_pick, shared + [block], [y_box, x_box] + attention_outputs, api_name=False,
                 preprocess=False,
                  show_progress="hidden")
    lanes.on([block.input, y_box.submit, x_box.submit], attention_with_numbers, shared + [block, y_box, x_box],
             attention_outputs + [attention_data], api_name="proof_attention", preprocess=False, show_progress="hidden",
             trigger_mode="always_last",
             api_description="Where the attention block's query at pixel (y, x) looks: x_t with the query, the maps "
                             "per head, their entropies as text and as numbers")
    lanes.listen(other_t.change, time_with_numbers, shared + [other_t], time_outputs + [time_data],
                 api_name="proof_time",
                 preprocess=False, show_progress="hidden", trigger_mode="always_last",
                 api_description="Both networks told t and another t for the same x_t: the predictions, the "
                                 "summary, the time shift per block as a figure and as numbers")
    outputs = [gradients_live, gradients_text, concat_table, bottleneck_chart, bottleneck_text,
               *attention_outputs, *time_outputs, scales_chart, snr_chart, scales_text, detail_zoom, detail_text,
               shift_pictures, shift_text]
    # Four backward passes per refresh: computed when t is let go of, not at every step of a drag.
    return Refresh(TAB, [block, y_box, x_box, other_t], outputs, show_all, follows_drag=False)
