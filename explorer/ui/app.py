"""The whole explorer as a Gradio Blocks app: the input panel on top, one tab per view."""
from __future__ import annotations

from pathlib import Path

import gradio as gr

from explorer.server import lanes
from explorer.ui import architecture, denoising, inputs, keys, lesson, proofs, receptive, refresh, scrub, study
from explorer.views.context import Context
from explorer.weights import curve_loss_name

CSS = Path(__file__).with_name("app.css").read_text(encoding="utf-8")

TABS = ("architecture", "denoising", "receptive")


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


def build_app(ctx: Context) -> gr.Blocks:
    with gr.Blocks(title="U-Net Explorer", delete_cache=(1800, 3600)) as demo:
        gr.Markdown("# U-Net Explorer\nWhy do diffusion models use a U-Net? Two real networks, trained on Noto "
                    "emoji, run live below: a plain five-layer CNN and a time-conditioned U-Net. Pick an image and "
                    f"a timestep, then look inside.  \n<small>{weights_note(ctx)}</small>")
        active_tab = gr.State(lesson.LESSON_TAB)  # the Lesson tab opens first
        selected_block = gr.State(architecture.DEFAULT_BLOCK)
        url_note = lesson.note_component()
        panel = inputs.build(ctx)
        with gr.Tabs(elem_id="views", overflow_behavior="wrap", selected=lesson.LESSON_TAB) as tabs:
            with gr.Tab("Lesson", id=lesson.LESSON_TAB, elem_id="tab-lesson") as tab_lesson:
                lesson_view = lesson.build(ctx)
            with gr.Tab("Architecture", id="architecture", elem_id="tab-architecture") as tab_architecture:
                architecture_refresh = architecture.build(ctx, panel, selected_block)
            with gr.Tab("Denoising lab", id="denoising", elem_id="tab-denoising") as tab_denoising:
                denoising_refresh = denoising.build(ctx, panel)
            with gr.Tab("Receptive field", id="receptive", elem_id="tab-receptive") as tab_receptive:
                receptive_refresh = receptive.build(ctx, panel, selected_block)
            with gr.Tab("Part by part", id=proofs.TAB, elem_id="tab-proofs") as tab_proofs:
                proofs_refresh = proofs.build(ctx, panel)
            with gr.Tab("Trained alternatives", id=study.TAB, elem_id="tab-study") as tab_study:
                study_refresh = study.build(ctx, panel)
        refresh.wire([panel.image.change, panel.t.change, panel.seed.change, active_tab.change], active_tab,
                     [panel.image, panel.t, panel.seed], [architecture_refresh, denoising_refresh, receptive_refresh,
                                                      proofs_refresh, study_refresh])
        lanes.listen(tab_architecture.select, lambda: "architecture", None, active_tab, api_name=False)
        lanes.listen(tab_receptive.select, lambda: "receptive", None, active_tab, api_name=False)
        lanes.listen(tab_denoising.select, lambda: "denoising", None, active_tab, api_name=False)
        lanes.listen(tab_proofs.select, lambda: proofs.TAB, None, active_tab, api_name=False)
        lanes.listen(tab_study.select, lambda: study.TAB, None, active_tab, api_name=False)
        lanes.listen(tab_lesson.select, lambda: lesson.LESSON_TAB, None, active_tab, api_name=False)
        architecture.wire_evidence(demo, tabs, active_tab)
        receptive.follow_architecture(ctx, demo)
        keys.wire(demo)
        lesson.wire(ctx, demo, lesson_view, lesson.find_controls(demo, tabs, active_tab, panel, selected_block),
                    url_note)
    return demo


def launch_options() -> dict:
    # No run history: Gradio would rewrite the browser's localStorage after every event (tens of ms per step of t).
    return dict(css=CSS + scrub.PAGE_CSS + lesson.CSS + study.CSS, theme=gr.themes.Soft(), run_history=False)
