"""The guided lesson: "Why U-Net?" in short steps (`STEPS`), each one proven on the live models.

Pure data and functions (no gradio). Each step is a record (`Claim`) in `STEPS`; `steps(ctx)` makes them into
`Step`s for the loaded models. A `Step` holds its words (which never contain a measured number),
the app state its "Show me" button puts the app in (`Target`), and `measure(ctx)`, which reads
weights/metrics.json or runs the models and returns the step's numbers together with the sentences
that show them. Where the numbers disagree with the lesson, the sentences say so: they branch on the data.
"""
from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field, replace

import numpy as np
import torch

from explorer import model_card
from explorer.analysis import gradients
from explorer.emoji_names import on_image
from explorer.formatting import (
    HELD_OUT,
    INTERVAL,
    THIS_IMAGE,
    added,
    mse,
    ratio,
    share,
    times,
    with_interval,
)
from explorer.knockouts import Knockouts, wrong_timestep
from explorer.metrics import Interval, Metrics, Spread
from explorer.study import findings
from explorer.views import claims, denoising, proofs, receptive
from explorer.views.context import DEFAULT_SEED, DEFAULT_T, Context

NOT_COMPUTED = "not computed yet"
NO_VERDICT = "no verdict yet"  # the study trained both sides, but one with a single seed (findings.decided)
AGREES, DISAGREES, PARTLY = "agrees", "disagrees", "partly"
PROOFS_TAB = "proofs"
DENOISE_VIEW = "denoise-view"  # the Denoising lab's side-by-side view
KNOCKED_COLUMN = "th.sbs-knocked"  # its knocked-out U-Net column's heading (explorer/views/denoising/page.py)
INTACT = Knockouts().row_name()  # the held-out knock-out table's rows (weights/metrics.json)
TOLD_WRONG = Knockouts(told_wrong=True).row_name()
BYPASSED = Knockouts(bypass_mid=True).row_name()
SKIP1_CUT = Knockouts(zero_skips=frozenset({1})).row_name()

# One line per word a learner may not know. Steps list the words they use.
GLOSSARY = {
    "x_t": "the noisy image at timestep t: the clean image x₀ mixed with Gaussian noise ε.",
    "timestep t": "how far along the noising process an image is; small t is almost clean, large t almost pure noise.",
    "ε̂": "the network's prediction of the noise ε that was mixed in (read \"epsilon hat\").",
    "x̂₀": "the clean image the prediction implies: x_t with the predicted noise taken out.",
    "dense prediction": "an answer for every pixel (here a noise value per pixel and colour), not one label per image.",
    "ε-MSE": "the mean squared difference between predicted and true noise; lower is better.",
    "PSNR": "peak signal-to-noise ratio of x̂₀ against the clean image, in decibels; higher means closer.",
    "receptive field": "the input pixels that can change one output value; pixels outside it have no effect at all.",
    "gradient": "how much an output changes when one input (or weight) is nudged; training follows it.",
    "spectrum": "how a map's variation splits into coarse (low-frequency) and fine (high-frequency) patterns.",
    "skip connection": "a direct path that copies encoder features across to the decoder level of the same size.",
    "bottleneck": "the U-Net's smallest, most compressed level, at the bottom of the U.",
    "knock-out": "switching one part of the U-Net off for a single request, to see what it was doing.",
    "concatenation": "stacking two sets of feature maps side by side as channels, keeping both whole.",
    "time embedding": "t turned into a vector by a small network and added inside every U-Net block.",
    "self-attention": "a layer in which every position of a map looks at every other one and mixes in what it finds.",
    "GroupNorm": "a layer that rescales each map by its own mean and spread, which are computed over the whole map.",
    "cycles per image": "how many times a pattern repeats across the image; more cycles means finer detail.",
    "upsampled path": "the decoder's coarser features, enlarged to the size of the level they rejoin.",
    "DDIM": "a sampler that walks from noise (or from x_t) down to a clean image in a chosen number of steps.",
    INTERVAL: "where a held-out average would likely land with another draw of images like these, found by "
              "resampling the images (a bootstrap); a number measured on one image has none.",
}

@dataclass(frozen=True)
class Target:
    """The app state a step's "Show me" sets. None leaves a setting as it is.

    knockouts: what the Denoising lab breaks (its "U-Net, knocked out" column).
    evidence: the elem_id the page scrolls to; press: the elem_id of a button to press after that.
    """

    tab: str
    image: str | None = None  # a held-out image's file stem
    t: int | None = None
    seed: int | None = None
    block: str | None = None
    pixel: tuple[int, int] | str | None = None  # (y, x), or CENTRE (made a number by `resolved`)
    knockouts: Knockouts = Knockouts()
    evidence: str = ""
    focus: str = ""  # a CSS selector inside the evidence: the part the step speaks of, scrolled into view sideways
    press: str = ""
    ddim_steps: int | None = None  # the reverse process's step count, for a step that presses its button


@dataclass(frozen=True)
class Measurement:
    """A step's numbers (`values`, as read or computed) and the markdown sentences that show them."""

    text: str
    values: dict = field(default_factory=dict)
    verdict: str = AGREES  # agrees | disagrees | partly | not computed yet
    source: str = ""  # where the numbers come from
    trained: bool = False  # from the study of trained alternatives: it decides the step where the two disagree


@dataclass(frozen=True)
class Step:
    id: str
    title: str
    text: str  # 2–5 sentences in our words; no measured numbers
    see: str  # "What you should see"
    target: Target
    measure: Callable[[Context], Measurement]
    words: tuple[str, ...] = ()  # glossary entries shown with the step
    # More numbers for the same claim, each with its own source (a study of alternative architectures, say):
    # shown after the step's own measurement, in order.
    extras: tuple[Callable[[Context], Measurement], ...] = ()


@dataclass(frozen=True)
class Claim:
    """A step as data: its words, its target (for any models: see `resolved`), how it is measured."""

    id: str
    title: str
    text: str  # 2–5 sentences in our words; no measured numbers
    see: str  # "What you should see"
    target: Target
    measure: Callable[[Context, Target], Measurement]
    words: tuple[str, ...] = ()  # glossary entries shown with the step


# Where the steps start: one held-out emoji, the app's default t and seed. A step changes only what it must.
DEFAULT_IMAGE = "1f353"
TIME_IMAGE = "00a9-fe0f"  # the time step's image: at t = 250 it still shows what the wrong t breaks
DEFAULT_TARGET = Target("denoising", DEFAULT_IMAGE, DEFAULT_T, DEFAULT_SEED)
CENTRE = "centre"  # a target's pixel: the centre of the image, whatever its size
FIRST_IMAGE = "first"  # a target's image: the first held-out example, the one the page opens with



# --- images ---------------------------------------------------------------------------------------------------------

def image_stem(ctx: Context, wanted: str | None) -> str | None:
    """`wanted` if it is a shipped held-out image, else the first one (None when none is shipped)."""
    stems = [path.stem for path in ctx.examples]
    if wanted in stems:
        return wanted
    return stems[0] if stems else None


def image_array(ctx: Context, stem: str) -> np.ndarray:
    return ctx.image(next(path for path in ctx.examples if path.stem == stem))


def _live_inputs(ctx: Context, target: Target) -> tuple[str, np.ndarray, int, int] | None:
    stem = image_stem(ctx, target.image)
    if stem is None:
        return None
    return stem, image_array(ctx, stem), target.t or DEFAULT_T, target.seed or DEFAULT_SEED


NO_IMAGES = Measurement("No held-out images are shipped with these weights, so this live measurement cannot run.",
                        verdict=NOT_COMPUTED)


def _missing(what: str) -> Measurement:
    return Measurement(f"*{what}: {NOT_COMPUTED}.* It appears once the held-out evaluation has been run for "
                       "these weights.", verdict=NOT_COMPUTED, source="weights/metrics.json")


def _pair(bounds: Interval | None) -> tuple[float, float] | None:
    """A 95 % interval as the plain (low, high) a step's values keep beside its number (`<name>_ci95`)."""
    return None if bounds is None else (bounds.low, bounds.high)


# --- the measurements -------------------------------------------------------------------------------------------------

def measure_task(ctx: Context, target: Target) -> Measurement:
    inputs = _live_inputs(ctx, target)
    if inputs is None:
        return NO_IMAGES
    stem, image, t, seed = inputs
    comparison = denoising.compare(ctx, image, t, seed)
    shape_in = tuple(comparison.x_t.shape[1:])
    shape_naive = tuple(comparison.predictions["naive"].eps_hat.shape[1:])
    shape_unet = tuple(comparison.predictions["unet"].eps_hat.shape[1:])
    count = int(np.prod(shape_unet))
    values = {"image": stem, "t": t, "input_shape": shape_in, "naive_shape": shape_naive, "unet_shape": shape_unet,
              "values_per_image": count, "unet_eps_mse": comparison.predictions["unet"].eps_mse,
              "naive_eps_mse": comparison.predictions["naive"].eps_mse}
    same = shape_in == shape_naive == shape_unet
    shape = "×".join(str(n) for n in shape_in)
    text = (f"Measured {on_image(stem)}, at t = {t}: x_t is {shape} (colours × height × width), and "
            + (f"both networks answer with ε̂ of exactly that shape: {count:,} noise values, one per pixel and "
               "colour." if same else
               f"the networks answer with {'×'.join(map(str, shape_naive))} and {'×'.join(map(str, shape_unet))}: "
               "not one value per input value.")
            + f" Their ε-MSE ({THIS_IMAGE}): U-Net {mse(values['unet_eps_mse'])}, naive CNN "
              f"{mse(values['naive_eps_mse'])}.")
    return Measurement(text, values, AGREES if same else DISAGREES, "live: both models on this x_t")


def measure_window(ctx: Context, target: Target) -> Measurement:
    inputs = _live_inputs(ctx, target)
    if inputs is None:
        return NO_IMAGES
    stem, image, t, seed = inputs
    y, x = target.pixel or (ctx.image_size // 2, ctx.image_size // 2)
    convs = [block.module for block in ctx.pair.naive.blocks()]
    kernel = int(convs[0].kernel_size[0])
    naive_last = ctx.naive_specs[-1].name
    unet_last = ctx.unet_specs[-1].name
    theory = int(ctx.fields[naive_last].size)
    unet_field = ctx.fields[unet_last]
    fields = receptive.views(ctx, image, t, seed, y, x, receptive.OUTPUT)
    naive, unet = fields[0].effective, fields[1].effective
    pixels = ctx.image_size ** 2
    values = {"image": stem, "t": t, "pixel": (y, x), "layers": len(convs), "kernel": kernel,
              "naive_theory": theory, "naive_support": naive.support, "pixels": pixels,
              "naive_share": theory ** 2 / pixels, "unet_theory": int(unet_field.size_clipped),
              "unet_global_via": tuple(unet_field.global_via), "unet_support": unet.support,
              "unet_r90": None if unet.radius_90 is None else 2 * unet.radius_90 + 1}
    matches = naive.support == theory ** 2
    text = (f"The naive CNN stacks {len(convs)} convolutions of {kernel}×{kernel}, so its output pixel sees a "
            f"square of {theory}×{theory} pixels: {theory ** 2:,} of the image's {pixels:,} pixels "
            f"({share(values['naive_share'])}). Measured at pixel (y={y}, x={x}) {on_image(stem)}, at t = {t}: its "
            f"gradient is nonzero on {naive.support:,} pixels, "
            + ("exactly that square." if matches else "which does not match the arithmetic.")
            + f" The U-Net's field covers {values['unet_theory']}×{values['unet_theory']}"
            + (f", and it also sees everything through {' and '.join(unet_field.global_via)}" if unet_field.global_via
               else "")
            + f": its gradient reaches {unet.support:,} pixels")
    if values["unet_r90"] is not None:
        text += f", with 90 % of it inside a {values['unet_r90']}×{values['unet_r90']} square"
    text += "."
    small = theory < ctx.image_size
    verdict = AGREES if matches and small else DISAGREES if not small else PARTLY
    return Measurement(text, values, verdict, "live: the theoretical field and one gradient per network")


def measure_scales(ctx: Context, target: Target) -> Measurement:
    inputs = _live_inputs(ctx, target)
    if inputs is None:
        return NO_IMAGES
    stem, image, t, seed = inputs
    naive_sizes, unet_sizes, bottleneck = claims.level_sizes(ctx)
    view = claims.scales_view(ctx, stem, image, t, seed)  # the same numbers the Part by part tab shows
    skip_high, up_high = view.high["skip1"], view.high["dec1.up"]
    values = {"image": stem, "t": t, "naive_layers": len(ctx.naive_specs), "naive_sizes": naive_sizes,
              "unet_sizes": unet_sizes, "bottleneck": bottleneck, "bottleneck_cycles": bottleneck // 2,
              "skip1_high": skip_high, "up1_high": up_high, "cutoff": view.cutoff,
              "finest_above": view.finest_above, "noise_flatness": view.noise_flatness}
    one_scale = len(naive_sizes) == 1
    text = claims.levels_sentence(ctx) + " " + claims.scales_sentence(view)
    verdict = AGREES if one_scale and len(set(unet_sizes)) > 1 and skip_high > up_high else PARTLY
    return Measurement(text, values, verdict, "live: the models' shapes and one recorded forward pass")


def measure_detail(ctx: Context, target: Target) -> Measurement:
    metrics = Metrics.of(ctx.metrics)
    t = target.t or DEFAULT_T
    inputs = _live_inputs(ctx, target)
    if inputs is None:
        return NO_IMAGES
    stem, image, t_live, seed = inputs
    view = claims.detail_view(ctx, stem, image, t_live, seed)  # the same numbers the Part by part tab shows
    values = {"image": stem, "t": t_live, "edge_error": view.edge_error, "flat_error": view.flat_error}
    text = claims.detail_sentence(view)
    edge_ratio = view.edge_error["naive"] / max(view.edge_error["unet"], 1e-12)
    flat_ratio = view.flat_error["naive"] / max(view.flat_error["unet"], 1e-12)
    values.update(edge_ratio=edge_ratio, flat_ratio=flat_ratio)
    if metrics.has("models") and t in metrics.timesteps:
        unet, naive = metrics.psnr("unet", t), metrics.psnr("naive", t)
        gap, gap_bounds = metrics.psnr_gap(t)
        values.update(unet_psnr=unet, unet_psnr_ci95=_pair(metrics.psnr_interval("unet", t)), naive_psnr=naive,
                      naive_psnr_ci95=_pair(metrics.psnr_interval("naive", t)), gap=gap, gap_ci95=_pair(gap_bounds))
        text += " " + claims.detail_heldout_sentence(metrics, t)
    return Measurement(text, values, claims.detail_verdict(view),
                       "live: both models on this x_t; weights/metrics.json: models.*.psnr")


def measure_time(ctx: Context, target: Target) -> Measurement:
    inputs = _live_inputs(ctx, target)
    metrics = Metrics.of(ctx.metrics)
    if inputs is None:
        return NO_IMAGES
    stem, image, t, seed = inputs
    first, last = 1, ctx.diffusion.max_t
    _, x_t, _ = ctx.x_t(image, t, seed)
    with torch.no_grad():
        early = ctx.pair.naive(x_t, torch.tensor([first]))
        late = ctx.pair.naive(x_t, torch.tensor([last]))
    difference = float((early - late).abs().max())
    values = {"image": stem, "t": t, "naive_t_a": first, "naive_t_b": last, "naive_difference": difference}
    text = (f"Measured {on_image(stem)}: for the same x_t, the naive CNN told t = {first} and told t = {last} "
            + ("gives the same answer bit for bit: it cannot tell them apart." if difference == 0 else
               f"gives answers that differ by up to {difference:.3g}: it does react to t, against the lesson."))
    told = target.knockouts.told_t
    if told is not None:
        comparison = denoising.compare(ctx, image, t, seed, Knockouts(told_t=told))
        told_mse, intact_mse = comparison.predictions["knocked"].eps_mse, comparison.predictions["unet"].eps_mse
        values.update(told_t=told, image_ratio=ratio(told_mse, intact_mse), image_told_mse=told_mse,
                      image_intact_mse=intact_mse)
        text += (f" Told t = {told} while x_t is at t = {t}, the U-Net's ε-MSE ({THIS_IMAGE}) goes from "
                 f"{mse(intact_mse)} to {mse(told_mse)} ({times(values['image_ratio'])}).")
    if not metrics.has_knockouts(TOLD_WRONG):
        return Measurement(text + f" The held-out knock-out table: {NOT_COMPUTED}.", values,
                           AGREES if difference == 0 else DISAGREES, "live; weights/metrics.json missing")
    timesteps = metrics.knockout_timesteps
    ratios = [metrics.knockout_ratio(TOLD_WRONG, step) for step in timesteps]
    bounds = [_pair(metrics.knockout_ratio_interval(TOLD_WRONG, step)) for step in timesteps]
    values.update(heldout_ratios=ratios, heldout_ratios_ci95=bounds, heldout_timesteps=timesteps)
    least, most = int(np.argmin(ratios)), int(np.argmax(ratios))
    text += (f" As a {HELD_OUT} over {metrics.images or '?'} images, the wrong t "
             f"({metrics.told_the_wrong_t or 'the far end of the schedule'}) multiplies the U-Net's ε-MSE by "
             f"{with_interval(ratios[least], bounds[least], times)} at t = {timesteps[least]} up to "
             f"{with_interval(ratios[most], bounds[most], times)} at t = {timesteps[most]} (measured at t = "
             f"{', '.join(map(str, timesteps))}).")
    verdict = AGREES if difference == 0 and min(ratios) > 1 else PARTLY if difference == 0 else DISAGREES
    return Measurement(text, values, verdict, "live: the naive CNN at two t; weights/metrics.json: knockouts")


def measure_skips(ctx: Context, target: Target) -> Measurement:
    num_levels = ctx.pair.unet.config.num_levels
    cuts = [Knockouts(zero_skips=frozenset({level})) for level in range(1, num_levels + 1)]
    metrics = Metrics.of(ctx.metrics)
    if not metrics.has_knockouts(*cuts):
        return _missing("The held-out knock-out table")
    timesteps = metrics.knockout_timesteps
    t = target.t if target.t in timesteps else timesteps[len(timesteps) // 2]
    skip1, deeper = cuts[0], cuts[2:] or cuts[-1:]
    first = [metrics.knockout_ratio(skip1, step) for step in timesteps]
    first_bounds = [_pair(metrics.knockout_ratio_interval(skip1, step)) for step in timesteps]
    index = timesteps.index(t)
    deep = {cut: metrics.knockout_ratio(cut, t) for cut in deeper}
    least, most = min(deep, key=deep.get), max(deep, key=deep.get)
    values = {"t": t, "timesteps": timesteps, "skip1_ratios": first, "skip1_ratios_ci95": first_bounds,
              "skip1_at_t": first[index], "skip1_at_t_ci95": first_bounds[index],
              "ratios_at_t": {cut.row_name(): metrics.knockout_ratio(cut, t) for cut in cuts},
              "deep_min": deep[least], "deep_min_ci95": _pair(metrics.knockout_ratio_interval(least, t)),
              "deep_max": deep[most], "deep_max_ci95": _pair(metrics.knockout_ratio_interval(most, t)),
              "skip1_added_at_t": metrics.knockout_added(skip1, t),
              "skip1_added_at_t_ci95": _pair(metrics.knockout_added_interval(skip1, t)),
              "intact_at_t": metrics.knockout(INTACT, t),
              "intact_at_t_ci95": _pair(metrics.knockout_interval(INTACT, t))}
    low, high = int(np.argmin(first)), int(np.argmax(first))

    def quote(name: str, format=times) -> str:
        return with_interval(values[name], values[f"{name}_ci95"], format)

    text = (f"As a {HELD_OUT} at t = {t}, cutting skip1 multiplies the U-Net's ε-MSE by {quote('skip1_at_t')}: it "
            f"adds {quote('skip1_added_at_t', added)} to the intact {quote('intact_at_t', mse)}. Over t = "
            f"{', '.join(map(str, timesteps))} the multiple goes from "
            f"{with_interval(first[low], first_bounds[low], times)} at t = {timesteps[low]} to "
            f"{with_interval(first[high], first_bounds[high], times)} at t = "
            f"{timesteps[high]}. The deeper, coarser skips ({', '.join(map(str, deeper))}) cost "
            f"from {quote('deep_min')} for {least} to {quote('deep_max')} for {most} at t = {t}.")
    inputs = _live_inputs(ctx, target)
    if inputs is not None:
        stem, image, t_live, seed = inputs
        cut = target.knockouts.zero_skips or frozenset({1})
        comparison = denoising.compare(ctx, image, t_live, seed, Knockouts(zero_skips=cut))
        knocked_mse, intact_mse = comparison.predictions["knocked"].eps_mse, comparison.predictions["unet"].eps_mse
        values.update(image=stem, image_knocked_mse=knocked_mse, image_intact_mse=intact_mse,
                      image_ratio=ratio(knocked_mse, intact_mse))
        # In the words of the Denoising lab's column headings, where Show me points.
        text += (f" {on_image(stem).capitalize()}, at t = {t_live}, the U-Net's ε-MSE goes from {mse(intact_mse)} "
                 f"to {mse(knocked_mse)} with {' and '.join(f'skip{level}' for level in sorted(cut))} cut "
                 f"({times(values['image_ratio'])}).")
    finest_matters_most = first[index] >= max(values["ratios_at_t"].values())
    verdict = AGREES if min(first) > 1 and finest_matters_most else PARTLY if min(first) > 1 else DISAGREES
    if not finest_matters_most:
        text += " Against the lesson, a deeper skip matters more than the finest one here."
    return Measurement(text, values, verdict, "weights/metrics.json: knockouts; live: this image")


def measure_concat(ctx: Context, target: Target) -> Measurement:
    metrics = Metrics.of(ctx.metrics)
    try:
        timesteps = metrics.concat_timesteps
        channels = metrics.concat_channels(1)
        t = target.t if target.t in timesteps else timesteps[len(timesteps) // 2]
        skip_ratio, up_ratio = metrics.concat_ratio(1, "skip_zero", t), metrics.concat_ratio(1, "up_zero", t)
    except (TypeError, KeyError):
        return _missing("The concatenation measurements")
    values = {"t": t, "up_channels": channels["up"], "skip_channels": channels["skip"],
              "out_channels": channels["out"], "skip_zero_ratio": skip_ratio,
              "skip_zero_ratio_ci95": _pair(metrics.concat_ratio_interval(1, "skip_zero", t)),
              "up_zero_ratio": up_ratio, "up_zero_ratio_ci95": _pair(metrics.concat_ratio_interval(1, "up_zero", t))}
    text = (f"At the finest decoder level the upsampled path brings {channels['up']} channels and skip1 "
            f"{channels['skip']}; stacked, that is {channels['up'] + channels['skip']} channels, which a "
            f"convolution brings down to {channels['out']}. As a {HELD_OUT} over {metrics.concat_images or '?'} "
            f"images at t = {t} (the chart in the tab; its table shows this image), blanking the skip half "
            f"multiplies the ε-MSE by {with_interval(skip_ratio, values['skip_zero_ratio_ci95'], times)}, blanking "
            f"the upsampled half by {with_interval(up_ratio, values['up_zero_ratio_ci95'], times)}: ")
    if skip_ratio > 1 and up_ratio > 1:
        text += ("the decoder uses both halves, and leans on the "
                 + ("skip" if skip_ratio > up_ratio else "upsampled path") + " more.")
        verdict = AGREES
    else:
        unused = "skip" if skip_ratio <= 1 else "upsampled path"
        text += f"the decoder barely uses the {unused} half here, against the lesson's picture."
        verdict = PARTLY
    return Measurement(text, values, verdict, "weights/metrics.json: concat")


def measure_gradients(ctx: Context, target: Target) -> Measurement:
    metrics = Metrics.of(ctx.metrics)
    try:
        blocks = metrics.gradient_blocks
        means = {network: metrics.gradient_norms(network) for network in ("trained", "random_init")}
        first = next(i for i, name in enumerate(blocks) if name.startswith("enc"))
        name, head = blocks[first], ("out" if "out" in blocks else blocks[-1])
        # Over seeds where the file has them; a file of one run counts as one run of each.
        spreads = {(network, measure): metrics.gradient_spread(network, measure)
                   or _one_run(gradients.enc1_ratios(blocks, means[network], name, head)[measure])
                   for network in means for measure in ("absolute", "relative")}
    except (AttributeError, TypeError, KeyError, StopIteration, ValueError):
        return _missing("The gradient measurements")
    fresh_relative, fresh_absolute = spreads["random_init", "relative"], spreads["random_init", "absolute"]
    trained_relative, trained_absolute = spreads["trained", "relative"], spreads["trained", "absolute"]
    values = {"block": name, "head": head, "images": metrics.gradient_images,
              "fresh_relative": fresh_relative.mean, "fresh_relative_sd": fresh_relative.sd,
              "fresh_absolute": fresh_absolute.mean, "fresh_absolute_sd": fresh_absolute.sd,
              "fresh_runs": fresh_relative.runs, "trained_relative": trained_relative.mean,
              "trained_relative_sd": trained_relative.sd, "trained_absolute": trained_absolute.mean,
              "trained_runs": trained_relative.runs,
              # the ratios of the mean norms (as the Part by part chart draws them)
              "trained_ratio": gradients.enc1_ratios(blocks, means["trained"], name, head)["relative"],
              "random_ratio": gradients.enc1_ratios(blocks, means["random_init"], name, head)["relative"]}

    def spread(value: Spread, what: str) -> str:
        if value.runs < 2:
            return f"{times(value.mean)} {what} (one run)"
        return (f"{times(value.mean)} {what} on average (sd {value.sd:.2g}; {times(value.low)} to "
                f"{times(value.high)} over {value.runs} runs)")

    fresh_seeds = len(metrics.fresh_seeds)
    losses = metrics.gradient_loss("trained")
    text = (f"As a {HELD_OUT} over {metrics.gradient_images or '?'} images: the gradient of the noise loss that "
            f"reaches the weights of {name}, the first encoder block, with the skips, as a multiple of the same "
            f"gradient with every skip cut (above ×1, the skips carry more of the signal). In U-Nets freshly "
            f"initialised from {fresh_seeds} seed{'s' if fresh_seeds != 1 else ''}, where a highway can be judged "
            f"(nothing learned yet decides where the signal goes): "
            f"{spread(fresh_relative, 'relative to the output head')}, and "
            f"{spread(fresh_absolute, 'in absolute size')}. In the trained U-Net: "
            f"{spread(trained_relative, 'relative')}, {spread(trained_absolute, 'absolute')}"
            + (f" (cutting the skips raises the trained network's loss from {mse(losses['intact'])} to "
               f"{mse(losses['skips_cut'])}, and every gradient grows with it)" if losses else "") + ". "
            f"Absolute compares the sizes of the gradients themselves; relative first divides each by the gradient "
            f"at the output head ({head}) of the same network, so that a larger loss, which scales every gradient, "
            "does not count as more signal reaching the early layers. ")
    fresh = (fresh_relative, fresh_absolute)
    if all(value.low > 1 for value in fresh):
        text += ("The skips are a highway: at initialisation, in every run, more of the error signal reaches the "
                 "early layers through them, in absolute size and relative to the output.")
        verdict = AGREES
    elif any(value.mean > 1 for value in fresh):
        text += ("The highway shows only in part: at initialisation "
                 + ("not every run, or not both measures, agree" if fresh_relative.mean > 1 and fresh_absolute.mean > 1
                    else "one measure shows it and the other does not")
                 + ", so the lesson's claim holds in part here.")
        verdict = PARTLY
    else:
        text += "Against the lesson, cutting the skips does not shrink the gradient at the early layers here."
        verdict = DISAGREES
    return Measurement(text, values, verdict, "weights/metrics.json: gradients")


def _one_run(value: float) -> Spread:
    return Spread(value, 0.0, value, value, 1)


def measure_noise_scales(ctx: Context, target: Target) -> Measurement:
    metrics = Metrics.of(ctx.metrics)
    if not metrics.has_knockouts(BYPASSED, SKIP1_CUT):
        return _missing("The bottleneck knock-out across t")
    result = proofs.noise_scales(metrics)  # one verdict, shown in both places
    return Measurement(result.text, result.values, result.verdict, "weights/metrics.json: knockouts")


def measure_accumulation(ctx: Context, target: Target) -> Measurement:
    results = claims.accumulation_results(ctx)
    if results is None:
        return Measurement(f"*The held-out trajectories: {NOT_COMPUTED}.* They appear once "
                           "the held-out trajectories have been computed for these weights (docs/training.md).",
                           verdict=NOT_COMPUTED, source="weights/accumulation.json")
    text, verdict = claims.accumulation_sentence(results)
    values = claims.accumulation_values(results)
    if results.get("naive_over_unet"):
        values = {**values, "naive_over_unet": results["naive_over_unet"]}
    return Measurement(text, values, verdict, "weights/accumulation.json")


def measure_windows(ctx: Context, target: Target) -> Measurement:
    view = claims.windows_view(ctx)
    sizes = view.sizes
    values = {"naive": view.naive, "sizes": sizes, "naive_shares": [view.fraction(view.naive, n) for n in sizes],
              "unet_levels": view.unet_levels}
    deepest = list(view.unet_levels.items())[-1]
    text = (f"From the architecture: the naive CNN's window, {view.naive}×{view.naive} pixels, covers "
            + ", ".join(f"{share(view.fraction(view.naive, n))} of a {n}×{n} image" for n in sizes)
            + f". The U-Net's convolutions alone reach {deepest[1]}×{deepest[1]} pixels at {deepest[0]} ("
            + ", ".join(f"{share(view.fraction(deepest[1], n))} at {n}×{n}" for n in sizes) + ")"
            + (f", and {' and '.join(view.unet_global_via)} reach the whole image at any size." if view.unet_global_via
               else "."))
    small = view.fraction(view.naive, sizes[-1]) < 0.01
    return Measurement(text, values, AGREES if small else PARTLY, "the architecture (no image)")


def measure_shift(ctx: Context, target: Target) -> Measurement:
    inputs = _live_inputs(ctx, target)
    if inputs is None:
        return NO_IMAGES
    stem, image, t, seed = inputs
    view = claims.shift_view(ctx, stem, image, t, seed)  # the same numbers the Part by part tab shows
    values = {"image": stem, "t": t, "intact_mse": view.intact_mse, "shifted_mse": view.shifted_mse,
              "intact_psnr": view.intact_psnr, "shifted_psnr": view.shifted_psnr, "zero_mse": view.zero_mse}
    verdict = AGREES if view.shifted_mse > view.intact_mse and view.shifted_psnr < view.intact_psnr else DISAGREES
    return Measurement(claims.shift_sentence(view), values, verdict, "live: the U-Net on this x_t")


# --- the steps --------------------------------------------------------------------------------------------------------

# --- the same claims, answered by training each alternative (explorer/study) ---------------------------------------

# Which of the study's claims (explorer/study/findings.py: `findings.judged`) answer each step's claim.
TRAINED_CLAIMS = {"window": ("window",), "scales": ("many-scales",), "detail": ("detail",),
                  "time": ("needs-t", "t-alone"), "skips": ("skips",), "concat": ("concat",),
                  "gradients": ("gradient-highways",), "noise-scales": ("skips-by-t",)}
TRAINED_VERDICT = findings.IN_LESSON_WORDS
STUDY_SOURCE = "weights/study/study.json (the study of trained alternatives, docs/training.md)"


def measure_trained(ctx: Context, claim_ids: tuple[str, ...]) -> Measurement:
    """The study's verdict on the step's claim: networks trained without the choice against those with it."""
    study = ctx.study
    if study is None:
        return Measurement(f"*Trained alternatives: {NOT_COMPUTED}.* They appear once the study of architectures "
                           "has been trained and evaluated.", verdict=NOT_COMPUTED, source=STUDY_SOURCE, trained=True)
    lines, verdicts = [], []
    for claim_id in claim_ids:
        item = findings.judged(study, claim_id)
        if item is None:
            continue  # the study has not trained both networks at its common budget yet
        claim = getattr(item, "claim", None)
        lines.append((f"*{claim.lesson}* " if claim is not None else "") + item.sentence())
        if findings.decided(item):
            verdicts.append(TRAINED_VERDICT[item.verdict])
    if not lines:
        return Measurement(f"*Trained alternatives: {NOT_COMPUTED}* for this claim.", verdict=NOT_COMPUTED,
                           source=STUDY_SOURCE, trained=True)
    # Answered with one seed on a side only: said, but the step's verdict does not rest on it.
    verdict = NO_VERDICT if not verdicts else verdicts[0] if len(set(verdicts)) == 1 else PARTLY
    intro = (f"Each network trained from scratch by one recipe at {study.resolution}×{study.resolution} "
             f"({HELD_OUT}s over {study.data['heldout_images']} images, in the Trained alternatives tab). ")
    return Measurement(intro + " ".join(lines), {"claims": claim_ids}, verdict, STUDY_SOURCE, trained=True)


def trained_of(extras: tuple[Measurement, ...]) -> Measurement | None:
    """The trained alternatives' measurement among a step's `extras`, where the study has answered the claim."""
    return next((extra for extra in extras if extra.trained and extra.verdict not in (NOT_COMPUTED, NO_VERDICT)),
                None)


def verdict(measurement: Measurement, extras: tuple[Measurement, ...] = ()) -> str:
    """The step's one verdict (`model_card.one_verdict`): the one its evidence panel prints too."""
    trained = trained_of(extras)
    return model_card.one_verdict(measurement.verdict, trained.verdict if trained else None)


def verdict_line(measurement: Measurement, extras: tuple[Measurement, ...] = ()) -> str:
    """The step's verdict in words (`model_card.verdict_line`), as its evidence panel writes it."""
    trained = trained_of(extras)
    return model_card.verdict_line(measurement.verdict, trained.verdict if trained else None)


def at(tab: str, evidence: str, **settings) -> Target:
    """A step's target: the Lesson's default image, t and seed (`DEFAULT_TARGET`) on `tab`, unless `settings` say
    otherwise, with the page brought to `evidence`."""
    return replace(DEFAULT_TARGET, tab=tab, evidence=evidence, **settings)


# The lesson, in order: one record per step. `steps` makes them into `Step`s for the loaded models.
STEPS: tuple[Claim, ...] = (
    Claim("task", "The task: a noise value for every pixel",
          "A diffusion model removes noise a little at a time. At each step it gets the noisy image x_t and "
          "the timestep t, and it must say how much of every pixel is noise: its answer ε̂ is an image of its "
          "own, not a label. That is dense prediction, like outlining objects pixel by pixel, but with "
          "continuous values. Taking ε̂ out of x_t gives the network's guess of the clean image, x̂₀.",
          "In the Denoising lab: the clean image, x_t and the true noise on top; below, each network's "
          "predicted noise, predicted clean image and error map, each the size of the input.",
          # The first step is read before anything is chosen: it speaks of the image the page opens with.
          at("denoising", DENOISE_VIEW, image=FIRST_IMAGE), measure_task,
          ("x_t", "timestep t", "ε̂", "x̂₀", "dense prediction", "ε-MSE")),
    Claim("alignment", "Every pixel must line up",
          "The noise differs from one pixel to the next, so a prediction is only worth something at the exact "
          "pixel it belongs to. Move a good prediction over by a single pixel and see what is left of it.",
          "In the Part by part tab, one pixel off: the U-Net's clean-image estimate with its own predicted noise, "
          "and with that noise moved one pixel to the right, with both errors below.",
          at(PROOFS_TAB, "proof-shift"), measure_shift,
          ("ε̂", "x̂₀", "ε-MSE", "PSNR")),
    Claim("window", "Problem 1: the naive CNN sees a small window",
          "Each convolution lets an output pixel look one step further in every direction. Stacked, the "
          "naive CNN's answer at a pixel depends only on a small square around it, its receptive field: "
          "nothing outside can change it. The U-Net halves the resolution level by level, so the same small "
          "kernels cover more and more of the image, and its attention layers look at all of it.",
          "In the Receptive field tab, at the centre pixel: a small bright square for the naive CNN, and a "
          "field spread over the whole image for the U-Net, with the numbers below.",
          at("receptive", "rf-evidence", block=receptive.OUTPUT, pixel=CENTRE),
          measure_window, ("receptive field", "gradient", "self-attention", "GroupNorm")),
    Claim("windows", "Bigger pictures, same small window",
          "A convolution's window is a fixed number of pixels, whatever the size of the picture. On a larger "
          "image the naive CNN's square shrinks to a speck, while the U-Net's deeper levels still reach far, "
          "and its attention reaches everywhere.",
          "In the Part by part tab, the table of windows: each window's side in pixels and its share of an image "
          "at three sizes.",
          at(PROOFS_TAB, "proof-windows"), measure_windows,
          ("receptive field", "self-attention", "GroupNorm")),
    Claim("scales", "Problem 2: one scale only",
          "Noise has coarse parts (slow blotches) and fine parts (grain from pixel to pixel). The naive CNN "
          "works at full resolution from start to end, so every layer looks at the image at the same scale. "
          "The U-Net's encoder halves its maps level by level and the decoder doubles them back, so each "
          "level handles a different scale, and the skips hand the fine scales across.",
          "In the Part by part tab, scales: the power of skip1 and of the upsampled path it joins, split by "
          "frequency, with the high band shaded and the share of each map's power in it; beside it, how far up "
          "in frequency the image still stands above the noise at each t.",
          at(PROOFS_TAB, "proof-scales"), measure_scales,
          ("spectrum", "cycles per image", "skip connection", "upsampled path", "bottleneck")),
    Claim("detail", "Problem 3: fine detail gets lost",
          "A plain stack of convolutions mixes each pixel with its neighbours again and again, so the lesson "
          "expects sharp edges to wash out. The U-Net keeps a full-resolution copy of its early features and "
          "hands it to the decoder. Zoom in where the image has the most edges, and compare each network's error "
          "there with its error on the flat parts.",
          "In the Part by part tab, where detail gets lost: the busiest patch of the clean image beside the "
          "same patch of each network's estimate, enlarged, and each network's error on the edge pixels and "
          "on the rest.",
          at(PROOFS_TAB, "proof-detail"), measure_detail,
          ("x̂₀", "PSNR", INTERVAL)),
    Claim("time", "Problem 4: the naive CNN cannot know t",
          "The naive CNN is never given t: it must guess from the picture alone how noisy it is. The U-Net "
          "turns t into a vector and adds it inside every block, so it can treat an almost clean image "
          "differently from almost pure noise. Lie to the U-Net about t and see what that costs.",
          "In the Denoising lab, with the U-Net told the wrong timestep: in the knocked-out U-Net column the "
          "predicted noise no longer looks like the true noise, and the error map lights up, while the intact "
          "U-Net's column stays dark. Its noise error is in the column's heading.",
          at("denoising", DENOISE_VIEW, image=TIME_IMAGE, knockouts=Knockouts(told_wrong=True),
             focus=KNOCKED_COLUMN), measure_time,
          ("timestep t", "time embedding", "knock-out", "ε-MSE", INTERVAL)),
    Claim("skips", "Skip connections carry the detail",
          "A skip connection copies an encoder level's features straight across to the decoder level of the "
          "same size. The finest one, skip1, carries full-resolution features: where each edge and each grain "
          "of noise sits. Cut it, and the decoder has to rebuild that detail from the coarse path alone.",
          "In the Denoising lab with skip1 cut: the knocked-out U-Net's predicted noise loses its pixel-level "
          "grain and its clean-image estimate falls apart.",
          at("denoising", DENOISE_VIEW, knockouts=Knockouts(zero_skips=frozenset({1})), focus=KNOCKED_COLUMN),
          measure_skips,
          ("skip connection", "knock-out", "ε-MSE", INTERVAL)),
    Claim("concat", "Concatenation keeps both sources",
          "The U-Net does not add a skip to the decoder's features: it stacks the two side by side, so the "
          "decoder sees both whole and learns how to mix them. Blank one half and see how much the decoder "
          "relied on it.",
          "In the Part by part tab, concatenation: for each decoder level, the channels from the skip and from the "
          "upsampled path, and the error when either half is blanked.",
          at(PROOFS_TAB, "proof-concat"), measure_concat,
          ("concatenation", "skip connection", "upsampled path", "ε-MSE", INTERVAL)),
    Claim("gradients", "Gradient highways",
          "Training sends an error signal, the gradient, backwards from the output to every weight. Through a "
          "long plain stack it must cross every layer and can fade on the way. Skip connections give it a "
          "short path from the decoder straight back to the early encoder blocks.",
          "In the Part by part tab, gradient highways: the size of the gradient that reaches each block, with the "
          "skips and with them cut, for the trained and for an untrained U-Net.",
          at(PROOFS_TAB, "proof-gradients"), measure_gradients, ("gradient",)),
    Claim("noise-scales", "Noise at different scales: bottleneck and skips",
          "The lesson says that at high t, when little of the image is left, the coarse bottleneck matters "
          "most, and that at low t the fine detail carried by the skips matters most. Both claims can be "
          "tested: bypass the bottleneck, or cut the finest skip, at each t.",
          "In the Part by part tab, bottleneck against skips: how much each knock-out multiplies the error, "
          "against t, and below the chart the same verdict as here, with the error each knock-out adds.",
          at(PROOFS_TAB, "proof-bottleneck", t=500), measure_noise_scales,
          ("bottleneck", "skip connection", "knock-out", "ε-MSE", INTERVAL)),
    Claim("accumulation", "The accumulation problem",
          "Sampling runs the network again and again, each step starting from the last one's output. The "
          "lesson warns that small errors pile up, so a network a little worse per step could end far worse. "
          "To see it, follow each network's path from a noisy image and compare it with the ideal path, the one "
          "the true noise gives, which lands exactly on the clean image.",
          "In the Part by part tab, the accumulation chart: each network's distance from the ideal path, step "
          "by step, over held-out images, beside the sum of its one-step errors.",
          at(PROOFS_TAB, "proof-accumulation"),
          measure_accumulation, ("DDIM", "x̂₀", INTERVAL)),
)


def steps(ctx: Context) -> list[Step]:
    """The lesson, in order (`STEPS`), each target made concrete for the loaded models (`resolved`)."""
    return [make_step(claim, ctx) for claim in STEPS]


def resolved(target: Target, ctx: Context) -> Target:
    """`target` for these models: the first held-out example (`FIRST_IMAGE`), the centre pixel (`CENTRE`) and the
    wrong t (`Knockouts(told_wrong=True)`: the far end of the schedule, as in the held-out knock-out table) as
    numbers."""
    if target.pixel == CENTRE:
        target = replace(target, pixel=(ctx.image_size // 2, ctx.image_size // 2))
    if target.image == FIRST_IMAGE:
        target = replace(target, image=ctx.examples[0].stem if ctx.examples else None)
    if target.knockouts.told_wrong:
        told = wrong_timestep(target.t or DEFAULT_T, ctx.diffusion.num_timesteps)
        target = replace(target, knockouts=replace(target.knockouts, told_wrong=False, told_t=told))
    return target


def make_step(claim: Claim, ctx: Context) -> Step:
    """One record of `STEPS` as a `Step`: its measurement bound to its target, and the trained alternatives' answer
    to the same claim where the study has one (`TRAINED_CLAIMS`)."""
    target = resolved(claim.target, ctx)
    extras = ((lambda c: measure_trained(c, TRAINED_CLAIMS[claim.id])),) if claim.id in TRAINED_CLAIMS else ()
    return Step(claim.id, claim.title, claim.text, claim.see, target, lambda c: claim.measure(c, target),
                tuple(claim.words), extras)


def moves_t(target: Target) -> str:
    """What a step whose Show me sets another t than the Lesson's default says about it under its claim, before
    Show me is pressed ("" for the others)."""
    if target.t is None or target.t == DEFAULT_T:
        return ""
    return (f" *Show me moves t to {target.t}* (the other steps use t = {DEFAULT_T}): the input panel's t changes "
            "with it, in every tab.")


def glossary_lines(words: tuple[str, ...]) -> list[str]:
    return [f"**{word}**: {GLOSSARY[word]}" for word in words]
