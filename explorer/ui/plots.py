"""Hand Plotly figures to gr.Plot: plain figure dicts go straight through as JSON, skipping Plotly's validation.

Every chart's title is set where Plotly's toolbar (the modebar, top right) cannot cover it on any screen: wrapped
into lines short enough for a phone, aligned left, with the top margin grown to hold them, and the toolbar standing
upright at the right edge below the title.
"""
from __future__ import annotations

import json
import textwrap
from pathlib import Path

from plotly.utils import PlotlyJSONEncoder

from explorer.server import internals

# Plotly loaded while the reader is on the first screen (preload.js, `preload_wires`).
PRELOAD_JS = Path(__file__).with_name("preload.js").read_text(encoding="utf-8").replace(
    "CHUNK", json.dumps(internals.plotly_chunk()))
TITLE_CHARACTERS = 44  # a title line at the charts' 14 px font that fits a phone's 390 px window beside the margins
TITLE_LINE_PX = 18


def plot(figure):
    """A Plotly figure dict ({"data": [...], "layout": {...}}) or go.Figure → what gr.Plot displays."""
    if not isinstance(figure, dict):
        figure = figure.to_plotly_json()
    return internals.plot_data(json.dumps(readable_title(figure), cls=PlotlyJSONEncoder))


def readable_title(figure: dict) -> dict:
    """`figure` with its title wrapped, aligned left and clear of the toolbar (a new dict; `figure` is unchanged)."""
    layout = dict(figure.get("layout") or {})
    title = layout.get("title")
    title = {"text": title} if isinstance(title, str) else dict(title or {})
    text = title.get("text")
    if not text:
        return figure
    lines = [line for part in str(text).split("<br>") for line in textwrap.wrap(part, TITLE_CHARACTERS) or [""]]
    title.update(text="<br>".join(lines), x=0, xref="container", xanchor="left", pad={"l": 8})
    margin = dict(layout.get("margin") or {})
    margin["t"] = max(margin.get("t", 40), 24 + TITLE_LINE_PX * len(lines))
    layout.update(title=title, margin=margin, modebar={**(layout.get("modebar") or {}), "orientation": "v"})
    return {**figure, "layout": layout}


def preload_wires(demo):
    """Load Plotly once the page is idle after loading (page only)."""
    from explorer.ui.wiring import wire

    return [wire(demo.load, None, js=PRELOAD_JS, api_name=False, show_progress="hidden", queue=False)]
