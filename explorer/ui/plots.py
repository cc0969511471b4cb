"""Hand Plotly figures to gr.Plot: plain figure dicts go straight through as JSON, skipping Plotly's validation."""
from __future__ import annotations

import json

from plotly.utils import PlotlyJSONEncoder

from explorer.server import internals


def plot(figure):
    """A Plotly figure dict ({"data": [...], "layout": {...}}) or go.Figure → what gr.Plot displays."""
    if isinstance(figure, dict):
        return internals.plot_data(json.dumps(figure, cls=PlotlyJSONEncoder))
    return internals.plot_data(figure.to_json())
