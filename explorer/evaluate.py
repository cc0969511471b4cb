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
from collections.abc import Callable
from pathlib import Path

import torch
from torch import nn

from explorer import weights
from explorer.analysis import concat as concat_analysis
from explorer.analysis import timecond
from explorer.analysis.denoise import make_noise, predict, predict_blur
from explorer.analysis.gradients import FRESH_SEED, gradient_norms
from explorer.analysis.metrics import BLUR_SIGMAS, TIMESTEPS, eps_mse, psnr
from explorer.data import ImageFolder, is_held_out
from explorer.diffusion import NUM_TIMESTEPS, Diffusion
from explorer.probe import Probe, wrong_timestep
from explorer.views.proofs import model_card_markdown

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


class _Mean:
    """Running mean over batches of different sizes."""

    def __init__(self) -> None:
        self.total, self.count = 0.0, 0

    def add(self, value: float, count: int) -> None:
        self.total += value * count
        self.count += count

    @property
    def value(self) -> float:
        return self.total / self.count


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


@torch.no_grad()
def evaluate(models: dict[str, nn.Module], x0: torch.Tensor, diffusion: Diffusion, seed: int,
             timesteps: tuple[int, ...] = TIMESTEPS, batch_size: int = BATCH_SIZE) -> dict:
    """ε-MSE and x̂_0 PSNR (means over images) per t for each model and the blur baseline.

    models: name → noise predictor in eval mode. x0: (N, 3, H, W) in [-1, 1].
    Returns {name: {"eps_mse": [...], "psnr": [...]}} with one value per t, and for
    "blur" also "sigma", the chosen blur width per t.
    """
    eps = fixed_noise(len(x0), tuple(x0.shape[1:]), seed)  # (N, 3, H, W)
    results = {}
    for name, model in models.items():
        scores = scores_per_image(model, x0, diffusion, seed, timesteps, batch_size)
        results[name] = {key: [float(value) for value in scores[key].double().mean(1)] for key in ("eps_mse", "psnr")}
    results["blur"] = {"eps_mse": [], "psnr": [], "sigma": []}
    for t in timesteps:
        blur_means = {sigma: (_Mean(), _Mean()) for sigma in BLUR_SIGMAS}
        for start in range(0, len(x0), batch_size):
            x0_batch, eps_batch = x0[start:start + batch_size], eps[start:start + batch_size]
            count = len(x0_batch)
            x_t = diffusion.q_sample(x0_batch, torch.full((count,), t, dtype=torch.long), eps_batch)
            for sigma in BLUR_SIGMAS:
                prediction = predict_blur(diffusion, x_t, t, x0_batch, eps_batch, sigma)
                blur_means[sigma][0].add(prediction.eps_mse, count)
                blur_means[sigma][1].add(prediction.psnr, count)
        best_sigma = max(BLUR_SIGMAS, key=lambda sigma: blur_means[sigma][1].value)
        results["blur"]["eps_mse"].append(blur_means[best_sigma][0].value)
        results["blur"]["psnr"].append(blur_means[best_sigma][1].value)
        results["blur"]["sigma"].append(best_sigma)
    return results


KNOCKOUT_TIMESTEPS = (10, 50, 250, 500, 900)


def knockout_probes(levels: int, num_timesteps: int = NUM_TIMESTEPS) -> dict[str, Callable[[int], Probe]]:
    """The U-Net with one part broken, as a Probe per t (the same switches as the app's Denoising tab)."""
    probes: dict[str, Callable[[int], Probe]] = {"intact": lambda t: Probe()}
    for level in range(1, levels + 1):
        probes[f"skip{level} cut"] = lambda t, level=level: Probe(zero_skips=frozenset({level}))
    probes["attention off"] = lambda t: Probe(attention=False)
    probes["bottleneck bypassed"] = lambda t: Probe(bypass_mid=True)
    # The far end of the schedule: what a network that cannot know t risks at worst.
    probes["told the wrong t"] = lambda t: Probe(timestep=wrong_timestep(t, num_timesteps))
    return probes


@torch.no_grad()
def evaluate_knockouts(unet: nn.Module, x0: torch.Tensor, diffusion: Diffusion, seed: int,
                       timesteps: tuple[int, ...] = KNOCKOUT_TIMESTEPS, batch_size: int = BATCH_SIZE) -> dict:
    """Held-out ε-MSE of the U-Net with each part knocked out in turn, with the same noise as `evaluate`."""
    eps = fixed_noise(len(x0), tuple(x0.shape[1:]), seed)
    probes = knockout_probes(unet.config.num_levels, diffusion.num_timesteps)
    rows = {name: [] for name in probes}
    for t in timesteps:
        for name, make_probe in probes.items():
            mean = _Mean()
            for start in range(0, len(x0), batch_size):
                x0_batch, eps_batch = x0[start:start + batch_size], eps[start:start + batch_size]
                x_t = diffusion.q_sample(x0_batch, torch.full((len(x0_batch),), t, dtype=torch.long), eps_batch)
                mean.add(predict(unet, diffusion, x_t, t, x0_batch, eps_batch, probe=make_probe(t)).eps_mse,
                         len(x0_batch))
            rows[name].append(mean.value)
    return {"timesteps": list(timesteps), "eps_mse": rows,
            "told_the_wrong_t": f"the network is told t = {diffusion.max_t} when t < {diffusion.num_timesteps // 2}, "
                                "else t = 1"}


GRADIENT_IMAGES = 64  # a subset: one backward pass per variant on this many images keeps the evaluation short
CONCAT_IMAGES = 64  # a subset too: 17 forward passes per t (4 levels × 4 replacements + intact)


def evaluate_gradients(unet: nn.Module, x0: torch.Tensor, diffusion: Diffusion, seed: int,
                       timesteps: tuple[int, ...] = KNOCKOUT_TIMESTEPS, images: int = GRADIENT_IMAGES) -> dict:
    """Per-block parameter-gradient norms of the noise loss on the first `images` held-out images.

    Image i gets t = timesteps[i % len(timesteps)] (t spread over the schedule) and its usual ε_i. One
    backward pass per variant: trained / fresh init (seed FRESH_SEED) × skips intact / every skip cut.
    """
    x0 = x0[:images]
    eps = fixed_noise(len(x0), tuple(x0.shape[1:]), seed)
    t = torch.tensor([timesteps[index % len(timesteps)] for index in range(len(x0))], dtype=torch.long)
    trained = gradient_norms(unet, diffusion, x0, eps, t)
    fresh = gradient_norms(unet, diffusion, x0, eps, t, fresh=True)
    return {"timesteps": list(timesteps), "images": len(x0), "blocks": trained.blocks,
            "trained": trained.norms, "random_init": fresh.norms, "fresh_seed": FRESH_SEED,
            "loss": {"trained": trained.loss, "random_init": fresh.loss},
            "note": "norm of the gradient of mean((ε̂ − ε)²) with respect to each block's parameters; "
                    "image i at t = timesteps[i % len(timesteps)]"}


@torch.no_grad()
def evaluate_concat(unet: nn.Module, x0: torch.Tensor, diffusion: Diffusion, seed: int,
                    timesteps: tuple[int, ...] = KNOCKOUT_TIMESTEPS, batch_size: int = BATCH_SIZE,
                    images: int = CONCAT_IMAGES) -> dict:
    """Held-out ε-MSE with one half of each decoder level's concatenation replaced (zeros or its mean),
    on the first `images` held-out images."""
    x0 = x0[:images]
    eps = fixed_noise(len(x0), tuple(x0.shape[1:]), seed)
    channels = concat_analysis.channels(unet)
    levels = {str(level): {"channels": channels[level],
                           "eps_mse": {variant: [] for variant in concat_analysis.VARIANTS}}
              for level in channels}
    for t in timesteps:
        sums = {level: {variant: _Mean() for variant in concat_analysis.VARIANTS} for level in channels}
        for start in range(0, len(x0), batch_size):
            x0_batch, eps_batch = x0[start:start + batch_size], eps[start:start + batch_size]
            x_t = diffusion.q_sample(x0_batch, torch.full((len(x0_batch),), t, dtype=torch.long), eps_batch)
            for level, row in concat_analysis.concat_errors(unet, x_t, t, eps_batch).items():
                for variant, value in row.items():
                    sums[level][variant].add(value, len(x0_batch))
        for level in channels:
            for variant in concat_analysis.VARIANTS:
                levels[str(level)]["eps_mse"][variant].append(sums[level][variant].value)
    return {"timesteps": list(timesteps), "images": len(x0), "levels": levels}


def evaluate_time_conditioning(unet: nn.Module, x0: torch.Tensor, diffusion: Diffusion, seed: int,
                               batch_size: int = BATCH_SIZE) -> dict:
    """Mean ‖time vector‖ / ‖features‖ per ResBlock and t over the held-out images."""
    eps = fixed_noise(len(x0), tuple(x0.shape[1:]), seed)
    return timecond.shift_table(unet, diffusion, x0, eps, TIMESTEPS, batch_size)


def knockouts_markdown(knockouts: dict) -> str:
    """The held-out knock-out table: ε-MSE of each broken U-Net, and its multiple of the intact one."""
    timesteps = knockouts["timesteps"]
    intact = knockouts["eps_mse"]["intact"]
    lines = ["| U-Net | " + " | ".join(f"t = {t}" for t in timesteps) + " |", "|---|" + "---:|" * len(timesteps)]
    for name, values in knockouts["eps_mse"].items():
        cells = [f"{value:.4f}" if name == "intact" else f"{value:.4f} (×{value / base:,.1f})"
                 for value, base in zip(values, intact)]
        lines.append(f"| {name} | " + " | ".join(cells) + " |")
    return "\n".join(lines) + f"\n\n\"Told the wrong t\": {knockouts['told_the_wrong_t']}."


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
              "PSNR on these same images.", "", "Targets:", ""]
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


def curve_point(meta: dict, last: bool) -> str:
    """The last or the lowest held-out loss of a training curve, with its step."""
    if not meta.get("curve"):
        return "–"
    point = meta["curve"][-1] if last else min(meta["curve"], key=lambda entry: entry["heldout_loss"])
    return f"{point['heldout_loss']:.4f} (step {point['step']:,})"


def training_markdown(unet_meta: dict, naive_meta: dict) -> str:
    """The README's data and training section, rendered from the two weights JSONs."""
    def config_text(meta: dict) -> str:
        return ", ".join(f"{key} {'×'.join(map(str, value)) if isinstance(value, list) else value}"
                         for key, value in meta["config"].items())

    data = unet_meta.get("data", {})
    lines = [f"Training images: {data.get('train_images', '?')}, held out: {data.get('heldout_images', '?')} "
             f"({data.get('split', '')}; augmentation: {data.get('augmentation', 'none')}).", "",
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
    row("stopped early on held-out loss", training("stopped_early", lambda value: "yes" if value else "no"))
    row("precision", lambda meta: "bf16 autocast, fp32 master weights" if meta["training"].get("bf16") else "fp32")
    row("wall time", training("wall_time_s", lambda value: f"{value / 60:.1f} min"))
    row("device", training("device"))
    row("torch", training("torch"))
    row("held-out loss during training: last", lambda meta: curve_point(meta, last=True))
    row("held-out loss during training: best", lambda meta: curve_point(meta, last=False))
    row("stored as", lambda meta: f"{meta['weights_dtype']} safetensors")
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
    args = parser.parse_args(argv)
    if args.threads:
        torch.set_num_threads(args.threads)
    argv = sys.argv[1:] if argv is None else list(argv)
    out = args.out or args.weights / "metrics.json"
    readme = args.readme or args.weights / "README.md"

    pair = weights.load_pair(args.weights)
    if args.render_only:
        metrics = json.loads(out.read_text())
        if metrics["weights_sha256"] != {"unet": pair.unet_meta["sha256"], "naive": pair.naive_meta["sha256"]}:
            raise SystemExit(f"{out} was computed from other weights: run `python -m explorer.evaluate` without "
                             "--render-only")
        render_readme(readme, pair, metrics)
        return metrics
    data = ImageFolder(args.images, "all", pair.image_size)
    leaked = [path.name for path in data.paths if not is_held_out(path.name)]
    if leaked:
        print(f"warning: {len(leaked)} of the {len(data)} images in {args.images} belong to the training split "
              f"(e.g. {leaked[0]}): these numbers are not held-out numbers")
    started = time.time()
    models = evaluate({"unet": pair.unet, "naive": pair.naive}, data.tensors(), Diffusion(), args.seed,
                      batch_size=args.batch_size)
    timesteps = list(TIMESTEPS)
    metrics = {
        "timesteps": timesteps,
        "models": models,
        "targets": check_targets(timesteps, models),
        "images": len(data),
        "images_in_training_split": len(leaked),
        "noise_seed": args.seed,
        "noise": "image i: make_noise(noise_seed + i, (1, 3, H, W)), the same ε at every t",
        "blur_sigmas_tried": list(BLUR_SIGMAS),
        "weights_sha256": {"unet": pair.unet_meta["sha256"], "naive": pair.naive_meta["sha256"]},
        "command": shlex.join(["python", "-m", "explorer.evaluate", *argv]),
        "torch": torch.__version__,
        "seconds": round(time.time() - started, 1),
        "curves": {"unet": pair.unet_meta.get("curve", []), "naive": pair.naive_meta.get("curve", [])},
    }
    images = data.tensors()
    for key, run in (("knockouts", lambda: evaluate_knockouts(pair.unet, images, Diffusion(), args.seed,
                                                              batch_size=args.batch_size)),
                     ("concat", lambda: evaluate_concat(pair.unet, images, Diffusion(), args.seed,
                                                        batch_size=args.batch_size)),
                     ("time_conditioning", lambda: evaluate_time_conditioning(pair.unet, images, Diffusion(), args.seed,
                                                                              batch_size=args.batch_size)),
                     ("gradients", lambda: evaluate_gradients(pair.unet, images, Diffusion(), args.seed))):
        begin = time.time()
        metrics[key] = run()
        print(f"{key}: {time.time() - begin:.0f} s", flush=True)
    metrics["seconds"] = round(time.time() - started, 1)
    out.write_text(json.dumps(metrics, indent=2, ensure_ascii=False) + "\n")
    print(format_console(metrics))
    print(f"{len(data)} images × {len(timesteps)} timesteps in {metrics['seconds']:.0f} s; wrote {out}")
    render_readme(readme, pair, metrics)
    return metrics


def render_readme(readme: Path, pair: weights.ModelPair, metrics: dict) -> None:
    if update_readme(readme, {"training": training_markdown(pair.unet_meta, pair.naive_meta),
                              "metrics": metrics_markdown(metrics)}):
        print(f"rewrote the generated sections of {readme}")


if __name__ == "__main__":
    main()
