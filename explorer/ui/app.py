"""The whole explorer as a Gradio Blocks app: the input panel on top, one tab per view."""
from __future__ import annotations

import functools
from dataclasses import dataclass
from pathlib import Path

import gradio as gr

from explorer.ui import architecture, denoising, inputs, keys, lesson, proofs, receptive, refresh, scrub, study, warm
from explorer.ui.plots import preload_wires
from explorer.ui.wiring import Wire, quiet_progress, register, wire
from explorer.views import opened
from explorer.views.context import Context
from explorer.weights import curve_loss_name

CSS = Path(__file__).with_name("app.css").read_text(encoding="utf-8")
VIEWS_CSS = Path(__file__).with_name("views.css").read_text(encoding="utf-8")  # the views' HTML (explorer/views/)
TAB_IDS = (lesson.LESSON_TAB, architecture.TAB, denoising.TAB, receptive.TAB, proofs.TAB, study.TAB)


def _count(value) -> str:
    """A step or image count from the weights' metadata, or '?' when the file does not say."""
    return f"{value:,}" if isinstance(value, int) and not isinstance(value, bool) else "?"


def weights_note(ctx: Context) -> str:
    meta = ctx.pair.unet_meta.get("training") or {}
    naive = ctx.pair.naive_meta.get("training") or {}
    note = (f"U-Net trained {_count(meta.get('steps'))} steps ({_count(meta.get('images_seen'))} images) · naive CNN "
            f"{_count(naive.get('steps'))} steps"
            + (f" (stopped when its {curve_loss_name(ctx.pair.naive_meta)} stopped improving)"
               if naive.get("stopped_early") else ""))
    if ctx.metrics is None:
        note += " · held-out measurements not computed yet for these weights"
    return note


def selects(tab_id: str) -> str:
    """A tab's `select`: the shown tab becomes `tab_id`."""
    return tab_id


def tab_wires(tabs: dict[str, gr.Tab], active_tab: gr.State) -> list[Wire]:
    """Each tab, when selected, becomes the shown tab (`active_tab`), whose refresh then runs (ui/refresh.py)."""
    return [wire(tab.select, functools.partial(selects, tab_id), None, active_tab, context=False, api_name=False,
                 show_progress="hidden")
            for tab_id, tab in tabs.items()]


def quiet_target() -> gr.HTML:
    """The page's one target for the progress of the events that show none (wiring.quiet_progress)."""
    return gr.HTML(visible="hidden", elem_id="quiet-progress", apply_default_css=False)


@dataclass
class Page:
    demo: gr.Blocks
    warm_up: tuple[warm.Job, ...] = ()  # the Lesson's evidence, computed before it is asked for (ui/warm.py)


def build_app(ctx: Context) -> gr.Blocks:
    """The page for the shipped pair, or, for a diffusers model in the U-Net's place (`ctx.opened`), the views that
    read any denoiser (Architecture, Denoising lab, Receptive field) and a note naming the model (`opened_app`)."""
    return build_page(ctx).demo


def build_page(ctx: Context) -> Page:
    """`build_app`'s page, with the jobs that compute each Lesson step's evidence ahead (explorer/ui/warm.py)."""
    if not ctx.shipped_only:
        return Page(opened_app(ctx))
    course = lesson.Course.of(ctx, TAB_IDS)
    with gr.Blocks(title="U-Net Explorer", delete_cache=(1800, 3600)) as demo, quiet_progress(quiet_target()):
        gr.Markdown("# U-Net Explorer\nWhy do diffusion models use a U-Net? Two real networks, trained on Noto "
                    "emoji, run live below: a plain five-layer CNN and a time-conditioned U-Net. Pick an image and "
                    f"a timestep, then look inside.  \n<small>{weights_note(ctx)}</small>")
        active_tab = gr.State(lesson.LESSON_TAB)  # the Lesson tab opens first
        selected_block = gr.State(architecture.DEFAULT_BLOCK)
        url_note = lesson.note_component()
        panel = inputs.build(ctx)
        register(ctx, inputs.wires(panel))
        with gr.Tabs(elem_id="views", overflow_behavior="wrap", selected=lesson.LESSON_TAB) as tabs:
            with gr.Tab("Lesson", id=lesson.LESSON_TAB, elem_id="tab-lesson") as tab_lesson:
                lesson_view = lesson.build(course)
            arch, lab, field, tab_architecture, tab_denoising, tab_receptive = model_tabs(ctx, panel, selected_block)
            with gr.Tab("Part by part", id=proofs.TAB, elem_id="tab-proofs") as tab_proofs:
                parts = proofs.build(ctx)
                register(ctx, proofs.wires(parts, panel.shared))
            with gr.Tab("Trained alternatives", id=study.TAB, elem_id="tab-study") as tab_study:
                alternatives = study.build(ctx)
                register(ctx, study.wires(alternatives, panel.shared))
        refreshes = [architecture.refresher(ctx, arch), denoising.refresher(ctx, lab),
                     receptive.refresher(ctx, field), proofs.refresher(ctx, parts), study.refresher(ctx, alternatives)]
        refresh.wire(active_tab, panel.shared, refreshes)
        register(ctx, tab_wires({architecture.TAB: tab_architecture, receptive.TAB: tab_receptive,
                                 denoising.TAB: tab_denoising, proofs.TAB: tab_proofs, study.TAB: tab_study,
                                 lesson.LESSON_TAB: tab_lesson}, active_tab))
        evidence_scroll = gr.Textbox(visible="hidden", elem_id="evidence-scroll")
        register(ctx, architecture.evidence_wires(arch, tabs, active_tab, evidence_scroll, parts.block,
                                                  lesson.SCROLL_JS))
        register(ctx, receptive.follow_wires(ctx, field, arch.chooser))
        register(ctx, keys.wires(demo) + preload_wires(demo))
        controls = lesson.Controls(tabs, active_tab, panel.image, panel.source, panel.t, panel.seed, selected_block,
                                   field.y_box, field.x_box, field.block, lab.override_t, lab.told_t, lab.skips,
                                   lab.attention, lab.bottleneck, lab.steps)
        register(course, lesson.wires(lesson_view, controls, url_note, lesson.write_button(), demo,
                                      alternatives.comparison_outputs()))
    return Page(demo, tuple(warm.lesson_jobs(course, controls, refreshes)))


def model_tabs(ctx: Context, panel: inputs.Inputs, selected_block: gr.State) -> tuple:
    """The tabs that read the model in the U-Net's place through the denoiser interface, whichever it is:
    (architecture, denoising lab, receptive field, and their three gr.Tab)."""
    with gr.Tab("Architecture", id=architecture.TAB, elem_id="tab-architecture") as tab_architecture:
        arch = architecture.build(ctx, selected_block)
        register(ctx, architecture.wires(arch, panel.shared))
    with gr.Tab("Denoising lab", id=denoising.TAB, elem_id="tab-denoising") as tab_denoising:
        lab = denoising.build(ctx)
        register(ctx, denoising.wires(lab, panel.shared, ctx.diffusion.max_t))
    with gr.Tab("Receptive field", id=receptive.TAB, elem_id="tab-receptive") as tab_receptive:
        field = receptive.build(ctx)
        register(ctx, receptive.wires(field, panel.shared, selected_block))
    return arch, lab, field, tab_architecture, tab_denoising, tab_receptive


def opened_app(ctx: Context) -> gr.Blocks:
    """The page for a diffusers model (`python app.py --model ...`): its note, the input panel and the three tabs
    that read any denoiser, opening on the Architecture tab. The Lesson, Part by part and the study measure the
    shipped pair and are left out; the note says so."""
    with (gr.Blocks(title=f"U-Net Explorer: {ctx.opened.name}", delete_cache=(1800, 3600)) as demo,
          quiet_progress(quiet_target())):
        gr.Markdown("# U-Net Explorer\nA diffusers UNet2DModel opened with `--model`, run live below beside a plain "
                    "five-layer CNN. Pick an image and a timestep, then look inside.")
        gr.Markdown(opened.model_note(ctx), elem_id="model-note")
        active_tab = gr.State(architecture.TAB)
        selected_block = gr.State(architecture.default_block(ctx))
        panel = inputs.build(ctx)
        register(ctx, inputs.wires(panel))
        with gr.Tabs(elem_id="views", overflow_behavior="wrap", selected=architecture.TAB):
            arch, lab, field, tab_architecture, tab_denoising, tab_receptive = model_tabs(ctx, panel, selected_block)
        refreshes = [architecture.refresher(ctx, arch), denoising.refresher(ctx, lab), receptive.refresher(ctx, field)]
        refresh.wire(active_tab, panel.shared, refreshes)
        register(ctx, tab_wires({architecture.TAB: tab_architecture, receptive.TAB: tab_receptive,
                                 denoising.TAB: tab_denoising}, active_tab))
        register(ctx, receptive.follow_wires(ctx, field, arch.chooser))
        register(ctx, keys.wires(demo) + preload_wires(demo))
        # No Lesson reads the address on load here: the shown tab is filled when the page has loaded
        register(ctx, [wire(demo.load, None, js=refresh.press_shown([item.tab for item in refreshes]),
                            api_name=False, queue=False, show_progress="hidden")])
    return demo


def launch_options() -> dict:
    # No run history: Gradio would rewrite the browser's localStorage after every event (tens of ms per step of t).
    css = CSS + VIEWS_CSS + scrub.PAGE_CSS + lesson.CSS + study.CSS
    return dict(css=css, theme=gr.themes.Soft(), run_history=False)
