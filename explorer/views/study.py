"""The Trained-alternatives view: every variant of the study, trained by one protocol, side by side.

Pure functions of study.json (`StudyResults`), the trained variants and the current inputs. Every
number printed here is read from study.json or computed live from the variants' weights.
"""
from __future__ import annotations

from dataclasses import dataclass
from functools import partial
from html import escape

import numpy as np
import plotly.graph_objects as go
import torch
from PIL import Image
from torch import nn

from explorer.analysis.denoise import noisy
from explorer.analysis.metrics import eps_mse, psnr
from explorer.data import load_image, to_tensor, to_uint8
from explorer.diffusion import Diffusion
from explorer.formatting import INTERVAL, THIS_IMAGE, db, fixed, span, times
from explorer.render import noise_image
from explorer.study import findings
from explorer.study.results import StudyResults
from explorer.study.variants import VARIANTS
from explorer.views.pixels import img

ZOOM = 3  # 32-pixel pictures shown 96 pixels wide: a whole-number zoom
SEED = 0  # the live side by side runs each variant's first training seed
NOISE_LIMIT = 2.5  # predicted noise shown on ±2.5
ERROR_LIMIT = 1.0  # |x̂_0 - x_0| shown on 0 … 1 (images span -1 … 1)
_db = partial(db, decimals=2)  # the tables' precision: ε-MSE to four decimals (`fixed`), PSNR to two
VERDICT_CLASS = {findings.HOLDS: "holds", findings.CONTRADICTED: "contradicted", findings.UNCLEAR: "unclear"}


@dataclass(frozen=True)
class LiveRow:
    """One variant on the current image: its pictures and its scores on this image (not an average)."""

    name: str
    eps_hat: torch.Tensor  # (3, R, R)
    x0_hat: torch.Tensor  # (3, R, R)
    eps_mse: float
    psnr: float


def study_image(image: np.ndarray, resolution: int) -> torch.Tensor:
    """The app's (H, W, 3) uint8 image at the study's resolution, resized as the training images were: (3, R, R)."""
    return to_tensor(load_image(Image.fromarray(image), resolution))


@torch.no_grad()
def live_rows(models: dict[str, nn.Module], diffusion: Diffusion, image: np.ndarray, t: int, seed: int,
              resolution: int) -> tuple[torch.Tensor, torch.Tensor, list[LiveRow]]:
    """x0 and x_t (3, R, R) at the study's resolution, and every variant's prediction for x_t, scored."""
    x0 = study_image(image, resolution)
    x_t, eps = noisy(diffusion, x0, t, seed)  # (1, 3, R, R) each
    t_batch = torch.tensor([t])
    rows = []
    for name, model in models.items():
        eps_hat = model(x_t, t_batch)
        x0_hat = diffusion.predict_x0(x_t, t_batch, eps_hat)
        rows.append(LiveRow(name, eps_hat[0], x0_hat[0], float(eps_mse(eps_hat, eps)[0]),
                            float(psnr(x0_hat, x0[None])[0])))
    return x0, x_t[0], rows


def live_html(x0: torch.Tensor, x_t: torch.Tensor, rows: list[LiveRow], t: int) -> str:
    """The side by side: one row per variant (predicted noise, x̂_0, its error), scores on this image."""
    head = (f'<div class="study-inputs">{_figure(Image.fromarray(to_uint8(x0)), "x₀ (this image)")}'
            f'{_figure(Image.fromarray(to_uint8(x_t)), f"x_t at t = {t}")}</div>')
    best = min(rows, key=lambda row: row.eps_mse).name if rows else ""
    body = []
    for row in rows:
        error = (row.x0_hat - x0).abs().mean(0).clamp(0, ERROR_LIMIT)  # (R, R)
        error_picture = Image.fromarray(np.repeat((255 - error.numpy() / ERROR_LIMIT * 255).astype(np.uint8)[..., None],
                                                  3, axis=2))
        mark = ' class="best"' if row.name == best else ""
        body.append(
            f"<tr{mark}><th scope=\"row\"><code>{escape(row.name)}</code></th>"
            f"<td>{img(noise_image(row.eps_hat, limit=NOISE_LIMIT), ZOOM, f'{row.name}: predicted noise')}</td>"
            f"<td>{img(Image.fromarray(to_uint8(row.x0_hat)), ZOOM, f'{row.name}: x̂₀')}</td>"
            f"<td>{img(error_picture, ZOOM, f'{row.name}: error of x̂₀')}</td>"
            f"<td>{fixed(row.eps_mse)}</td><td>{_db(row.psnr)}</td></tr>")
    return (head + '<table class="study-live"><thead><tr><th>variant</th><th>predicted noise ε̂ '
            '(grey is 0)</th><th>x̂₀</th><th>|x̂₀ − x₀| (darker: worse)</th><th>ε-MSE</th>'
            '<th>x̂₀ PSNR</th></tr></thead><tbody>' + "".join(body) + "</tbody></table>"
            f"<p class=\"study-note\">Scores on {THIS_IMAGE} only, with its noise (seed) — not a held-out average. "
            "Each variant's first training seed; the lowest ε-MSE is highlighted.</p>")


def live_numbers(rows: list[LiveRow], t: int, seed: int) -> dict:
    """The live scores as data (for the API and the tests)."""
    return {"t": t, "seed": seed, "scope": "this image", "training_seed": SEED,
            "variants": {row.name: {"eps_mse": row.eps_mse, "psnr": row.psnr} for row in rows}}


def _figure(image: Image.Image, caption: str) -> str:
    return (f'<figure class="study-figure">{img(image, ZOOM, caption)}'
            f'<figcaption>{escape(caption)}</figcaption></figure>')


def findings_html(results: StudyResults) -> str:
    """One line per lesson claim: its verdict at the common budget by the training objective (the budget and the
    measure said in the sentence), then how the order moves along the ladder and at equal compute."""
    items = []
    for item in findings.verdicts(results):
        items.append(f'<li class="finding {VERDICT_CLASS[item.verdict]}"><strong>{escape(item.claim.lesson)}</strong> '
                     f'<span class="verdict">{escape(findings.label(item))} at {item.images_seen:,} images</span><br>'
                     f'{escape(item.sentence())}</li>')
    return '<ul class="study-findings">' + "".join(items) + "</ul>"


def protocol_markdown(results: StudyResults) -> str:
    """What was trained and how, and how far the study is from a real training run (all numbers from study.json)."""
    protocol = results.data["protocol"]
    budget = results.budget
    largest = max(run["images_seen"] for run in results.runs)
    no_noise = results.no_noise()
    return (f"Each network below was **trained from scratch by the same recipe** at {results.resolution}×"
            f"{results.resolution} (the key pair at 64×64 too): the same optimiser and noise schedule, a constant "
            f"learning rate that decays to zero over the last {results.data['decay_fraction']:.0%} of each budget, no "
            f"early stopping, and the same budget for every network compared: from "
            f"{results.data['ladder'][0] * protocol['batch_size']:,} training images up to {largest:,} so far. "
            f"So a difference is what the architecture does at that budget, not what one trained U-Net happens to "
            f"rely on (the knock-outs elsewhere in the app). Scored on the {results.data['heldout_images']} held-out "
            f"emoji the networks never saw, by the **training objective**: the ε-MSE averaged over every t (predicting "
            f"no noise at all scores {fixed(no_noise)}).\n\n"
            f"**Budgets matter.** {findings.scale_sentence(results)} The chart shows each network's error against "
            f"the images it saw and against the compute it used; the table and the verdicts are at "
            f"{budget * protocol['batch_size']:,} images, the largest budget every network here has reached, and each "
            f"verdict says how the order moves with more training.")


# One colour family per kind of network, a distinct shade per variant: the five-layer CNNs warm, the single-scale
# deep networks green, the U-Nets blue to violet (the full U-Net darkest).
COLOURS = {"naive": "#9a3412", "naive-t": "#f97316", "deep-plain": "#86efac", "deep-residual": "#16a34a",
           "dilated": "#14532d", "unet-noskip": "#c4b5fd", "unet-add": "#8b5cf6", "unet-notime": "#38bdf8",
           "unet-noattn": "#0284c7", "unet": "#1e3a8a"}
ERROR_TICKS = (0.002, 0.005, 0.01, 0.02, 0.05, 0.1, 0.2, 0.5, 1.0, 2.0)
NOT_LEARNED = "worse than predicting no noise: has not learned this yet"


def _ladder_points(results: StudyResults, name: str, resolution: int, measure) -> list[tuple[int, int, list[float]]]:
    """(images seen, training multiply-adds, each seed's value) per budget of `name` at `resolution`."""
    return [(steps * results.data["protocol"]["batch_size"], results.compute(name, steps, resolution),
             results.at(name, steps, measure, resolution)) for steps in results.budgets(name, resolution)]


def curves_figure(results: StudyResults, measure=findings.OBJECTIVE, names: list[str] | None = None,
                  marks: tuple[tuple[str, int, float], ...] = (), shipped: bool = True) -> go.Figure:
    """Held-out error against training images (top) and against training compute (bottom), log axes.

    One line per variant and resolution (mean of the seeds; the band spans the seeds), a dotted line for
    predicting no noise, open markers where a network is worse than that, the shipped models as stars.
    names: only these variants (default: all). marks: (variant, steps, value) points to circle, with their values.
    shipped: draw the shipped models (far to the right: they trained on millions of images).
    """
    from plotly.subplots import make_subplots

    names = names or [name for name in COLOURS if results.runs_of(name)]
    figure = make_subplots(rows=2, cols=1, vertical_spacing=0.16,
                           subplot_titles=("against training images seen", "against training compute"))
    resolutions = sorted({run["resolution"] for run in results.runs})
    for resolution in resolutions:
        dash = "solid" if resolution == results.resolution else "dash"
        for name in names:
            points = _ladder_points(results, name, resolution, measure)
            if not points:
                continue
            label = name if resolution == results.resolution else f"{name} ({resolution}×{resolution})"
            colour = COLOURS.get(name, "#6b7280")
            no_noise = results.no_noise(measure, resolution)
            for row, axis in ((1, 0), (2, 1)):
                xs = [point[axis] for point in points]
                lows = [min(point[2]) for point in points]
                highs = [max(point[2]) for point in points]
                means = [sum(point[2]) / len(point[2]) for point in points]
                if len(xs) > 1:
                    figure.add_trace(go.Scatter(x=xs + xs[::-1], y=highs + lows[::-1], fill="toself", fillcolor=colour,
                                                opacity=0.15, line=dict(width=0), hoverinfo="skip", showlegend=False,
                                                legendgroup=label), row=row, col=1)
                unit = "images" if axis == 0 else "multiply-adds"
                figure.add_trace(go.Scatter(
                    x=xs, y=means, mode="lines+markers", name=label, legendgroup=label, showlegend=row == 1,
                    line=dict(color=colour, width=3.5 if name == "unet" else 2, dash=dash),
                    marker=dict(size=8, symbol=["circle-open" if mean >= no_noise else "circle" for mean in means]),
                    customdata=[[len(point[2]), NOT_LEARNED if mean >= no_noise else ""]
                                for point, mean in zip(points, means)],
                    hovertemplate=f"{label}<br>%{{x:,.3s}} {unit}<br>error %{{y:.4f}} (mean of %{{customdata[0]}} "
                                  f"seeds)<br>%{{customdata[1]}}<extra></extra>"), row=row, col=1)
    no_noise_line = dict(color="#6b7280", dash="dot", width=1.5)
    for row in (1, 2):
        figure.add_hline(y=results.no_noise(measure), line=no_noise_line, row=row, col=1)
    figure.add_trace(go.Scatter(x=[None], y=[None], mode="lines", line=no_noise_line,  # its legend entry
                                name=f"predicting no noise ({fixed(results.no_noise(measure))})"), row=1, col=1)
    for key, symbol in (("shipped_unet", "star"), ("shipped_naive", "star-diamond")):
        reference = results.data["references"].get(key) if shipped else None
        if not reference or (measure != findings.OBJECTIVE and str(measure) not in reference["eps_mse"]):
            continue
        value = reference["objective"] if measure == findings.OBJECTIVE else reference["eps_mse"][str(measure)]
        label = f"shipped {'U-Net' if key == 'shipped_unet' else 'naive CNN'} (64×64)"
        for row, x in ((1, reference["images_seen"]), (2, reference["training_macs"])):
            figure.add_trace(go.Scatter(x=[x], y=[value], mode="markers", name=label, legendgroup=key,
                                        showlegend=row == 1, marker=dict(size=13, symbol=symbol, color="#111827"),
                                        hovertemplate=f"{label}<br>%{{x:,.3s}}<br>error %{{y:.4f}}<extra></extra>"),
                             row=row, col=1)
    for (name, steps, value), place in zip(marks, ("top center", "bottom center")):
        images = steps * results.data["protocol"]["batch_size"]
        figure.add_trace(go.Scatter(x=[images], y=[value], mode="markers+text", text=[fixed(value)],
                                    textposition=place, showlegend=False, hoverinfo="skip",
                                    textfont=dict(size=13, color=COLOURS.get(name, "#111827")),
                                    marker=dict(size=18, symbol="circle-open", line=dict(width=3, color="#dc2626"))),
                         row=1, col=1)
    for row, axis_title in ((1, "training images seen (log)"), (2, "training multiply-adds (log)")):
        figure.update_xaxes(type="log", title_text=axis_title, row=row, col=1, dtick=1, tickformat=".2s")
        figure.update_yaxes(type="log", title_text=f"{'objective' if measure == findings.OBJECTIVE else 'ε-MSE'} (log)",
                            tickvals=list(ERROR_TICKS), ticktext=[f"{tick:g}" for tick in ERROR_TICKS], row=row, col=1)
    figure.update_layout(height=720, margin=dict(l=60, r=10, t=40, b=40), template="plotly_white",
                         legend=dict(font=dict(size=11), orientation="h", yanchor="top", y=-0.08, x=0))
    return figure


def comparison_figure(results: StudyResults, claim_id: str) -> go.Figure:
    """One claim's two variants against budget (images and compute), its finding's two numbers circled at the
    common budget: the evidence a Lesson step shows when its verdict rests on training (`comparison_html` says it
    in words)."""
    item = findings.finding(results, claim_id)
    if item is None:
        raise ValueError(f"the study has no finding for {claim_id!r}")
    marks = ((item.claim.without, item.steps, item.without_mean), (item.claim.with_, item.steps, item.with_mean))
    return curves_figure(results, names=[item.claim.without, item.claim.with_], marks=marks, shipped=False)


def comparison_html(results: StudyResults, claim_id: str) -> str:
    """The chart's heading: the claim, its verdict at the common budget, the two numbers and their ratio."""
    item = findings.finding(results, claim_id)
    if item is None:
        raise ValueError(f"the study has no finding for {claim_id!r}")
    claim = item.claim
    contradicted = item.verdict == findings.CONTRADICTED
    leader, ratio = (claim.without, 1 / item.ratio) if contradicted else (claim.with_, item.ratio)
    ahead = "" if item.verdict == findings.UNCLEAR else f": {escape(leader)} ahead by <strong>{times(ratio)}</strong>"
    return (f'<div class="study-comparison"><p><strong>{escape(claim.without)} against {escape(claim.with_)}</strong>, '
            f'trained alike, <span class="verdict {VERDICT_CLASS[item.verdict]}">{escape(findings.label(item))}'
            f'</span> at '
            f'{item.images_seen:,} training images{ahead} (training objective {escape(claim.without)} '
            f'{fixed(item.without_mean)}, {escape(claim.with_)} {fixed(item.with_mean)}; held-out averages, '
            f'mean of the seeds).</p><p>{escape(" ".join(p for p in (item.ladder, item.compute) if p))}</p></div>')


def not_learned(results: StudyResults, name: str, t: int) -> bool:
    """Whether `name` (mean of its seeds at the common budget) errs at t at least as much as predicting no noise."""
    no_noise = results.reference("no_noise", "eps_mse", t)
    return no_noise is not None and results.mean(name, "eps_mse", t) >= no_noise


def table_html(results: StudyResults, t: int) -> str:
    """Per variant at the common budget: size, cost, window, objective, held-out ε-MSE and x̂_0 PSNR at t with
    95 % intervals, per seed; a mark where a variant is no better than predicting no noise."""
    if t not in results.timesteps:
        raise ValueError(f"the study was scored at t in {results.timesteps}, not {t}")
    rows = []
    for name in results.variants:
        entry = results.variant(name)
        seeds = ", ".join(fixed(value) for value in results.per_seed(name, "eps_mse", t))
        objective = sum(entry["objective"]) / len(entry["objective"])
        mark = (f' <span class="not-learned" title="{NOT_LEARNED}">not learned yet</span>'
                if not_learned(results, name, t) else "")
        rows.append(f'<tr><th scope="row"><code>{escape(name)}</code></th><td>{entry["params"]:,}</td>'
                    f'<td>{entry["macs"] / 1e6:.1f} M</td><td>{entry["window"]}</td>'
                    f'<td>{fixed(objective)}<br><small>{span(entry["objective_ci95"], fixed)}</small></td>'
                    f'<td>{fixed(results.mean(name, "eps_mse", t))}{mark}<br>'
                    f'<small>{span(results.interval(name, "eps_mse", t), fixed)}</small></td>'
                    f'<td>{_db(results.mean(name, "psnr", t))}<br>'
                    f'<small>{span(results.interval(name, "psnr", t), _db)}</small></td>'
                    f'<td><small>{seeds}</small></td><td><small>{escape(VARIANTS[name].question)}</small></td></tr>')
    references = results.data["references"]
    for key in ("no_noise", "shipped_unet", "shipped_naive"):
        reference = references.get(key)
        if reference is None or str(t) not in reference["eps_mse"]:
            continue
        label = "predict no noise" if key == "no_noise" else \
            f"shipped {'U-Net' if key == 'shipped_unet' else 'naive CNN'}, {reference['resolution']} px, " \
            f"{reference['images_seen'] / 1e6:.1f} M images (for scale)"
        rows.append(f'<tr class="reference"><th scope="row"><em>{escape(label)}</em></th><td></td><td></td><td></td>'
                    f'<td>{fixed(reference["objective"])}</td><td>{fixed(reference["eps_mse"][str(t)])}</td>'
                    f'<td>{_db(reference["psnr"][str(t)])}</td><td></td><td></td></tr>')
    budget = results.budget * results.data["protocol"]["batch_size"]
    return ('<table class="study-table"><thead><tr><th>variant</th><th>parameters</th><th>multiply-adds</th>'
            f'<th>window (px)</th><th>objective<br><small>{INTERVAL}</small></th>'
            f'<th>ε-MSE at t = {t}<br><small>{INTERVAL}</small></th><th>x̂₀ PSNR<br><small>{INTERVAL}</small>'
            '</th><th>ε-MSE per seed</th>'
            f'<th>what it tests</th></tr></thead><tbody>{"".join(rows)}</tbody></table>'
            f'<p class="study-note">Held-out averages over {results.data["heldout_images"]} images after '
            f'{budget:,} training images each, mean of the seeds; the interval is a bootstrap over images. The '
            f'objective is the ε-MSE averaged over every t (what training minimises). Multiply-adds for one '
            f'{results.resolution}×{results.resolution} image. The single-resolution networks are matched to the '
            f'U-Net in multiply-adds, not parameters (full-resolution layers are costly); the window is the '
            f'convolutional one (attention and GroupNorm reach the whole image besides). "Not learned yet": no '
            f'better than predicting no noise at this t.</p>')
