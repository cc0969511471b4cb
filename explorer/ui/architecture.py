"""The Architecture tab: the clickable diagram, the block panel, and the all-levels view."""
from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import gradio as gr

from explorer.data import image_digest
from explorer.diagram import DIAGRAM_CSS
from explorer.explanations import sweep_caption
from explorer.server import lanes
from explorer.ui import validate
from explorer.ui.plots import plot
from explorer.ui.refresh import Refresh, tab_refresh
from explorer.ui.wiring import Wire, wire
from explorer.views import architecture, levels, numbers, proofs
from explorer.views.context import Context

TAB = "architecture"
PROOFS_TAB = "proofs"  # the "Part by part" tab, which the evidence buttons open

# One listener on the root survives re-renders of the SVG inside it. The block panel is a live region: a
# screen reader reads the new block's heading when a click changes it.
DIAGRAM_JS = Path(__file__).with_name("diagram.js").read_text(encoding="utf-8")

# The block panel's "See the evidence" buttons are real <button>s (Enter and Space press them too).
EVIDENCE_JS = Path(__file__).with_name("evidence.js").read_text(encoding="utf-8")

EVIDENCE_CSS = Path(__file__).with_name("evidence.css").read_text(encoding="utf-8")

DEFAULT_BLOCK = "mid.attn"
# What showing a block writes (`show_block`'s values, in order): the diagram with the block selected, the block list,
# the panel's words, the block's output, the block the tabs share, and what the panel now shows.
BLOCK_PARTS = ("diagram", "chooser", "panel", "activation", "selected_block", "shown")


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


def default_block(ctx: Context) -> str:
    """mid.attn, or another model's bottleneck attention (mid_block.attentions.0), else its first block after t."""
    names = ctx.block_names()
    if DEFAULT_BLOCK in names:
        return DEFAULT_BLOCK
    middle = [name for name in names if ctx.spec(name).kind == "attn" and ctx.spec(name).part == "bottleneck"]
    return middle[0] if middle else names[1]


@dataclass
class Architecture:
    diagram: gr.HTML
    chooser: gr.Dropdown
    panel: gr.Markdown
    evidence: gr.HTML
    activation: gr.HTML
    block_numbers: gr.JSON
    level_image: gr.HTML
    spectrum: gr.Plot
    skip_spectrum: gr.Plot
    naive_summary: gr.Markdown
    naive_image: gr.HTML
    naive_spectrum: gr.Plot
    sweep_button: gr.Button
    sweep: gr.Plot
    shown: gr.State  # what the block panel shows: (block, t, seed, image digest)
    levels_button: gr.Button  # the /levels endpoint: a button the page never shows
    selected_block: gr.State  # the block the tabs share

    @property
    def block_outputs(self) -> list:
        return [getattr(self, name) for name in BLOCK_PARTS]

    @property
    def level_outputs(self) -> list:
        return [self.level_image, self.spectrum, self.skip_spectrum, self.naive_image, self.naive_spectrum,
                self.naive_summary]


# --- handlers ---------------------------------------------------------------------------------------------------------

def show_block(ctx: Context, image, t, seed, name) -> tuple:
    """Block `name` shown: one value per part of `BLOCK_PARTS`."""
    image, t, seed = validate.image(ctx, image), validate.timestep_of(ctx, t), validate.seed(seed)
    name = validate.block(ctx, name)
    view = architecture.block_panel(ctx, image, t, seed, name)
    return (architecture.diagram(ctx, name), name, view.markdown, view.activation, name,
            (name, t, seed, image_digest(image)))


def select_block(ctx: Context, image, t, seed, name) -> tuple:
    """The /select_block endpoint: `show_block` and the block's facts as numbers."""
    shown = show_block(ctx, image, t, seed, name)
    return shown + (numbers.block_facts(ctx, shown[1]),)


def on_click(ctx: Context, image, t, seed, evt: gr.EventData) -> tuple:
    name = validate.event_fields(evt).get("block_id")
    if name is None:
        raise gr.Error("No block arrived with this click: click a block in the diagram, or use select_block")
    return select_block(ctx, image, t, seed, name)


def evidence_for(ctx: Context, name) -> str:
    """The evidence buttons of the shown block (no model call)."""
    return architecture.evidence_html(ctx, name)


def show_levels(ctx: Context, image, t, seed) -> tuple:
    image, t, seed = validate.image(ctx, image), validate.timestep_of(ctx, t), validate.seed(seed)
    outputs = levels.record_levels(ctx, image, t, seed)
    return (levels.level_grid(ctx, outputs), plot(levels.spectrum_figure(ctx, outputs, t)),
            plot(levels.spectrum_figure(ctx, outputs, t, group="skips")), levels.naive_grid(ctx, outputs),
            plot(levels.spectrum_figure(ctx, outputs, t, group="naive")), levels.scales_markdown(ctx, outputs))


@lanes.long_job("frequency sweep")
def run_sweep(ctx: Context, image, seed):
    image, seed = validate.image(ctx, image), validate.seed(seed)
    return gr.update(value=levels.high_frequency_sweep(ctx, image, seed), visible=True)


def refresh(ctx: Context, image, t, seed, name, panel_shows) -> tuple:
    """The tab shown, or its inputs changed: the shared block and every level. A refresh asked for before a newer
    block click can arrive after it, so the panel is redrawn only when it shows something else than asked for."""
    wanted = (validate.block(ctx, name), validate.timestep_of(ctx, t), validate.seed(seed),
              image_digest(validate.image(ctx, image)))
    block_part = (tuple(gr.skip() for _ in BLOCK_PARTS) if panel_shows is not None and tuple(panel_shows) == wanted
                  else show_block(ctx, image, t, seed, name))
    return block_part + show_levels(ctx, image, t, seed)


def open_evidence(ctx: Context, evt: gr.EventData) -> tuple:
    """A "See the evidence" button: the Part-by-part tab selected, the shared tab state, what the page's script
    scrolls to, and the attention section's block when the button's block is one (else left as it is)."""
    data = validate.event_dict(evt, "Press one of the block's evidence buttons")
    section = data.get("evidence")
    if section not in architecture.EVIDENCE:
        raise gr.Error("That link names no section of Part by part: click a block, then one of its buttons")
    block = data.get("block")
    return (gr.Tabs(selected=PROOFS_TAB), PROOFS_TAB, json.dumps({"tab": PROOFS_TAB, "evidence": section}),
            block if block in proofs.attention_blocks(ctx) else gr.skip())


# --- layout -----------------------------------------------------------------------------------------------------------

def build(ctx: Context, selected_block: gr.State) -> Architecture:
    default = default_block(ctx)
    where = "on the right" if ctx.shipped_only else "under it"
    gr.Markdown("Click a block (or tab to it and press Enter, or pick it from the list) to read what it does "
                f"and watch its output for the current image. The naive CNN is drawn {where} at the same scale.")
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
    level_parts = build_levels(ctx)
    shown = gr.State(None)
    levels_button = gr.Button(visible=False)
    return Architecture(diagram, chooser, panel, evidence, activation, block_numbers, *level_parts, shown,
                        levels_button, selected_block)


def build_levels(ctx: Context) -> tuple:
    """The "All levels at once" accordion: (level maps, spectra, skip spectra, naive summary, naive maps, naive
    spectra, sweep button, sweep)."""
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
                beside = ("the upsampled path" if ctx.shipped_only
                          else "the up path's features (its previous layer or upsampler)")
                gr.Markdown(f"Each skip connection (solid) beside {beside} it is concatenated with "
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
    return level_image, spectrum, skip_spectrum, naive_summary, naive_image, naive_spectrum, sweep_button, sweep


# --- wiring -----------------------------------------------------------------------------------------------------------

def wires(layout: Architecture, shared: list) -> list[Wire]:
    """`shared`: the input panel's (image, t, seed)."""
    block_outputs = layout.block_outputs + [layout.block_numbers]
    return [
        # The evidence buttons follow the shown block, whichever control or tab chose it (no model call).
        wire(layout.chooser.change, evidence_for, [layout.chooser], layout.evidence, api_name=False, queue=False,
             show_progress="hidden"),
        wire(layout.diagram.click, on_click, shared, block_outputs, api_name="click_block", preprocess=False,
             show_progress="hidden",
             api_description="A click on the diagram (page only: through the API use /select_block)"),
        wire(layout.chooser.input, select_block, shared + [layout.chooser], block_outputs, api_name="select_block",
             preprocess=False, show_progress="hidden",
             api_description="One block of either network: the diagram with it selected, what it does, its "
                             "output for x_t, and its facts as numbers (shapes, parameters, receptive field)"),
        # The app opens on the Lesson tab: this tab is filled by its refresh when it is shown, not at page load (a
        # page-load fill of the block would race a shared link's block, set from the URL by explorer/ui/lesson.py,
        # and every page opened would pay for level maps it may never show). The levels alone: /levels.
        wire(layout.levels_button.click, show_levels, shared, layout.level_outputs, api_name="levels",
             preprocess=False, show_progress="hidden",
             api_description="Every level's feature maps and their spectra, both networks"),
        wire(layout.sweep_button.click, run_sweep, [shared[0], shared[2]], layout.sweep, api_name="frequency_sweep",
             preprocess=False, api_description="The skips' high-frequency share against t (8 forward passes)"),
    ]


def refresher(ctx: Context, layout: Architecture) -> Refresh:
    """No listener follows the shared block here: another tab can change it only while this one is hidden (the
    Receptive-field list, a lesson step, a link), and showing this tab runs this refresh, which shows the shared
    block. A follower ran one queued request per click made in this very tab, where it had nothing to do."""
    return tab_refresh(TAB, ctx, refresh, [layout.selected_block, layout.shown],
                       layout.block_outputs + layout.level_outputs)


def evidence_wires(layout: Architecture, tabs: gr.Tabs, active_tab: gr.State, scroll: gr.Textbox,
                   attention_block: gr.Radio, scroll_js: str) -> list[Wire]:
    """The block panel's "See the evidence" buttons open the "Part by part" tab: a press selects it, picks the
    block in the attention section when it is an attention block, then the lesson's script (`scroll_js`) refreshes
    the tab and brings the section into view with the keyboard focus on it."""
    return [wire(layout.evidence.click, open_evidence, None, [tabs, active_tab, scroll, attention_block],
                 api_name=False, show_progress="hidden",
                 then=dict(inputs=scroll, outputs=None, js=scroll_js, api_name=False, show_progress="hidden"))]
