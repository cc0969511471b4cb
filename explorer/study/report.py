"""Score every trained run of the ladder on the clean held-out images and write study.json.

The scores are `explorer.evaluate.scores_per_image`, the evaluation of the shipped models: image i
is noised with the same ε_i at every t. Each run (variant, resolution, seed, budget) gets:
- the held-out ε-MSE and x̂₀ PSNR at each t of the app's grid (means over images);
- the training objective: the ε-MSE averaged over t uniform on the whole schedule, estimated on
  OBJECTIVE_TIMESTEPS (the midpoints of 20 equal strata of 0 … 999), beside the x̂₀ PSNR averaged alike;
- its training compute (3 × multiply-adds per image × images seen: forward and backward) and time.
A run already scored with the same weights (sha256) and the same evaluation is not scored again: its summary is
kept in study.json, its per-image scores (what the intervals and the paired findings need) in a cache outside the
work tree (`ScoreCache`: `scores/` in the checkpoint folder, ~/.cache/unet-explorer/study/scores).

The `variants` section (the tables and the findings of the app) holds every variant at the study's
common budget, the largest that every key variant reached with all its seeds, with 95 % bootstrap
intervals over images (explorer.analysis.intervals, as every held-out number of the app).
References: predicting no noise (per resolution), and the shipped 64×64 models with their budgets.
"""
from __future__ import annotations

import hashlib
import json
import os
import platform
import re
import shlex
import sys
import time
from pathlib import Path

import torch
from torch import nn

from explorer import evaluate, weights
from explorer.analysis import intervals
from explorer.devices import cpu_name
from explorer.diffusion import Diffusion
from explorer.study import cost, findings, ladder
from explorer.study.protocol import Protocol
from explorer.study.results import StudyResults, heldout_images
from explorer.study.variants import VARIANTS

NOISE_SEED = 0  # image i is noised with NOISE_SEED + i, as in weights/metrics.json
OBJECTIVE_TIMESTEPS = tuple(25 + 50 * k for k in range(20))  # midpoints of 20 equal strata of 0 … 999
RUN_NAME = re.compile(r"^(?P<variant>.+)-r(?P<resolution>\d+)-seed(?P<seed>\d+)-s(?P<steps>\d+)(?P<cosine>-cosine)?$")
START = "<!-- study:start -->"
END = "<!-- study:end -->"


class BudgetError(ValueError):
    """A run that did not follow the protocol: it cannot be compared."""


class NoNoise(nn.Module):
    """The reference that predicts ε̂ = 0: x̂_0 is x_t / √ᾱ_t."""

    def forward(self, x: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
        return torch.zeros_like(x)


def evaluation_grid() -> tuple[int, ...]:
    return tuple(sorted(set(evaluate.TIMESTEPS) | set(OBJECTIVE_TIMESTEPS)))


def trained_runs(directory: Path) -> list[dict]:
    """Every run in `directory` whose name the ladder wrote: {"name", "variant", "resolution", "seed", "steps",
    "schedule"}, in name order."""
    found = []
    for meta in sorted(Path(directory).glob("*.json")):
        match = RUN_NAME.match(meta.stem)
        if match is None or not ladder.finished(meta.parent, meta.stem, int(match["steps"])):
            continue  # not a run of the ladder, or one still training (it exports at every checkpoint)
        found.append({"name": meta.stem, "variant": match["variant"], "resolution": int(match["resolution"]),
                      "seed": int(match["seed"]), "steps": int(match["steps"]),
                      "schedule": "cosine" if match["cosine"] else "wsd"})
    return found


def check_protocol(run: dict, training: dict, protocol: Protocol) -> None:
    """Refuse a run whose training differs from the protocol (steps, batch, learning rate, schedule …)."""
    expected = {"steps": run["steps"], "batch_size": protocol.batch_size, "lr": protocol.lr, "warmup": protocol.warmup,
                "image_size": run["resolution"], "schedule": run["schedule"], "variant": run["variant"],
                "seed": run["seed"], "ema_decay": None}
    if run["schedule"] == "wsd":
        expected["decay_fraction"] = ladder.DECAY_FRACTION
    differing = {key: training.get(key) for key, value in expected.items() if training.get(key) != value}
    if differing:
        wanted = {key: expected[key] for key in differing}
        raise BudgetError(f"{run['name']} was not trained by the study's protocol: {differing} instead of {wanted}; "
                          "retrain it with `python -m explorer.study train`")


def score_run(model: nn.Module, x0: torch.Tensor) -> dict[str, torch.Tensor]:
    """Per-image ε-MSE and PSNR on the evaluation grid: {"eps_mse": (T, N), "psnr": (T, N)}."""
    return evaluate.scores_per_image(model, x0, Diffusion(), NOISE_SEED, evaluation_grid())


class ScoreCache:
    """Per-image scores of trained runs, on disk by weights (sha256) and evaluation (grid, images, noise seed).

    A file holds {"eps_mse": (T, N), "psnr": (T, N)} for one run; a cache that cannot be read or written is
    passed over (the run is scored again), never an error.
    """

    def __init__(self, folder: Path | None = None):  # None: nothing is kept
        self.folder = None if folder is None else Path(folder)

    @staticmethod
    def evaluation_key(x0: torch.Tensor) -> str:
        described = json.dumps({"grid": evaluation_grid(), "noise_seed": NOISE_SEED, "images": list(x0.shape)})
        digest = hashlib.sha256(described.encode())
        digest.update(x0.contiguous().numpy().tobytes())
        return digest.hexdigest()[:16]

    def scores(self, directory: Path, name: str, sha256: str, x0: torch.Tensor) -> dict[str, torch.Tensor]:
        """The run's per-image scores on x0: read from the cache, or computed (and kept) when absent."""
        path = None if self.folder is None else self.folder / f"{sha256}-{self.evaluation_key(x0)}.pt"
        if path is not None and path.exists():
            try:
                return torch.load(path, weights_only=True)
            except Exception:  # noqa: BLE001 — a damaged cache entry is scored again
                pass
        model, _ = weights.load(directory, name)
        scores = score_run(model, x0)
        if path is not None:
            try:
                path.parent.mkdir(parents=True, exist_ok=True)
                partial = path.with_suffix(f".{os.getpid()}.tmp")
                torch.save(scores, partial)
                partial.replace(path)
            except OSError:
                pass
        return scores


def summarise(scores: dict[str, torch.Tensor]) -> dict:
    """Means over images per t of the app's grid, and the objective (means over OBJECTIVE_TIMESTEPS)."""
    grid = evaluation_grid()
    rows = [grid.index(t) for t in OBJECTIVE_TIMESTEPS]
    means = {key: value.double().mean(1) for key, value in scores.items()}  # (T,)
    return {"eps_mse": {str(t): float(means["eps_mse"][grid.index(t)]) for t in evaluate.TIMESTEPS},
            "psnr": {str(t): float(means["psnr"][grid.index(t)]) for t in evaluate.TIMESTEPS},
            "objective": float(means["eps_mse"][rows].mean()), "objective_psnr": float(means["psnr"][rows].mean())}


def objective_per_image(scores: dict[str, torch.Tensor]) -> torch.Tensor:
    """(N,) each image's ε-MSE averaged over OBJECTIVE_TIMESTEPS."""
    grid = evaluation_grid()
    return scores["eps_mse"][[grid.index(t) for t in OBJECTIVE_TIMESTEPS]].double().mean(0)


def macs_per_image(variant: str, resolution: int) -> int:
    return cost.macs(VARIANTS[variant].build(resolution), resolution)


def run_record(run: dict, meta: dict, summary: dict, macs: int) -> dict:
    training = meta["training"]
    return {"variant": run["variant"], "resolution": run["resolution"], "seed": run["seed"], "steps": run["steps"],
            "schedule": run["schedule"], "images_seen": training["images_seen"],
            "training_macs": 3 * macs * training["images_seen"], "train_seconds": training["wall_time_s"],
            "device": training.get("device"), "sha256": meta["sha256"], **summary,
            "branched_from_step": training.get("branched_from_step"), "curve": [
                {"images_seen": point["step"] * training["batch_size"], "validation": weights.curve_loss(point)}
                for point in meta.get("curve", [])]}


def common_budget(records: list[dict], resolution: int = Protocol.resolution) -> int | None:
    """The largest budget at which every key variant trained so far has as many seeds as at its first budget
    (None: not one budget yet). Key variants: ladder.KEY_VARIANTS, or every variant when none of them is here."""
    records = [r for r in records if r["resolution"] == resolution and r["schedule"] == "wsd"]
    present = {r["variant"] for r in records}
    keys = [variant for variant in ladder.KEY_VARIANTS if variant in present] or sorted(present)

    def seeds(variant: str, steps: int) -> int:
        return len({r["seed"] for r in records if r["variant"] == variant and r["steps"] == steps})

    wanted = {variant: seeds(variant, min(r["steps"] for r in records if r["variant"] == variant)) for variant in keys}
    complete = [steps for steps in sorted({r["steps"] for r in records})
                if all(seeds(variant, steps) >= wanted[variant] for variant in keys)]
    return complete[-1] if complete else None


def variant_entry(name: str, records: list[dict], per_image: dict[str, list[dict]], resolution: int) -> dict:
    """One variant's entry of the `variants` section: every seed's scores at the common budget, with intervals."""
    fresh = VARIANTS[name].build(resolution)
    records = sorted(records, key=lambda record: record["seed"])
    entry = {
        "question": VARIANTS[name].question, "matched": VARIANTS[name].matched, "tells_t": VARIANTS[name].tells_t,
        "params": cost.parameters(fresh), "macs": cost.macs(fresh, resolution),
        "window": cost.window(fresh, resolution),
        "steps": records[0]["steps"], "images_seen": records[0]["images_seen"],
        "training_macs": records[0]["training_macs"], "seeds": [record["seed"] for record in records],
        "train_seconds": [record["train_seconds"] for record in records],
        "sha256": {str(record["seed"]): record["sha256"] for record in records},
        "objective": [record["objective"] for record in records],
        "curve": {"images_seen": [point["images_seen"] for point in records[0]["curve"]],
                  "eps_mse": [[record["curve"][i]["validation"] for record in records]
                              for i in range(min(len(record["curve"]) for record in records))]},
    }
    for key in ("eps_mse", "psnr"):
        entry[key] = {str(t): [record[key][str(t)] for record in records] for t in evaluate.TIMESTEPS}
        grid = evaluation_grid()
        stacked = torch.stack([scores[key] for scores in per_image[name]])  # (S, T, N)
        averaged = stacked.double().mean(0)  # (T, N): the seeds' mean per image
        entry[f"{key}_ci95"] = {str(t): intervals.mean_interval(averaged[grid.index(t)].numpy())
                                for t in evaluate.TIMESTEPS}
    entry["objective_ci95"] = intervals.mean_interval(
        torch.stack([objective_per_image(scores) for scores in per_image[name]]).mean(0).numpy())
    return entry


def references(resolutions: list[int], images: int | None, cached: dict) -> dict:
    """Predicting no noise at each resolution, and the shipped 64×64 models with their training budgets."""
    out = {"no_noise_by_resolution": {}}
    for resolution in resolutions:
        summary = summarise(score_run(NoNoise(), heldout_images(images, resolution)))
        out["no_noise_by_resolution"][str(resolution)] = {
            "what": "predicts ε̂ = 0 (x̂_0 = x_t / √ᾱ_t); same images and noise", **summary}
    out["no_noise"] = out["no_noise_by_resolution"][str(Protocol.resolution)]
    shipped = {}
    for name in ("unet", "naive"):
        model, meta = weights.load(weights.DEFAULT_DIR, name)
        resolution = meta["training"].get("image_size") or meta.get("config", {}).get("image_size", 64)
        old = cached.get(f"shipped_{name}")
        if old is not None and old.get("sha256") == meta["sha256"] and old.get("images") == images:
            shipped[name] = old
            continue
        summary = summarise(score_run(model, heldout_images(images, resolution)))
        training = meta["training"]
        steps, images_seen = training["steps"], training["images_seen"]
        shipped[name] = {"what": f"the shipped {'U-Net' if name == 'unet' else 'naive CNN'} at {resolution}×"
                                 f"{resolution}, trained {steps:,} steps of {training['batch_size']}",
                         "resolution": resolution, "steps": steps, "images_seen": images_seen,
                         "training_macs": 3 * cost.macs(model, resolution) * images_seen,
                         "sha256": meta["sha256"], "images": images, **summary}
    out["shipped_unet"], out["shipped_naive"] = shipped["unet"], shipped["naive"]
    return out


def evaluate_study(directory: Path, readme: Path | None, images: int | None = None,
                   protocol: Protocol | None = None, cache: ScoreCache | None = None) -> dict:
    """Score every run of `directory` (reusing unchanged scores), write study.json and the model card's section.

    images: score the first `images` held-out images only (a quick trial); None: all of them.
    """
    protocol = protocol or Protocol()
    cache = cache or ScoreCache(None)
    runs = trained_runs(directory)
    if not runs:
        raise SystemExit(f"no trained runs in {directory}: run `python -m explorer.study train` first")
    started = time.time()
    path = Path(directory) / "study.json"
    old = json.loads(path.read_text()) if path.exists() else {}
    same_evaluation = old.get("evaluation", {}) == {"timesteps": list(evaluation_grid()), "images": images}
    cached = {record["sha256"]: record for record in old.get("runs", []) if same_evaluation}
    metadata = {run["name"]: json.loads((Path(directory) / f"{run['name']}.json").read_text()) for run in runs}
    for run in runs:
        check_protocol(run, metadata[run["name"]]["training"], protocol)
    macs = {key: macs_per_image(*key) for key in {(run["variant"], run["resolution"]) for run in runs}}
    records, per_image = [], {}
    for run in runs:
        meta = metadata[run["name"]]
        if meta["sha256"] in cached:
            records.append(cached[meta["sha256"]])
            continue
        scores = cache.scores(directory, run["name"], meta["sha256"], heldout_images(images, run["resolution"]))
        per_image[run["name"]] = scores
        records.append(run_record(run, meta, summarise(scores), macs[(run["variant"], run["resolution"])]))
        print(f"{run['name']}: objective {records[-1]['objective']:.4f}, ε-MSE t=250 "
              f"{records[-1]['eps_mse']['250']:.4f}", flush=True)
    budget = common_budget(records)
    if budget is None:
        raise SystemExit("no budget yet at which every key variant (" + ", ".join(ladder.KEY_VARIANTS) + ") has all "
                         "its seeds: train further (`python -m explorer.study status` says what is left)")
    resolution = protocol.resolution
    at_budget = {}
    for run, record in zip(runs, records):
        if run["resolution"] == resolution and run["steps"] == budget and run["schedule"] == "wsd":
            at_budget.setdefault(run["variant"], []).append((run, record))
    variants, per_image_at_budget = {}, {}
    for name in [name for name in VARIANTS if name in at_budget]:
        per_image_at_budget[name] = []
        for run, _ in sorted(at_budget[name], key=lambda pair: pair[0]["seed"]):
            if run["name"] not in per_image:
                per_image[run["name"]] = cache.scores(directory, run["name"], metadata[run["name"]]["sha256"],
                                                      heldout_images(images, resolution))
            per_image_at_budget[name].append(per_image[run["name"]])
        variants[name] = variant_entry(name, [record for _, record in at_budget[name]], per_image_at_budget, resolution)
    x0 = heldout_images(images, resolution)
    wsd = [record for record in records if record["schedule"] == "wsd"]
    study = {
        "resolution": resolution, "timesteps": list(evaluate.TIMESTEPS),
        "objective_timesteps": list(OBJECTIVE_TIMESTEPS),
        "evaluation": {"timesteps": list(evaluation_grid()), "images": images},
        "budget": budget, "ladder": list(ladder.LADDER), "decay_fraction": ladder.DECAY_FRACTION,
        "protocol": protocol.to_dict() | {"steps": budget, "images_seen": budget * protocol.batch_size,
                                          "schedule": "wsd", "decay_fraction": ladder.DECAY_FRACTION},
        "heldout_images": len(x0), "noise_seed": NOISE_SEED,
        "noise": "image i: make_noise(noise_seed + i, (1, 3, R, R)), the same ε at every t",
        "interval": intervals.METHOD + ", of the seeds' mean per image",
        "trained_on": {"device": wsd[0].get("device"), "torch": torch.__version__, "threads": protocol.threads,
                       "machine": platform.machine(), "cpu": cpu_name(),
                       "cpu_seconds": round(_thread_seconds(records), 1)},
        "references": references(sorted({run["resolution"] for run in runs}), images, old.get("references", {})),
        "variants": variants, "runs": records,
        "command": shlex.join(["python", "-m", "explorer.study", *sys.argv[1:]]),
        "seconds": round(time.time() - started, 1),
    }
    results = StudyResults(study)
    study["findings"] = [finding.to_dict() for finding in findings.verdicts(results)]
    study["ladder_findings"] = findings.ladder_summary(results)
    study["cosine_checks"] = cosine_checks(records)
    path.write_text(json.dumps(study, indent=1, ensure_ascii=False) + "\n")
    print(f"wrote {path} in {study['seconds']:.0f} s (common budget {budget} steps)")
    if readme is not None and readme.exists():
        write_model_card(readme, findings.model_card_markdown(StudyResults(study)))
        print(f"rewrote the study section of {readme}")
    return study


def cosine_checks(records: list[dict]) -> list[dict]:
    """Each whole cosine run beside the decay branches of the same (variant, resolution, budget): is a branch a
    fair stand-in for a whole run? `within`: the cosine run's objective lies within the branches' seed range
    widened by that range on each side (two seeds give one spread only)."""
    out = []
    for record in records:
        if record["schedule"] != "cosine":
            continue
        branches = [r["objective"] for r in records if r["schedule"] == "wsd" and r["variant"] == record["variant"]
                    and r["resolution"] == record["resolution"] and r["steps"] == record["steps"]]
        if not branches:
            continue
        spread = max(branches) - min(branches)
        out.append({"variant": record["variant"], "resolution": record["resolution"], "steps": record["steps"],
                    "cosine": record["objective"], "branches": branches, "spread": spread,
                    "difference": record["objective"] - sum(branches) / len(branches),
                    "within": min(branches) - spread <= record["objective"] <= max(branches) + spread})
    return out


def _thread_seconds(records: list[dict]) -> float:
    """Training time actually spent: a branch's time includes its trunk's, so count each trunk once."""
    trunks: dict[tuple, float] = {}
    total = 0.0
    for record in records:
        if record["schedule"] == "cosine" or record.get("branched_from_step") is None:
            total += record["train_seconds"]
            continue
        key = (record["variant"], record["resolution"], record["seed"])
        fraction = record["branched_from_step"] / record["steps"]
        trunk = record["train_seconds"] * fraction  # an estimate of the trunk's share at constant step time
        trunks[key] = max(trunks.get(key, 0.0), trunk)
        total += record["train_seconds"] - trunk
    return total + sum(trunks.values())


def write_model_card(readme: Path, section: str) -> None:
    text = readme.read_text()
    if START in text and END in text:
        head, rest = text.split(START, 1)
        text = head + START + "\n" + section + "\n" + END + rest.split(END, 1)[1]
    else:
        text = text.rstrip() + "\n\n## The study of architectures\n\n" + START + "\n" + section + "\n" + END + "\n"
    readme.write_text(text)
