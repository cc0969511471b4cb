"""The lesson's claims that need a view of their own, each a small function of (image, t, seed) or of the models.

- scales: how much of skip1's and of the upsampled path's power lies in the high band (defined on the chart), and
  the image's signal-to-noise ratio per spatial frequency against t ("noise drowns the fine detail first");
- detail: where the naive CNN's clean-image estimate loses detail: its error on edge pixels against flat ones,
  and a zoom on the image's busiest patch;
- windows: the naive CNN's and the U-Net's windows as a share of the image at 64, 256 and 512 px;
- shift: the predicted noise moved by one pixel, and what x̂₀ and the ε-MSE become;
- accumulation: the held-out DDIM trajectories against the ideal one (explorer/analysis/accumulation.py).

Each returns its numbers and the sentences that show them; the Part-by-part tab and the lesson steps print
the same sentences, so a number reads the same in both places.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch
from PIL import Image

from explorer.analysis import accumulation as accumulation_analysis
from explorer.analysis.denoise import predict
from explorer.analysis.metrics import INNER_TIMESTEPS
from explorer.analysis.spectrum import HIGH_FREQUENCY_FRACTION, normalised_power, radial_power
from explorer.data import to_uint8
from explorer.emoji_names import on_image
from explorer.formatting import HELD_OUT, THIS_IMAGE, db, db_change, mse, share, times, with_interval
from explorer.metrics import Metrics
from explorer.model_card import verdict_line
from explorer.study import findings
from explorer.views import denoising, levels
from explorer.views.context import Context

WINDOW_SIZES = (64, 256, 512)
EDGE_SHARE = 0.15  # the busiest 15 % of pixels (by the clean image's gradient) count as edges
ZOOM = 16  # side of the zoomed patch, in pixels
PLOT_LAYOUT = {"paper_bgcolor": "white", "plot_bgcolor": "white", "margin": {"l": 60, "r": 20, "t": 40, "b": 60}}
AXIS = {"gridcolor": "#ebf0f8", "zeroline": False}
COLOURS = {"naive": "#757575", "unet": "#2c6fad", "skip1": "#d9822b", "dec1.up": "#2c6fad"}
T_COLOURS = ("#1b9e77", "#66a61e", "#e6ab02", "#d95f02", "#7570b3")


def log_axis(title: str, decades: bool = True) -> dict:
    """A log axis that labels powers of ten only (1, 10, 100 or 0.01, 0.1, 1), never "2, 5"."""
    axis = {**AXIS, "type": "log", "title": {"text": title}}
    if decades:
        axis.update(dtick=1, tickformat="~g")
    return axis


# ---------------------------------------------------------------- scales

@dataclass
class ScalesView:
    image: str
    t: int
    cutoff: float  # cycles per image: the high band starts above this
    frequencies: list[float]
    power: dict[str, list[float]]  # map name → share of its power per ring
    high: dict[str, float]  # map name → share of its power in the high band
    bottleneck_cycles: int
    snr_frequencies: list[float]
    snr_db: dict[int, list[float]]  # t → SNR per ring in dB (image power ᾱ P_x / noise power (1-ᾱ) P_ε)
    finest_above: dict[int, float | None]  # t → highest frequency still at or above 0 dB (None: none)
    noise_flatness: float  # noise power in the top band / in the bottom band (1 for white noise)


def scales_view(ctx: Context, stem: str, image: np.ndarray, t: int, seed: int) -> ScalesView:
    outputs = levels.record_levels(ctx, image, t, seed)
    cutoff = HIGH_FREQUENCY_FRACTION * ctx.image_size / 2
    power, high = {}, {}
    for name in ("skip1", "dec1.up"):
        frequencies, shares = normalised_power(outputs[name][0])
        power[name] = shares.tolist()
        high[name] = float(shares[frequencies > cutoff].sum())
    x0, _, eps = ctx.x_t(image, t, seed)
    snr_frequencies, image_power = radial_power(x0[0])
    _, noise_power = radial_power(eps[0])
    snr_db, finest = {}, {}
    for step in INNER_TIMESTEPS:
        alpha_bar = float(ctx.diffusion.alphas_cumprod[step])
        ratio = alpha_bar * image_power / ((1 - alpha_bar) * noise_power)
        values = (10 * torch.log10(ratio.clamp(min=1e-12))).tolist()
        snr_db[step] = values
        above = [f for f, v in zip(snr_frequencies.tolist(), values) if v >= 0]
        finest[step] = max(above) if above else None
    quarter = max(1, len(noise_power) // 4)
    flatness = float(noise_power[-quarter:].mean() / noise_power[:quarter].mean())
    return ScalesView(stem, t, cutoff, frequencies.tolist(), power, high,
                      ctx.spec("mid.res2").output_shape[-1] // 2, snr_frequencies.tolist(), snr_db, finest, flatness)


def level_sizes(ctx: Context) -> tuple[list[int], list[int], int]:
    """The map sizes each network works at, from the models' shapes: (the naive CNN's, largest first; the U-Net's
    encoder levels; its bottleneck's)."""
    naive_sizes = sorted({spec.output_shape[-1] for spec in ctx.naive_specs}, reverse=True)
    unet_sizes = [ctx.spec(f"enc{level}").output_shape[-1] for level in range(1, ctx.pair.unet.config.num_levels + 1)]
    return naive_sizes, unet_sizes, ctx.spec("mid.res2").output_shape[-1]


def levels_sentence(ctx: Context) -> str:
    """At what sizes each network works (`level_sizes`), in words."""
    naive_sizes, unet_sizes, bottleneck = level_sizes(ctx)
    return (f"The naive CNN's {len(ctx.naive_specs)} layers "
            + (f"all work at {naive_sizes[0]}×{naive_sizes[0]}." if len(naive_sizes) == 1 else
               f"work at {', '.join(map(str, naive_sizes))} pixels.")
            + f" The U-Net's levels work at {', '.join(f'{n}×{n}' for n in unet_sizes)} and its bottleneck at "
              f"{bottleneck}×{bottleneck}, where a map can hold at most {bottleneck // 2} cycles per image: only "
              "the coarsest patterns.")


def scales_sentence(view: ScalesView) -> str:
    skip, up = view.high["skip1"], view.high["dec1.up"]
    return (f"Measured {on_image(view.image)}, at t = {view.t}: {share(skip)} of skip1's power lies in the "
            f"high band (above {view.cutoff:g} cycles per image, shaded on the chart), against {share(up)} for the "
            "upsampled path it joins (dec1.up): "
            + ("the skip brings fine detail that the coarse path has lost." if skip > up else
               "here the upsampled path carries at least as much fine detail as the skip."))


def snr_sentence(view: ScalesView) -> str:
    def finest(step: int) -> str:
        value = view.finest_above[step]
        return "no frequency at all" if value is None else f"up to {value:g} cycles per image"

    listed = "; ".join(f"t = {step}: {finest(step)}" for step in INNER_TIMESTEPS)
    return (f"The added noise is white: on this draw its power in the finest quarter of frequencies is "
            f"{times(view.noise_flatness)} its power in the coarsest quarter. So the lesson's \"at large t the signal "
            "is dominated by low-frequency noise\" is not right as written: the noise is as strong at every "
            "frequency. What holds is that an image's own power falls with frequency, so the noise drowns its fine "
            f"detail first. Where the image still stands above the noise, {on_image(view.image)}: {listed}. "
            f"The bottleneck can hold at most {view.bottleneck_cycles} cycles per image, "
            "the coarse patterns that survive longest; skip1 carries the fine ones, which only small t leaves "
            "readable.")


def scales_figure(view: ScalesView) -> dict:
    data = [{"type": "scatter", "mode": "lines+markers", "x": view.frequencies, "y": view.power[name],
             "name": f"{name}: {share(view.high[name])} in the high band", "line": {"color": COLOURS[name]},
             "hovertemplate": f"{name}<br>%{{x}} cycles: %{{y:.3g}} of the power<extra></extra>"}
            for name in ("skip1", "dec1.up")]
    layout = {**PLOT_LAYOUT, "height": 340, "legend": {"orientation": "h", "y": -0.3},
              "title": {"text": f"Share of each map's power per frequency ({THIS_IMAGE}, t = {view.t})",
                        "font": {"size": 14}},
              "xaxis": {**AXIS, "title": {"text": "frequency, cycles per image"}},
              "yaxis": log_axis("share of the map's power"),
              "shapes": [{"type": "rect", "xref": "x", "yref": "paper", "x0": view.cutoff, "x1": max(view.frequencies),
                          "y0": 0, "y1": 1, "fillcolor": "#f3d9c0", "opacity": 0.35, "line": {"width": 0},
                          "layer": "below"}],
              "annotations": [{"text": f"high band: above {view.cutoff:g} cycles", "x": view.cutoff, "xref": "x",
                               "xanchor": "left", "y": 1.0, "yref": "paper", "showarrow": False}]}
    return {"data": data, "layout": layout}


def snr_figure(view: ScalesView) -> dict:
    data = [{"type": "scatter", "mode": "lines", "x": view.snr_frequencies, "y": view.snr_db[step],
             "name": f"t = {step}", "line": {"color": colour},
             "hovertemplate": f"t = {step}<br>%{{x}} cycles: %{{y:.1f}} dB<extra></extra>"}
            for step, colour in zip(INNER_TIMESTEPS, T_COLOURS)]
    layout = {**PLOT_LAYOUT, "height": 340, "legend": {"orientation": "h", "y": -0.3},
              "title": {"text": f"Image against noise per frequency ({THIS_IMAGE})", "font": {"size": 14}},
              "xaxis": {**AXIS, "title": {"text": "frequency, cycles per image"}},
              "yaxis": {**AXIS, "title": {"text": "signal-to-noise ratio in dB (0: equal)"}},
              "shapes": [{"type": "line", "xref": "paper", "x0": 0, "x1": 1, "y0": 0, "y1": 0,
                          "line": {"color": "#b23a48", "dash": "dot"}}]}
    return {"data": data, "layout": layout}


# ---------------------------------------------------------------- detail

@dataclass
class DetailView:
    image: str
    t: int
    edge_error: dict[str, float]  # model → mean |x̂₀ − x₀| on edge pixels
    flat_error: dict[str, float]  # model → the same on the other pixels
    psnr: dict[str, float]
    patch: tuple[int, int]  # (y, x) of the zoomed patch's top-left corner
    crops: dict[str, np.ndarray]  # "clean", "naive", "unet" → (ZOOM, ZOOM, 3) uint8


def edge_mask(x0: torch.Tensor, share_of_pixels: float = EDGE_SHARE) -> torch.Tensor:
    """(H, W) bool: the pixels where the clean image x0 (1, 3, H, W) changes fastest."""
    image = x0[0].mean(0)
    dy = torch.zeros_like(image)
    dx = torch.zeros_like(image)
    dy[1:-1] = (image[2:] - image[:-2]) / 2
    dx[:, 1:-1] = (image[:, 2:] - image[:, :-2]) / 2
    magnitude = (dy ** 2 + dx ** 2).sqrt()
    threshold = torch.quantile(magnitude.flatten(), 1 - share_of_pixels)
    return magnitude > max(float(threshold), 1e-6)


def detail_view(ctx: Context, stem: str, image: np.ndarray, t: int, seed: int) -> DetailView:
    comparison = denoising.compare(ctx, image, t, seed)
    edges = edge_mask(comparison.x0)
    edge_error, flat_error, psnr = {}, {}, {}
    for name in ("naive", "unet"):
        error = (comparison.predictions[name].x0_hat[0] - comparison.x0[0]).abs().mean(0)  # (H, W)
        edge_error[name] = float(error[edges].mean()) if edges.any() else 0.0
        flat_error[name] = float(error[~edges].mean())
        psnr[name] = comparison.predictions[name].psnr
    # The busiest ZOOM×ZOOM patch: the most edge pixels.
    counts = torch.nn.functional.avg_pool2d(edges[None, None].float(), ZOOM, stride=4)[0, 0]
    row, column = divmod(int(torch.argmax(counts)), counts.shape[1])
    y, x = row * 4, column * 4
    crops = {"clean": to_uint8(comparison.x0[0])[y:y + ZOOM, x:x + ZOOM]}
    for name in ("naive", "unet"):
        crops[name] = to_uint8(comparison.predictions[name].x0_hat[0])[y:y + ZOOM, x:x + ZOOM]
    return DetailView(stem, t, edge_error, flat_error, psnr, (y, x), crops)


def detail_sentence(view: DetailView) -> str:
    naive_edges, unet_edges = view.edge_error["naive"], view.edge_error["unet"]
    naive_flat, unet_flat = view.flat_error["naive"], view.flat_error["unet"]
    edge_ratio = naive_edges / max(unet_edges, 1e-12)
    flat_ratio = naive_flat / max(unet_flat, 1e-12)
    text = (f"Measured {on_image(view.image)}, at t = {view.t}: on the {share(EDGE_SHARE)} of pixels "
            f"where the clean image changes fastest (its edges), the naive CNN's clean-image estimate is off by "
            f"{mse(naive_edges)} on average and the U-Net's by {mse(unet_edges)} ({times(edge_ratio)}); on the "
            f"other pixels by {mse(naive_flat)} and {mse(unet_flat)} ({times(flat_ratio)}). ")
    if edge_ratio > flat_ratio and edge_ratio > 1:
        text += "The naive CNN loses most where the detail is: along the edges."
    elif edge_ratio > 1:
        text += "The naive CNN is worse everywhere, and not more so along the edges."
    else:
        text += "Here the naive CNN does not lose more along the edges than the U-Net."
    return text


def detail_verdict(view: DetailView) -> str:
    """What this image says about "a plain stack loses fine detail": agrees when the naive CNN is worse along the
    edges than on the flat parts (relative to the U-Net), partly when it is only worse everywhere."""
    edge_ratio = view.edge_error["naive"] / max(view.edge_error["unet"], 1e-12)
    flat_ratio = view.flat_error["naive"] / max(view.flat_error["unet"], 1e-12)
    return "agrees" if edge_ratio > flat_ratio and edge_ratio > 1 else "partly" if edge_ratio > 1 else "disagrees"


def detail_heldout_sentence(metrics: Metrics, t: int) -> str:
    """Both networks' x̂₀ PSNR over the held-out images at t, and their paired difference, each with its interval
    ("" where the file has no such t)."""
    if not metrics.has("models") or t not in metrics.timesteps:
        return ""
    gap, gap_bounds = metrics.psnr_gap(t)
    unet, naive = (with_interval(metrics.psnr(name, t), metrics.psnr_interval(name, t), db)
                   for name in ("unet", "naive"))
    return (f"Over the whole picture ({HELD_OUT}, {metrics.images or '?'} images, t = {t}), the U-Net's x̂₀ scores "
            f"{unet} and the naive CNN's {naive}: a difference of {with_interval(gap, gap_bounds, db_change)}, with "
            "the images paired.")


def detail_markdown(view: DetailView, study=None, metrics=None) -> str:
    """The tab's words for the detail view: the verdict the Lesson step prints (with the trained alternatives'
    answer from `study`, the study's results, where it has one), this image's numbers and the held-out average at
    this t (from `metrics`, weights/metrics.json), the trained comparison."""
    trained = None if study is None else findings.detail_at_small_t(study)
    line = verdict_line(detail_verdict(view), None if trained is None else findings.IN_LESSON_WORDS[trained.verdict])
    heldout = detail_heldout_sentence(Metrics.of(metrics), view.t)
    return (f"{line} {detail_sentence(view)}" + (f"\n\n{heldout}" if heldout else "")
            + ("" if trained is None else f"\n\n*Trained alternatives ({trained.claim.without} against "
                                          f"{trained.claim.with_}):* {trained.sentence()}"))


def detail_images(view: DetailView, scale: int = 8) -> list[tuple[str, Image.Image]]:
    titles = {"clean": "x₀, the clean image", "naive": "naive CNN's x̂₀", "unet": "U-Net's x̂₀"}
    y, x = view.patch
    return [(f"{titles[name]} (pixels {y}–{y + ZOOM - 1} down, {x}–{x + ZOOM - 1} across)",
             Image.fromarray(crop).resize((ZOOM * scale, ZOOM * scale), Image.NEAREST))
            for name, crop in view.crops.items()]


# ---------------------------------------------------------------- windows

@dataclass
class WindowsView:
    naive: int  # the naive CNN's window side, pixels
    unet_levels: dict[str, int]  # U-Net block → its window side in pixels (convolutions only)
    unet_global_via: tuple[str, ...]
    sizes: tuple[int, ...]

    def fraction(self, side: int, size: int) -> float:
        """The window's area as a share of a size×size image."""
        return min(side, size) ** 2 / size ** 2


def windows_view(ctx: Context) -> WindowsView:
    """From the architecture alone: the theoretical window of the naive CNN's output and of each U-Net level."""
    naive_last = ctx.naive_specs[-1].name
    levels_ = {}
    for level in range(1, ctx.pair.unet.config.num_levels + 1):
        field = ctx.fields.get(f"enc{level}")
        if field is not None and field.size is not None:
            levels_[f"enc{level}"] = int(field.size)
    mid = ctx.fields.get("mid.res1")
    if mid is not None and mid.size is not None:
        levels_["mid.res1"] = int(mid.size)
    last = ctx.fields[ctx.unet_specs[-1].name]
    return WindowsView(int(ctx.fields[naive_last].size), levels_, tuple(last.global_via), WINDOW_SIZES)


def windows_markdown(view: WindowsView) -> str:
    head = "| window | side | " + " | ".join(f"{n}×{n}" for n in view.sizes) + " |"
    lines = ["Each window's side in pixels, and the share of an image of each size it covers (the U-Net's rows "
             "count its convolutions only):", "",
             head, "|---|---:|" + "---:|" * len(view.sizes)]
    rows = [("naive CNN output", view.naive)] + [(f"U-Net {name}", side)
                                                      for name, side in view.unet_levels.items()]
    for name, side in rows:
        lines.append(f"| {name} | {side}×{side} | " + " | ".join(share(view.fraction(side, n)) for n in view.sizes)
                     + " |")
    big = view.sizes[-1]
    lines += ["", f"Computed from the architecture, no image needed: a convolution's window is a fixed number of "
              f"pixels, so the naive CNN's {view.naive}×{view.naive} covers {share(view.fraction(view.naive, 64))} "
              f"of a 64×64 emoji and only {share(view.fraction(view.naive, big))} of a {big}×{big} picture. "
              "Each U-Net level halves the resolution, so the same 3×3 kernels cover more pixels the deeper they sit"
              + (f"; on top of that, {' and '.join(view.unet_global_via)} reach every pixel at any size."
                 if view.unet_global_via else ".")]
    return "\n".join(lines)


# ---------------------------------------------------------------- off by one

@dataclass
class ShiftView:
    image: str
    t: int
    intact_mse: float
    shifted_mse: float
    intact_psnr: float
    shifted_psnr: float
    zero_mse: float  # predicting no noise at all
    x0_hat: dict[str, np.ndarray]  # "aligned", "shifted" → (H, W, 3) uint8


def shift_view(ctx: Context, stem: str, image: np.ndarray, t: int, seed: int) -> ShiftView:
    """The U-Net's ε̂ as it is, and moved one pixel to the right (the last column wraps round)."""
    x0, x_t, eps = ctx.x_t(image, t, seed)
    prediction = predict(ctx.pair.unet, ctx.diffusion, x_t, t, x0, eps)
    shifted_eps = torch.roll(prediction.eps_hat, shifts=1, dims=-1)  # (1, 3, H, W)
    t_batch = torch.tensor([t])
    shifted_x0 = ctx.diffusion.predict_x0(x_t, t_batch, shifted_eps)
    shifted_mse = float((shifted_eps - eps).pow(2).mean())
    shifted_psnr = float(10 * torch.log10(4 / (shifted_x0 - x0).pow(2).mean().clamp(min=1e-12)))
    return ShiftView(stem, t, prediction.eps_mse, shifted_mse, prediction.psnr, shifted_psnr,
                     float(eps.pow(2).mean()),
                     {"aligned": to_uint8(prediction.x0_hat[0]), "shifted": to_uint8(shifted_x0[0])})


def shift_sentence(view: ShiftView) -> str:
    return (f"Measured {on_image(view.image)}, at t = {view.t}: the U-Net's predicted noise scores an "
            f"ε-MSE of {mse(view.intact_mse)} and its x̂₀ {db(view.intact_psnr)}. Moved one pixel to the right, the "
            f"same prediction scores {mse(view.shifted_mse)} ({times(view.shifted_mse / max(view.intact_mse, 1e-12))})"
            f" and x̂₀ {db(view.shifted_psnr)}; predicting no noise at all would score {mse(view.zero_mse)}. "
            + ("One pixel off is worse than not predicting at all: the noise is different at every pixel, so a "
               "prediction is worth only as much as its alignment." if view.shifted_mse > view.zero_mse else
               "One pixel off throws away most of what the prediction was worth."))


# ---------------------------------------------------------------- accumulation (held-out)

def accumulation_results(ctx: Context) -> dict | None:
    sha = {"unet": ctx.pair.unet_meta.get("sha256"), "naive": ctx.pair.naive_meta.get("sha256")}
    return accumulation_analysis.load(ctx.pair.directory, sha)


def accumulation_values(results: dict) -> dict:
    """The numbers the sentence quotes: per model [mean, low, high] (as the file keeps them), and beside each quoted
    mean its 95 % interval as `<name>_ci95`; `naive_over_unet_*`: the paired ratios (None in an older file)."""
    steps = str(results["detail_steps"])
    out = {"t": results["t_start"], "steps": results["detail_steps"], "images": results["images"]}
    for name in ("unet", "naive"):
        model = results["models"][name]
        detail = model["detail"]
        out[name] = {"first_gap": detail["gap"][0], "final": model["final"][steps]["mean"],
                     "jump": model["final"]["1"]["mean"], "added": detail["added"],
                     "largest_one_step": max(row[0] for row in detail["one_step"]),
                     "compounded_share": detail["compounded_share"]}
        for key in ("first_gap", "final", "jump", "added"):
            out[name][f"{key}_mean"], out[name][f"{key}_mean_ci95"] = out[name][key][0], tuple(out[name][key][1:])
    paired = results.get("naive_over_unet") or {}
    for key in ("first_gap", "final"):
        if key in paired:
            out[f"naive_over_unet_{key}"] = paired[key]["ratio"]
            out[f"naive_over_unet_{key}_ci95"] = tuple(paired[key]["ci95"])
        else:  # the ratio of the means, with no interval
            out[f"naive_over_unet_{key}"] = out["naive"][key][0] / out["unet"][key][0]
            out[f"naive_over_unet_{key}_ci95"] = None
    return out


def accumulation_sentence(results: dict) -> tuple[str, str]:
    """The held-out accumulation in words, and its verdict on the lesson's claim (agrees | partly | disagrees)."""
    v = accumulation_values(results)
    unet, naive = v["unet"], v["naive"]

    def quote(m: dict, key: str) -> str:
        return with_interval(m[f"{key}_mean"], m[f"{key}_mean_ci95"])

    def model(name: str, m: dict) -> str:
        return (f"the {name}'s path is {quote(m, 'first_gap')} off the ideal one after the first step and "
                f"{quote(m, 'final')} at the end; its {v['steps']} one-step errors add up to {quote(m, 'added')}, "
                f"and a single jump straight to x̂₀ ends {quote(m, 'jump')} off")

    def paired(key: str) -> str:
        return with_interval(v[f"naive_over_unet_{key}"], v[f"naive_over_unet_{key}_ci95"], times)

    text = (f"{HELD_OUT.capitalize()} over the first {v['images']} held-out images, {v['steps']} DDIM steps from "
            f"t = {v['t']} (root-mean-square distance per pixel, images on −1 to 1): {model('U-Net', unet)}; "
            f"{model('naive CNN', naive)}. ")
    grows = unet["final"][0] > unet["first_gap"][0] and naive["final"][0] > naive["first_gap"][0]
    compounds = unet["final"][0] > unet["added"][0] or naive["final"][0] > naive["added"][0]
    widens = v["naive_over_unet_final"] > v["naive_over_unet_first_gap"]
    text += ("The error does pile up over the steps. " if grows else "The error does not pile up over the steps. ")
    text += (f"But it does not compound: the end gap stays below the sum of the one-step errors (it grew beyond it "
             f"on {share(unet['compounded_share'])} of images for the U-Net, {share(naive['compounded_share'])} for "
             "the naive CNN), and many small steps end no further off than one jump. " if not compounds else
             "It compounds: the end gap exceeds the sum of the one-step errors. ")
    text += ("The naive CNN's disadvantage grows along the way" if widens else
             "The naive CNN's disadvantage does not grow along the way")
    text += (f": with images paired, its path is {paired('first_gap')} as far off as the U-Net's after the first "
             f"step and {paired('final')} at the end.")
    verdict = "agrees" if grows and compounds and widens else "partly" if grows else "disagrees"
    return text, verdict


def accumulation_figure(results: dict | None) -> dict:
    if not results:
        return {"data": [], "layout": {**PLOT_LAYOUT, "height": 120, "xaxis": {"visible": False},
                                       "yaxis": {"visible": False},
                                       "title": {"text": "Held-out trajectories: not computed yet for these weights "
                                                         "(weights/accumulation.json is missing)",
                                                 "font": {"size": 14}}}}
    data = []
    for name, title in (("unet", "U-Net"), ("naive", "naive CNN")):
        detail = results["models"][name]["detail"]
        steps = list(range(1, len(detail["gap"]) + 1))
        running = np.cumsum([row[0] for row in detail["one_step"]]).tolist()
        low = [row[1] for row in detail["gap"]]
        high = [row[2] for row in detail["gap"]]
        data += [
            {"type": "scatter", "mode": "lines", "x": steps + steps[::-1], "y": high + low[::-1], "fill": "toself",
             "fillcolor": COLOURS[name], "opacity": 0.15, "line": {"width": 0}, "showlegend": False,
             "hoverinfo": "skip"},
            {"type": "scatter", "mode": "lines+markers", "x": steps, "y": [row[0] for row in detail["gap"]],
             "name": f"{title}: off the ideal path so far", "line": {"color": COLOURS[name], "width": 3},
             "hovertemplate": f"{title}, after step %{{x}}: %{{y:.4f}}<extra></extra>"},
            {"type": "scatter", "mode": "lines", "x": steps, "y": running,
             "name": f"{title}: its one-step errors added",
             "line": {"color": COLOURS[name], "dash": "dot"},
             "hovertemplate": f"{title}, steps 1 to %{{x}} added: %{{y:.4f}}<extra></extra>"}]
    layout = {**PLOT_LAYOUT, "height": 380, "legend": {"orientation": "h", "y": -0.3},
              "title": {"text": f"{HELD_OUT.capitalize()} of {results['images']} images, from t = {results['t_start']}"
                                f" (band: 95 % interval over images)", "font": {"size": 14}},
              "xaxis": {**AXIS, "title": {"text": "DDIM step"}},
              "yaxis": {**AXIS, "title": {"text": "distance to the ideal path (RMS per pixel)"}}}
    return {"data": data, "layout": layout}


# ---------------------------------------------------------------- which held-out image is this?

_stems: dict[int, dict[str, str]] = {}


def stem_of(ctx: Context, image: np.ndarray) -> str | None:
    """The held-out example `image` is, by its fingerprint, or None (an upload)."""
    from explorer.data import image_digest

    key = id(ctx)
    if key not in _stems:
        _stems[key] = {image_digest(ctx.image(path)): path.stem for path in ctx.examples}
    return _stems[key].get(image_digest(image))
