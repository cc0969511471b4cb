"""Keyboard: each group of choices on the page is one Tab stop, moved with the arrow keys; and what the page loads once
it is idle.

The held-out example gallery and the lesson's steps work as radio groups (arrows, Home and End move and choose;
Enter and Space choose), each row of tabs as a tab list (arrows move, Enter or Space opens). The page script
(keys.js) sets the roles and the roving tabindex on Gradio's own markup and keeps them in step as it re-renders.
"""
from __future__ import annotations

import json
from pathlib import Path

import gradio as gr

from explorer.server import internals
from explorer.ui.wiring import Wire, wire

_JS = Path(__file__).with_name("keys.js").read_text(encoding="utf-8")
# Plotly, loaded while the reader is on the first screen (preload.js).
PRELOAD_JS = Path(__file__).with_name("preload.js").read_text(encoding="utf-8").replace(
    "CHUNK", json.dumps(internals.plotly_chunk()))


def wires(demo: gr.Blocks) -> list[Wire]:
    """Install the keyboard script once per page load, and load Plotly once the page is idle."""
    page_only = dict(api_name=False, show_progress="hidden", queue=False)
    return [wire(demo.load, None, js=_JS, **page_only), wire(demo.load, None, js=PRELOAD_JS, **page_only)]
