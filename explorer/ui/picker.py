"""Picking a pixel on a served picture: the page script that reports the click, and its check in Python.

The picture is sent at a whole-number zoom inside a `gr.HTML` whose element carries `data-side` (the
picture's size in pixels). The script turns a click into (row, col) from the picture's rendered box, exact
at any zoom, or reports `outside` when the click lands beside the picture, so Python can say so.
"""
from __future__ import annotations

from pathlib import Path

import gradio as gr

from explorer.ui import validate

_JS = Path(__file__).with_name("picker.js").read_text(encoding="utf-8")


def picker_js(image_class: str) -> str:
    """`js_on_load` for a picker whose picture is the `<img class="image_class">` inside it."""
    return _JS.replace("IMAGE_CLASS", image_class)


def picked_pixel(evt, side: int) -> tuple[int, int]:
    """(row, col) of a click reported by `picker_js`; a clear error for a miss or malformed event data."""
    data = validate.event_dict(evt, "Click a pixel of x_t")
    if data.get("outside"):
        raise gr.Error("That click landed beside the picture: click on x_t itself, or type y and x below it")
    row, col = data.get("row"), data.get("col")
    if not isinstance(row, int) or not isinstance(col, int) or not (0 <= row < side and 0 <= col < side):
        raise gr.Error("That click did not land on a pixel of x_t: click on the picture")
    return row, col
