"""The Architecture tab: the clickable diagram, the block panel, and the all-levels view."""
from __future__ import annotations

import json
from pathlib import Path

import gradio as gr

from explorer.data import image_digest
from explorer.diagram import DIAGRAM_CSS
from explorer.explanations import sweep_caption
from explorer.server import lanes
from explorer.ui import lesson, proofs, validate
from explorer.ui.inputs import Inputs
from explorer.ui.plots import plot
from explorer.ui.refresh import Refresh
from explorer.views import architecture, levels, numbers
from explorer.views.context import Context

# One listener on the root survives re-renders of the SVG inside it. The block panel is a live region: a
# screen reader reads the new block's heading when a click changes it.
DIAGRAM_JS = Path(__file__).with_name("diagram.js").read_text(encoding="utf-8")

# The block panel's "See the evidence" buttons are real <button>s (Enter and Space press them too).
EVIDENCE_JS = Path(__file__).with_name("evidence.js").read_text(encoding="utf-8")

EVIDENCE_CSS = Path(__file__).with_name("evidence.css").read_text(encoding="utf-8")

DEFAULT_BLOCK = "mid.attn"


def chooser_order(names: list[str]) -> list[str]:
    """Block names for a dropdown, each name before the names it is a prefix of (dec3 before dec3.up).

    Typing in a Gradio dropdown filters the choices and Enter takes the first match, so this order
    makes an exact name win: "dec3" + Enter selects dec3, not dec3.up.
    """
    ordered: list[str] = []
    for name in names:
        base = name.split(".")[0]
        if base != name and base in names and base not in ordered:
            ordered.append(base)
        if name not in ordered:
            ordered.append(name)
    return ordered


def build(ctx: Context, inputs: Inputs, selected_block: gr.State) -> Refresh:
    default = DEFAULT_BLOCK if DEFAULT_BLOCK in ctx.block_names() else ctx.block_names()[1]
    gr.Markdown("Click a block (or tab to it and press Enter, or pick it from the list) to read what it does "
                "and watch its output for the current image. The naive CNN is drawn on the right at the same "
                "scale.")
    with gr.Row(equal_height=False):
        with gr.Column(scale=5, min_width=300):
            diagram = gr.HTML(architecture.diagram(ctx, default), js_on_load=DIAGRAM_JS, elem_id="diagram",
                              css_template=DIAGRAM_CSS, label="Diagram (SVG)")
        with gr.Column(scale=3, min_width=300):
            chooser = gr.Dropdown(chooser_order(ctx.block_names()), value=default, label="Block",
                                  elem_id="block-chooser")
            panel = gr.Markdown(elem_id="block-panel", label="Block description")
            evidence = gr.HTML(architecture.evidence_html(ctx, default), js_on_load=EVIDENCE_JS,
                               css_template=EVIDENCE_CSS, elem_id="block-evidence")
            activation = gr.HTML(elem_id="block-activation", label="Block output (activation maps)")
            block_numbers = gr.JSON(visible=False, label="Block facts (numbers)", elem_id="block-numbers")

    with gr.Accordion("All levels at once: feature maps and spectra", open=True, elem_id="all-levels"):
        gr.Markdown("Each row is one level of the U-Net for the current x_t, each tile one of its most active "
                    "channels, shown at the level's own resolution (enlarged by a whole number, so a 4×4 map "
                    "shows its 16 cells) and on its own colour scale (blue below zero, red above). The spectra "
                    "show which spatial frequencies each map carries.")
        with gr.Row(equal_height=False):
            with gr.Column(scale=1, min_width=300):
                level_image = gr.HTML(elem_id="level-maps", label="U-Net feature maps by level")
            with gr.Column(scale=1, min_width=300):
                spectrum = gr.Plot(label="Spectra of the levels", elem_id="level-spectrum", show_label=False)
                gr.Markdown("Each skip connection (solid) beside the upsampled path it is concatenated with "
                            "(dashed): what the skip adds that the coarse path cannot carry.")
                skip_spectrum = gr.Plot(label="Skip vs upsampled path", elem_id="skip-spectrum", show_label=False)
        with gr.Column(elem_id="naive-levels"):
            side = ctx.image_size
            gr.Markdown(f"### The naive CNN: {len(levels.naive_names(ctx))} layers, one scale\n\nThe same x_t "
                        f"through the naive CNN. Every layer works on the full {side}×{side} grid; nothing in it "
                        "looks at a coarser version of the image. Its spectra (grey: the U-Net's finest and "
                        "coarsest level, for comparison) share the axes of the U-Net's.")
            naive_summary = gr.Markdown(elem_id="naive-summary", label="Scales of the two networks")
            with gr.Row(equal_height=False):
                with gr.Column(scale=1, min_width=300):
                    naive_image = gr.HTML(elem_id="naive-maps", label="Naive CNN feature maps by layer")
                with gr.Column(scale=1, min_width=300):
                    naive_spectrum = gr.Plot(label="Spectra of the naive CNN's layers", elem_id="naive-spectrum",
                                             show_label=False)
        with gr.Row():
            sweep_button = gr.Button("How do the skips' high frequencies change with t? (8 forward passes)",
                                     size="sm", elem_id="sweep-button")
        sweep = gr.Plot(label="High-frequency share against t", elem_id="sweep-plot", visible=False, show_label=False)
        gr.Markdown(sweep_caption(ctx.image_size), elem_id="sweep-caption")

    # What the block panel shows: (block, t, seed, image digest). A tab refresh asked for before a newer click
    # can arrive after it; it redraws the panel only when the panel shows something else than it was asked for.
    shown = gr.State(None)

    def show_block(image, t, seed, name):
        image, t, seed = validate.image(ctx, image), validate.timestep(t), validate.seed(seed)
        name = validate.block(ctx, name)
        view = architecture.block_panel(ctx, image, t, seed, name)
        return (architecture.diagram(ctx, name), name, view.markdown, view.activation, name,
                (name, t, seed, image_digest(image)))

    def with_facts(shown: tuple) -> tuple:
        return shown + (numbers.block_facts(ctx, shown[1]),)

    def select_block(image, t, seed, name):
        return with_facts(show_block(image, t, seed, name))

    def on_click(image, t, seed, evt: gr.EventData):
        name = validate.event_fields(evt).get("block_id")
        if name is None:
            raise gr.Error("No block arrived with this click: click a block in the diagram, or use select_block")
        return with_facts(show_block(image, t, seed, name))

    def show_levels(image, t, seed):
        image, t, seed = validate.image(ctx, image), validate.timestep(t), validate.seed(seed)
        outputs = levels.record_levels(ctx, image, t, seed)
        return (levels.level_grid(ctx, outputs), plot(levels.spectrum_figure(ctx, outputs, t)),
                plot(levels.spectrum_figure(ctx, outputs, t, group="skips")), levels.naive_grid(ctx, outputs),
                plot(levels.spectrum_figure(ctx, outputs, t, group="naive")), levels.scales_markdown(ctx, outputs))

    @lanes.long_job("frequency sweep")
    def run_sweep(image, seed):
        image, seed = validate.image(ctx, image), validate.seed(seed)
        return gr.update(value=levels.high_frequency_sweep(ctx, image, seed), visible=True)

    block_outputs = [diagram, chooser, panel, activation, selected_block, shown]
    shared = [inputs.image, inputs.t, inputs.seed]
    # The evidence buttons follow the shown block, whichever control or tab chose it (no model call).
    lanes.listen(chooser.change, lambda name: architecture.evidence_html(ctx, name), chooser, evidence, api_name=False,
                 queue=False, show_progress="hidden")
    lanes.listen(diagram.click, on_click, shared, block_outputs + [block_numbers], api_name="click_block",
                 preprocess=False,
                 show_progress="hidden", api_description="A click on the diagram (page only: through the API use "
                                                         "/select_block)")
    lanes.listen(chooser.input, select_block, shared + [chooser], block_outputs + [block_numbers],
                 api_name="select_block",
                 preprocess=False, show_progress="hidden",
                 api_description="One block of either network: the diagram with it selected, what it does, its "
                                 "output for x_t, and its facts as numbers (shapes, parameters, receptive field)")
    level_outputs = [level_image, spectrum, skip_spectrum, naive_image, naive_spectrum, naive_summary]
    # The app opens on the Lesson tab: this tab is filled by its refresh when it is shown, not at page load (a
    # page-load fill of the block would race a shared link's block, set from the URL by explorer/ui/lesson.py,
    # and every page opened would pay for level maps it may never show). The levels alone: the /levels endpoint.
    lanes.listen(gr.Button(visible=False).click, show_levels, shared, level_outputs, api_name="levels",
                 preprocess=False,
                 show_progress="hidden",
                 api_description="Every level's feature maps and their spectra, both networks")
    lanes.listen(sweep_button.click, run_sweep, [inputs.image, inputs.seed], sweep, api_name="frequency_sweep",
                 preprocess=False,
                 api_description="The skips' high-frequency share against t (8 forward passes)")

    # No listener follows `selected_block` here: another tab can change it only while this one is hidden (the
    # Receptive-field list, a lesson step, a link), and showing this tab runs the refresh below, which shows the
    # shared block. A follower ran one queued request per click made in this very tab, where it had nothing to do.
    def refresh(image, t, seed, name, panel_shows):
        wanted = (validate.block(ctx, name), validate.timestep(t), validate.seed(seed),
                  image_digest(validate.image(ctx, image)))
        block_part = (tuple(gr.skip() for _ in block_outputs) if panel_shows is not None
                      and tuple(panel_shows) == wanted else show_block(image, t, seed, name))
        return block_part + show_levels(image, t, seed)

    return Refresh("architecture", [selected_block, shown], block_outputs + level_outputs, refresh)


def wire_evidence(demo: gr.Blocks, tabs: gr.Tabs, active_tab: gr.State) -> None:
    """Connect the block panel's "See the evidence" buttons to the "Part by part" tab (call once every tab exists).

    A press selects that tab, picks the block in the attention section when it is an attention block, then the
    lesson's script refreshes the tab and brings the section into view with the keyboard focus on it."""
    by_id = {block.elem_id: block for block in demo.blocks.values() if getattr(block, "elem_id", None)}
    evidence, attention_block = by_id["block-evidence"], by_id.get("proof-attention-block")
    scroll = gr.Textbox(visible="hidden", elem_id="evidence-scroll")
    attention_choices = {value for _, value in getattr(attention_block, "choices", None) or []}

    def open_evidence(evt: gr.EventData):
        data = validate.event_dict(evt, "Press one of the block's evidence buttons")
        section = data.get("evidence")
        if section not in architecture.EVIDENCE:
            raise gr.Error("That link names no section of Part by part: click a block, then one of its buttons")
        out = {tabs: gr.Tabs(selected=proofs.TAB), active_tab: proofs.TAB,
               scroll: json.dumps({"tab": proofs.TAB, "evidence": section})}
        if attention_block is not None and data.get("block") in attention_choices:
            out[attention_block] = data["block"]
        return out

    outputs = [tabs, active_tab, scroll] + ([attention_block] if attention_block is not None else [])
    lanes.listen(evidence.click, open_evidence, None, outputs, api_name=False, show_progress="hidden").then(
        None, scroll, None, js=lesson.SCROLL_JS, api_name=False, show_progress="hidden")
