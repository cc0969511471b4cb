"""Do a network's small errors pile up over the sampling steps? Measured against the ideal trajectory.

From x_t = √ᾱ_t x₀ + √(1-ᾱ_t) ε, DDIM with the *true* noise ε at every step walks the ideal trajectory
x_k = √ᾱ_k x₀ + √(1-ᾱ_k) ε and lands exactly on x₀. A network walks its own trajectory from the same x_t.
Two numbers per step k:

- the gap: how far the network's x_k is from the ideal x_k (its error so far, everything piled up);
- the one-step error: how far a single step of the network, taken from the ideal x_{k-1}, lands from the
  ideal x_k (the error that step adds on its own).

If errors only added up, the last gap would stay at or below the sum of the one-step errors; above it,
they grew on the way (compounding). Both are root-mean-square distances per pixel and colour, on [-1, 1].
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch
from torch import nn

from explorer.analysis import intervals
from explorer.diffusion import Diffusion


@dataclass(frozen=True)
class Trajectories:
    """One network on a batch of B images, S DDIM steps from `t_start`."""

    t_start: int
    timesteps: list[int]  # the t each step starts from (S values)
    gap: np.ndarray  # (S, B): RMS distance of the network's x after step k to the ideal x after step k
    one_step: np.ndarray  # (S, B): RMS error of step k taken from the ideal point
    jump: np.ndarray  # (B,): RMS error of x̂₀ from x_t in one single step (the 1-step DDIM)

    @property
    def final(self) -> np.ndarray:
        """(B,) the last gap: the sampled image against x₀."""
        return self.gap[-1]

    @property
    def added(self) -> np.ndarray:
        """(B,) the sum of the one-step errors: the last gap if each step's error just added on."""
        return self.one_step.sum(axis=0)


def _rms(a: torch.Tensor, b: torch.Tensor) -> np.ndarray:
    return (a - b).pow(2).mean(dim=(1, 2, 3)).sqrt().double().numpy()  # (B,)


def _ddim_step(diffusion: Diffusion, model: nn.Module, x: torch.Tensor, t: int, t_prev: int) -> torch.Tensor:
    """One deterministic DDIM step (eta = 0, DDIM eq. 12) from x at t to t_prev (-1: to x₀), as
    Diffusion.ddim_sample."""
    t_batch = torch.full((x.shape[0],), t, dtype=torch.long)
    pred_x0 = diffusion.predict_x0(x, t_batch, model(x, t_batch))
    eps = diffusion.eps_from_x0(x, t_batch, pred_x0)
    alpha_bar_prev = diffusion.alphas_cumprod[t_prev] if t_prev >= 0 else torch.tensor(1.0)
    return alpha_bar_prev.sqrt() * pred_x0 + (1 - alpha_bar_prev).clamp(min=0).sqrt() * eps


def _ideal(diffusion: Diffusion, x0: torch.Tensor, eps: torch.Tensor, t: int) -> torch.Tensor:
    if t < 0:
        return x0
    alpha_bar = diffusion.alphas_cumprod[t]
    return alpha_bar.sqrt() * x0 + (1 - alpha_bar).sqrt() * eps


@torch.no_grad()
def trajectories(model: nn.Module, diffusion: Diffusion, x0: torch.Tensor, eps: torch.Tensor, t_start: int,
                 num_steps: int) -> Trajectories:
    """x0, eps: (B, 3, H, W). The network's DDIM trajectory from q_sample(x0, t_start, eps) beside the ideal one."""
    timesteps = diffusion.ddim_timesteps(t_start, num_steps)
    x = _ideal(diffusion, x0, eps, t_start)
    jump = _rms(_ddim_step(diffusion, model, x, t_start, -1), x0)
    gaps, one_step = [], []
    for index, t in enumerate(timesteps):
        t_prev = timesteps[index + 1] if index + 1 < len(timesteps) else -1
        target = _ideal(diffusion, x0, eps, t_prev)
        one_step.append(_rms(_ddim_step(diffusion, model, _ideal(diffusion, x0, eps, t), t, t_prev), target))
        x = _ddim_step(diffusion, model, x, t, t_prev)
        gaps.append(_rms(x, target))
    return Trajectories(t_start, timesteps, np.stack(gaps), np.stack(one_step), jump)


def mean_interval(values: np.ndarray) -> tuple[float, float, float]:
    """The mean of `values` (one per image) and its 95 % interval over images (`intervals.mean_interval`)."""
    values = np.asarray(values, dtype=np.float64)
    low, high = intervals.mean_interval(values)
    return float(values.mean()), low, high


# --- the held-out measurement: `python -m explorer.analysis.accumulation` writes weights/accumulation.json ----------

RESULTS_FILE = "accumulation.json"
# The app's default t: at this t both networks still recover the emoji, so there is one to accumulate towards.
T_START = 250
STEP_COUNTS = (1, 5, 20)
DETAIL_STEPS = 20  # the step count whose gap and one-step error are kept step by step
IMAGES = 64  # the first held-out images (a subset: each image costs 2 × 26 forward passes per network)


def summarise(runs: dict[int, Trajectories]) -> dict:
    """The JSON form of one network's runs: per step count the final gap (mean, 95 % interval over images, per
    image), and for DETAIL_STEPS the gap and one-step error step by step."""
    detail = runs[DETAIL_STEPS]
    out = {"final": {}, "detail": {"timesteps": detail.timesteps,
                                   "gap": [mean_interval(row) for row in detail.gap],
                                   "one_step": [mean_interval(row) for row in detail.one_step],
                                   "added": mean_interval(detail.added),
                                   "compounded_share": float(np.mean(detail.final > detail.added)),
                                   "final_per_image": detail.final.round(6).tolist(),
                                   "added_per_image": detail.added.round(6).tolist()}}
    for count, run in runs.items():
        out["final"][str(count)] = {"mean": mean_interval(run.final), "per_image": run.final.round(6).tolist()}
    return out


def measure_heldout(models: dict[str, nn.Module], diffusion: Diffusion, x0: torch.Tensor, seed: int = 0) -> dict:
    """Every network's runs on x0 (B, 3, H, W), image i noised with make_noise(seed + i) as in the evaluation."""
    from explorer.analysis.denoise import make_noise

    eps = torch.cat([make_noise(seed + index, (1, *x0.shape[1:])) for index in range(x0.shape[0])])
    result = {"t_start": T_START, "step_counts": list(STEP_COUNTS), "detail_steps": DETAIL_STEPS,
              "images": int(x0.shape[0]), "noise_seed": seed, "interval": intervals.METHOD,
              "distance": "root-mean-square difference per pixel and colour, images on [-1, 1]", "models": {}}
    details = {}
    for name, model in models.items():
        runs = {count: trajectories(model, diffusion, x0, eps, T_START, count) for count in STEP_COUNTS}
        result["models"][name] = summarise(runs)
        details[name] = runs[DETAIL_STEPS]
    if "unet" in details and "naive" in details:  # how many times further off the naive CNN is, images paired
        naive, unet = details["naive"], details["unet"]
        result["naive_over_unet"] = {
            key: {"ratio": float(a.mean() / b.mean()), "ci95": intervals.ratio_interval(a, b)}
            for key, a, b in (("first_gap", naive.gap[0], unet.gap[0]), ("final", naive.final, unet.final))}
    return result


def load(directory, sha256: dict[str, str]) -> dict | None:
    """The results file in `directory`, or None when it is missing or was measured on other weights."""
    import json
    from pathlib import Path

    path = Path(directory) / RESULTS_FILE
    if not path.is_file():
        return None
    data = json.loads(path.read_text())
    return data if data.get("weights_sha256") == sha256 else None


def main(argv=None) -> None:
    import argparse
    import json
    import time
    from pathlib import Path

    from explorer import weights
    from explorer.data import ImageFolder

    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--weights", type=Path, default=weights.DEFAULT_DIR)
    parser.add_argument("--images", type=int, default=IMAGES, help="how many held-out images (the first ones)")
    parser.add_argument("--threads", type=int)
    args = parser.parse_args(argv)
    if args.threads:
        torch.set_num_threads(args.threads)
    pair = weights.load_pair(args.weights)
    data = ImageFolder(args.weights / "heldout", "all", pair.image_size)
    x0 = data.tensors()[:args.images]
    started = time.time()
    result = measure_heldout({"unet": pair.unet, "naive": pair.naive}, Diffusion(), x0)
    result["weights_sha256"] = {"unet": pair.unet_meta["sha256"], "naive": pair.naive_meta["sha256"]}
    result["seconds"] = round(time.time() - started, 1)
    out = args.weights / RESULTS_FILE
    out.write_text(json.dumps(result, indent=1) + "\n")
    print(f"{len(x0)} images in {result['seconds']:.0f} s; wrote {out}")


if __name__ == "__main__":
    main()
