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
from explorer.formatting import INTERVAL, THIS_IMAGE, db, fixed, span
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
    """One line per lesson claim: its verdict from the trained comparison, with its numbers."""
    items = []
    for item in findings.verdicts(results):
        items.append(f'<li class="finding {VERDICT_CLASS[item.verdict]}"><strong>{escape(item.claim.lesson)}</strong> '
                     f'<span class="verdict">{escape(item.verdict)}</span><br>{escape(item.sentence())}</li>')
    return '<ul class="study-findings">' + "".join(items) + "</ul>"


def protocol_markdown(results: StudyResults) -> str:
    protocol = results.data["protocol"]
    return (f"Each network below was **trained from scratch by the same recipe**: the same "
            f"{protocol['images_seen']:,} training images seen "
            f"({protocol['steps']} steps of {protocol['batch_size']}), "
            f"at {results.resolution}×{results.resolution}, the same optimiser, learning-rate schedule and noise "
            f"schedule, no early stopping, and {min(len(results.variant(n)['seeds']) for n in results.variants)}–"
            f"{max(len(results.variant(n)['seeds']) for n in results.variants)} training seeds each. So a "
            f"difference here is what the architecture does, not what one trained U-Net happens to rely on "
            f"(the knock-outs elsewhere in the app). Scored on the {results.data['heldout_images']} held-out emoji "
            f"the networks never saw. The study is small (32×32, a few minutes of training on one CPU core per "
            f"network): the shipped 64×64 U-Net scores far better than any of them.")


def table_html(results: StudyResults, t: int) -> str:
    """Per variant at t: size, cost, window, held-out ε-MSE and x̂_0 PSNR with 95 % intervals, per seed."""
    if t not in results.timesteps:
        raise ValueError(f"the study was scored at t in {results.timesteps}, not {t}")
    rows = []
    for name in results.variants:
        entry = results.variant(name)
        seeds = ", ".join(fixed(value) for value in results.per_seed(name, "eps_mse", t))
        rows.append(f'<tr><th scope="row"><code>{escape(name)}</code></th><td>{entry["params"]:,}</td>'
                    f'<td>{entry["macs"] / 1e6:.1f} M</td><td>{entry["window"]}</td>'
                    f'<td>{fixed(results.mean(name, "eps_mse", t))}<br>'
                    f'<small>{span(results.interval(name, "eps_mse", t), fixed)}</small></td>'
                    f'<td>{_db(results.mean(name, "psnr", t))}<br>'
                    f'<small>{span(results.interval(name, "psnr", t), _db)}</small></td>'
                    f'<td><small>{seeds}</small></td><td><small>{escape(VARIANTS[name].question)}</small></td></tr>')
    for key, label in (("no_noise", "predict no noise"), ("shipped_unet", "shipped U-Net (64×64, for scale)")):
        eps, value = results.reference(key, "eps_mse", t), results.reference(key, "psnr", t)
        if eps is not None:
            rows.append(f'<tr class="reference"><th scope="row"><em>{label}</em></th><td></td><td></td><td></td>'
                        f'<td>{fixed(eps)}</td><td>{_db(value)}</td><td></td><td></td></tr>')
    return ('<table class="study-table"><thead><tr><th>variant</th><th>parameters</th><th>multiply-adds</th>'
            f'<th>window (px)</th><th>ε-MSE<br><small>{INTERVAL}</small></th><th>x̂₀ PSNR<br><small>{INTERVAL}</small>'
            '</th><th>ε-MSE per seed</th>'
            f'<th>what it tests</th></tr></thead><tbody>{"".join(rows)}</tbody></table>'
            f'<p class="study-note">Held-out averages over {results.data["heldout_images"]} images at t = {t}, '
            f'mean of the seeds; the interval is over images. Multiply-adds for one {results.resolution}×'
            f'{results.resolution} image. The single-resolution networks are matched to the U-Net in multiply-adds, '
            f'not parameters (full-resolution layers are costly); the window is the convolutional one (attention and '
            f'GroupNorm reach the whole image besides).</p>')


def curves_figure(results: StudyResults) -> go.Figure:
    """Held-out ε-MSE during training, per variant: the seeds' mean as a line, their range as a band."""
    figure = go.Figure()
    palette = ["#6b7280", "#9ca3af", "#b45309", "#d97706", "#a16207", "#0e7490", "#0891b2", "#7c3aed", "#a855f7",
               "#1d4ed8"]
    for colour, name in zip(palette, results.variants):
        curve = results.variant(name)["curve"]
        seen = curve["images_seen"]
        values = np.array(curve["eps_mse"])  # (points, seeds)
        low, high, mean = values.min(1), values.max(1), values.mean(1)
        figure.add_trace(go.Scatter(x=seen + seen[::-1], y=list(high) + list(low[::-1]), fill="toself",
                                    fillcolor=colour, opacity=0.18, line=dict(width=0), hoverinfo="skip",
                                    showlegend=False, legendgroup=name))
        figure.add_trace(go.Scatter(x=seen, y=list(mean), mode="lines", name=name, legendgroup=name,
                                    line=dict(color=colour, width=3 if name == "unet" else 1.8),
                                    hovertemplate=f"{name}<br>%{{x:,}} images<br>ε-MSE %{{y:.4f}}<extra></extra>"))
    figure.update_layout(height=440, margin=dict(l=60, r=10, t=30, b=40), template="plotly_white",
                         xaxis_title="training images seen", yaxis_title="held-out ε-MSE (log)", yaxis_type="log",
                         legend=dict(font=dict(size=11), orientation="h", yanchor="top", y=-0.18, x=0))
    return figure
