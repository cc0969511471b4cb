"""Scrubbing t in the page: the side-by-side view, the strip of precomputed frames and the script that swaps them.

The server sends the exact view for the released t (`views.denoising.side_by_side_html`) and, once per image,
seed and knock-outs, a strip of frames for a grid of t (`scrub_frames`). While the t slider is dragged, the
script in scrub.js shows the strip's frame nearest to the slider (no server call); when the slider is let go, the
server's exact view for that t replaces it. The held-out curves stay as they are; only their t marker moves.
"""
from __future__ import annotations

from pathlib import Path

import gradio as gr

from explorer.ui.pagejs import with_press
from explorer.ui.refresh import TRACK_DRAG

# Scoped by Gradio to the view's root element.
VIEW_CSS = Path(__file__).with_name("scrub.css").read_text(encoding="utf-8")

# Page-wide rules for the reverse process (its pictures are gr.Image and gr.HTML outputs).
PAGE_CSS = Path(__file__).with_name("reverse.css").read_text(encoding="utf-8")

VIEW_JS = TRACK_DRAG + with_press(Path(__file__).with_name("scrub.js").read_text(encoding="utf-8"))
# The strip's meta tells the view's script when a new strip has arrived.
META_JS = Path(__file__).with_name("scrub_meta.js").read_text(encoding="utf-8")


def components(placeholder: str):
    """The view (exact frame, labels and scores), the hidden strip picture and meta, and the hidden button the
    page presses to ask for a strip."""
    view = gr.HTML(placeholder, elem_id="denoise-view", js_on_load=VIEW_JS, css_template=VIEW_CSS,
                   apply_default_css=False, label="Side-by-side view")
    strip_image = gr.Image(visible="hidden", interactive=False, elem_id="scrub-strip", format="png", show_label=False,
                           buttons=[])
    strip_meta = gr.HTML("", visible="hidden", elem_id="scrub-meta", js_on_load=META_JS)
    request = gr.Button(visible="hidden", elem_id="scrub-request")
    return view, strip_image, strip_meta, request
