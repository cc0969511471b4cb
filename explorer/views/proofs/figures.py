"""The "Part by part" tab's Plotly figures, as plain dicts."""
from __future__ import annotations

from explorer.metrics import Metrics
from explorer.model_card import NOT_COMPUTED, VARIANT_TITLES
from explorer.views.proofs.compute import BOTTLENECK_ROWS, GradientView, multipliers

PLOT_LAYOUT = {"paper_bgcolor": "white", "plot_bgcolor": "white", "margin": {"l": 60, "r": 20, "t": 40, "b": 60}}
AXIS = {"gridcolor": "#ebf0f8", "zeroline": False}
COLOURS = {"trained": "#2c6fad", "fresh": "#9a9a9a", "bottleneck bypassed": "#b23a48", "attention off": "#7b4fa0",
           "skip1 cut": "#d9822b", "skip2 cut": "#e0a458", "skip3 cut": "#6aa56e", "skip4 cut": "#2e7d5b"}
LEVEL_COLOURS = {"skip_zero": "#d9822b", "skip_mean": "#e0a458", "up_zero": "#2c6fad", "up_mean": "#79a6d2"}


def _empty_figure(title: str) -> dict:
    """A figure with only its title, where a measurement is missing (no empty axes to puzzle over)."""
    return {"data": [], "layout": {**PLOT_LAYOUT, "height": 120, "title": {"text": title, "font": {"size": 14}},
                                   "xaxis": {"visible": False}, "yaxis": {"visible": False}}}


def _log_axis(title: str) -> dict:
    """Ticks at powers of ten only (0.1, 1, 10 …): a tick "5" between them reads as a value."""
    return {**AXIS, "type": "log", "title": {"text": title}, "dtick": 1, "tickformat": "~g"}


def gradient_figure(series: list[tuple[str, list[str], list[float], str, str]], title: str) -> dict:
    """Per-block gradient norm relative to `out`, in diagram order. series: (name, blocks, values, colour, dash)."""
    data = [{"type": "scatter", "mode": "lines+markers", "x": blocks, "y": values, "name": name,
             "line": {"color": colour, "dash": dash, "width": 2},
             "hovertemplate": f"{name}<br>%{{x}}: %{{y:.3g}} × out<extra></extra>"}
            for name, blocks, values, colour, dash in series]
    layout = {**PLOT_LAYOUT, "height": 380, "title": {"text": title, "font": {"size": 14}},
              "xaxis": {**AXIS, "title": {"text": "block, in diagram order (down the encoder, up the decoder)"},
                        "tickangle": -45},
              "yaxis": _log_axis("gradient norm / gradient norm at out"),
              "legend": {"orientation": "h", "y": -0.45}, "margin": {**PLOT_LAYOUT["margin"], "b": 110}}
    return {"data": data, "layout": layout}


def _gradient_series(blocks, trained: dict, fresh: dict) -> list:
    def relative(values):
        base = values[blocks.index("out")]
        return [value / base for value in values]
    return [("trained, skips intact", blocks, relative(trained["intact"]), COLOURS["trained"], "solid"),
            ("trained, every skip cut", blocks, relative(trained["skips_cut"]), COLOURS["trained"], "dash"),
            ("fresh init, skips intact", blocks, relative(fresh["intact"]), COLOURS["fresh"], "solid"),
            ("fresh init, every skip cut", blocks, relative(fresh["skips_cut"]), COLOURS["fresh"], "dash")]


def gradients_live_figure(view: GradientView) -> dict:
    blocks = view.trained.blocks
    return gradient_figure(_gradient_series(blocks, view.trained.norms, view.fresh.norms),
                           f"This image at t = {view.t} ({view.batch} noise draws)")


def gradients_heldout_figure(metrics: dict | None) -> dict:
    section = Metrics.of(metrics).gradients
    if not section:
        return _empty_figure("Held-out images: " + NOT_COMPUTED)
    return gradient_figure(_gradient_series(section["blocks"], section["trained"], section["random_init"]),
                           f"Held-out: {section['images']} images, t spread over "
                           f"{', '.join(map(str, section['timesteps']))}"
                           + (f"; mean norms over {len(section['runs']['trained'])} runs (trained) and "
                              f"{len(section['runs']['random_init'])} (fresh)" if section.get("runs") else ""))


def concat_heldout_figure(metrics: dict | None) -> dict:
    section = Metrics.of(metrics).concat
    layout = {**PLOT_LAYOUT, "height": 340, "legend": {"orientation": "h", "y": -0.3},
              "margin": {**PLOT_LAYOUT["margin"], "t": 60}}
    if not section:
        return _empty_figure("Held-out images: " + NOT_COMPUTED)
    levels = sorted(section["levels"], key=int, reverse=True)
    width = 1 / len(levels)
    data, annotations = [], []
    for index, level in enumerate(levels):
        axis = "" if index == 0 else str(index + 1)
        errors = section["levels"][level]["eps_mse"]
        for variant in VARIANT_TITLES:
            data.append({"type": "scatter", "mode": "lines+markers", "x": section["timesteps"],
                         "y": [value / base for value, base in zip(errors[variant], errors["intact"])],
                         "xaxis": "x" + axis, "yaxis": "y" + axis, "name": VARIANT_TITLES[variant],
                         "legendgroup": variant, "showlegend": index == 0,
                         "line": {"color": LEVEL_COLOURS[variant],
                                  "dash": "dot" if variant.endswith("mean") else "solid"},
                         "hovertemplate": f"dec{level}, {VARIANT_TITLES[variant]}<br>t=%{{x}}: ×%{{y:.3g}}"
                                          "<extra></extra>"})
        layout["xaxis" + axis] = {**_log_axis("t"), "domain": [index * width + 0.03, (index + 1) * width - 0.03],
                                  "anchor": "y" + axis}
        layout["yaxis" + axis] = {**_log_axis("× intact ε-MSE" if index == 0 else ""), "anchor": "x" + axis}
        annotations.append({"text": f"dec{level}", "showarrow": False, "xref": "paper", "yref": "paper",
                            "x": (index + 0.5) * width, "y": 1.1, "font": {"size": 13}})
    layout["annotations"] = annotations
    layout["title"] = {"text": "Held-out: error multiplier per decoder level against t "
                               f"({section.get('images', '?')} images)",
                       "font": {"size": 14}, "y": 0.98}
    return {"data": data, "layout": layout}


def bottleneck_figure(metrics: dict | None, t: int | None = None, live: dict[str, float] | None = None) -> dict:
    knockouts = Metrics.of(metrics).knockouts
    layout = {**PLOT_LAYOUT, "height": 380, "legend": {"orientation": "h", "y": -0.25},
              "xaxis": _log_axis("timestep t"), "yaxis": _log_axis("noise error × the intact U-Net's")}
    data = []
    if knockouts and "bottleneck bypassed" in knockouts["eps_mse"]:
        times = multipliers(knockouts)
        for name in BOTTLENECK_ROWS:
            if name in times:
                data.append({"type": "scatter", "mode": "lines+markers", "x": knockouts["timesteps"], "y": times[name],
                             "name": f"{name} (held-out)", "legendgroup": name,
                             "line": {"color": COLOURS[name], "width": 4 if name.startswith("bottleneck") else 2},
                             "hovertemplate": f"{name}<br>t=%{{x}}: ×%{{y:.3g}}<extra></extra>"})
        layout["title"] = {"text": f"Held-out ({Metrics.of(metrics).images or '?'} images) and, as crosses, this image",
                           "font": {"size": 14}}
    else:
        layout["title"] = {"text": "Held-out: " + NOT_COMPUTED + " (crosses: this image)", "font": {"size": 14}}
    if live and t is not None:
        for name in BOTTLENECK_ROWS:
            if name in live:
                data.append({"type": "scatter", "mode": "markers", "x": [t], "y": [live[name]], "showlegend": False,
                             "legendgroup": name, "marker": {"color": COLOURS[name], "symbol": "x", "size": 11},
                             "hovertemplate": f"{name}, this image<br>t=%{{x}}: ×%{{y:.3g}}<extra></extra>"})
    return {"data": data, "layout": layout}


def time_heatmap(table: dict | None, title: str, t: int | None = None) -> dict:
    layout = {**PLOT_LAYOUT, "height": 360, "title": {"text": title, "font": {"size": 14}},
              "xaxis": {"title": {"text": "timestep t"}, "type": "category"},
              "yaxis": {"title": {"text": "ResBlock"}, "autorange": "reversed", "type": "category"},
              "margin": {**PLOT_LAYOUT["margin"], "l": 80}}
    if not table:
        return _empty_figure(title + ": " + NOT_COMPUTED)
    columns = [str(value) for value in table["timesteps"]]
    data = [{"type": "heatmap", "z": table["shift"], "x": columns, "y": table["blocks"], "colorscale": "Viridis",
             "zmin": 0, "colorbar": {"title": {"text": "‖time vector‖ / ‖features‖"}},
             "text": [[f"{value:.2f}" for value in row] for row in table["shift"]], "texttemplate": "%{text}",
             "hovertemplate": "%{y} at t = %{x}: %{z:.3f}<extra></extra>"}]
    if t is not None:
        layout["annotations"] = [{"text": f"current t = {t}", "showarrow": False, "xref": "paper", "yref": "paper",
                                  "x": 1, "y": 1.08, "xanchor": "right"}]
    return {"data": data, "layout": layout}
