"""Score the shipped models on the held-out emoji: `python -m explorer.evaluate`.

For every held-out image i and every t in TIMESTEPS, x_t is made from one fixed noise
ε_i = make_noise(seed + i, (1, 3, H, W)), the same ε_i at every t (so the rows of the
table differ only in t) and the same ε the app draws for seed + i. Each model predicts
ε̂; we report the ε-MSE and the PSNR of x̂_0 = (x_t - √(1-ᾱ_t) ε̂) / √ᾱ_t, averaged over
images. The classical baseline blurs x_t / √ᾱ_t; at each t it uses the blur width from
`metrics.BLUR_SIGMAS` with the best mean PSNR on these same images (a choice that
flatters the baseline).

Writes `metrics.json` beside the weights, prints a table, and rewrites the generated
sections of the weights' README.md (between `<!-- metrics:start -->` and
`<!-- metrics:end -->`, and between `<!-- training:start -->` and `<!-- training:end -->`).
"""
from __future__ import annotations

import argparse
import json
import shlex
import sys
import time
from pathlib import Path

import torch
from torch import nn

from explorer import weights
from explorer.analysis import concat as concat_analysis
from explorer.analysis import gradients, intervals, selection, timecond
from explorer.analysis.denoise import make_noise, predict_blur
from explorer.analysis.metrics import BLUR_SIGMAS, INNER_TIMESTEPS, TIMESTEPS, eps_mse, psnr
from explorer.data import ImageFolder, is_held_out
from explorer.diffusion import Diffusion
from explorer.formatting import ratio, times
from explorer.knockouts import single_knockouts, wrong_timestep_rule
from explorer.model_card import model_card_markdown

BATCH_SIZE = 64
DEFAULT_IMAGES = weights.DEFAULT_DIR / "heldout"

# The targets the shipped U-Net is meant to meet; whether it does is computed, never typed.
MAX_EPS_RATIO = 0.70  # U-Net ε-MSE / naive ε-MSE ...
RATIO_FROM_T = 100  # ... at every evaluated t ≥ this
PSNR_GAP_DB = 2.0  # U-Net x̂_0 PSNR minus naive x̂_0 PSNR ...
PSNR_GAP_AT = (250, 500)  # ... at these t


def fixed_noise(count: int, shape: tuple[int, ...], seed: int) -> torch.Tensor:
    """ε for `count` images, image i drawn from seed + i exactly as `denoise.noisy` draws it. (N, C, H, W)."""
    return torch.cat([make_noise(seed + index, (1, *shape)) for index in range(count)])


@torch.no_grad()
def scores_per_image(model: nn.Module, x0: torch.Tensor, diffusion: Diffusion, seed: int,
                     timesteps: tuple[int, ...] = TIMESTEPS, batch_size: int = BATCH_SIZE) -> dict[str, torch.Tensor]:
    """Each image's ε-MSE and x̂_0 PSNR at each t: {"eps_mse": (T, N), "psnr": (T, N)}.

    model: a noise predictor in eval mode. x0: (N, 3, H, W) in [-1, 1]; image i is noised with
    fixed_noise's ε_i at every t, as `evaluate` and the study do.
    """
    eps = fixed_noise(len(x0), tuple(x0.shape[1:]), seed)  # (N, 3, H, W)
    out = {"eps_mse": torch.empty(len(timesteps), len(x0)), "psnr": torch.empty(len(timesteps), len(x0))}
    for row, t in enumerate(timesteps):
        for start in range(0, len(x0), batch_size):
            x0_batch, eps_batch = x0[start:start + batch_size], eps[start:start + batch_size]
            t_batch = torch.full((len(x0_batch),), t, dtype=torch.long)
            x_t = diffusion.q_sample(x0_batch, t_batch, eps_batch)
            eps_hat = model(x_t, t_batch)
            out["eps_mse"][row, start:start + len(x0_batch)] = eps_mse(eps_hat, eps_batch)
            out["psnr"][row, start:start + len(x0_batch)] = psnr(diffusion.predict_x0(x_t, t_batch, eps_hat), x0_batch)
    return out


def evaluate(models: dict[str, nn.Module], x0: torch.Tensor, diffusion: Diffusion, seed: int,
             timesteps: tuple[int, ...] = TIMESTEPS, batch_size: int = BATCH_SIZE) -> dict:
    """ε-MSE and x̂_0 PSNR (means over images) per t for each model and the blur baseline.

    models: name → noise predictor in eval mode. x0: (N, 3, H, W) in [-1, 1].
    Returns {name: {"eps_mse": [...], "psnr": [...], "eps_mse_ci95": [[low, high], ...], "psnr_ci95": ...}}
    with one value per t (the intervals: 95 % over images, `intervals`), and for "blur" also "sigma", the
    chosen blur width per t.
    """
    return evaluate_per_image(models, x0, diffusion, seed, timesteps, batch_size)[0]


@torch.no_grad()
def evaluate_per_image(models: dict[str, nn.Module], x0: torch.Tensor, diffusion: Diffusion, seed: int,
                       timesteps: tuple[int, ...] = TIMESTEPS, batch_size: int = BATCH_SIZE) -> tuple[dict, dict]:
    """`evaluate`'s results, and each image's scores: {name: {"eps_mse": (T, N), "psnr": (T, N)}}."""
    eps = fixed_noise(len(x0), tuple(x0.shape[1:]), seed)  # (N, 3, H, W)
    results, per_image = {}, {}
    for name, model in models.items():
        per_image[name] = scores_per_image(model, x0, diffusion, seed, timesteps, batch_size)
    blur = {"eps_mse": torch.empty(len(timesteps), len(x0)), "psnr": torch.empty(len(timesteps), len(x0))}
    sigmas = []
    for row, t in enumerate(timesteps):
        scores = {sigma: {"eps_mse": torch.empty(len(x0)), "psnr": torch.empty(len(x0))} for sigma in BLUR_SIGMAS}
        for start in range(0, len(x0), batch_size):
            x0_batch, eps_batch = x0[start:start + batch_size], eps[start:start + batch_size]
            count = len(x0_batch)
            x_t = diffusion.q_sample(x0_batch, torch.full((count,), t, dtype=torch.long), eps_batch)
            for sigma in BLUR_SIGMAS:
                prediction = predict_blur(diffusion, x_t, t, x0_batch, eps_batch, sigma)
                scores[sigma]["eps_mse"][start:start + count] = eps_mse(prediction.eps_hat, eps_batch)
                scores[sigma]["psnr"][start:start + count] = psnr(prediction.x0_hat, x0_batch)
        best_sigma = max(BLUR_SIGMAS, key=lambda sigma: float(scores[sigma]["psnr"].double().mean()))
        sigmas.append(best_sigma)
        for key in blur:
            blur[key][row] = scores[best_sigma][key]
    per_image["blur"] = blur
    for name, scores in per_image.items():
        results[name] = {}
        for key in ("eps_mse", "psnr"):
            values = scores[key].double()
            results[name][key] = [float(value) for value in values.mean(1)]
            results[name][f"{key}_ci95"] = intervals.mean_intervals(values.numpy())
    results["blur"]["sigma"] = sigmas
    return results, per_image


def comparison(per_image: dict) -> dict:
    """The U-Net against the naive CNN per t: ε-MSE ratio and PSNR gap with 95 % intervals (images paired)."""
    unet, naive = per_image["unet"], per_image["naive"]
    return {"eps_mse_ratio": [float(u.double().mean() / n.double().mean())
                              for u, n in zip(unet["eps_mse"], naive["eps_mse"])],
            "eps_mse_ratio_ci95": [intervals.ratio_interval(u.numpy(), n.numpy())
                                   for u, n in zip(unet["eps_mse"], naive["eps_mse"])],
            "psnr_gap_db": [float((u.double() - n.double()).mean()) for u, n in zip(unet["psnr"], naive["psnr"])],
            "psnr_gap_db_ci95": [intervals.difference_interval(u.numpy(), n.numpy())
                                 for u, n in zip(unet["psnr"], naive["psnr"])],
            "interval": intervals.METHOD}


KNOCKOUT_TIMESTEPS = INNER_TIMESTEPS


@torch.no_grad()
def knockout_scores_per_image(model: nn.Module, knockouts: list, x0: torch.Tensor, diffusion: Diffusion, seed: int,
                              timesteps: tuple[int, ...], batch_size: int = BATCH_SIZE) -> dict[str, torch.Tensor]:
    """Each image's ε-MSE under each knock-out at each t, with the same noise as `evaluate`: row name → (T, N)."""
    eps = fixed_noise(len(x0), tuple(x0.shape[1:]), seed)
    per_image = {knockout.row_name(): torch.empty(len(timesteps), len(x0), dtype=torch.float64)
                 for knockout in knockouts}  # row → (T, N)
    for row, t in enumerate(timesteps):
        for start in range(0, len(x0), batch_size):
            x0_batch, eps_batch = x0[start:start + batch_size], eps[start:start + batch_size]
            t_batch = torch.full((len(x0_batch),), t, dtype=torch.long)
            x_t = diffusion.q_sample(x0_batch, t_batch, eps_batch)
            for knockout in knockouts:
                eps_hat = model(x_t, t_batch, probe=knockout.probe(t, diffusion.num_timesteps))
                per_image[knockout.row_name()][row, start:start + len(x0_batch)] = eps_mse(eps_hat, eps_batch).double()
    return per_image


def evaluate_knockouts(unet: nn.Module, x0: torch.Tensor, diffusion: Diffusion, seed: int,
                       timesteps: tuple[int, ...] = KNOCKOUT_TIMESTEPS, batch_size: int = BATCH_SIZE) -> dict:
    """Held-out ε-MSE of the U-Net with each part knocked out in turn, with the same noise as `evaluate`."""
    knockouts = single_knockouts(unet.config.num_levels)  # the same switches as the app's Denoising tab
    per_image = knockout_scores_per_image(unet, knockouts, x0, diffusion, seed, timesteps, batch_size)
    intact = per_image["intact"]
    broken = {name: values for name, values in per_image.items() if name != "intact"}
    return {"timesteps": list(timesteps),
            "eps_mse": {name: [float(value) for value in values.mean(1)] for name, values in per_image.items()},
            "eps_mse_ci95": {name: intervals.mean_intervals(values.numpy()) for name, values in per_image.items()},
            "ratio_ci95": {name: [intervals.ratio_interval(row.numpy(), base.numpy())
                                  for row, base in zip(values, intact)] for name, values in broken.items()},
            "added_ci95": {name: [intervals.difference_interval(row.numpy(), base.numpy())
                                  for row, base in zip(values, intact)] for name, values in broken.items()},
            "interval": intervals.METHOD,
            "told_the_wrong_t": wrong_timestep_rule(diffusion.num_timesteps)}


CONCAT_IMAGES = 64  # a subset: 17 forward passes per t (4 levels × 4 replacements + intact)
GRADIENT_BATCH = 64  # backward passes on this many images at a time (all held-out images are used)


def gradient_draw(count: int, shape: tuple[int, ...], seed: int, draw: int,
                  timesteps: tuple[int, ...]) -> tuple[torch.Tensor, torch.Tensor]:
    """Draw k of (ε, t) for `count` images: ε_i from seed + k·stride + i (draw 0: the evaluation's ε_i),
    t_i = timesteps[(i + k) % len(timesteps)] (each draw gives each image another t). ((N, C, H, W), (N,))."""
    eps = fixed_noise(count, shape, seed + draw * gradients.NOISE_DRAW_STRIDE)
    t = torch.tensor([timesteps[(index + draw) % len(timesteps)] for index in range(count)], dtype=torch.long)
    return eps, t


def evaluate_gradients(unet: nn.Module, x0: torch.Tensor, diffusion: Diffusion, seed: int,
                       timesteps: tuple[int, ...] = KNOCKOUT_TIMESTEPS, images: int | None = None,
                       fresh_seeds: tuple[int, ...] = gradients.FRESH_SEEDS,
                       noise_draws: int = gradients.NOISE_DRAWS,
                       fresh_noise_draws: int = gradients.FRESH_NOISE_DRAWS) -> dict:
    """Per-block parameter-gradient norms of the noise loss over the held-out images, over seeds.

    One run: the gradient of the mean noise loss over all the images (skips intact, and every skip cut),
    for one draw of (ε, t) (see gradient_draw). The trained U-Net gets `noise_draws` runs; each fresh
    initialisation seed `fresh_noise_draws`. "trained" and "random_init" hold the mean norm per block over
    the runs; "enc1" the spread over runs of how much larger enc1's gradient is with the skips, absolute
    and relative to the output head (gradients.enc1_ratios).
    """
    x0 = x0 if images is None else x0[:images]
    shape = tuple(x0.shape[1:])
    runs: dict[str, list[dict]] = {"trained": [], "random_init": []}
    blocks: list[str] = []
    plan = [("trained", None, draw) for draw in range(noise_draws)]
    plan += [("random_init", fresh_seed, draw) for fresh_seed in fresh_seeds for draw in range(fresh_noise_draws)]
    for kind, fresh_seed, draw in plan:
        eps, t = gradient_draw(len(x0), shape, seed, draw, timesteps)
        result = gradients.gradient_norms(unet, diffusion, x0, eps, t, fresh=fresh_seed is not None,
                                          fresh_seed=fresh_seed or 0, batch_size=GRADIENT_BATCH)
        blocks = result.blocks
        runs[kind].append({"fresh_seed": fresh_seed, "noise_draw": draw, "norms": result.norms, "loss": result.loss,
                           "enc1": gradients.enc1_ratios(blocks, result.norms)})

    def mean_norms(kind: str) -> dict[str, list[float]]:
        return {variant: [sum(run["norms"][variant][index] for run in runs[kind]) / len(runs[kind])
                          for index in range(len(blocks))] for variant in gradients.VARIANTS}

    def mean_loss(kind: str) -> dict[str, float]:
        return {variant: sum(run["loss"][variant] for run in runs[kind]) / len(runs[kind])
                for variant in gradients.VARIANTS}

    summary = {kind: {measure: gradients.spread([run["enc1"][measure] for run in runs[kind]])
                      for measure in ("absolute", "relative")} for kind in runs}
    for measure in ("absolute", "relative"):  # the fresh U-Nets' own spread: one mean per initialisation seed
        per_seed = [sum(run["enc1"][measure] for run in runs["random_init"] if run["fresh_seed"] == fresh_seed)
                    / fresh_noise_draws for fresh_seed in fresh_seeds]
        summary["random_init"][measure]["per_fresh_seed"] = per_seed
    return {"timesteps": list(timesteps), "images": len(x0), "blocks": blocks,
            "trained": mean_norms("trained"), "random_init": mean_norms("random_init"),
            "fresh_seed": fresh_seeds[0], "fresh_seeds": list(fresh_seeds),
            "noise_draws": {"trained": noise_draws, "random_init_per_seed": fresh_noise_draws},
            "loss": {"trained": mean_loss("trained"), "random_init": mean_loss("random_init")},
            "enc1": summary, "runs": runs,
            "note": "norm of the gradient of mean((ε̂ − ε)²) over all the images with respect to each block's "
                    "parameters; draw k: image i noised with make_noise(noise_seed + 1000·k + i) at "
                    "t = timesteps[(i + k) % len(timesteps)]; trained and random_init: the mean norm over the runs. "
                    "enc1: intact / skips-cut gradient of enc1, absolute (the norms themselves) and relative (each "
                    "divided by the norm at out in the same network), mean, sd, min and max over the runs; a "
                    "spread over seeds, not an interval over images (a gradient of the loss over all the images is "
                    "not a mean of per-image numbers)"}


@torch.no_grad()
def evaluate_concat(unet: nn.Module, x0: torch.Tensor, diffusion: Diffusion, seed: int,
                    timesteps: tuple[int, ...] = KNOCKOUT_TIMESTEPS, batch_size: int = BATCH_SIZE,
                    images: int = CONCAT_IMAGES) -> dict:
    """Held-out ε-MSE with one half of each decoder level's concatenation replaced (zeros or its mean),
    on the first `images` held-out images."""
    x0 = x0[:images]
    eps = fixed_noise(len(x0), tuple(x0.shape[1:]), seed)
    channels = concat_analysis.channels(unet)
    variants = list(concat_analysis.VARIANTS)
    # (levels, variants, T, N): each image's ε-MSE; "intact" is the same at every level
    per_image = torch.empty(len(channels), len(variants), len(timesteps), len(x0), dtype=torch.float64)
    for row, t in enumerate(timesteps):
        for start in range(0, len(x0), batch_size):
            x0_batch, eps_batch = x0[start:start + batch_size], eps[start:start + batch_size]
            t_batch = torch.full((len(x0_batch),), t, dtype=torch.long)
            x_t = diffusion.q_sample(x0_batch, t_batch, eps_batch)
            intact = eps_mse(unet(x_t, t_batch), eps_batch).double()
            for level_index, level in enumerate(channels):
                for variant_index, variant in enumerate(variants):
                    value = intact if variant == "intact" else eps_mse(
                        unet(x_t, t_batch, probe=concat_analysis.probe_for(level, variant)), eps_batch).double()
                    per_image[level_index, variant_index, row, start:start + len(x0_batch)] = value
    levels = {}
    for level_index, level in enumerate(channels):
        scores = per_image[level_index]
        intact = scores[variants.index("intact")]
        levels[str(level)] = {
            "channels": channels[level],
            "eps_mse": {variant: [float(value) for value in scores[index].mean(1)]
                        for index, variant in enumerate(variants)},
            "eps_mse_ci95": {variant: intervals.mean_intervals(scores[index].numpy())
                             for index, variant in enumerate(variants)},
            "ratio_ci95": {variant: [intervals.ratio_interval(row.numpy(), base.numpy())
                                     for row, base in zip(scores[index], intact)]
                           for index, variant in enumerate(variants) if variant != "intact"}}
    return {"timesteps": list(timesteps), "images": len(x0), "levels": levels, "interval": intervals.METHOD}


def evaluate_time_conditioning(unet: nn.Module, x0: torch.Tensor, diffusion: Diffusion, seed: int,
                               batch_size: int = BATCH_SIZE) -> dict:
    """Mean ‖time vector‖ / ‖features‖ per ResBlock and t over the held-out images, with 95 % intervals."""
    eps = fixed_noise(len(x0), tuple(x0.shape[1:]), seed)
    blocks = timecond.resblock_names(unet)
    per_image = torch.empty(len(blocks), len(TIMESTEPS), len(x0), dtype=torch.float64)  # (blocks, T, N)
    with torch.no_grad():
        for column, t in enumerate(TIMESTEPS):
            for start in range(0, len(x0), batch_size):
                x0_batch, eps_batch = x0[start:start + batch_size], eps[start:start + batch_size]
                t_batch = torch.full((len(x0_batch),), int(t), dtype=torch.long)
                shifts = timecond.time_shift(unet, diffusion.q_sample(x0_batch, t_batch, eps_batch), t_batch)
                for row, name in enumerate(blocks):
                    per_image[row, column, start:start + len(x0_batch)] = shifts[name].double()
    return {"timesteps": list(TIMESTEPS), "blocks": blocks,
            "shift": [[float(value) for value in row.mean(1)] for row in per_image],
            "shift_ci95": [intervals.mean_intervals(row.numpy()) for row in per_image],
            "interval": intervals.METHOD}


def knockouts_markdown(knockouts: dict) -> str:
    """The held-out knock-out table: ε-MSE of each broken U-Net, and its multiple of the intact one."""
    timesteps = knockouts["timesteps"]
    intact = knockouts["eps_mse"]["intact"]
    lines = ["| U-Net | " + " | ".join(f"t = {t}" for t in timesteps) + " |", "|---|" + "---:|" * len(timesteps)]
    bounds = knockouts.get("ratio_ci95", {})
    for name, values in knockouts["eps_mse"].items():
        cells = []
        for column, (value, base) in enumerate(zip(values, intact)):
            if name == "intact":
                cells.append(f"{value:.4f}")
                continue
            span = bounds.get(name, [None] * len(values))[column]
            within = f", {times(span[0])} to {times(span[1])}" if span else ""
            cells.append(f"{value:.4f} ({times(ratio(value, base))}{within})")
        lines.append(f"| {name} | " + " | ".join(cells) + " |")
    note = (f"\n\nIn brackets: the multiple of the intact U-Net's ε-MSE and its 95 % interval over images (images "
            f"paired; {knockouts['interval']})." if bounds else "")
    return "\n".join(lines) + note + f"\n\n\"Told the wrong t\": {knockouts['told_the_wrong_t']}."


def comparison_markdown(metrics: dict) -> str:
    """The U-Net against the naive CNN per t, with 95 % intervals over images (images paired)."""
    section = metrics.get("unet_vs_naive")
    if not section:
        return ""
    rows = ["| t | U-Net / naive ε-MSE | 95 % interval | U-Net − naive PSNR | 95 % interval |",
            "|---:|---:|---|---:|---|"]
    for index, t in enumerate(metrics["timesteps"]):
        low, high = section["eps_mse_ratio_ci95"][index]
        gap_low, gap_high = section["psnr_gap_db_ci95"][index]
        rows.append(f"| {t} | {section['eps_mse_ratio'][index]:.3f} | {low:.3f} to {high:.3f} | "
                    f"{section['psnr_gap_db'][index]:+.2f} dB | {gap_low:+.2f} to {gap_high:+.2f} dB |")
    return "\n".join(rows)


def check_targets(timesteps: list[int], models: dict) -> dict:
    """Whether the U-Net meets its targets against the naive CNN, with the numbers that decide it."""
    unet, naive = models["unet"], models["naive"]
    ratios = [u / n for u, n in zip(unet["eps_mse"], naive["eps_mse"])]
    gaps = {t: unet["psnr"][timesteps.index(t)] - naive["psnr"][timesteps.index(t)]
            for t in PSNR_GAP_AT if t in timesteps}
    late = [ratio for t, ratio in zip(timesteps, ratios) if t >= RATIO_FROM_T]
    targets = {
        "unet_eps_mse_below_naive_at_every_t": dict(
            description="U-Net ε-MSE below the naive CNN's at every evaluated t",
            met=all(ratio < 1.0 for ratio in ratios),
            eps_mse_ratio=[round(ratio, 4) for ratio in ratios]),
        "eps_mse_ratio_at_most": dict(
            description=f"U-Net / naive ε-MSE ≤ {MAX_EPS_RATIO:.2f} at every t ≥ {RATIO_FROM_T}",
            threshold=MAX_EPS_RATIO, from_t=RATIO_FROM_T,
            met=bool(late) and max(late) <= MAX_EPS_RATIO,
            worst_ratio=round(max(late), 4) if late else None),
        "psnr_gap_db": dict(
            description=f"U-Net x̂₀ PSNR at least {PSNR_GAP_DB:g} dB above the naive CNN's at t = "
                        + " and ".join(str(t) for t in PSNR_GAP_AT),
            threshold=PSNR_GAP_DB,
            met=len(gaps) == len(PSNR_GAP_AT) and min(gaps.values()) >= PSNR_GAP_DB,
            gaps={str(t): round(gap, 3) for t, gap in gaps.items()}),
    }
    targets["all_met"] = all(target["met"] for target in targets.values())
    return targets


def metrics_table(metrics: dict) -> list[list[str]]:
    """The results as rows of strings, header first (shared by the console and the README)."""
    models = metrics["models"]
    rows = [["t", "SNR dB", "ε-MSE U-Net", "ε-MSE naive", "ε-MSE blur", "U-Net/naive",
             "PSNR U-Net", "PSNR naive", "PSNR blur", "blur σ"]]
    diffusion = Diffusion()
    for index, t in enumerate(metrics["timesteps"]):
        unet, naive, blur = (models[name]["eps_mse"][index] for name in ("unet", "naive", "blur"))
        rows.append([str(t), f"{diffusion.snr_db(t):.1f}", f"{unet:.3g}", f"{naive:.3g}", f"{blur:.3g}",
                     f"{unet / naive:.2f}",
                     *(f"{models[name]['psnr'][index]:.2f}" for name in ("unet", "naive", "blur")),
                     f"{models['blur']['sigma'][index]:g}"])
    return rows


def format_console(metrics: dict) -> str:
    rows = metrics_table(metrics)
    widths = [max(len(row[column]) for row in rows) for column in range(len(rows[0]))]
    lines = ["  ".join(cell.rjust(width) for cell, width in zip(row, widths)) for row in rows]
    lines.insert(1, "  ".join("-" * width for width in widths))
    for key, target in metrics["targets"].items():
        if key != "all_met":
            lines.append(f"{'met    ' if target['met'] else 'NOT met'}  {target['description']}")
    return "\n".join(lines)


def metrics_markdown(metrics: dict) -> str:
    """The README's metrics section, rendered from metrics.json."""
    rows = metrics_table(metrics)
    lines = ["| " + " | ".join(rows[0]) + " |", "|" + "---:|" * len(rows[0])]
    lines += ["| " + " | ".join(row) + " |" for row in rows[1:]]
    lines += ["", f"{metrics['images']} held-out images, noise seed {metrics['noise_seed']} (image i uses seed "
              f"{metrics['noise_seed']} + i, the same ε at every t). ε-MSE: mean squared error of the predicted "
              "noise (lower is better; predicting zero noise scores 1). PSNR: of x̂₀ in dB (higher is better). "
              "The blur baseline's ε is the noise its x̂₀ implies; its σ (pixels) is chosen per t for the best mean "
              "PSNR on these same images."]
    if metrics.get("unet_vs_naive"):
        lines += ["", "The U-Net against the naive CNN on the same images, with 95 % intervals over images (images "
                  f"paired; {metrics['unet_vs_naive']['interval']}; every mean in metrics.json has its interval "
                  "beside it, under the same name ending in `_ci95`):", "", comparison_markdown(metrics)]
    lines += ["", "Targets:", ""]
    for key, target in metrics["targets"].items():
        if key != "all_met":
            detail = ""
            if key == "unet_eps_mse_below_naive_at_every_t":
                detail = f"largest ratio {max(target['eps_mse_ratio']):.2f}"
            elif key == "eps_mse_ratio_at_most":
                detail = f"worst ratio {target['worst_ratio']:.2f}"
            elif key == "psnr_gap_db":
                detail = ", ".join(f"t = {t}: {gap:+.2f} dB" for t, gap in target["gaps"].items())
            lines.append(f"- {'**met**' if target['met'] else '**not met**'}: {target['description']} ({detail})")
    if "knockouts" in metrics:
        lines += ["", "Held-out ε-MSE of the U-Net with one part knocked out (the Denoising tab's switches), and "
                  "its multiple of the intact U-Net's:", "", knockouts_markdown(metrics["knockouts"])]
    part_by_part = model_card_markdown(metrics)
    if part_by_part:
        lines += ["", "### Part by part (the app's \"Part by part\" tab)", part_by_part]
    lines += ["", f"Produced by `{metrics['command']}` from `unet.safetensors` "
              f"(sha256 {metrics['weights_sha256']['unet'][:12]}…) and `naive.safetensors` "
              f"(sha256 {metrics['weights_sha256']['naive'][:12]}…)."]
    return "\n".join(lines)


def study_finding(directory: Path, claim: str) -> dict | None:
    """One finding of the study of architectures (weights/study/study.json), or None when it is missing."""
    path = Path(directory) / "study" / "study.json"
    if not path.is_file():
        return None
    for finding in json.loads(path.read_text()).get("findings", []):
        if finding.get("claim", {}).get("id") == claim:
            return {"claim": finding["claim"], "verdict": finding["verdict"], "ratio": finding["ratio"],
                    "sentence": finding["sentence"], "resolution": json.loads(path.read_text()).get("resolution")}
    return None


def curve_point(meta: dict, last: bool) -> str:
    """The last or the lowest loss of a training curve (validation, or set-aside for older runs), with its step."""
    if not meta.get("curve"):
        return "–"
    point = meta["curve"][-1] if last else min(meta["curve"], key=weights.curve_loss)
    return f"{weights.curve_loss(point):.4f} (step {point['step']:,})"


def selection_markdown(section: dict | None) -> str:
    """The model card's note on how the naive CNN's step was chosen, and what that can have gained it."""
    if not section:
        return ""
    fresh, study = section["fresh"], section.get("study_finding")
    lines = [
        f"**How the shipped naive CNN was chosen, and what that can be worth.** It was trained before the training "
        f"code set a validation split aside: its loss curve ({section['evaluations']} evaluations), its early stop "
        f"(at step {section['last_step']:,}) and the step it kept (step {section['kept_step']:,}, loss "
        f"{section['kept_loss']:.4f}) were measured on the {section['set_aside_images']} set-aside images, which "
        f"include the {section['heldout_images']} held-out images every number above uses. Training now selects on "
        "a validation split of the training images (`explorer/train.py`: `validation_split`); retraining the "
        "naive CNN at its budget does not fit on this CPU, so here is the size of the favour instead, computed "
        "by `python -m explorer.evaluate --only naive_selection`:", "",
        f"- The choice itself gained {section['gain']:.4f} on the set-aside images: the kept loss against the mean "
        f"of the curve from step {section['plateau_steps'][0]:,} to {section['plateau_steps'][1]:,} "
        f"({section['plateau_mean']:.4f}; from one evaluation to the next the curve moves by about "
        f"{section['step_to_step_sd']:.4f}). The held-out numbers can have gained at most that, and less, since "
        "they use other noise and other t.",
        f"- The naive CNN's gap to the U-Net on the same measure (uniform t) is {section['fresh_gap']:.4f} on the "
        f"held-out images over {section['fresh_draws']} fresh draws of t and noise (naive "
        f"{fresh['naive']['mean']:.4f} ± {fresh['naive']['sd']:.4f}, U-Net {fresh['unet']['mean']:.4f} ± "
        f"{fresh['unet']['sd']:.4f}, mean ± sd over draws): the choice's gain is at most "
        f"{100 * section['gain_share_of_gap']:.0f} % of it. The naive CNN's disadvantage is real; its size may be "
        "understated by up to that share."]
    if study:
        lines.append(f"- The unbiased comparison is the study of architectures (below), where every variant trains "
                     f"with the same budget, no early stopping and no choice of step, at {study['resolution']}×"
                     f"{study['resolution']}: \"{study['claim']['lesson']}\" {study['sentence']}")
    return "\n".join(lines)


def training_markdown(unet_meta: dict, naive_meta: dict, selection_note: str = "") -> str:
    """The README's data and training section, rendered from the two weights JSONs (and `selection_markdown`)."""
    def config_text(meta: dict) -> str:
        return ", ".join(f"{key} {'×'.join(map(str, value)) if isinstance(value, list) else value}"
                         for key, value in meta["config"].items())

    data = unet_meta.get("data", {})
    set_aside = data.get("heldout_images")
    lines = [f"Training images: {data.get('train_images', '?')}"
             + (f", validation: {data['validation_images']}" if "validation_images" in data else "")
             + (f", set aside: {set_aside}" if set_aside is not None else "")
             + f" ({data.get('split', '')}; augmentation: {data.get('augmentation', 'none')}).", "",
             "| | U-Net | naive CNN |", "|---|---|---|"]
    metas = {"unet": unet_meta, "naive": naive_meta}

    def row(label: str, value) -> None:
        lines.append(f"| {label} | " + " | ".join(str(value(meta)) for meta in metas.values()) + " |")

    def training(key: str, format_value=str):
        return lambda meta: format_value(meta["training"][key]) if meta["training"].get(key) is not None else "–"

    row("parameters", lambda meta: f"{meta['parameters']:,}")
    row("config", config_text)
    row("steps", training("steps", lambda value: f"{value:,}"))
    row("batch size", training("batch_size"))
    row("images seen", training("images_seen", lambda value: f"{value:,}"))
    row("epochs (images seen / training images)",
        lambda meta: f"{meta['training']['images_seen'] / max(1, meta['data']['train_images']):.0f}")
    row("learning rate (AdamW, linear warm-up)",
        lambda meta: f"{meta['training']['lr']:g}, warm-up {meta['training']['warmup']} steps")
    row("EMA decay of the exported weights", training("ema_decay"))
    row("stopped early (on the loss of the curve below)",
        training("stopped_early", lambda value: "yes" if value else "no"))
    row("precision", lambda meta: "bf16 autocast, fp32 master weights" if meta["training"].get("bf16") else "fp32")
    row("wall time", training("wall_time_s", lambda value: f"{value / 60:.1f} min"))
    row("device", training("device"))
    row("torch", training("torch"))
    row("loss curve measured on", lambda meta: weights.curve_loss_name(meta) if meta.get("curve") else "–")
    row("loss during training: last", lambda meta: curve_point(meta, last=True))
    row("loss during training: lowest", lambda meta: curve_point(meta, last=False))
    row("stored as", lambda meta: f"{meta['weights_dtype']} safetensors")
    if selection_note:
        lines += ["", selection_note]
    return "\n".join(lines)


def replace_section(text: str, name: str, body: str) -> str:
    """Replace what lies between `<!-- name:start -->` and `<!-- name:end -->` in `text`."""
    start, end = f"<!-- {name}:start -->", f"<!-- {name}:end -->"
    if start not in text or end not in text or text.index(start) > text.index(end):
        raise ValueError(f"the markers {start} and {end} are missing or out of order")
    head, rest = text.split(start, 1)
    _, tail = rest.split(end, 1)
    return f"{head}{start}\n{body}\n{end}{tail}"


def update_readme(path: Path, sections: dict[str, str]) -> bool:
    """Rewrite the generated sections of a README; False (and a message) if it or a marker is missing."""
    if not path.exists():
        print(f"{path} does not exist: the README was not updated")
        return False
    text = path.read_text()
    try:
        for name, body in sections.items():
            text = replace_section(text, name, body)
    except ValueError as error:
        print(f"{path}: {error}; the README was not updated")
        return False
    path.write_text(text)
    return True


SECTIONS = ("models", "knockouts", "concat", "time_conditioning", "gradients", "naive_selection")


def _write(path: Path, metrics: dict) -> None:
    """Write the metrics file whole (a reader never sees half a file)."""
    partial = path.with_name(path.name + ".partial")
    partial.write_text(json.dumps(metrics, indent=2, ensure_ascii=False) + "\n")
    partial.replace(path)


def main(argv=None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--weights", type=Path, default=weights.DEFAULT_DIR,
                        help="folder of unet/naive .safetensors + .json")
    parser.add_argument("--images", type=Path, default=DEFAULT_IMAGES,
                        help="the held-out images (all of the folder is used)")
    parser.add_argument("--seed", type=int, default=0, help="image i is noised with seed + i")
    parser.add_argument("--batch-size", type=int, default=BATCH_SIZE)
    parser.add_argument("--out", type=Path, help="metrics file (default: metrics.json in --weights)")
    parser.add_argument("--readme", type=Path,
                        help="README whose generated sections to rewrite (default: README.md in --weights)")
    parser.add_argument("--threads", type=int, help="torch threads (default: torch's own choice)")
    parser.add_argument("--render-only", action="store_true",
                        help="only rewrite the README from the existing metrics file (after editing the README by "
                             "hand)")
    parser.add_argument("--only", action="append", choices=SECTIONS,
                        help="recompute only this section (repeatable); the others are kept from the existing "
                             "metrics file, which must come from the same weights")
    args = parser.parse_args(argv)
    if args.threads:
        torch.set_num_threads(args.threads)
    argv = sys.argv[1:] if argv is None else list(argv)
    out = args.out or args.weights / "metrics.json"
    readme = args.readme or args.weights / "README.md"

    pair = weights.load_pair(args.weights)
    sha256 = {"unet": pair.unet_meta["sha256"], "naive": pair.naive_meta["sha256"]}
    metrics = json.loads(out.read_text()) if out.exists() else {}
    if metrics.get("weights_sha256") != sha256:
        if args.render_only or args.only:
            raise SystemExit(f"{out} is missing or was computed from other weights: run `python -m explorer.evaluate` "
                             "without --render-only or --only")
        metrics = {}  # a full run from other weights keeps nothing; from these, it replaces section by section
    if args.render_only:
        render_readme(readme, pair, metrics)
        return metrics
    data = ImageFolder(args.images, "all", pair.image_size)
    leaked = [path.name for path in data.paths if not is_held_out(path.name)]
    if leaked:
        print(f"warning: {len(leaked)} of the {len(data)} images in {args.images} belong to the training split "
              f"(e.g. {leaked[0]}): these numbers are not held-out numbers")
    images = data.tensors()
    timesteps = list(TIMESTEPS)
    command = shlex.join(["python", "-m", "explorer.evaluate", *argv])
    started = time.time()

    def models_section() -> dict:
        models, per_image = evaluate_per_image({"unet": pair.unet, "naive": pair.naive}, images, Diffusion(),
                                               args.seed, batch_size=args.batch_size)
        return {
            "timesteps": timesteps,
            "models": models,
            "unet_vs_naive": comparison(per_image),
            "targets": check_targets(timesteps, models),
            "images": len(data),
            "images_in_training_split": len(leaked),
            "noise_seed": args.seed,
            "noise": "image i: make_noise(noise_seed + i, (1, 3, H, W)), the same ε at every t",
            "interval": f"95 % intervals (keys ending in _ci95): {intervals.METHOD}",
            "blur_sigmas_tried": list(BLUR_SIGMAS),
            "weights_sha256": sha256,
            "torch": torch.__version__,
            "curves": {"unet": pair.unet_meta.get("curve", []), "naive": pair.naive_meta.get("curve", [])},
        }

    runs = {
        "models": models_section,
        "knockouts": lambda: {"knockouts": evaluate_knockouts(pair.unet, images, Diffusion(), args.seed,
                                                              batch_size=args.batch_size)},
        "concat": lambda: {"concat": evaluate_concat(pair.unet, images, Diffusion(), args.seed,
                                                     batch_size=args.batch_size)},
        "time_conditioning": lambda: {"time_conditioning": evaluate_time_conditioning(
            pair.unet, images, Diffusion(), args.seed, batch_size=args.batch_size)},
        "gradients": lambda: {"gradients": evaluate_gradients(pair.unet, images, Diffusion(), args.seed)},
        "naive_selection": lambda: {"naive_selection": selection.naive_selection(
            pair, images, Diffusion(), study_finding(args.weights, "simple-cnn"))},
    }
    seconds = metrics.setdefault("section_seconds", {})
    commands = metrics.setdefault("section_commands", {})
    for key in args.only or SECTIONS:
        begin = time.time()
        metrics.update(runs[key]())
        seconds[key] = round(time.time() - begin, 1)
        commands[key] = command
        if not args.only:
            metrics["command"] = command
        metrics["seconds"] = round(sum(seconds.values()), 1)
        _write(out, metrics)  # after each section, so a long run can be watched and a crash loses one section
        print(f"{key}: {seconds[key]:.0f} s", flush=True)
    print(format_console(metrics))
    print(f"{len(data)} images × {len(timesteps)} timesteps in {time.time() - started:.0f} s; wrote {out}")
    render_readme(readme, pair, metrics)
    return metrics


def render_readme(readme: Path, pair: weights.ModelPair, metrics: dict) -> None:
    note = selection_markdown(metrics.get("naive_selection"))
    if update_readme(readme, {"training": training_markdown(pair.unet_meta, pair.naive_meta, note),
                              "metrics": metrics_markdown(metrics)}):
        print(f"rewrote the generated sections of {readme}")


if __name__ == "__main__":
    main()
