"""The Denoising lab: naive CNN vs U-Net at one t, knock-outs, the held-out curves and the reverse process."""
from __future__ import annotations

import base64
import hashlib
import html
import io
import json
import re
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field

import numpy as np
import torch
from PIL import Image

from explorer.analysis.denoise import Prediction, make_noise, predict, predict_blur
from explorer.analysis.metrics import TIMESTEPS, blur_sigma_for, eps_mse, psnr
from explorer.analysis.numbers import added, db_change, ratio, times
from explorer.analysis.numbers import mse as format_mse
from explorer.data import image_digest, to_uint8
from explorer.diffusion import NUM_TIMESTEPS
from explorer.probe import Probe
from explorer.render import colorize, noise_image, tensor_image
from explorer.views.context import Context
from explorer.views.domain import DomainScores, note_for_scores

PLOT_TEMPLATE = {"layout": {"paper_bgcolor": "white", "plot_bgcolor": "white",
                            "xaxis": {"gridcolor": "#ebf0f8", "zeroline": False},
                            "yaxis": {"gridcolor": "#ebf0f8", "zeroline": False}}}
COLOURS = {"naive": "#757575", "unet": "#2c6fad", "blur": "#d9822b", "knocked": "#b23a48"}


@dataclass(frozen=True)
class Knockouts:
    """What to break in the U-Net for one request: the t it is told, skips to zero, attention on/off,
    the bottleneck bypassed (mid.res1, mid.attn and mid.res2 pass their input through)."""

    told_t: int | None = None
    zero_skips: frozenset[int] = frozenset()
    attention: bool = True
    bypass_mid: bool = False

    @property
    def active(self) -> bool:
        return self.told_t is not None or bool(self.zero_skips) or not self.attention or self.bypass_mid

    def probe(self) -> Probe:
        return Probe(zero_skips=self.zero_skips, attention=self.attention, timestep=self.told_t,
                     bypass_mid=self.bypass_mid)

    def describe(self) -> str:
        parts = []
        if self.told_t is not None:
            parts.append(f"told t={self.told_t}")
        parts += [f"skip{level} cut" for level in sorted(self.zero_skips)]
        if not self.attention:
            parts.append("no attention")
        if self.bypass_mid:
            parts.append("bottleneck bypassed")
        return ", ".join(parts) or "intact"


@dataclass
class Comparison:
    t: int
    x0: torch.Tensor
    x_t: torch.Tensor
    eps: torch.Tensor
    predictions: dict[str, Prediction]  # naive, unet, blur, and knocked when knock-outs are active
    blur_sigma: float
    knockouts: Knockouts = field(default_factory=Knockouts)


def compare(ctx: Context, image: np.ndarray, t: int, seed: int, knockouts: Knockouts = Knockouts()) -> Comparison:
    """Both networks (and the blur baseline) on the same x_t; the U-Net once more with knock-outs if any."""
    x0, x_t, eps = ctx.x_t(image, t, seed)
    predictions = {
        "naive": predict(ctx.pair.naive, ctx.diffusion, x_t, t, x0, eps),
        "unet": predict(ctx.pair.unet, ctx.diffusion, x_t, t, x0, eps),
    }
    if knockouts.active:
        predictions["knocked"] = predict(ctx.pair.unet, ctx.diffusion, x_t, t, x0, eps, probe=knockouts.probe())
    sigma = blur_sigma_for(t, blur_table(ctx))
    predictions["blur"] = predict_blur(ctx.diffusion, x_t, t, x0, eps, sigma)
    return Comparison(t, x0, x_t, eps, predictions, sigma, knockouts)


TITLES = {"naive": "Naive CNN", "unet": "U-Net", "knocked": "U-Net, knocked out", "blur": "Gaussian blur"}

# --- one t as native-size tiles, and many t at once for scrubbing ------------------------------------------------

SCRUB_FRAMES = 48  # t values precomputed per image, seed and knock-outs: the frames the slider swaps while dragged
ROWS = (("eps", "predicted noise ε̂"), ("x0", "predicted clean image x̂₀"), ("error", "error |x̂₀ − x₀|"))
ERROR_LIMIT = 1.0  # the error maps' colour scale: 0 … this mean |x̂₀ − x₀| over colours
DISPLAY_SCALE = 2  # tiles are shown 2× (CSS, pixelated) on a wide screen, 1× on a narrow one


def scrub_grid(count: int = SCRUB_FRAMES, num_timesteps: int = NUM_TIMESTEPS) -> list[int]:
    """`count` timesteps from 1 to T−1, evenly spaced in √t: dense where the picture changes fast (small t)."""
    top = num_timesteps - 1
    values = {round((1 + (top ** 0.5 - 1) * i / (count - 1)) ** 2) for i in range(count)}
    return sorted(min(top, max(1, v)) for v in values)


def columns_for(knockouts: Knockouts) -> list[str]:
    """The model columns shown, left to right."""
    return ["naive", "unet"] + (["knocked"] if knockouts.active else []) + ["blur"]


def tile_names(knockouts: Knockouts) -> list[str]:
    """The tiles that change with t, in sprite order: x_t, then each column's ε̂, x̂₀ and error map."""
    return ["x_t"] + [f"{name}.{row}" for name in columns_for(knockouts) for row, _ in ROWS]


@dataclass
class Tiles:
    """One t as the page shows it: native-size pictures (H, W, 3) uint8 and each model's scores."""

    t: int
    images: dict[str, np.ndarray]  # tile name → picture
    scores: dict[str, tuple[float, float]]  # model → (ε-MSE, x̂₀ PSNR in dB)
    blur_sigma: float


def error_map(x0_hat: torch.Tensor, x0: torch.Tensor) -> np.ndarray:
    """|x̂_0 − x_0| averaged over colours (H, W, 3) uint8, on the fixed 0 … ERROR_LIMIT scale so columns compare."""
    return colorize((x0_hat[0] - x0[0]).abs().mean(0), 0.0, ERROR_LIMIT, "heat")


def noise_pixels(eps: torch.Tensor) -> np.ndarray:
    return np.asarray(noise_image(eps))


def _tiles(t: int, x_t: torch.Tensor, x0: torch.Tensor, predictions: dict[str, Prediction], sigma: float) -> Tiles:
    images = {"x_t": to_uint8(x_t[0])}
    for name, prediction in predictions.items():
        images[f"{name}.eps"] = noise_pixels(prediction.eps_hat)
        images[f"{name}.x0"] = to_uint8(prediction.x0_hat[0])
        images[f"{name}.error"] = error_map(prediction.x0_hat, x0)
    scores = {name: (prediction.eps_mse, prediction.psnr) for name, prediction in predictions.items()}
    return Tiles(t, images, scores, sigma)


def comparison_tiles(comparison: Comparison) -> Tiles:
    """The single-step view at the comparison's t as tiles."""
    return _tiles(comparison.t, comparison.x_t, comparison.x0, comparison.predictions, comparison.blur_sigma)


def blur_table(ctx: Context) -> dict[int, float] | None:
    return dict(zip(ctx.metrics["timesteps"], ctx.metrics["models"]["blur"]["sigma"])) if ctx.metrics else None


@torch.no_grad()
def scrub_frames(ctx: Context, image: np.ndarray, seed: int, timesteps: list[int],
                 knockouts: Knockouts = Knockouts(), batch: int = 16) -> list[Tiles]:
    """The side-by-side for many t at once (same image and noise), each model run in batches.

    Frame i equals `comparison_tiles(compare(ctx, image, timesteps[i], seed, knockouts))` up to the
    rounding of a batched forward (pictures within 1/255, scores within 1e-4 relative)."""
    x0, _, eps = ctx.x_t(image, timesteps[0], seed)  # ε does not depend on t
    t_all = torch.tensor(timesteps, dtype=torch.long)
    count = len(timesteps)
    x_t = ctx.diffusion.q_sample(x0.expand(count, -1, -1, -1), t_all, eps.expand(count, -1, -1, -1))  # (N, 3, H, W)
    models = {"naive": (ctx.pair.naive, None), "unet": (ctx.pair.unet, None)}
    if knockouts.active:
        models["knocked"] = (ctx.pair.unet, knockouts.probe())
    outputs: dict[str, list[Prediction]] = {name: [] for name in models}
    for name, (model, probe) in models.items():
        eps_hat = torch.cat([model(x_t[i:i + batch], t_all[i:i + batch], probe=probe)
                             for i in range(0, count, batch)])  # (N, 3, H, W)
        x0_hat = ctx.diffusion.predict_x0(x_t, t_all, eps_hat)
        mse, quality = eps_mse(eps_hat, eps), psnr(x0_hat, x0)
        outputs[name] = [Prediction(eps_hat[i:i + 1], x0_hat[i:i + 1], float(mse[i]), float(quality[i]))
                         for i in range(count)]
    table = blur_table(ctx)
    frames = []
    for i, t in enumerate(timesteps):
        sigma = blur_sigma_for(t, table)
        predictions = {name: outputs[name][i] for name in models}
        predictions["blur"] = predict_blur(ctx.diffusion, x_t[i:i + 1], t, x0, eps, sigma)
        frames.append(_tiles(t, x_t[i:i + 1], x0, predictions, sigma))
    return frames


def sprite(rows: list[list[np.ndarray]]) -> Image.Image:
    """Tiles (H, W, 3) laid out row by row, no gaps: one PNG the page cuts up with CSS."""
    size = rows[0][0].shape[0]
    width = max(len(row) for row in rows)
    canvas = np.full((len(rows) * size, width * size, 3), 255, np.uint8)
    for r, row in enumerate(rows):
        for c, tile in enumerate(row):
            canvas[r * size:(r + 1) * size, c * size:(c + 1) * size] = tile
    return Image.fromarray(canvas)


def png_bytes(image: Image.Image) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, format="PNG", compress_level=1)  # noise does not compress: spend no time trying
    return buffer.getvalue()


def strip_key(image: np.ndarray, seed: int, knockouts: Knockouts) -> str:
    """What a strip depends on besides t: the page previews a strip only for the view with the same key."""
    # The dataclass's repr names every knock-out field.
    return hashlib.sha1(f"{image_digest(image)}|{seed}|{knockouts!r}".encode()).hexdigest()[:16]


def frame_texts(tiles: Tiles, knockouts: Knockouts) -> dict[str, str]:
    """Every piece of text of the view that depends on t, keyed by its data-f name in the HTML."""
    texts = {"t": str(tiles.t), "blur-sigma": f"{tiles.blur_sigma:.2g}"}
    for name, (mse, quality) in tiles.scores.items():
        texts[f"{name}-mse"] = format_mse(mse)  # as the lesson quotes it
        texts[f"{name}-psnr"] = f"{quality:.1f} dB"
    naive, unet = tiles.scores["naive"], tiles.scores["unet"]
    texts["ratio"] = f"{unet[0] / max(naive[0], 1e-12):.0%}"
    texts["gain"] = db_change(unet[1] - naive[1])
    return texts


def scrub_meta_html(key: str, frames: list[Tiles], knockouts: Knockouts) -> str:
    """The strip's description for the page: its key, its t grid and each frame's texts (read by the view's script)."""
    grid = json.dumps([frame.t for frame in frames])
    texts = json.dumps([frame_texts(frame, knockouts) for frame in frames], ensure_ascii=False)
    return (f'<div class="scrub-meta" data-key="{key}" data-grid="{html.escape(grid)}" '
            f'data-texts="{html.escape(texts)}" data-tiles="{len(tile_names(knockouts))}"></div>')


def scrub_strip(frames: list[Tiles], knockouts: Knockouts) -> Image.Image:
    """All frames' changing tiles, one row per t, in `tile_names` order."""
    names = tile_names(knockouts)
    return sprite([[frame.images[name] for name in names] for frame in frames])


def _field(name: str, text: str) -> str:
    return f'<span data-f="{name}">{html.escape(text)}</span>'


def _tile(kind: str, column: int, label: str) -> str:
    return f'<div class="sbs-tile {kind}" style="--col:{column}" role="img" aria-label="{html.escape(label)}"></div>'


def heldout_digests(ctx: Context) -> frozenset[str]:
    """The fingerprints of the held-out examples (about 0.1 s for 217 images): any other image gets the domain note."""
    return frozenset(image_digest(ctx.image(path)) for path in ctx.examples)


def domain_scores(comparison: Comparison) -> DomainScores:
    """Both networks' ε-MSE on this image at the comparison's t: the numbers of the side-by-side itself."""
    predictions = comparison.predictions
    return DomainScores(comparison.t, predictions["unet"].eps_mse, predictions["naive"].eps_mse)


def domain_note_html(ctx: Context, comparison: Comparison) -> str:
    """The "trained on emoji only" note (explorer/views/domain.py) for this comparison's numbers, as HTML."""
    text = html.escape(note_for_scores(ctx, domain_scores(comparison)), quote=False)
    return re.sub(r"\*\*(.+?)\*\*", r"<b>\1</b>", text)


def side_by_side_html(comparison: Comparison, key: str, note: str = "") -> str:
    """The single-step view as HTML: native-size tiles from one PNG (scaled by CSS), every label in text.

    Sprite rows: 0 the tiles that change with t (`tile_names` order), 1 the clean image and the true noise.
    `key` is the strip key of these inputs (`strip_key`): the page's script swaps in that strip's frames
    while t is dragged, and this exact frame again when the slider comes back to `comparison.t`. `note`
    (HTML, e.g. `domain_note_html`) goes under the numbers; it speaks of the exact t and is dimmed while
    frames of another t are shown."""
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
           f'<figcaption>x_t at t = {f("t")}: what both networks get</figcaption></figure>'
           f'<figure>{_tile("fixed", 1, "the true noise ε")}<figcaption>the true noise ε</figcaption></figure>')
    heads = []
    for name in columns_for(knockouts):
        title = "U-Net: " + knockouts.describe() if name == "knocked" else TITLES[name]
        if name == "blur":
            title += f" (σ = {f('blur-sigma')} px)"
        else:
            title = html.escape(title)
        heads.append(f'<th scope="col" class="sbs-{name}">{title}<br><small>ε-MSE {f(name + "-mse")} · '
                     f'{f(name + "-psnr")}</small></th>')
    body = []
    for row, label in ROWS:
        cells = "".join(f"<td>{_tile('vary', column[f'{name}.{row}'], f'{TITLES[name]}: {label}')}</td>"
                        for name in columns_for(knockouts))
        body.append(f'<tr><th scope="row">{html.escape(label)}</th>{cells}</tr>')
    sentence = (f"At t = {f('t')}, on this image, the U-Net's noise error is <b>{f('ratio')}</b> of the naive CNN's, "
                f"and its clean-image estimate's PSNR differs from the naive CNN's by <b>{f('gain')}</b> "
                "(positive: the U-Net's is closer to x₀).")
    return (f'<div class="sbs" data-t="{comparison.t}" data-key="{key}" '
            f'style="--exact:url(data:image/png;base64,{data});--ncols:{len(names)};--tile:{size}px">'
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
            + '</div>')


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
    if ctx.metrics is None:
        layout["annotations"] = [{"text": "Held-out measurements not computed yet for these weights",
                                  "showarrow": False, "xref": "paper", "yref": "paper", "x": 0.5, "y": 0.5}]
        return {"data": [], "layout": layout}
    data = []
    timesteps = ctx.metrics["timesteps"]
    series = [(name, ctx.metrics["models"][name], timesteps, "held-out") for name in ("naive", "unet", "blur")]
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
            else:
                trace.update(mode="markers", marker={"color": COLOURS[name], "symbol": "x", "size": 9})
            data.append(trace)
    if t is not None:
        layout["shapes"] = [{"type": "line", "x0": t, "x1": t, "xref": axis, "y0": 0, "y1": 1, "yref": f"{yref} domain",
                             "line": {"color": "#b23a48", "dash": "dot"}} for axis, yref in (("x", "y"), ("x2", "y2"))]
    return {"data": data, "layout": layout}


def knockouts_table_html(knockouts: dict) -> str:
    """The held-out knock-out table from metrics.json: each broken U-Net's noise error (ε-MSE), and its
    multiple of the intact U-Net's, one row per knock-out; numbers never wrap (the table scrolls instead)."""
    timesteps = knockouts["timesteps"]
    intact = knockouts["eps_mse"]["intact"]
    head = "".join(f'<th scope="col">t = {t}</th>' for t in timesteps)
    rows = []
    for name, values in knockouts["eps_mse"].items():
        cells = "".join(f"<td>{value:.4f}</td>" if name == "intact" else
                        f"<td>{value:.4f} <small>({added(value - base)}, {times(ratio(value, base))})</small></td>"
                        for value, base in zip(values, intact))
        rows.append(f'<tr><th scope="row">{html.escape(name)}</th>{cells}</tr>')
    return ('<div class="knockout-table"><p>Noise error ε-MSE of the U-Net, held-out average (mean squared error '
            'of its predicted noise; lower is better), and in brackets the error each knock-out adds to the intact '
            'U-Net\'s and how many times the intact U-Net\'s it is. Predicting no noise at all would score the '
            'noise\'s own variance, 1 by construction: a knock-out near 1 has broken the network.</p>'
            f'<div class="knockout-scroll" style="overflow-x: auto; max-width: 100%;"><table><thead><tr>'
            f'<th scope="col">U-Net</th>{head}</tr></thead><tbody>{"".join(rows)}</tbody></table></div>'
            f'<p>"Told the wrong t": {html.escape(knockouts["told_the_wrong_t"])}.</p></div>')


def steps_note(ctx: Context, t: int, num_steps: int) -> str:
    """What "Denoise from here" will really run from t: DDIM takes at most one step per timestep down to 0."""
    runs = len(ctx.diffusion.ddim_timesteps(t, num_steps))
    if runs >= num_steps:
        return ""
    return (f"From t = {t}, DDIM takes at most {runs} steps (one per timestep down to 0): "
            f"\"Denoise from here\" will run {runs}, not {num_steps}.")


def image_curves(ctx: Context, image: np.ndarray, seed: int) -> dict:
    """This image's scores on the evaluation's t grid (same seed for every t)."""
    timesteps = ctx.metrics["timesteps"] if ctx.metrics else list(TIMESTEPS)
    out = {"timesteps": timesteps, "models": {name: {"eps_mse": [], "psnr": []} for name in ("naive", "unet", "blur")}}
    for t in timesteps:
        comparison = compare(ctx, image, t, seed)
        for name in ("naive", "unet", "blur"):
            out["models"][name]["eps_mse"].append(comparison.predictions[name].eps_mse)
            out["models"][name]["psnr"].append(comparison.predictions[name].psnr)
    return out


@dataclass
class ReverseFrame:
    """The state of both reverse processes after `step` of `num_steps`."""

    step: int
    num_steps: int
    t: int
    samples: dict[str, torch.Tensor]  # model → x at this step (1, 3, H, W)
    pred_x0: dict[str, torch.Tensor]  # model → x̂_0 predicted at this step
    drift: dict[str, list[float]]  # model → PSNR of x̂_0 against x_0 so far (or change per step, from noise)


def reverse_process(ctx: Context, image: np.ndarray | None, t: int, seed: int, num_steps: int,
                    every: int = 1) -> Iterator[ReverseFrame]:
    """DDIM from x_t (or from pure noise at t = T - 1 when `image` is None) with both models in lockstep.

    Yields a frame every `every` steps and always the last one.
    """
    if image is None:
        t = ctx.diffusion.num_timesteps - 1
        x_start = make_noise(seed, (1, 3, ctx.image_size, ctx.image_size))
        x0 = None
    else:
        x0, x_start, _ = ctx.x_t(image, t, seed)
    samplers = {name: ctx.diffusion.ddim_sample(ctx.pair.model(name), x_start, t, num_steps)
                for name in ("naive", "unet")}
    drift = {"naive": [], "unet": []}
    previous = {}

    def advance(sampler):
        with torch.no_grad():  # grad mode is per thread
            return next(sampler, None)

    # The two models step in parallel threads (torch releases the GIL): a step costs the slower model, not both.
    with ThreadPoolExecutor(max_workers=2) as pool:
        while True:
            futures = {name: pool.submit(advance, sampler) for name, sampler in samplers.items()}
            by_model = {name: future.result() for name, future in futures.items()}
            if any(frame is None for frame in by_model.values()):
                break
            for name, frame in by_model.items():
                if x0 is not None:
                    drift[name].append(float(psnr(frame.pred_x0, x0)))
                else:
                    change = ((frame.pred_x0 - previous[name]).pow(2).mean().sqrt() if name in previous
                              else torch.tensor(0.0))
                    drift[name].append(float(change))
                    previous[name] = frame.pred_x0
            frame = by_model["unet"]
            if frame.step % every == 0 or frame.step == frame.num_steps or frame.step == 1:
                yield ReverseFrame(frame.step, frame.num_steps, frame.t,
                                   {name: f.sample for name, f in by_model.items()},
                                   {name: f.pred_x0 for name, f in by_model.items()},
                                   {name: list(values) for name, values in drift.items()})


REVERSE_TILES = (("naive", "sample"), ("naive", "predicted clean"), ("unet", "sample"), ("unet", "predicted clean"))
REVERSE_GAP = 4


def reverse_frame_image(frame: ReverseFrame, scale: int = DISPLAY_SCALE) -> Image.Image:
    """Side by side, no text (the page labels it): each model's current sample and its current x̂_0,
    in REVERSE_TILES order, `scale` times native size."""
    size = frame.samples["unet"].shape[-1]
    canvas = Image.new("RGB", (4 * size + 3 * REVERSE_GAP, size), "white")
    for index, (name, kind) in enumerate(REVERSE_TILES):
        tensor = frame.samples[name] if kind == "sample" else frame.pred_x0[name]
        canvas.paste(tensor_image(tensor.clamp(-1, 1)), (index * (size + REVERSE_GAP), 0))
    return canvas.resize((canvas.width * scale, canvas.height * scale), Image.NEAREST) if scale != 1 else canvas


def reverse_caption_html(size: int, scale: int = DISPLAY_SCALE) -> str:
    """The labels over `reverse_frame_image`'s tiles, aligned to them at `scale`."""
    cells = "".join(f'<span style="width:{size * scale}px;margin-right:{REVERSE_GAP * scale}px">'
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
            f'style="background-position:-{c * size * DISPLAY_SCALE}px -{r * size * DISPLAY_SCALE}px"></div></td>'
            for c, frame in enumerate(picks)) + "</tr>"
        for r, name in enumerate(("naive", "unet")))
    return (f'<div class="frame-strip" style="--strip:url(data:image/png;base64,{data});--w:{len(picks) * size}px;'
            f'--h:{2 * size}px;--s:{size}px"><img alt="" src="data:image/png;base64,{data}" class="strip-source">'
            f'<table><thead><tr><th></th>{head}</tr></thead><tbody>{body}</tbody></table></div>')


def animation_gif(frames: list[ReverseFrame]) -> bytes:
    """The reverse process as an animated GIF of the side-by-side frames (last frame held)."""
    # Scale 2 and a fast octree palette: the GIF is made after the last frame, so it must not keep the user waiting.
    images = [reverse_frame_image(frame, scale=2).quantize(colors=128, method=Image.Quantize.FASTOCTREE)
              for frame in frames]
    buffer = io.BytesIO()
    durations = [80] * (len(images) - 1) + [1500]
    images[0].save(buffer, format="GIF", save_all=True, append_images=images[1:], duration=durations, loop=0)
    return buffer.getvalue()


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
