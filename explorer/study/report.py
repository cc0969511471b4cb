"""Score every trained variant on the clean held-out images and write weights/study/study.json.

The scores are `explorer.evaluate.scores_per_image`, the evaluation of the shipped models: image i
is noised with the same ε_i at every t. Per variant and t: the mean over images for each seed, and a
95 % interval over images of the seed-averaged per-image values (mean ± 1.96·sd/√n). Two reference
lines: predicting no noise at all (ε̂ = 0, ε-MSE ≈ 1), and the shipped U-Net's held-out numbers from
weights/metrics.json, which are at 64×64 (twice the study's resolution): shown for scale, not as a peer.
"""
from __future__ import annotations

import json
import platform
import shlex
import sys
import time
from pathlib import Path

import torch
from torch import nn

from explorer import evaluate, weights
from explorer.devices import cpu_name
from explorer.diffusion import Diffusion
from explorer.metrics import Metrics
from explorer.study import cost, findings
from explorer.study.protocol import Protocol, run_name
from explorer.study.results import StudyResults, heldout_images
from explorer.study.runner import check_budget, planned_runs
from explorer.study.variants import VARIANTS

NOISE_SEED = 0  # image i is noised with NOISE_SEED + i, as in weights/metrics.json
START = "<!-- study:start -->"
END = "<!-- study:end -->"


class NoNoise(nn.Module):
    """The reference that predicts ε̂ = 0: x̂_0 is x_t / √ᾱ_t."""

    def forward(self, x: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
        return torch.zeros_like(x)


def interval95(values: torch.Tensor) -> tuple[float, float]:
    """Normal-approximation 95 % interval of the mean of `values` (N,)."""
    mean = values.double().mean()
    half = 1.96 * values.double().std(unbiased=True) / len(values) ** 0.5
    return float(mean - half), float(mean + half)


def by_t(timesteps: list[int], values) -> dict[str, float]:
    return {str(t): float(value) for t, value in zip(timesteps, values)}


def learning_curve(metadata: list[dict]) -> dict:
    """{"images_seen": [...], "eps_mse": [[seed 0, seed 1, …] per point]} from the runs' recorded curves."""
    curves = [meta["curve"] for meta in metadata]
    points = min(len(curve) for curve in curves)
    batch = metadata[0]["training"]["batch_size"]
    return {"images_seen": [curves[0][i]["step"] * batch for i in range(points)],
            "eps_mse": [[weights.curve_loss(curve[i]) for curve in curves] for i in range(points)]}


def score_variant(name: str, seeds: list[int], directory: Path, x0: torch.Tensor, timesteps: list[int]) -> dict:
    """One variant's entry of study.json (metadata per seed must already have passed check_budget)."""
    diffusion = Diffusion()
    per_seed = {"eps_mse": [], "psnr": []}
    metadata, sha = [], {}
    for seed in seeds:
        model, meta = weights.load(directory, run_name(name, seed))
        scores = evaluate.scores_per_image(model, x0, diffusion, NOISE_SEED, tuple(timesteps))
        for key in per_seed:
            per_seed[key].append(scores[key])  # (T, N)
        metadata.append(meta)
        sha[str(seed)] = meta["sha256"]
    fresh = VARIANTS[name].build(x0.shape[-1])
    entry = {
        "question": VARIANTS[name].question, "matched": VARIANTS[name].matched, "tells_t": VARIANTS[name].tells_t,
        "params": cost.parameters(fresh), "macs": cost.macs(fresh, x0.shape[-1]),
        "window": cost.window(fresh, x0.shape[-1]),
        "images_seen": metadata[0]["training"]["images_seen"], "seeds": seeds,
        "train_seconds": [meta["training"]["wall_time_s"] for meta in metadata], "sha256": sha,
        "curve": learning_curve(metadata),
    }
    for key, values in per_seed.items():
        stacked = torch.stack(values)  # (S, T, N)
        entry[key] = {str(t): [float(v) for v in stacked[:, row].double().mean(1)] for row, t in enumerate(timesteps)}
        entry[f"{key}_ci95"] = {str(t): list(interval95(stacked[:, row].mean(0))) for row, t in enumerate(timesteps)}
    return entry


def references(x0: torch.Tensor, timesteps: list[int]) -> dict:
    zero = evaluate.scores_per_image(NoNoise(), x0, Diffusion(), NOISE_SEED, tuple(timesteps))
    out = {"no_noise": {"what": "predicts ε̂ = 0 (x̂_0 = x_t / √ᾱ_t); same images and noise",
                        **{key: by_t(timesteps, zero[key].double().mean(1)) for key in ("eps_mse", "psnr")}}}
    metrics = Metrics.load(weights.DEFAULT_DIR)
    if metrics is not None:
        shared = [t for t in timesteps if t in metrics.timesteps]
        out["shipped_unet"] = {
            "what": f"the shipped U-Net at 64×64 on the same held-out emoji (weights/metrics.json); "
                    f"the study is at {x0.shape[-1]}×{x0.shape[-1]}, so this is for scale",
            "eps_mse": {str(t): metrics.eps_mse("unet", t) for t in shared},
            "psnr": {str(t): metrics.psnr("unet", t) for t in shared}}
    return out


def evaluate_study(names: list[str], protocol: Protocol, directory: Path, readme: Path | None,
                   images: int | None = None, max_seeds: int | None = None) -> dict:
    """Check every run's budget, score every variant, write study.json (and the model card's section).

    images: score the first `images` held-out images only (a quick trial); None: all of them.
    """
    runs = planned_runs(names, max_seeds)
    missing = [run_name(n, s) for n, s in runs if not (directory / f"{run_name(n, s)}.json").exists()]
    if missing:
        raise SystemExit(f"{len(missing)} runs are not trained yet ({', '.join(missing[:4])} …): "
                         "run `python -m explorer.study train` first")
    metadata = {run_name(n, s): json.loads((directory / f"{run_name(n, s)}.json").read_text()) for n, s in runs}
    check_budget(metadata, protocol)
    started = time.time()
    x0 = heldout_images(images, protocol.resolution)
    timesteps = list(evaluate.TIMESTEPS)
    variants = {}
    for name in names:
        seeds = sorted(seed for variant, seed in runs if variant == name)
        variants[name] = score_variant(name, seeds, directory, x0, timesteps)
        print(f"{name}: ε-MSE at t=250 {[round(v, 4) for v in variants[name]['eps_mse']['250']]}", flush=True)
    first = metadata[run_name(*runs[0])]["training"]
    study = {
        "resolution": protocol.resolution, "timesteps": timesteps, "protocol": protocol.to_dict(),
        "heldout_images": len(x0), "noise_seed": NOISE_SEED,
        "noise": "image i: make_noise(noise_seed + i, (1, 3, R, R)), the same ε at every t",
        "interval": "95 % over images: mean ± 1.96·sd/√n of the per-image values averaged over seeds",
        "trained_on": {"device": first.get("device"), "torch": first.get("torch"), "threads": protocol.threads,
                       "machine": platform.machine(), "cpu": cpu_name(),
                       "cpu_seconds": round(sum(meta["training"]["wall_time_s"] for meta in metadata.values()), 1)},
        "references": references(x0, timesteps), "variants": variants,
        "command": shlex.join(["python", "-m", "explorer.study", *sys.argv[1:]]),
        "seconds": round(time.time() - started, 1),
    }
    study["findings"] = [finding.to_dict() for finding in findings.verdicts(StudyResults(study))]
    (directory / "study.json").write_text(json.dumps(study, indent=1, ensure_ascii=False) + "\n")
    print(f"wrote {directory / 'study.json'} in {study['seconds']:.0f} s")
    if readme is not None and readme.exists():
        text = readme.read_text()
        section = findings.model_card_markdown(StudyResults(study))
        if START in text and END in text:
            head, rest = text.split(START, 1)
            text = head + START + "\n" + section + "\n" + END + rest.split(END, 1)[1]
        else:
            text = text.rstrip() + "\n\n## The study of architectures\n\n" + START + "\n" + section + "\n" + END + "\n"
        readme.write_text(text)
        print(f"rewrote the study section of {readme}")
    return study
