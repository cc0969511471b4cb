"""The whole explorer as a Gradio Blocks app: the input panel on top, one tab per view."""
from __future__ import annotations

import gradio as gr

from explorer.ui import architecture, denoising, inputs, receptive, refresh
from explorer.views.context import Context

CSS = """
#xt-preview img, #x0-preview img, #block-activation img, #level-maps img, #rf-picker img, #rf-overlays img,
#denoise-figure img, #reverse-live img, #reverse-strip img { image-rendering: pixelated; }
.gradio-container { max-width: 1500px !important; }
"""

TABS = ("architecture", "denoising", "receptive")


def weights_note(ctx: Context) -> str:
    meta = ctx.pair.unet_meta.get("training", {})
    naive = ctx.pair.naive_meta.get("training", {})
    note = (f"U-Net trained {meta.get('steps', '?'):,} steps ({meta.get('images_seen', 0):,} images) · naive CNN "
            f"{naive.get('steps', '?'):,} steps" + (" (stopped when its held-out loss stopped improving)"
                                                    if naive.get("stopped_early") else ""))
    if ctx.metrics is None:
        note += " · no weights/metrics.json yet: run `python -m explorer.evaluate`"
    return note


def build_app(ctx: Context) -> gr.Blocks:
    with gr.Blocks(title="U-Net Explorer", delete_cache=(1800, 3600)) as demo:
        gr.Markdown("# U-Net Explorer\nWhy do diffusion models use a U-Net? Two real networks, trained on Noto "
                    "emoji, run live below: a plain five-layer CNN and a time-conditioned U-Net. Pick an image and "
                    f"a timestep, then look inside.  \n<small>{weights_note(ctx)}</small>")
        active_tab = gr.State("architecture")
        selected_block = gr.State(architecture.DEFAULT_BLOCK)
        panel = inputs.build(ctx)
        with gr.Tabs(elem_id="views") as tabs:
            with gr.Tab("Architecture", id="architecture", elem_id="tab-architecture") as tab_architecture:
                architecture_refresh = architecture.build(ctx, demo, panel, selected_block)
            with gr.Tab("Denoising lab", id="denoising", elem_id="tab-denoising") as tab_denoising:
                denoising_refresh = denoising.build(ctx, panel)
            with gr.Tab("Receptive field", id="receptive", elem_id="tab-receptive") as tab_receptive:
                receptive_refresh = receptive.build(ctx, panel, selected_block)
        refresh.wire([panel.image.change, panel.t.change, panel.seed.change, active_tab.change], active_tab,
                     [panel.image, panel.t, panel.seed], [architecture_refresh, denoising_refresh, receptive_refresh])
        tab_architecture.select(lambda: "architecture", None, active_tab, api_name=False)
        tab_receptive.select(lambda: "receptive", None, active_tab, api_name=False)
        tab_denoising.select(lambda: "denoising", None, active_tab, api_name=False)
    return demo


def launch_options() -> dict:
    return dict(css=CSS, theme=gr.themes.Soft())
