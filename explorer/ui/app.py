"""The whole explorer as a Gradio Blocks app: the input panel on top, one tab per view."""
from __future__ import annotations

import gradio as gr

from explorer.ui import architecture, denoising, inputs, lesson, proofs, receptive, refresh, scrub, study
from explorer.views.context import Context

CSS = """
#xt-preview img, #x0-preview img, img.px, #denoise-figure img, #reverse-live img, #reverse-strip img {
  image-rendering: pixelated; }
img.px { max-width: none; display: block; }
.gradio-container { max-width: 1500px !important; }
/* Labels at a contrast of at least 4.5:1 (the theme's indigo on pale indigo gives 3.7:1). */
.gradio-container { --block-label-text-color: #3730a3; --block-title-text-color: #3730a3;
  --block-info-text-color: #4b5563; --body-text-color-subdued: #4b5563; }
#views { --color-accent: #4338ca; }  /* the selected tab's name (the theme's gives 4.3:1) */
/* Tables scroll sideways inside their box instead of breaking numbers and words letter by letter. */
.gradio-container .prose table { display: block; overflow-x: auto; max-width: 100%; }
.gradio-container .prose th, .gradio-container .prose td { word-break: normal; overflow-wrap: normal; hyphens: none; }
/* Skip links: hidden until a keyboard user tabs onto them; they take no room in the layout. */
#skip-links { position: absolute; top: 4px; left: 4px; z-index: 1000; }
.skip-links a { position: absolute; left: -10000px; }
.skip-links a:focus { position: static; display: inline-block; margin: 4px 8px 4px 0; padding: 6px 10px;
  background: #1e1b4b; color: #fff; border-radius: 6px; }
/* Feature maps, level by level (views/levels.py) and block activations (views/architecture.py). */
.level-grid { display: flex; flex-direction: column; gap: 6px; }
.level-row { display: flex; align-items: center; gap: 10px; }
.level-name { width: 104px; flex: none; font-size: 14px; color: #111; }
.level-name span { display: block; font-size: 12px; color: #374151; }
.level-tiles { display: flex; flex-wrap: wrap; gap: 4px; }
.activation { display: flex; flex-wrap: wrap; gap: 12px 20px; align-items: flex-start; }
.activation .tiles { display: grid; grid-template-columns: repeat(4, auto); gap: 2px 6px; justify-content: start; }
.activation .tile { margin: 0; }
.activation figcaption, .part-title { font-size: 12px; color: #1f2937; margin: 0 0 2px; }
.colour-bar { margin-top: 6px; width: 100%; max-width: 288px; }
.colour-bar .bar { height: 12px; border: 1px solid #d1d5db; }
.bar-ticks { display: flex; justify-content: space-between; font-size: 12px; color: #1f2937; }
/* Receptive fields: 64x64 pictures enlarged 4 times, boxes drawn over them in SVG (views/receptive.py). */
.rf-figures { display: flex; flex-wrap: wrap; gap: 14px; }
.rf-figure { margin: 0; }
.rf-figure figcaption { font-weight: 600; font-size: 14px; color: #111; margin-bottom: 2px; }
.rf-frame { position: relative; }
.rf-frame svg { position: absolute; inset: 0; width: 100%; height: 100%; pointer-events: none; }
#rf-picker .rf-frame { cursor: crosshair; }
.rf-legend { font-size: 13px; color: #1f2937; }
.rf-legend .swatch { display: inline-block; width: 14px; height: 10px; border: 2px solid; background: #4b5563;
  vertical-align: middle; margin-right: 3px; }
.rf-legend .swatch.dashed { border-style: dashed; }
@media (max-width: 640px) {
  .gradio-container .prose th, .gradio-container .prose td { padding: 6px; }
  .level-row { flex-direction: column; align-items: flex-start; gap: 2px; }
  .level-name { width: auto; }
  .level-name span { display: inline; margin-left: 6px; }
  .level-tiles img:nth-child(n+5) { display: none; }  /* four 64-pixel tiles fit a phone's width */
}
"""

TABS = ("architecture", "denoising", "receptive")


def _count(value) -> str:
    """A step or image count from the weights' metadata, or '?' when the file does not say."""
    return f"{value:,}" if isinstance(value, int) and not isinstance(value, bool) else "?"


def weights_note(ctx: Context) -> str:
    meta = ctx.pair.unet_meta.get("training") or {}
    naive = ctx.pair.naive_meta.get("training") or {}
    note = (f"U-Net trained {_count(meta.get('steps'))} steps ({_count(meta.get('images_seen'))} images) · naive CNN "
            f"{_count(naive.get('steps'))} steps" + (" (stopped when its held-out loss stopped improving)"
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
        tab_architecture.select(lambda: "architecture", None, active_tab, api_name=False)
        tab_receptive.select(lambda: "receptive", None, active_tab, api_name=False)
        tab_denoising.select(lambda: "denoising", None, active_tab, api_name=False)
        tab_proofs.select(lambda: proofs.TAB, None, active_tab, api_name=False)
        tab_study.select(lambda: study.TAB, None, active_tab, api_name=False)
        tab_lesson.select(lambda: lesson.LESSON_TAB, None, active_tab, api_name=False)
        architecture.wire_evidence(demo, tabs, active_tab)
        lesson.wire(ctx, demo, lesson_view, lesson.find_controls(demo, tabs, active_tab, panel, selected_block),
                    url_note)
    return demo


def launch_options() -> dict:
    # No run history: Gradio would rewrite the browser's localStorage after every event (tens of ms per step of t).
    return dict(css=CSS + scrub.PAGE_CSS + lesson.CSS + study.CSS, theme=gr.themes.Soft(), run_history=False)
