"""Part by part: the lesson's claims about each part of the U-Net, measured.

Five views, each live for the current image, t and seed, with the held-out numbers from
weights/metrics.json beside them where `python -m explorer.evaluate` has written them:
gradient highways, the two halves of each concatenation, the bottleneck and the skips across t,
attention maps, and time conditioning. The Markdown tables here are also what the evaluation
writes into the model card.
"""
from __future__ import annotations

import base64
import html
import io
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

import numpy as np
import torch
from PIL import Image, ImageDraw

from explorer.analysis import attention as attention_analysis
from explorer.analysis import concat as concat_analysis
from explorer.analysis import timecond
from explorer.analysis.denoise import make_noise, predict
from explorer.analysis.gradients import GradientNorms, gradient_norms
from explorer.analysis.numbers import HELD_OUT, added, mse, ratio, times
from explorer.data import image_digest, to_tensor
from explorer.diffusion import NUM_TIMESTEPS
from explorer.probe import Probe, wrong_timestep
from explorer.render import colorize, enlarge, noise_image, tensor_image
from explorer.views.context import Context
from explorer.views.memo import Memo

GRADIENT_BATCH = 4  # noise draws of the current image per gradient variant (4 variants: 16 samples in all)
PICK_SCALE = 4  # the attention picker shows x_t enlarged this many times (clicks divide exactly)
MAP_SCALE = 3  # attention maps and noise pictures: enlarged this many times on the server
NOT_COMPUTED = "not computed yet for these weights"
PLOT_LAYOUT = {"paper_bgcolor": "white", "plot_bgcolor": "white", "margin": {"l": 60, "r": 20, "t": 40, "b": 60}}
AXIS = {"gridcolor": "#ebf0f8", "zeroline": False}
COLOURS = {"trained": "#2c6fad", "fresh": "#9a9a9a", "bottleneck bypassed": "#b23a48", "attention off": "#7b4fa0",
           "skip1 cut": "#d9822b", "skip2 cut": "#e0a458", "skip3 cut": "#6aa56e", "skip4 cut": "#2e7d5b"}
LEVEL_COLOURS = {"skip_zero": "#d9822b", "skip_mean": "#e0a458", "up_zero": "#2c6fad", "up_mean": "#79a6d2"}
VARIANT_TITLES = {"skip_zero": "skip half → 0", "skip_mean": "skip half → its mean",
                  "up_zero": "upsampled half → 0", "up_mean": "upsampled half → its mean"}
BOTTLENECK_ROWS = ("bottleneck bypassed", "skip1 cut", "skip2 cut", "skip3 cut", "skip4 cut", "attention off")


# ---------------------------------------------------------------- shared helpers

def png_html(image: Image.Image, alt: str, scale: int = MAP_SCALE) -> str:
    """An <img> holding `image` as a small inline PNG, shown `scale` times larger with sharp pixels."""
    buffer = io.BytesIO()
    image.save(buffer, format="PNG")
    data = base64.b64encode(buffer.getvalue()).decode("ascii")
    return (f'<img src="data:image/png;base64,{data}" alt="{html.escape(alt)}" width="{image.width * scale}" '
            f'height="{image.height * scale}" style="image-rendering: pixelated; max-width: none;">')


def figures_html(items: list[tuple[str, Image.Image]], elem_class: str, scale: int = MAP_SCALE) -> str:
    """Images in a row, each enlarged `scale` times by the browser, with its caption in HTML (not in the picture)."""
    figures = "".join(
        f'<figure class="{elem_class}" style="margin: 0 12px 8px 0; display: inline-block; vertical-align: top;">'
        f"{png_html(image, caption, scale)}"
        f"<figcaption style=\"font-size: 0.85em; max-width: {image.width * scale}px;\">"
        f"{html.escape(caption)}</figcaption></figure>" for caption, image in items)
    return f'<div style="display: flex; flex-wrap: wrap;">{figures}</div>'


_times = times  # the one ratio format (explorer/analysis/numbers.py)


def _noise_batch(seed: int, count: int, shape: tuple[int, ...]) -> torch.Tensor:
    """ε for seeds seed, seed + 1, …: the first is the app's own ε for `seed`. (count, *shape)."""
    return torch.cat([make_noise(seed + index, (1, *shape)) for index in range(count)])


def _empty_figure(title: str) -> dict:
    """A figure with only its title, where a measurement is missing (no empty axes to puzzle over)."""
    return {"data": [], "layout": {**PLOT_LAYOUT, "height": 120, "title": {"text": title, "font": {"size": 14}},
                                   "xaxis": {"visible": False}, "yaxis": {"visible": False}}}


def _log_axis(title: str) -> dict:
    """Ticks at powers of ten only (0.1, 1, 10 …): a tick "5" between them reads as a value."""
    return {**AXIS, "type": "log", "title": {"text": title}, "dtick": 1, "tickformat": "~g"}


# ---------------------------------------------------------------- 1. gradient highways

@dataclass
class GradientView:
    t: int
    batch: int
    trained: GradientNorms
    fresh: GradientNorms


def gradients(ctx: Context, image: np.ndarray, t: int, seed: int, batch: int = GRADIENT_BATCH) -> GradientView:
    """One backward pass per variant (trained/fresh × skips intact/cut) on `batch` noise draws of the image at t.

    The trained and the fresh U-Net run in two threads (torch releases the GIL, and each pass has its own
    graph): on two cores the four passes cost about two.
    """
    x0 = to_tensor(image)[None].expand(batch, -1, -1, -1)  # (B, 3, H, W)
    eps = _noise_batch(seed, batch, tuple(x0.shape[1:]))
    with ThreadPoolExecutor(max_workers=2) as pool:
        trained = pool.submit(gradient_norms, ctx.pair.unet, ctx.diffusion, x0, eps, t)
        fresh = pool.submit(gradient_norms, ctx.pair.unet, ctx.diffusion, x0, eps, t, fresh=True)
        return GradientView(t, batch, trained.result(), fresh.result())


def enc1_ratio(blocks: list[str], intact: list[float], cut: list[float], block: str = "enc1") -> float:
    """How many times smaller `block`'s gradient is with skips cut, each measured relative to `out`."""
    out, index = blocks.index("out"), blocks.index(block)
    return (intact[index] / intact[out]) / (cut[index] / cut[out])


def enc1_sentence(blocks: list[str], intact: list[float], cut: list[float], which: str) -> str:
    ratio = enc1_ratio(blocks, intact, cut)
    size = f"**{ratio:.1f}× smaller**" if ratio >= 1 else f"**{1 / ratio:.1f}× larger**"
    return f"{which}: with skips cut, the gradient reaching enc1 is {size} (relative to the output head `out`)."


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
    section = (metrics or {}).get("gradients")
    if not section:
        return _empty_figure("Held-out images: " + NOT_COMPUTED)
    return gradient_figure(_gradient_series(section["blocks"], section["trained"], section["random_init"]),
                           f"Held-out: {section['images']} images, t spread over "
                           f"{', '.join(map(str, section['timesteps']))}")


def gradients_markdown(view: GradientView, metrics: dict | None) -> str:
    blocks = view.trained.blocks
    lines = [enc1_sentence(blocks, view.trained.norms["intact"], view.trained.norms["skips_cut"],
                           f"This image, trained weights (t = {view.t})"),
             enc1_sentence(blocks, view.fresh.norms["intact"], view.fresh.norms["skips_cut"],
                           "This image, freshly initialised U-Net")]
    section = (metrics or {}).get("gradients")
    if section:
        lines += [gradients_heldout_sentences(section)]
    else:
        lines.append(f"Held-out summary: {NOT_COMPUTED}.")
    loss_cut, loss_intact = view.trained.loss["skips_cut"], view.trained.loss["intact"]
    lines.append(f"Cutting every skip raises this batch's noise error from {loss_intact:.4f} to {loss_cut:.4f}, so "
                 "every gradient grows with it; dividing by the gradient at `out` compares where the signal goes, "
                 "not how large the error is.")
    return "\n\n".join(lines)


def gradients_heldout_sentences(section: dict) -> str:
    blocks = section["blocks"]
    trained = enc1_sentence(blocks, section["trained"]["intact"], section["trained"]["skips_cut"],
                            f"Held-out ({section['images']} images), trained")
    fresh = enc1_sentence(blocks, section["random_init"]["intact"], section["random_init"]["skips_cut"],
                          "held-out, fresh init")
    return f"{trained} {fresh[0].upper()}{fresh[1:]}"


def gradients_table(section: dict) -> str:
    """Model-card table: per-block norm relative to `out`, four columns."""
    blocks = section["blocks"]
    columns = [("trained, intact", section["trained"]["intact"]),
               ("trained, skips cut", section["trained"]["skips_cut"]),
               ("fresh, intact", section["random_init"]["intact"]),
               ("fresh, skips cut", section["random_init"]["skips_cut"])]
    lines = ["| block | " + " | ".join(name for name, _ in columns) + " |", "|---|" + "---:|" * len(columns)]
    for index, block in enumerate(blocks):
        cells = [f"{values[index] / values[blocks.index('out')]:.3g}" for _, values in columns]
        lines.append(f"| {block} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


# ---------------------------------------------------------------- 2. concatenation

def concat_live(ctx: Context, image: np.ndarray, t: int, seed: int) -> dict[int, dict[str, float]]:
    _, x_t, eps = ctx.x_t(image, t, seed)
    return concat_analysis.concat_errors(ctx.pair.unet, x_t, t, eps)


_measured = Memo(32)


def measured_parts(ctx: Context, image: np.ndarray, t: int, seed: int) -> tuple[GradientView, dict, dict]:
    """The tab's three measured parts for this image, t and seed: gradients, concatenation halves, knock-outs
    (kept: four backward passes and a dozen forward passes, the same for everyone who asks the same)."""
    return _measured.get((id(ctx.pair.unet), image_digest(image), int(t), int(seed)),
                         lambda: (gradients(ctx, image, t, seed), concat_live(ctx, image, t, seed),
                                  bottleneck_live(ctx, image, t, seed)))


def bookkeeping(ctx: Context) -> dict[int, dict[str, int]]:
    return concat_analysis.channels(ctx.pair.unet)


def concat_markdown(ctx: Context, errors: dict[int, dict[str, float]], t: int) -> str:
    """Per decoder level: the channel bookkeeping and the error multipliers for this image at t."""
    channels = bookkeeping(ctx)
    variants = list(VARIANT_TITLES)
    lines = ["| decoder level | what goes in | " + " | ".join(VARIANT_TITLES[v] for v in variants) + " |",
             "|---|---|" + "---:|" * len(variants)]
    for level in sorted(errors, reverse=True):
        c = channels[level]
        row = errors[level]
        cells = [_times(row[v] / row["intact"]) for v in variants]
        lines.append(f"| dec{level} | {c['up'] + c['skip']} = {c['up']} upsampled (dec{level}.up) + {c['skip']} "
                     f"from skip{level}, mixed down to {c['out']} | " + " | ".join(cells) + " |")
    intact = next(iter(errors.values()))["intact"]
    lines += ["", f"Multiples of the intact U-Net's noise error ({intact:.4f}) on this image at t = {t}.",
              "", concat_verdict(errors)]
    return "\n".join(lines)


def concat_verdict(errors: dict[int, dict[str, float]], where: str = "on this image") -> str:
    both = [level for level, row in errors.items()
            if row["skip_mean"] / row["intact"] > 1.1 and row["up_mean"] / row["intact"] > 1.1]
    level1 = errors.get(1)
    text = ""
    if level1:
        text = (f"At dec1, replacing the skip half by its mean costs {_times(level1['skip_mean'] / level1['intact'])} "
                f"and replacing the upsampled half costs {_times(level1['up_mean'] / level1['intact'])} {where}. ")
    used = ", ".join(f"dec{level}" for level in sorted(both, reverse=True)) or "none"
    return text + (f"Levels where both halves matter {where} (each costs more than ×1.1 when replaced by its mean): "
                   f"{used}.")


CONCAT_NOTE = ("Concatenation stacks the two halves side by side, so nothing of either is lost before the level's "
               "first convolution decides how to mix them. The lesson contrasts this with adding them (as ResNet "
               "does); we trained no U-Net with added skips, so there is nothing to compare against here. What the "
               "numbers show is only that this decoder uses both halves. Replacing a half by its own per-channel "
               "mean keeps its values in their usual range, so a large cost there is not an artefact of feeding "
               "the network zeros it never saw.")


def concat_heldout_figure(metrics: dict | None) -> dict:
    section = (metrics or {}).get("concat")
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


def concat_table(section: dict) -> str:
    """Model-card table: multiplier per level, variant and t."""
    timesteps = section["timesteps"]
    lines = ["| level | half replaced | " + " | ".join(f"t = {t}" for t in timesteps) + " |",
             "|---|---|" + "---:|" * len(timesteps)]
    for level in sorted(section["levels"], key=int, reverse=True):
        entry = section["levels"][level]
        c = entry["channels"]
        for variant in VARIANT_TITLES:
            values = entry["eps_mse"][variant]
            lines.append(f"| dec{level} ({c['up']} + {c['skip']} → {c['out']}) | {VARIANT_TITLES[variant]} | "
                         + " | ".join(_times(v / base) for v, base in zip(values, entry["eps_mse"]["intact"])) + " |")
    return "\n".join(lines)


# ---------------------------------------------------------------- 3. the bottleneck and the skips across t

def knockout_probes(levels: int) -> dict[str, Probe]:
    probes = {"intact": Probe(), "bottleneck bypassed": Probe(bypass_mid=True)}
    probes.update({f"skip{level} cut": Probe(zero_skips=frozenset({level})) for level in range(1, levels + 1)})
    probes["attention off"] = Probe(attention=False)
    return probes


def bottleneck_live(ctx: Context, image: np.ndarray, t: int, seed: int) -> dict[str, float]:
    """ε-MSE multiplier (× intact) of each knock-out for this image at t."""
    x0, x_t, eps = ctx.x_t(image, t, seed)
    errors = {name: predict(ctx.pair.unet, ctx.diffusion, x_t, t, x0, eps, probe=probe).eps_mse
              for name, probe in knockout_probes(ctx.pair.unet.config.num_levels).items()}
    return {name: value / errors["intact"] for name, value in errors.items() if name != "intact"}


def multipliers(knockouts: dict) -> dict[str, list[float]]:
    intact = knockouts["eps_mse"]["intact"]
    return {name: [value / base for value, base in zip(values, intact)]
            for name, values in knockouts["eps_mse"].items() if name != "intact"}


def bottleneck_figure(metrics: dict | None, t: int | None = None, live: dict[str, float] | None = None) -> dict:
    knockouts = (metrics or {}).get("knockouts")
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
        layout["title"] = {"text": f"Held-out ({metrics.get('images', '?')} images) and, as crosses, this image",
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


@dataclass(frozen=True)
class NoiseScales:
    """The one verdict on "at large t the bottleneck matters most; at small t, the skips", from the held-out
    knock-out table: the Part-by-part tab and the lesson print the same `text`."""

    text: str
    values: dict
    verdict: str  # agrees | partly | disagrees


def noise_scales(knockouts: dict, images: int | None = None) -> NoiseScales:
    """Both halves of the claim, each judged by the error a knock-out adds (a difference of ε-MSE: a ratio over the
    tiny error of the intact U-Net at large t would blow up) and reported with its ratio beside it."""
    timesteps = list(knockouts["timesteps"])
    rows = knockouts["eps_mse"]
    intact = rows["intact"]
    low, high = timesteps[0], timesteps[-1]

    def costs(name: str) -> tuple[list[float], list[float]]:
        return [v - i for v, i in zip(rows[name], intact)], [ratio(v, i) for v, i in zip(rows[name], intact)]

    bypass_added, bypass_ratio = costs("bottleneck bypassed")
    skip_added, skip_ratio = costs("skip1 cut")
    peak_b = timesteps[int(np.argmax(bypass_added))]
    peak_b_ratio = timesteps[int(np.argmax(bypass_ratio))]
    peak_s = timesteps[int(np.argmax(skip_added))]
    bottleneck_holds = peak_b == high
    skip_holds = peak_s == low
    text = (f"{HELD_OUT.capitalize()} over {images or 'the'} images. Bypassing the bottleneck "
            f"adds {added(bypass_added[0])} to the intact U-Net's ε-MSE at t = {low} ({times(bypass_ratio[0])}) and "
            f"{added(bypass_added[-1])} at t = {high} ({times(bypass_ratio[-1])}); the added error is largest at "
            f"t = {peak_b}, the ratio at t = {peak_b_ratio}. ")
    text += ("So the bottleneck matters most at the largest t, as the lesson says. " if bottleneck_holds else
             f"So, against the lesson, the bottleneck does not matter most at large t: its largest cost is at "
             f"t = {peak_b}. ")
    text += (f"Cutting skip1 adds {added(skip_added[0])} at t = {low} ({times(skip_ratio[0])}) and "
             f"{added(skip_added[-1])} at t = {high} ({times(skip_ratio[-1])}). ")
    text += ("So the finest skip costs the most at small t, as the lesson says" if skip_holds else
             f"So, against the lesson, the finest skip costs the most at t = {peak_s}, not at small t")
    text += (f"; but it breaks the network at every t: at t = {high} its ε-MSE, {mse(rows['skip1 cut'][-1])}, is near "
             "that of predicting no noise at all (the noise's own variance, which is 1 by construction). "
             "The ratio grows with t only "
             f"because the intact error shrinks to {mse(intact[-1])}."
             if skip_ratio[-1] > skip_ratio[0] else ".")
    values = {"timesteps": timesteps, "bottleneck_added": bypass_added, "bottleneck_ratios": bypass_ratio,
              "skip1_added": skip_added, "skip1_ratios": skip_ratio, "bottleneck_peak_t": peak_b,
              "bottleneck_ratio_peak_t": peak_b_ratio, "skip1_peak_t": peak_s}
    verdict = ("agrees" if bottleneck_holds and skip_holds else "disagrees" if not (bottleneck_holds or skip_holds)
               else "partly")
    return NoiseScales(text, values, verdict)


def bottleneck_verdict(knockouts: dict | None, images: int | None = None) -> str:
    """What the held-out knock-out numbers say about the lesson's claim, in words made from the numbers."""
    if not knockouts or "bottleneck bypassed" not in knockouts.get("eps_mse", {}) \
            or "skip1 cut" not in knockouts["eps_mse"]:
        return f"Held-out verdict: {NOT_COMPUTED}."
    result = noise_scales(knockouts, images)
    mark = {"agrees": "✓ agrees with the lesson", "partly": "◑ agrees only in part",
            "disagrees": "✗ disagrees with the lesson"}[result.verdict]
    return f"**Verdict: {mark}.** {result.text}"


def bottleneck_markdown(live: dict[str, float], t: int, metrics: dict | None) -> str:
    cells = " · ".join(f"{name}: **{_times(live[name])}**" for name in BOTTLENECK_ROWS if name in live)
    return (f"This image at t = {t}, as multiples of the intact U-Net's ε-MSE: {cells}.\n\n"
            + bottleneck_verdict((metrics or {}).get("knockouts"), (metrics or {}).get("images")))


# ---------------------------------------------------------------- 4. attention maps

def attention_blocks(ctx: Context) -> list[str]:
    return attention_analysis.attention_blocks(ctx.pair.unet)


def query_cell(ctx: Context, block: str, y: int, x: int) -> tuple[int, int, int]:
    """The block's grid cell under image pixel (y, x), and the block's side."""
    side = attention_analysis.block_resolution(ctx.pair.unet, block)
    return y * side // ctx.image_size, x * side // ctx.image_size, side


def attention_picker(ctx: Context, image: np.ndarray, t: int, seed: int, block: str, y: int, x: int) -> str:
    """x_t for picking a query, enlarged PICK_SCALE times by the browser, with the block's grid and the query's
    cell outlined (an SVG over the picture), as HTML. The page turns a click into (y, x) pixels of x_t."""
    _, x_t, _ = ctx.x_t(image, t, seed)
    picture = tensor_image(x_t)
    cell_y, cell_x, side = query_cell(ctx, block, y, x)
    size, step = picture.width, picture.width // side
    shown = size * PICK_SCALE
    lines = "".join(f'<line x1="{i * step}" y1="0" x2="{i * step}" y2="{size}"/>'
                    f'<line x1="0" y1="{i * step}" x2="{size}" y2="{i * step}"/>' for i in range(1, side))
    svg = (f'<svg viewBox="0 0 {size} {size}" width="{shown}" height="{shown}" aria-hidden="true" '
           'style="position: absolute; left: 0; top: 0; pointer-events: none;">'
           f'<g stroke="white" stroke-opacity="0.7" stroke-width="1" vector-effect="non-scaling-stroke">{lines}</g>'
           f'<rect x="{cell_x * step}" y="{cell_y * step}" width="{step}" height="{step}" fill="none" '
           'stroke="#00ff66" stroke-width="3" vector-effect="non-scaling-stroke"/></svg>')
    alt = (f"x_t at t = {t} with the {side}×{side} grid of {block}; the query cell (row {cell_y}, column {cell_x}) "
           "is outlined in green. Click a cell.")
    img = png_html(picture, alt, PICK_SCALE).replace("<img ", '<img class="proof-source" ', 1)
    return (f'<div class="proof-picker-frame" data-side="{size}" style="position: relative; width: {shown}px; '
            f'height: {shown}px; cursor: crosshair;">{img}{svg}</div>')


def attention_overlay(x_t: torch.Tensor, weights: torch.Tensor, query: tuple[int, int], scale: int = 1,
                      limit: float | None = None) -> Image.Image:
    """An attention map (h, w) upsampled by the whole factor H/h onto a grey x_t (1, 3, H, W), enlarged `scale`
    times."""
    size = x_t.shape[-1]
    factor = size // weights.shape[-1]
    top = float(weights.max()) if limit is None else limit
    heat = weights.float().repeat_interleave(factor, 0).repeat_interleave(factor, 1)  # (H, W)
    strength = (heat / max(top, 1e-12)).clamp(0, 1).numpy()
    coloured = colorize(strength, 0.0, 1.0, "heat").astype(np.float64)
    grey = np.asarray(tensor_image(x_t).convert("L"), dtype=np.float64)[..., None].repeat(3, axis=2) * 0.45 + 110
    alpha = (0.25 + 0.75 * strength)[..., None]
    out = enlarge(Image.fromarray(((1 - alpha) * grey + alpha * coloured).clip(0, 255).astype(np.uint8)), scale)
    draw = ImageDraw.Draw(out)
    step = factor * scale
    y, x = query
    draw.rectangle((x * step, y * step, (x + 1) * step - 1, (y + 1) * step - 1), outline="#00ff66",
                   width=max(1, scale))
    return out


@dataclass
class AttentionView:
    maps: attention_analysis.AttentionMaps
    x_t: torch.Tensor
    pixel: tuple[int, int]


def attention(ctx: Context, image: np.ndarray, t: int, seed: int, block: str, y: int, x: int) -> AttentionView:
    """Attention of the cell under image pixel (y, x) in `block`. Raises ValueError for a bad block or pixel."""
    if not (0 <= y < ctx.image_size and 0 <= x < ctx.image_size):
        raise ValueError(f"pixel ({y}, {x}) is outside the {ctx.image_size}×{ctx.image_size} image")
    cell_y, cell_x, _ = query_cell(ctx, block, y, x)
    _, x_t, _ = ctx.x_t(image, t, seed)
    maps = attention_analysis.attention_maps(ctx.pair.unet, x_t, t, block, cell_y, cell_x)
    return AttentionView(maps, x_t, (y, x))


def attention_html(view: AttentionView) -> str:
    maps = view.maps
    items = [(f"head {index + 1}: entropy {float(maps.entropy[index]):.2f} bits",
              attention_overlay(view.x_t, head, maps.query))
             for index, head in enumerate(maps.heads)]
    items.append((f"mean of the {maps.num_heads} heads", attention_overlay(view.x_t, maps.mean, maps.query)))
    return figures_html(items, "attention-map")


def attention_markdown(view: AttentionView) -> str:
    maps = view.maps
    side = maps.resolution
    factor = view.x_t.shape[-1] // side
    rows = ["| head | entropy of this query | mean over all queries |", "|---|---:|---:|"]
    rows += [f"| {index + 1} | {float(maps.entropy[index]):.2f} bits | {float(maps.entropy_all[index]):.2f} bits |"
             for index in range(maps.num_heads)]
    spread = max(range(maps.num_heads), key=lambda index: float(maps.entropy[index]))
    sharp = min(range(maps.num_heads), key=lambda index: float(maps.entropy[index]))
    return "\n".join(rows + [
        "", f"`{maps.block}` works on a {side}×{side} grid: each cell covers {factor}×{factor} pixels of x_t, so "
        f"the maps are enlarged {factor} times onto x_t. The query is cell (row {maps.query[0]}, column "
        f"{maps.query[1]}), outlined in green. Entropy measures how spread a head's attention is: 0 bits means "
        f"it looks at one cell, {maps.max_entropy:.0f} bits that it looks at all {side * side} cells equally. "
        f"Here head {spread + 1} spreads widest and head {sharp + 1} is the most focused. Each map is "
        "coloured from 0 to its own largest weight."])


# ---------------------------------------------------------------- 5. time conditioning

def other_timestep(t: int, num_timesteps: int = NUM_TIMESTEPS) -> int:
    """The default second t: the far end of the schedule, as in the "told the wrong t" knock-out."""
    return wrong_timestep(t, num_timesteps)


@dataclass
class TimeView:
    t: int
    other_t: int
    naive: tuple[torch.Tensor, torch.Tensor]
    unet: tuple[torch.Tensor, torch.Tensor]
    naive_identical: bool
    unet_identical: bool
    table: dict


_tables = Memo(32)


def image_shift_table(ctx: Context, image: np.ndarray, seed: int) -> dict:
    """Blocks × t time shift for this image and seed (kept: it does not depend on the current t)."""
    def compute() -> dict:
        x0 = to_tensor(image)[None]
        eps = make_noise(seed, (1, *x0.shape[1:]))
        return timecond.image_shift_table(ctx.pair.unet, ctx.diffusion, x0, eps)

    return _tables.get((id(ctx.pair.unet), image_digest(image), int(seed)), compute)


def time_view(ctx: Context, image: np.ndarray, t: int, seed: int, other_t: int) -> TimeView:
    """Both networks told t and `other_t` for the same x_t (the far end of the schedule if `other_t` is t)."""
    other_t = other_timestep(t, ctx.diffusion.num_timesteps) if other_t == t else other_t
    _, x_t, _ = ctx.x_t(image, t, seed)
    naive = timecond.told_other_t(ctx.pair.naive, x_t, t, other_t)
    unet = timecond.told_other_t(ctx.pair.unet, x_t, t, other_t)
    return TimeView(t, other_t, naive, unet, bool(torch.equal(*naive)), bool(torch.equal(*unet)),
                    image_shift_table(ctx, image, seed))


def difference_image(first: torch.Tensor, second: torch.Tensor, scale: int, limit: float = 1.0) -> Image.Image:
    """|first − second| averaged over colours on a fixed 0 … `limit` scale (black: no difference)."""
    difference = (first[0] - second[0]).abs().mean(0)  # (H, W)
    return enlarge(Image.fromarray(colorize(difference, 0.0, limit, "heat")), scale)


def time_html(view: TimeView) -> str:
    rows = []
    for name, title in (("naive", "Naive CNN"), ("unet", "U-Net")):  # one row per network
        first, second = getattr(view, name)
        rows.append(figures_html([(f"{title}: ε̂ told t = {view.t}", noise_image(first)),
                                  (f"{title}: ε̂ told t = {view.other_t}", noise_image(second)),
                                  (f"{title}: |difference| (black = none)", difference_image(first, second, 1))],
                                 "time-pair"))
    return "".join(rows)


def time_markdown(view: TimeView, metrics: dict | None) -> str:
    naive_first, naive_second = view.naive
    unet_first, unet_second = view.unet
    naive_gap = float((naive_first - naive_second).abs().max())
    unet_gap = float((unet_first - unet_second).abs().max())
    naive_text = ("bit for bit identical (largest difference 0): it has no input for t, so it cannot tell a nearly "
                  "clean image from a very noisy one" if view.naive_identical
                  else f"different (largest difference {naive_gap:.3g}), which should never happen")
    lines = [f"Same x_t, told t = {view.t} and then t = {view.other_t}. The naive CNN's two predictions are "
             f"{naive_text}. The U-Net's change by up to {unet_gap:.2f} per pixel "
             f"(mean |difference| {float((unet_first - unet_second).abs().mean()):.3f}).",
             "", shift_sentence(view.table, "On this image")]
    section = (metrics or {}).get("time_conditioning")
    lines += ["", shift_sentence(section, f"On the held-out set ({(metrics or {}).get('images', '?')} images)")
              if section else f"Held-out heat map: {NOT_COMPUTED}."]
    return "\n".join(lines)


def shift_sentence(table: dict, where: str) -> str:
    """Which blocks t drives hardest, from a shift table."""
    means = {block: float(np.mean(row)) for block, row in zip(table["blocks"], table["shift"])}
    ranked = sorted(means, key=means.get, reverse=True)
    def shift(block: str, t: int) -> float:
        return table["shift"][table["blocks"].index(block)][table["timesteps"].index(t)]

    peak_block, peak_t = max(((block, t) for block in table["blocks"] for t in table["timesteps"]),
                             key=lambda pair: shift(*pair))
    peak = shift(peak_block, peak_t)
    return (f"{where}, t moves `{ranked[0]}` and `{ranked[1]}` hardest (time vector {means[ranked[0]]:.2f} and "
            f"{means[ranked[1]]:.2f} times the size of their features, averaged over t) and `{ranked[-1]}` least "
            f"({means[ranked[-1]]:.2f}); the largest share is {peak:.2f}, in `{peak_block}` at t = {peak_t}.")


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


def time_table(section: dict) -> str:
    timesteps = section["timesteps"]
    lines = ["| ResBlock | " + " | ".join(f"t = {t}" for t in timesteps) + " |", "|---|" + "---:|" * len(timesteps)]
    lines += [f"| {block} | " + " | ".join(f"{value:.3f}" for value in row) + " |"
              for block, row in zip(section["blocks"], section["shift"])]
    return "\n".join(lines)


# ---------------------------------------------------------------- the model card

def model_card_markdown(metrics: dict) -> str:
    """The evaluation's "part by part" sections for weights/README.md (empty where not computed)."""
    lines = []
    if metrics.get("knockouts") and "bottleneck bypassed" in metrics["knockouts"]["eps_mse"]:
        lines += ["", "**The bottleneck and the skips across t.** "
                  + bottleneck_verdict(metrics["knockouts"], metrics.get("images"))]
    section = metrics.get("gradients")
    if section:
        lines += ["", f"**Gradient highways.** Parameter-gradient norm of each block, divided by the norm at `out`, "
                  f"for one backward pass of the noise loss on {section['images']} held-out images (a subset, to keep "
                  f"the evaluation short) with t spread over {', '.join(map(str, section['timesteps']))}, for the "
                  f"trained weights and a freshly initialised U-Net (seed {section.get('fresh_seed', 0)}):", "",
                  gradients_table(section), "", gradients_heldout_sentences(section)]
    section = metrics.get("concat")
    if section:
        errors = {int(level): {variant: values[-1] for variant, values in entry["eps_mse"].items()}
                  for level, entry in section["levels"].items()}
        lines += ["", "**Concatenation.** Held-out noise error when one half of a decoder level's concatenation is "
                  "replaced by zeros or by its per-channel mean, as a multiple of the intact U-Net's, on "
                  f"{section['images']} held-out images (a subset, to keep the evaluation short; level: channels "
                  "upsampled + skip → out):", "", concat_table(section), "",
                  concat_verdict(errors, f"at t = {section['timesteps'][-1]}"), "", CONCAT_NOTE]
    section = metrics.get("time_conditioning")
    if section:
        lines += ["", "**Time conditioning.** ‖time vector broadcast over the map‖ / ‖features it is added to‖ per "
                  "ResBlock and t, mean over the held-out images:", "", time_table(section), "",
                  shift_sentence(section, "On the held-out set")]
    return "\n".join(lines)


# ---------------------------------------------------------------- benchmark

def bench_rows(path_row, time_ms) -> list[tuple[str, float, float, str]]:
    """Each live view of the "Part by part" tab, timed next to its model compute (bench's `_path_row`)."""
    from explorer.analysis.gradients import _grad_copy, block_gradient_norms, fresh_unet

    ctx = Context.load()
    image = ctx.image(ctx.examples[5])
    t, seed = 250, 0
    x0, x_t, eps = ctx.x_t(image, t, seed)
    unet, naive = ctx.pair.unet, ctx.pair.naive
    t_one = torch.tensor([t])

    def forwards(count: int, model=unet):
        def run():
            with torch.no_grad():
                for _ in range(count):
                    model(x_t, t_one)
        return run

    batch16 = to_tensor(image)[None].expand(16, -1, -1, -1)
    eps16 = _noise_batch(seed, 16, tuple(batch16.shape[1:]))
    x_t16 = ctx.diffusion.q_sample(batch16, torch.full((16,), t), eps16)
    private = _grad_copy(unet)

    def one_backward_16():
        return block_gradient_norms(private, x_t16, torch.full((16,), t), eps16)

    def gradient_view():
        view = gradients(ctx, image, t, seed)
        return gradients_live_figure(view), gradients_markdown(view, ctx.metrics)

    def gradient_floor():  # the four backward passes alone
        x4 = to_tensor(image)[None].expand(GRADIENT_BATCH, -1, -1, -1)
        e4 = _noise_batch(seed, GRADIENT_BATCH, tuple(x4.shape[1:]))
        xt4 = ctx.diffusion.q_sample(x4, torch.full((GRADIENT_BATCH,), t), e4)
        t4 = torch.full((GRADIENT_BATCH,), t)
        cut = Probe(zero_skips=frozenset(range(1, unet.config.num_levels + 1)))
        for model in (private, fresh_unet(unet.config)):
            block_gradient_norms(model, xt4, t4, e4)
            block_gradient_norms(model, xt4, t4, e4, cut)

    def concat_view():
        return concat_markdown(ctx, concat_live(ctx, image, t, seed), t), concat_heldout_figure(ctx.metrics)

    def bottleneck_view():
        live = bottleneck_live(ctx, image, t, seed)
        return bottleneck_figure(ctx.metrics, t, live), bottleneck_markdown(live, t, ctx.metrics)

    def attention_path():
        view = attention(ctx, image, t, seed, "mid.attn", 32, 32)
        return (attention_picker(ctx, image, t, seed, "mid.attn", 32, 32), attention_html(view),
                attention_markdown(view))

    def attention_floor():
        return attention_analysis.attention_maps(unet, x_t, t, "mid.attn", 2, 2)

    def time_path():
        _tables.clear()  # the uncached path: a new image
        view = time_view(ctx, image, t, seed, other_timestep(t, ctx.diffusion.num_timesteps))
        return time_html(view), time_markdown(view, ctx.metrics), time_heatmap(view.table, "this image", t)

    def time_floor():
        forwards(2, naive)()
        forwards(2)()
        timecond.image_shift_table(unet, ctx.diffusion, x0, eps)

    n_levels = unet.config.num_levels
    return [
        path_row("proofs: reference, one backward of batch 16 in one thread", one_backward_16, one_backward_16,
                 repeat=5),
        # The view's 16 samples: 4 passes × batch 4, the trained and the fresh U-Net in two threads (its floor
        # runs the same passes one after another, so the view can beat it).
        path_row(f"proofs: gradient view (4 backward passes × batch {GRADIENT_BATCH}, 2 threads)", gradient_view,
                 gradient_floor, target_ms=1500, repeat=5),
        path_row("proofs: concatenation view", concat_view, forwards(1 + 4 * n_levels), repeat=5),
        path_row("proofs: bottleneck view", bottleneck_view, forwards(3 + n_levels), repeat=5),
        path_row("proofs: attention click (mid.attn)", attention_path, attention_floor),
        path_row("proofs: time view (uncached table)", time_path, time_floor, repeat=5),
    ]
