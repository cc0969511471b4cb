"""The "Part by part" tab: each of the lesson's claims about a part of the U-Net, measured live."""
from __future__ import annotations

from dataclasses import dataclass

import gradio as gr

from explorer.server import lanes
from explorer.ui import validate
from explorer.ui.picker import picked_pixel, picker_js
from explorer.ui.plots import plot
from explorer.ui.refresh import Refresh, tab_refresh
from explorer.ui.wiring import Pack, Wire, wire
from explorer.views import claims, kept, numbers, proofs
from explorer.views.context import Context

TAB = "proofs"


@dataclass(frozen=True)
class Query:
    """The attention section's query as the page sends it: the block and the pixel (raw values: checked by
    `attention_shown`). The field names are the /proof_attention endpoint's parameter names."""

    name: object
    y: object
    x: object


@dataclass
class Proofs:
    gradients_live: gr.Plot
    gradients_text: gr.Markdown
    concat_table: gr.Markdown
    bottleneck_chart: gr.Plot
    bottleneck_text: gr.Markdown
    block: gr.Radio
    picker: gr.HTML
    y_box: gr.Number
    x_box: gr.Number
    attention_maps: gr.HTML
    attention_text: gr.Markdown
    attention_data: gr.JSON
    other_t: gr.Slider
    time_pairs: gr.HTML
    time_text: gr.Markdown
    time_data: gr.JSON
    time_live: gr.Plot
    scales_chart: gr.Plot
    snr_chart: gr.Plot
    scales_text: gr.Markdown
    detail_zoom: gr.HTML
    detail_text: gr.Markdown
    shift_pictures: gr.HTML
    shift_text: gr.Markdown

    @property
    def query(self) -> Pack:
        return Pack(Query, [self.block, self.y_box, self.x_box])

    @property
    def attention_outputs(self) -> list:
        return [self.picker, self.attention_maps, self.attention_text]

    @property
    def time_outputs(self) -> list:
        return [self.time_pairs, self.time_text, self.time_live]

    @property
    def outputs(self) -> list:
        """Every output of the tab's refresh, in `show_all`'s order."""
        return [self.gradients_live, self.gradients_text, self.concat_table, self.bottleneck_chart,
                self.bottleneck_text, *self.attention_outputs, *self.time_outputs, self.scales_chart, self.snr_chart,
                self.scales_text, self.detail_zoom, self.detail_text, self.shift_pictures, self.shift_text]


# --- handlers ---------------------------------------------------------------------------------------------------------

def claims_views(ctx: Context, image, t, seed) -> tuple:
    """The scales, detail and one-pixel-off sections (valid inputs)."""
    stem = claims.stem_of(ctx, image)
    scales = claims.scales_view(ctx, stem, image, t, seed)
    detail = claims.detail_view(ctx, stem, image, t, seed)
    shift = claims.shift_view(ctx, stem, image, t, seed)
    shifted = [(f"U-Net's x̂₀, noise {name}", claims.Image.fromarray(picture))
               for name, picture in (("aligned", shift.x0_hat["aligned"]),
                                     ("moved one pixel right", shift.x0_hat["shifted"]))]
    return (plot(claims.scales_figure(scales)), plot(claims.snr_figure(scales)),
            claims.levels_sentence(ctx) + " " + claims.scales_sentence(scales) + "\n\n" + claims.snr_sentence(scales),
            proofs.figures_html(claims.detail_images(detail), "detail-zoom", scale=1),
            claims.detail_markdown(detail, ctx.study, ctx.metrics), proofs.figures_html(shifted, "shift-pair"),
            claims.shift_sentence(shift))


def attention_block(ctx: Context, name) -> str:
    blocks = proofs.attention_blocks(ctx)
    if not isinstance(name, str) or name not in blocks:
        shown = str(name)[:40] if name is not None else "nothing"
        raise gr.Error(f"Unknown attention block {shown!r}: pick one of {', '.join(blocks)}")
    return name


def attention_shown(ctx: Context, image, t, seed, query: Query):
    """The section's outputs and the view they show."""
    side = ctx.image_size
    image, t, seed = validate.image(ctx, image), validate.timestep(t), validate.seed(seed)
    name = attention_block(ctx, query.name)
    y, x = validate.coordinate(query.y, side, "y"), validate.coordinate(query.x, side, "x")
    try:
        view = proofs.attention(ctx, image, t, seed, name, y, x)
    except ValueError as error:
        raise gr.Error(str(error)) from None
    return (proofs.attention_picker(ctx, image, t, seed, name, y, x), proofs.attention_html(view),
            proofs.attention_markdown(view)), view


def attention_view(ctx: Context, image, t, seed, query: Query) -> tuple:
    return attention_shown(ctx, image, t, seed, query)[0]


def attention_with_numbers(ctx: Context, image, t, seed, query: Query) -> tuple:
    """The /proof_attention endpoint: the section and its entropies as numbers."""
    shown, view = attention_shown(ctx, image, t, seed, query)
    return shown + (numbers.attention(view),)


def on_pick(ctx: Context, image, t, seed, name, evt: gr.EventData) -> tuple:
    y, x = picked_pixel(evt, ctx.image_size)
    return (y, x) + attention_view(ctx, image, t, seed, Query(name, y, x))


def time_shown(ctx: Context, image, t, seed, other):
    """The section's outputs and the view they show."""
    image, t, seed = validate.image(ctx, image), validate.timestep(t), validate.seed(seed)
    other = validate.timestep(other, "The second t")
    view = proofs.time_view(ctx, image, t, seed, other)
    return (proofs.time_html(view), proofs.time_markdown(view, ctx.metrics),
            plot(proofs.time_heatmap(view.table, f"This image (seed {seed})", t))), view


def time_view(ctx: Context, image, t, seed, other) -> tuple:
    return time_shown(ctx, image, t, seed, other)[0]


def time_with_numbers(ctx: Context, image, t, seed, other) -> tuple:
    """The /proof_time endpoint: the section and the time shift per block as numbers."""
    shown, view = time_shown(ctx, image, t, seed, other)
    return shown + (numbers.time_conditioning(view),)


@lanes.long_job("Part-by-part refresh")
def show_all(ctx: Context, image, t, seed, query: Query, other) -> tuple:
    """The whole tab (`Proofs.outputs`), kept: a class on one Lesson step asks for the same image, t, seed and
    picks."""
    image, t, seed = validate.image(ctx, image), validate.timestep(t), validate.seed(seed)

    def compute():
        gradients, concat, live = proofs.measured_parts(ctx, image, t, seed)
        return (plot(proofs.gradients_live_figure(gradients)), proofs.gradients_markdown(gradients, ctx.metrics),
                proofs.concat_markdown(ctx, concat, t), plot(proofs.bottleneck_figure(ctx.metrics, t, live)),
                proofs.bottleneck_markdown(live, t, ctx.metrics, ctx.study),
                *attention_view(ctx, image, t, seed, query), *time_view(ctx, image, t, seed, other),
                *claims_views(ctx, image, t, seed))

    inputs = (t, seed, str(query.name), str(query.y), str(query.x), str(other))
    return kept.view(ctx, "proofs", image, inputs, compute)


# --- layout -----------------------------------------------------------------------------------------------------------

def build(ctx: Context) -> Proofs:
    gr.Markdown("The lesson makes a claim about each part of the U-Net. Here each claim meets a measurement on "
                "these trained weights, for your image, t and seed (and, where it has been measured, on the "
                "held-out set). Where the numbers disagree with the lesson, the text says so.")
    gradients = build_gradients(ctx)
    concat = build_concat(ctx)
    bottleneck = build_bottleneck()
    attention = build_attention(ctx)
    time = build_time(ctx)
    scales = build_scales()
    detail_shift = build_detail_windows_shift(ctx)
    build_accumulation(ctx)
    return Proofs(*gradients, concat, *bottleneck, *attention, *time, *scales, *detail_shift)


def build_gradients(ctx: Context) -> tuple:
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
    return gradients_live, gradients_text


def build_concat(ctx: Context) -> gr.Markdown:
    with gr.Column(variant="panel", elem_id="proof-concat"):
        gr.Markdown("### What each decoder level takes from each source\nLesson: *the skip is concatenated, not "
                    "added, so both sources reach the decoder whole.* Each decoder level stacks the upsampled path "
                    "from below and the skip from the encoder. Replace one half (by zeros, or by its own per-channel "
                    "average) and see how many times worse the noise prediction gets.")
        concat_table = gr.Markdown(elem_id="proof-concat-table")
        gr.Plot(plot(proofs.concat_heldout_figure(ctx.metrics)), label="Held-out", elem_id="proof-concat-heldout",
                show_label=False)
        gr.Markdown(proofs.CONCAT_NOTE, elem_id="proof-concat-note")
    return concat_table


def build_bottleneck() -> tuple:
    with gr.Column(variant="panel", elem_id="proof-bottleneck"):
        gr.Markdown("### The bottleneck and the skips across t\nLesson: *at large t the bottleneck matters most; at "
                    "small t, the skips.* Each line is the noise error with one part switched off, as a multiple of "
                    "the intact U-Net's: the bottleneck bypassed (its three blocks pass their input through), each "
                    "skip cut, attention off. The Denoising lab has the same switches.")
        bottleneck_chart = gr.Plot(label="Knock-outs against t", elem_id="proof-bottleneck-chart", show_label=False)
        bottleneck_text = gr.Markdown(elem_id="proof-bottleneck-verdict")
    return bottleneck_chart, bottleneck_text


def build_attention(ctx: Context) -> tuple:
    """(block, picker, y, x, maps, entropy text, entropy numbers)."""
    side = ctx.image_size
    blocks = proofs.attention_blocks(ctx)
    with gr.Column(variant="panel", elem_id="proof-attention"):
        gr.Markdown("### Attention maps\nLesson: *self-attention gives global context at low resolution.* Pick a "
                    "block and click a position of x_t (the query): the maps show where that position looks, per "
                    "head and averaged.")
        with gr.Row(equal_height=False):
            with gr.Column(scale=1, min_width=280):
                block = gr.Radio(blocks, value="mid.attn" if "mid.attn" in blocks else blocks[0],
                                 label="Attention block", elem_id="proof-attention-block")
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
    return block, picker, y_box, x_box, attention_maps, attention_text, attention_data


def build_time(ctx: Context) -> tuple:
    """(second t, pairs, summary, numbers, live heat map)."""
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
    return other_t, time_pairs, time_text, time_data, time_live


def build_scales() -> tuple:
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
    return scales_chart, snr_chart, scales_text


def build_detail_windows_shift(ctx: Context) -> tuple:
    """Where detail gets lost, the windows table and one pixel off: (zoom, detail text, shift pictures, text)."""
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
    return detail_zoom, detail_text, shift_pictures, shift_text


def build_accumulation(ctx: Context) -> None:
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


# --- wiring -----------------------------------------------------------------------------------------------------------

def wires(layout: Proofs, shared: list) -> list[Wire]:
    """`shared`: the input panel's (image, t, seed)."""
    return [
        wire(layout.picker.click, on_pick, shared + [layout.block], [layout.y_box, layout.x_box]
             + layout.attention_outputs, api_name=False, preprocess=False, show_progress="hidden"),
        wire([layout.block.input, layout.y_box.submit, layout.x_box.submit], attention_with_numbers,
             shared + [layout.query], layout.attention_outputs + [layout.attention_data], api_name="proof_attention",
             preprocess=False, show_progress="hidden", trigger_mode="always_last",
             api_description="Where the attention block's query at pixel (y, x) looks: x_t with the query, the maps "
                             "per head, their entropies as text and as numbers"),
        wire(layout.other_t.change, time_with_numbers, shared + [layout.other_t],
             layout.time_outputs + [layout.time_data], api_name="proof_time", preprocess=False,
             show_progress="hidden", trigger_mode="always_last",
             api_description="Both networks told t and another t for the same x_t: the predictions, the "
                             "summary, the time shift per block as a figure and as numbers"),
    ]


def refresher(ctx: Context, layout: Proofs) -> Refresh:
    """Four backward passes per refresh: computed when t is let go of, not at every step of a drag."""
    return tab_refresh(TAB, ctx, show_all, [layout.query, layout.other_t], layout.outputs, follows_drag=False)
