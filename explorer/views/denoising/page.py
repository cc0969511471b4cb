"""The Denoising lab's HTML and text: the side-by-side view, its per-t texts, the knock-out table, the notes."""
from __future__ import annotations

import base64
import html
import json
import re
from dataclasses import replace

import numpy as np

from explorer.data import to_uint8
from explorer.formatting import INTERVAL, added, db, db_change, ratio, share, span, times
from explorer.formatting import mse as format_mse
from explorer.knockouts import Knockouts, wrong_timestep
from explorer.metrics import Metrics
from explorer.views.context import Context
from explorer.views.denoising.compute import (
    ERROR_LIMIT,
    ROWS,
    TITLES,
    Comparison,
    ReverseFrame,
    Tiles,
    columns_for,
    comparison_tiles,
    domain_scores,
    noise_pixels,
    tile_names,
)
from explorer.views.denoising.images import DISPLAY_SCALE, REVERSE_GAP, REVERSE_TILES, png_bytes, sprite
from explorer.views.domain import note_for_scores


def frame_texts(tiles: Tiles, knockouts: Knockouts) -> dict[str, str]:
    """Every piece of text of the view that depends on t, keyed by its data-f name in the HTML."""
    texts = {"t": str(tiles.t), "blur-sigma": f"{tiles.blur_sigma:.2g}"}
    for name, (mse, quality) in tiles.scores.items():
        texts[f"{name}-mse"] = format_mse(mse)  # as the lesson quotes it
        texts[f"{name}-psnr"] = db(quality)
    naive, unet = tiles.scores["naive"], tiles.scores["unet"]
    texts["ratio"] = share(unet[0] / max(naive[0], 1e-12))
    texts["gain"] = db_change(unet[1] - naive[1])
    if "knocked" in tiles.scores:  # the knocked-out U-Net's error as a multiple of the intact one's
        texts["knocked-ratio"] = times(ratio(tiles.scores["knocked"][0], unet[0]))
    return texts


def scrub_meta_html(key: str, frames: list[Tiles], knockouts: Knockouts) -> str:
    """The strip's description for the page: its key, its t grid and each frame's texts (read by the view's script)."""
    grid = json.dumps([frame.t for frame in frames])
    texts = json.dumps([frame_texts(frame, knockouts) for frame in frames], ensure_ascii=False)
    return (f'<div class="scrub-meta" data-key="{key}" data-grid="{html.escape(grid)}" '
            f'data-texts="{html.escape(texts)}" data-tiles="{len(tile_names(knockouts))}"></div>')


def _field(name: str, text: str) -> str:
    return f'<span data-f="{name}">{html.escape(text)}</span>'


def _tile(kind: str, column: int, label: str) -> str:
    return f'<div class="sbs-tile {kind}" style="--col:{column}" role="img" aria-label="{html.escape(label)}"></div>'


def domain_note_html(ctx: Context, comparison: Comparison) -> str:
    """The "trained on emoji only" note (explorer/views/domain.py) for this comparison's numbers, as HTML."""
    text = html.escape(note_for_scores(ctx, domain_scores(comparison)), quote=False)
    return re.sub(r"\*\*(.+?)\*\*", r"<b>\1</b>", text)


def side_by_side_html(comparison: Comparison, key: str, note: str = "", heldout: str = "") -> str:
    """The single-step view as HTML: native-size tiles from one PNG (scaled by CSS), every label in text.

    The PNG travels as a data URL in `data-exact`; the view's script (explorer/ui/scrub.js) gives it to the tiles as
    a short blob URL in `--exact` (a custom property holding the whole data URL was parsed again for each tile).

    Sprite rows: 0 the tiles that change with t (`tile_names` order), 1 the clean image and the true noise.
    `key` is the strip key of these inputs (`strip_key`): the page's script swaps in that strip's frames
    while t is dragged, and this exact frame again when the slider comes back to `comparison.t`. `note`
    (HTML, e.g. `domain_note_html`) goes under the numbers; it speaks of the exact t and is dimmed while
    frames of another t are shown, as is `heldout` (`heldout_html`: the held-out numbers of these knock-outs)."""
    tiles = comparison_tiles(comparison)
    knockouts = comparison.knockouts
    names = tile_names(knockouts)
    fixed = [to_uint8(comparison.x0[0]), noise_pixels(comparison.eps)]
    data = base64.b64encode(png_bytes(sprite([[tiles.images[name] for name in names], fixed]))).decode()
    texts = frame_texts(tiles, knockouts)
    f = lambda name: _field(name, texts[name])  # noqa: E731 - a one-line helper that reads its surroundings
    size = tiles.images["x_t"].shape[0]
    column = {name: index for index, name in enumerate(names)}
    top = (f'<figure>{_tile("fixed", 0, "the clean image x₀")}<figcaption>x₀: the clean image</figcaption></figure>'
           f'<figure>{_tile("vary", column["x_t"], "the noisy image x_t both networks get")}'
           f'<figcaption>x_t at t = {f("t")}: what both networks get, 3×{size}×{size} numbers</figcaption>'
           '</figure>'
           f'<figure>{_tile("fixed", 1, "the true noise ε")}<figcaption>the true noise ε</figcaption></figure>')
    heads = []
    for name in columns_for(knockouts):
        title = "U-Net: " + knockouts.describe() if name == "knocked" else TITLES[name]
        if name == "blur":
            title += f" (σ = {f('blur-sigma')} px)"
        else:
            title = html.escape(title)
        multiple = f'<br>{f("knocked-ratio")} the intact one\'s' if name == "knocked" else ""
        heads.append(f'<th scope="col" class="sbs-{name}">{title}<br><small>ε-MSE {f(name + "-mse")} · '
                     f'{f(name + "-psnr")}{multiple}</small></th>')
    body = []
    for row, label in ROWS:
        cells = "".join(f"<td>{_tile('vary', column[f'{name}.{row}'], f'{TITLES[name]}: {label}')}</td>"
                        for name in columns_for(knockouts))
        body.append(f'<tr><th scope="row">{html.escape(label)}</th>{cells}</tr>')
    sentence = (f"At t = {f('t')}, on this image, the U-Net's noise error is <b>{f('ratio')}</b> of the naive CNN's, "
                f"and its clean-image estimate's PSNR differs from the naive CNN's by <b>{f('gain')}</b> "
                "(positive: the U-Net's is closer to x₀).")
    return (f'<div class="sbs" data-t="{comparison.t}" data-key="{key}" data-exact="data:image/png;base64,{data}" '
            f'style="--ncols:{len(names)};--tile:{size}px">'
            f'<div class="sbs-top">{top}</div>'
            f'<p class="sbs-status" aria-live="polite">Exact view at t = {comparison.t}.</p>'
            f'<div class="sbs-scroll"><table class="sbs-grid"><thead><tr><th></th>{"".join(heads)}</tr></thead>'
            f'<tbody>{"".join(body)}</tbody></table></div>'
            f'<div id="denoise-metrics"><p>{sentence}</p>'
            f'<p class="sbs-legend">ε-MSE: mean squared error of the predicted noise (lower is better). dB: PSNR '
            f'of x̂₀ against x₀ (higher is better). Error maps: mean |x̂₀ − x₀| over colours, '
            f'<span class="sbs-bar"></span> 0 to {ERROR_LIMIT:g}. Gaussian blur: no network at all, x_t scaled '
            f'back and blurred, with a blur width σ the evaluation picked on the held-out images for this t; a '
            f'network that cannot beat it has learned little.</p></div>'
            + (f'<p class="sbs-domain" id="denoise-domain-note" role="note">{note}</p>' if note else "")
            + heldout + '</div>')


def heldout_row(knockouts: Knockouts, t: int) -> Knockouts:
    """The held-out table's row for what the view breaks at t: telling the far end of the schedule is the table's
    "told the wrong t"."""
    if knockouts.told_t is not None and knockouts.told_t == wrong_timestep(t):
        return replace(knockouts, told_t=None, told_wrong=True)
    return knockouts


def heldout_html(metrics: Metrics | None, knockouts: Knockouts, t: int) -> str:
    """What the held-out set says next to the view (weights/metrics.json's knock-out table, as the Lesson quotes
    it): what is cut in the view at every t the evaluation measured, and every knock-out at the measured t nearest
    to t. One number per cell, its interval under it: the tables are narrow enough for a phone. "" without the
    table."""
    if metrics is None or not metrics.has_knockouts():
        return ""
    timesteps = metrics.knockout_timesteps
    near = min(timesteps, key=lambda step: (abs(step - t), step))
    row = heldout_row(knockouts, t)
    head = ('<thead><tr><th scope="col">{}</th><th scope="col">ε-MSE</th><th scope="col">added</th>'
            '<th scope="col">× intact</th></tr></thead>')
    parts = []
    if knockouts.active and metrics.has_knockouts(row):
        rows = "".join(_heldout_cells(metrics, row.row_name(), step, str(step)) for step in timesteps)
        parts.append(f"<p>{html.escape(row.row_name())}, at every t the evaluation measured:</p>"
                     f'<table class="heldout-table">{head.format("t")}<tbody>{rows}</tbody></table>')
    rows = "".join(_heldout_cells(metrics, name, near, name) for name in metrics.knockout_rows())
    where = "this view's t" if near == t else f"the measured t nearest to this view's t = {t}"
    parts.append(f"<p>Every knock-out at t = {near} ({where}):</p>"
                 f'<table class="heldout-table">{head.format("U-Net")}<tbody>{rows}</tbody></table>')
    return ('<div class="sbs-heldout" id="denoise-heldout"><p><b>On the held-out set</b> (a held-out average over '
            f'{metrics.images or "the held-out"} images, each with its {INTERVAL} over images under it; '
            'weights/metrics.json):</p>' + "".join(parts) + "</div>")


def _heldout_cells(metrics: Metrics, row: str, t: int, label: str) -> str:
    """One row of `heldout_html`'s tables (`row`: the knock-out table's row name): its ε-MSE, the error it adds
    and its multiple of the intact U-Net's at t, each over its interval."""
    def cell(value: str, bounds, format) -> str:
        under = f"<br><small>{span(bounds, format)}</small>" if bounds else ""
        return f"<td>{value}{under}</td>"

    cells = cell(format_mse(metrics.knockout(row, t)), metrics.knockout_interval(row, t), format_mse)
    if row == "intact":
        cells += "<td>—</td><td>—</td>"
    else:
        cells += (cell(added(metrics.knockout_added(row, t)), metrics.knockout_added_interval(row, t), added)
                  + cell(times(metrics.knockout_ratio(row, t)), metrics.knockout_ratio_interval(row, t), times))
    return f'<tr><th scope="row">{html.escape(label)}</th>{cells}</tr>'


# A number and its interval row start at the same place, so a column cut by the sideways scroll shows both.
LEFT = ' class="num"'


def knockouts_table_html(knockouts: dict) -> str:
    """The held-out knock-out table from metrics.json: each broken U-Net's noise error (ε-MSE), and its
    multiple of the intact U-Net's, one row per knock-out, with the 95 % intervals over images on a row of their own
    under it; numbers never wrap (the table scrolls instead)."""
    metrics = Metrics({"knockouts": knockouts})
    timesteps = metrics.knockout_timesteps
    head = "".join(f'<th scope="col"{LEFT}>t = {t}</th>' for t in timesteps)
    rows = []
    for name in metrics.knockout_rows():
        if name == "intact":
            cells = [(format_mse(metrics.knockout(name, t)), _intact_span(metrics, t)) for t in timesteps]
        else:
            cells = [(f"{format_mse(metrics.knockout(name, t))} <small>({added(metrics.knockout_added(name, t))}, "
                      f"{times(metrics.knockout_ratio(name, t))})</small>", _knockout_span(metrics, name, t))
                     for t in timesteps]
        rows.append(f'<tr><th scope="row">{html.escape(name)}</th>'
                    + "".join(f"<td{LEFT}>{value}</td>" for value, _ in cells) + "</tr>")
        if all(bounds for _, bounds in cells):
            rows.append('<tr class="knockout-interval">'
                        f'<th scope="row"><small>{INTERVAL}</small></th>'
                        + "".join(f"<td{LEFT}><small>{bounds}</small></td>" for _, bounds in cells) + "</tr>")
    return ('<div class="knockout-table"><p>Noise error ε-MSE of the U-Net, held-out average (mean squared error '
            'of its predicted noise; lower is better), and in brackets the error each knock-out adds to the intact '
            'U-Net\'s and how many times the intact U-Net\'s it is; under each row, the 95 % interval of each of '
            'these numbers over images. Predicting no noise at all would score the '
            'noise\'s own variance, 1 by construction: a knock-out near 1 has broken the network.</p>'
            f'<div class="knockout-scroll"><table><thead><tr>'
            f'<th scope="col">U-Net</th>{head}</tr></thead><tbody>{"".join(rows)}</tbody></table></div>'
            f'<p>"Told the wrong t": {html.escape(metrics.told_the_wrong_t or "n/a")}.</p></div>')


def _intact_span(metrics: Metrics, t: int) -> str | None:
    bounds = metrics.knockout_interval("intact", t)
    return None if bounds is None else span(bounds, format_mse)


def _knockout_span(metrics: Metrics, name: str, t: int) -> str | None:
    """The interval row's cell of a knock-out: its ε-MSE's, added error's and ratio's intervals, as the row above
    writes the numbers; None where the file has none."""
    bounds = (metrics.knockout_interval(name, t), metrics.knockout_added_interval(name, t),
              metrics.knockout_ratio_interval(name, t))
    if not all(bounds):
        return None
    eps, more, multiple = bounds
    return f"{span(eps, format_mse)} ({span(more, added)}, {span(multiple, times)})"


def steps_note(ctx: Context, t: int, num_steps: int) -> str:
    """What "Denoise from here" will really run from t: DDIM takes at most one step per timestep down to 0."""
    runs = len(ctx.diffusion.ddim_timesteps(t, num_steps))
    if runs >= num_steps:
        return ""
    return (f"From t = {t}, DDIM takes at most {runs} steps (one per timestep down to 0): "
            f"\"Denoise from here\" will run {runs}, not {num_steps}.")


def reverse_caption_html(size: int, scale: int = DISPLAY_SCALE) -> str:
    """The labels over `reverse_frame_image`'s tiles, aligned to them at `scale`."""
    cells = "".join(f'<span style="--w:{size * scale}px;--gap:{REVERSE_GAP * scale}px">'
                    f"{TITLES[name]}: {kind}</span>" for name, kind in REVERSE_TILES)
    return f'<div class="reverse-caption">{cells}</div>'


def frame_strip(frames: list[ReverseFrame], count: int = 8) -> str:
    """`count` evenly spaced samples of each model's trajectory as HTML: one row per model, t above each column."""
    picks = [frames[round(i)] for i in np.linspace(0, len(frames) - 1, min(count, len(frames)))]
    rows = [[to_uint8(frame.samples[name][0].clamp(-1, 1)) for frame in picks] for name in ("naive", "unet")]
    data = base64.b64encode(png_bytes(sprite(rows))).decode()
    size = rows[0][0].shape[0]
    head = "".join(f'<th scope="col">t = {frame.t}</th>' for frame in picks)
    body = "".join(
        f'<tr><th scope="row">{TITLES[name]}</th>' + "".join(
            f'<td><div class="strip-tile" role="img" aria-label="{TITLES[name]} at t = {frame.t}" '
            f'style="--x:{c * size * DISPLAY_SCALE}px;--y:{r * size * DISPLAY_SCALE}px"></div></td>'
            for c, frame in enumerate(picks)) + "</tr>"
        for r, name in enumerate(("naive", "unet")))
    return (f'<div class="frame-strip" style="--strip:url(data:image/png;base64,{data});--w:{len(picks) * size}px;'
            f'--h:{2 * size}px;--s:{size}px"><img alt="" src="data:image/png;base64,{data}" class="strip-source">'
            f'<table><thead><tr><th></th>{head}</tr></thead><tbody>{body}</tbody></table></div>')
