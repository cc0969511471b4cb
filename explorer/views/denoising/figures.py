"""The Denoising lab's Plotly figures, as plain dicts: the held-out curves and the reverse process's drift."""
from __future__ import annotations

from explorer.metrics import Metrics
from explorer.views.context import Context
from explorer.views.denoising.compute import TITLES, ReverseFrame

PLOT_TEMPLATE = {"layout": {"paper_bgcolor": "white", "plot_bgcolor": "white",
                            "xaxis": {"gridcolor": "#ebf0f8", "zeroline": False},
                            "yaxis": {"gridcolor": "#ebf0f8", "zeroline": False}}}
COLOURS = {"naive": "#757575", "unet": "#2c6fad", "blur": "#d9822b", "knocked": "#b23a48"}


def curves_figure(ctx: Context, t: int | None = None, this_image: dict | None = None) -> dict:
    """Held-out ε-MSE and PSNR against t for the three denoisers, from weights/metrics.json.

    Returned as a plain Plotly figure dict (building it skips Plotly's validation). The app draws it
    without `t` and moves a marker over it in the page; with `t`, a dotted line marks it.
    """
    layout = {
        "template": PLOT_TEMPLATE, "height": 360, "margin": {"l": 50, "r": 20, "t": 40, "b": 50},
        "legend": {"orientation": "h", "y": -0.25},
        "xaxis": {"domain": [0, 0.45], "type": "log", "title": {"text": "timestep t"}, "dtick": 1, "tickformat": "~g"},
        "xaxis2": {"domain": [0.55, 1], "type": "log", "title": {"text": "timestep t"}, "anchor": "y2", "dtick": 1,
                   "tickformat": "~g"},
        "yaxis": {"type": "log", "title": {"text": "noise error ε-MSE (held-out mean)"}, "dtick": 1,
                  "tickformat": "~g"},
        "yaxis2": {"title": {"text": "x̂₀ PSNR in dB"}, "anchor": "x2"},
    }
    data, series, bounds = [], [], {}
    if ctx.metrics is None:
        missing = ("No held-out curves for a model opened with --model: press the button for this image's"
                   if ctx.opened is not None else "Held-out measurements not computed yet for these weights")
        layout["annotations"] = [{"text": missing, "showarrow": False, "xref": "paper", "yref": "paper", "x": 0.5,
                                  "y": 0.5}]
    else:
        metrics = Metrics.of(ctx.metrics)
        timesteps = metrics.timesteps
        series = [(name, dict(zip(("eps_mse", "psnr"), metrics.curve(name))), timesteps, "held-out")
                  for name in ("naive", "unet", "blur") if name in metrics["models"]]  # a diffusers model: no naive
        bounds = {(name, "eps_mse"): [metrics.eps_mse_interval(name, t) for t in timesteps] for name, *_ in series}
        bounds.update({(name, "psnr"): [metrics.psnr_interval(name, t) for t in timesteps] for name, *_ in series})
    if this_image:
        series += [(name, values, this_image["timesteps"], "this image")
                   for name, values in this_image["models"].items()]
    for name, values, grid, source in series:
        for axis, key in (("", "eps_mse"), ("2", "psnr")):
            trace = {"type": "scatter", "x": list(grid), "y": list(values[key]), "xaxis": "x" + axis,
                     "yaxis": "y" + axis, "name": f"{TITLES[name]} ({source})", "legendgroup": name + source,
                     "showlegend": axis == "",
                     "hovertemplate": f"{TITLES[name]}, {source}<br>t=%{{x}}<br>%{{y:.4g}}<extra></extra>"}
            if source == "held-out":
                trace.update(mode="lines+markers", line={"color": COLOURS[name], "width": 2})
                spans = bounds.get((name, key), [])
                if spans and all(spans):  # the 95 % interval over images, as error bars
                    trace["error_y"] = {"type": "data", "symmetric": False, "thickness": 1, "width": 3,
                                        "array": [span.high - value for span, value in zip(spans, values[key])],
                                        "arrayminus": [value - span.low for span, value in zip(spans, values[key])]}
            else:
                trace.update(mode="markers", marker={"color": COLOURS[name], "symbol": "x", "size": 9})
            data.append(trace)
    if t is not None:
        layout["shapes"] = [{"type": "line", "x0": t, "x1": t, "xref": axis, "y0": 0, "y1": 1, "yref": f"{yref} domain",
                             "line": {"color": "#b23a48", "dash": "dot"}} for axis, yref in (("x", "y"), ("x2", "y2"))]
    return {"data": data, "layout": layout}


def drift_figure(frame: ReverseFrame, from_noise: bool) -> dict:
    """Each model's x̂₀ along the reverse process, as a plain Plotly figure dict (redrawn every frame)."""
    data = [{"type": "scatter", "mode": "lines+markers", "name": TITLES[name], "line": {"color": COLOURS[name]},
             "x": list(range(1, len(frame.drift[name]) + 1)), "y": frame.drift[name]} for name in ("naive", "unet")]
    title = ("How much each model's x̂₀ still changes per step" if from_noise
             else "Each model's x̂₀ against the original along the way")
    layout = {"title": {"text": title}, "height": 300, "template": PLOT_TEMPLATE,
              "margin": {"l": 50, "r": 20, "t": 40, "b": 40},
              "xaxis": {"title": {"text": "DDIM step"}},
              "yaxis": {"title": {"text": "RMS change" if from_noise else "PSNR in dB"}}}
    return {"data": data, "layout": layout}
