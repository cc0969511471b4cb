"""Keyboard: each group of choices on the page is one Tab stop, moved with the arrow keys.

The held-out example gallery and the lesson's steps work as radio groups (arrows, Home and End move and choose;
Enter and Space choose), each row of tabs as a tab list (arrows move, Enter or Space opens). The page script
(keys.js) sets the roles and the roving tabindex on Gradio's own markup and keeps them in step as it re-renders.
"""
from __future__ import annotations

from pathlib import Path

import gradio as gr

from explorer.ui.wiring import Wire, wire

_JS = Path(__file__).with_name("keys.js").read_text(encoding="utf-8")


def wires(demo: gr.Blocks) -> list[Wire]:
    """Install the keyboard script once per page load."""
    return [wire(demo.load, None, js=_JS, api_name=False, show_progress="hidden", queue=False)]
