"""The Denoising lab: naive CNN vs U-Net at one t, knock-outs, the held-out curves and the reverse process."""
from __future__ import annotations

import io
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Iterator

import numpy as np
import torch
from PIL import Image, ImageDraw

from explorer.analysis.denoise import Prediction, make_noise, predict, predict_blur
from explorer.analysis.metrics import blur_sigma_for, psnr
from explorer.probe import Probe
from explorer.render import colorize, font, noise_image, tensor_image
from explorer.views.context import Context

SCALE = 3
SMALL_SCALE = 2
PLOT_TEMPLATE = {"layout": {"paper_bgcolor": "white", "plot_bgcolor": "white",
                            "xaxis": {"gridcolor": "#ebf0f8", "zeroline": False},
                            "yaxis": {"gridcolor": "#ebf0f8", "zeroline": False}}}
COLOURS = {"naive": "#757575", "unet": "#2c6fad", "blur": "#d9822b", "knocked": "#b23a48"}


@dataclass(frozen=True)
class Knockouts:
    """What to break in the U-Net for one request: the t it is told, skips to zero, attention on/off."""

    told_t: int | None = None
    zero_skips: frozenset[int] = frozenset()
    attention: bool = True

    @property
    def active(self) -> bool:
        return self.told_t is not None or bool(self.zero_skips) or not self.attention

    def probe(self) -> Probe:
        return Probe(zero_skips=self.zero_skips, attention=self.attention, timestep=self.told_t)

    def describe(self) -> str:
        parts = []
        if self.told_t is not None:
            parts.append(f"told t={self.told_t}")
        parts += [f"skip{level} cut" for level in sorted(self.zero_skips)]
        if not self.attention:
            parts.append("no attention")
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
    table = dict(zip(ctx.metrics["timesteps"], ctx.metrics["models"]["blur"]["sigma"])) if ctx.metrics else None
    sigma = blur_sigma_for(t, table)
    predictions["blur"] = predict_blur(ctx.diffusion, x_t, t, x0, eps, sigma)
    return Comparison(t, x0, x_t, eps, predictions, sigma, knockouts)


TITLES = {"naive": "Naive CNN", "unet": "U-Net", "knocked": "U-Net, knocked out", "blur": "Gaussian blur"}


def error_image(x0_hat: torch.Tensor, x0: torch.Tensor, scale: int, limit: float = 1.0) -> Image.Image:
    """|x̂_0 − x_0| averaged over colours, on a fixed 0 … `limit` scale so columns compare fairly."""
    error = (x0_hat[0] - x0[0]).abs().mean(0)  # (H, W)
    image = Image.fromarray(colorize(error, 0.0, limit, "heat"))
    return image.resize((image.width * scale, image.height * scale), Image.NEAREST)


def comparison_figure(comparison: Comparison) -> Image.Image:
    """One picture: the inputs on top, then per model its ε̂, x̂_0 and error map with its scores."""
    size = comparison.x0.shape[-1] * SCALE
    small = comparison.x0.shape[-1] * SMALL_SCALE
    columns = ["naive", "unet"] + (["knocked"] if "knocked" in comparison.predictions else []) + ["blur"]
    label_w, gap, head = 118, 10, 44
    widths = [small if name == "blur" else size for name in columns]
    width = label_w + sum(widths) + gap * len(columns) + 70  # room for the last title
    top_h = size + 30
    height = top_h + head + 3 * (size + gap) + 10
    canvas = Image.new("RGB", (width, height), "white")
    draw = ImageDraw.Draw(canvas)
    big, medium, tiny = font(14), font(12), font(11)
    tops = [("x0: clean", tensor_image(comparison.x0, SCALE)), (f"x_t at t={comparison.t}", tensor_image(comparison.x_t, SCALE)),
            ("true noise", noise_image(comparison.eps, SCALE))]
    for index, (title, image) in enumerate(tops):
        x = label_w + index * (size + gap)
        draw.text((x, 2), title, fill="#111", font=big)
        canvas.paste(image, (x, 22))
    y0 = top_h + head
    for row, label in enumerate(["predicted noise", "predicted clean", "error map"]):
        draw.text((6, y0 + row * (size + gap) + size // 2 - 8), label, fill="#333", font=medium)
    x = label_w
    for name, column_width in zip(columns, widths):
        prediction = comparison.predictions[name]
        scale = SMALL_SCALE if name == "blur" else SCALE
        title = TITLES[name] + (f" (sigma {comparison.blur_sigma:.2g})" if name == "blur" else "")
        if name == "knocked":
            title = "U-Net: " + comparison.knockouts.describe()
        draw.text((x, top_h + 2), title[:34], fill="#111", font=big if name != "blur" else medium)
        draw.text((x, top_h + 22), f"noise MSE {prediction.eps_mse:.4f} | {prediction.psnr:.1f} dB", fill="#333", font=tiny)
        images = [noise_image(prediction.eps_hat, scale), tensor_image(prediction.x0_hat, scale),
                  error_image(prediction.x0_hat, comparison.x0, scale)]
        for row, image in enumerate(images):
            canvas.paste(image, (x, y0 + row * (size + gap)))
        x += column_width + gap
    return canvas


def metrics_markdown(comparison: Comparison) -> str:
    rows = ["| model | ε-MSE (lower is better) | x̂₀ PSNR (higher is better) |", "|---|---|---|"]
    for name in ["naive", "unet", "knocked", "blur"]:
        if name in comparison.predictions:
            prediction = comparison.predictions[name]
            title = "U-Net (" + comparison.knockouts.describe() + ")" if name == "knocked" else TITLES[name]
            rows.append(f"| {title} | {prediction.eps_mse:.4f} | {prediction.psnr:.2f} dB |")
    naive, unet = comparison.predictions["naive"], comparison.predictions["unet"]
    ratio = unet.eps_mse / max(naive.eps_mse, 1e-12)
    rows.append(f"\nAt t = {comparison.t} the U-Net's noise error is **{ratio:.0%}** of the naive CNN's on this "
                f"image, and its clean-image estimate is **{unet.psnr - naive.psnr:+.1f} dB** sharper.")
    return "\n".join(rows)


def curves_figure(ctx: Context, t: int, this_image: dict | None = None) -> dict:
    """Held-out ε-MSE and PSNR against t for the three denoisers, from weights/metrics.json.

    Returned as a plain Plotly figure dict: building it skips Plotly's validation, which costs more
    than the model on this path (it is redrawn at every move of the t slider).
    """
    layout = {
        "template": PLOT_TEMPLATE, "height": 360, "margin": {"l": 50, "r": 20, "t": 40, "b": 50},
        "legend": {"orientation": "h", "y": -0.25},
        "xaxis": {"domain": [0, 0.45], "type": "log", "title": {"text": "timestep t"}},
        "xaxis2": {"domain": [0.55, 1], "type": "log", "title": {"text": "timestep t"}, "anchor": "y2"},
        "yaxis": {"type": "log", "title": {"text": "noise error ε-MSE (held-out mean)"}},
        "yaxis2": {"title": {"text": "x̂₀ PSNR in dB"}, "anchor": "x2"},
    }
    if ctx.metrics is None:
        layout["annotations"] = [{"text": "No weights/metrics.json: run `python -m explorer.evaluate`",
                                  "showarrow": False, "xref": "paper", "yref": "paper", "x": 0.5, "y": 0.5}]
        return {"data": [], "layout": layout}
    data = []
    timesteps = ctx.metrics["timesteps"]
    series = [(name, ctx.metrics["models"][name], timesteps, "held-out") for name in ("naive", "unet", "blur")]
    if this_image:
        series += [(name, values, this_image["timesteps"], "this image") for name, values in this_image["models"].items()]
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
    layout["shapes"] = [{"type": "line", "x0": t, "x1": t, "xref": axis, "y0": 0, "y1": 1, "yref": f"{yref} domain",
                         "line": {"color": "#b23a48", "dash": "dot"}} for axis, yref in (("x", "y"), ("x2", "y2"))]
    return {"data": data, "layout": layout}


def knockouts_markdown(knockouts: dict) -> str:
    """The held-out knock-out table from metrics.json: ε-MSE of each broken U-Net, and its multiple of the intact one."""
    timesteps = knockouts["timesteps"]
    intact = knockouts["eps_mse"]["intact"]
    lines = ["| U-Net | " + " | ".join(f"t = {t}" for t in timesteps) + " |", "|---|" + "---:|" * len(timesteps)]
    for name, values in knockouts["eps_mse"].items():
        cells = [f"{value:.4f}" if name == "intact" else f"{value:.4f} (×{value / base:.1f})"
                 for value, base in zip(values, intact)]
        lines.append(f"| {name} | " + " | ".join(cells) + " |")
    return "\n".join(lines) + f"\n\n\"Told the wrong t\": {knockouts['told_the_wrong_t']}."


def image_curves(ctx: Context, image: np.ndarray, seed: int) -> dict:
    """This image's scores on the evaluation's t grid (same seed for every t)."""
    timesteps = ctx.metrics["timesteps"] if ctx.metrics else [1, 10, 50, 100, 250, 500, 750, 900, 999]
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
    """DDIM from x_t (or from pure noise at t = 999 when `image` is None) with both models in lockstep.

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
                    change = (frame.pred_x0 - previous[name]).pow(2).mean().sqrt() if name in previous else torch.tensor(0.0)
                    drift[name].append(float(change))
                    previous[name] = frame.pred_x0
            frame = by_model["unet"]
            if frame.step % every == 0 or frame.step == frame.num_steps or frame.step == 1:
                yield ReverseFrame(frame.step, frame.num_steps, frame.t,
                                   {name: f.sample for name, f in by_model.items()},
                                   {name: f.pred_x0 for name, f in by_model.items()},
                                   {name: list(values) for name, values in drift.items()})


def reverse_frame_image(frame: ReverseFrame, scale: int = SCALE) -> Image.Image:
    """Side by side: each model's current sample and its current x̂_0 prediction."""
    size = frame.samples["unet"].shape[-1] * scale
    gap = 10
    canvas = Image.new("RGB", (4 * size + 3 * gap + 20, size + 40), "white")
    draw = ImageDraw.Draw(canvas)
    x = 0
    for name in ("naive", "unet"):
        for label, tensor in (("sample", frame.samples[name]), ("predicted clean", frame.pred_x0[name])):
            draw.text((x, 2), f"{TITLES[name]}: {label}", fill="#111", font=font(13))
            canvas.paste(tensor_image(tensor.clamp(-1, 1), scale), (x, 22))
            x += size + gap
        x += 10
    draw.text((4, size + 24), f"step {frame.step}/{frame.num_steps} (t = {frame.t})", fill="#444", font=font(12))
    return canvas


def frame_strip(frames: list[ReverseFrame], count: int = 8) -> Image.Image:
    """`count` evenly spaced samples of each model's trajectory, one row per model."""
    picks = [frames[round(i)] for i in np.linspace(0, len(frames) - 1, min(count, len(frames)))]
    size = picks[0].samples["unet"].shape[-1] * 2
    label_w, gap = 90, 4
    canvas = Image.new("RGB", (label_w + len(picks) * (size + gap), 2 * (size + 18) + 4), "white")
    draw = ImageDraw.Draw(canvas)
    for row, name in enumerate(("naive", "unet")):
        y = row * (size + 18)
        draw.text((4, y + size // 2 + 8), TITLES[name], fill="#111", font=font(12))
        for column, frame in enumerate(picks):
            x = label_w + column * (size + gap)
            if row == 0:
                draw.text((x, 0), f"t={frame.t}", fill="#555", font=font(10))
            canvas.paste(tensor_image(frame.samples[name].clamp(-1, 1), 2), (x, y + 16))
    return canvas


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
