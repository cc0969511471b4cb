"""Hand Plotly figures to gr.Plot: plain figure dicts go straight through as JSON, skipping Plotly's validation."""
from __future__ import annotations

import json

from gradio.components.plot import PlotData
from plotly.utils import PlotlyJSONEncoder


def plot(figure) -> PlotData:
    """A Plotly figure dict ({"data": [...], "layout": {...}}) or go.Figure → what gr.Plot displays."""
    if isinstance(figure, dict):
        return PlotData(type="plotly", plot=json.dumps(figure, cls=PlotlyJSONEncoder))
    return PlotData(type="plotly", plot=figure.to_json())
