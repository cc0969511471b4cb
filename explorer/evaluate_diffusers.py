"""Score a diffusers model on the held-out emoji beside ours: `python -m explorer.evaluate_diffusers [--model PATH]`.

The same protocol as `python -m explorer.evaluate`: image i noised with ε_i = make_noise(seed + i) at every t of
TIMESTEPS, ε-MSE and x̂₀ PSNR per image, means with 95 % bootstrap intervals over images, the blur baseline with
its best σ per t; and the knock-out table (intact, each skip cut, attention off, the bottleneck bypassed, told the
wrong t) at the inner t with its paired intervals, on the first 64 images (--knockout-images). The held-out images
are resized to the model's size (the shipped diffusers model works at 32×32, our two models at 64×64: the table
puts our models' 64×64 numbers beside it, from the same images and noise seeds, but a different size).

Writes the key "diffusers_unet" of weights/metrics.json (the other keys are left as they are) and prints the table.
"""
from __future__ import annotations

import argparse
import json
import shlex
import sys
import time
from pathlib import Path

import torch

from explorer import weights
from explorer.analysis import intervals
from explorer.analysis.metrics import INNER_TIMESTEPS, TIMESTEPS
from explorer.data import ImageFolder, is_held_out
from explorer.diffusers_folder import open_diffusers
from explorer.diffusers_unet import DiffusersUNet
from explorer.diffusion import Diffusion
from explorer.evaluate import BATCH_SIZE, DEFAULT_IMAGES, evaluate_per_image, knockout_scores_per_image
from explorer.formatting import ratio, times
from explorer.knockouts import single_knockouts, wrong_timestep_rule

KEY = "diffusers_unet"
KNOCKOUT_IMAGES = 64  # a subset, as evaluate's concatenation table: 5 t × (N skips + 4) rows of forward passes
DEFAULT_MODEL = weights.DEFAULT_DIR / "diffusers-unet"


@torch.no_grad()
def evaluate_knockouts(model: DiffusersUNet, x0: torch.Tensor, diffusion: Diffusion, seed: int,
                       timesteps: tuple[int, ...] = INNER_TIMESTEPS, batch_size: int = BATCH_SIZE) -> dict:
    """`evaluate.evaluate_knockouts` for a diffusers model: its skips are skip1 … skipN, several per level."""
    knockouts = single_knockouts(model.num_skips)
    if not any(block.kind == "attn" for block in model.blocks()):
        knockouts = [knockout for knockout in knockouts if knockout.attention]
    per_image = knockout_scores_per_image(model, knockouts, x0, diffusion, seed, timesteps, batch_size)
    intact = per_image["intact"]
    return {"timesteps": list(timesteps),
            "skips": {block.name: {"source": block.source, "target": block.target}
                      for block in model.blocks() if block.kind == "skip"},
            "eps_mse": {name: [float(value) for value in values.mean(1)] for name, values in per_image.items()},
            "eps_mse_ci95": {name: intervals.mean_intervals(values.numpy()) for name, values in per_image.items()},
            "ratio_ci95": {name: [intervals.ratio_interval(row.numpy(), base.numpy())
                                  for row, base in zip(values, intact)]
                           for name, values in per_image.items() if name != "intact"},
            "interval": intervals.METHOD, "told_the_wrong_t": wrong_timestep_rule(diffusion.num_timesteps)}


def table_markdown(section: dict, ours: dict | None) -> str:
    """ε-MSE and PSNR per t with 95 % intervals, the blur baseline at the same size, and our models at 64×64."""
    size = section["image_size"]
    models = section["models"]
    header = ["t", f"ε-MSE diffusers ({size}²)", "95 % interval", f"ε-MSE blur ({size}²)",
              f"PSNR diffusers ({size}²)", "95 % interval", f"PSNR blur ({size}²)"]
    if ours:
        header += ["ε-MSE U-Net (64²)", "ε-MSE naive (64²)", "PSNR U-Net (64²)", "PSNR naive (64²)"]
    lines = ["| " + " | ".join(header) + " |", "|" + "---:|" * len(header)]
    for index, t in enumerate(section["timesteps"]):
        model, blur = models["diffusers_unet"], models["blur"]
        cells = [str(t), f"{model['eps_mse'][index]:.4f}",
                 "{:.4f} to {:.4f}".format(*model["eps_mse_ci95"][index]), f"{blur['eps_mse'][index]:.4f}",
                 f"{model['psnr'][index]:.2f}", "{:.2f} to {:.2f}".format(*model["psnr_ci95"][index]),
                 f"{blur['psnr'][index]:.2f}"]
        if ours:
            position = ours["timesteps"].index(t)
            cells += [f"{ours['models'][name]['eps_mse'][position]:.4f}" for name in ("unet", "naive")]
            cells += [f"{ours['models'][name]['psnr'][position]:.2f}" for name in ("unet", "naive")]
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)


def knockouts_markdown(knockouts: dict) -> str:
    """The knock-out table: ε-MSE of each broken model and its multiple of the intact one, with 95 % intervals."""
    timesteps, intact = knockouts["timesteps"], knockouts["eps_mse"]["intact"]
    lines = ["| diffusers model | " + " | ".join(f"t = {t}" for t in timesteps) + " |",
             "|---|" + "---:|" * len(timesteps)]
    for name, values in knockouts["eps_mse"].items():
        cells = []
        for column, (value, base) in enumerate(zip(values, intact)):
            if name == "intact":
                cells.append(f"{value:.4f}")
                continue
            low, high = knockouts["ratio_ci95"][name][column]
            cells.append(f"{value:.4f} ({times(ratio(value, base))}, {times(low)} to {times(high)})")
        lines.append(f"| {name} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def main(argv=None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model", default=str(DEFAULT_MODEL), help="a diffusers folder or Hub id")
    parser.add_argument("--images", type=Path, default=DEFAULT_IMAGES)
    parser.add_argument("--metrics", type=Path, default=weights.DEFAULT_DIR / "metrics.json",
                        help="the metrics file whose key 'diffusers_unet' to write")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--batch-size", type=int, default=BATCH_SIZE)
    parser.add_argument("--knockout-images", type=int, default=KNOCKOUT_IMAGES,
                        help="the first N held-out images score the knock-outs (0: all)")
    parser.add_argument("--threads", type=int)
    args = parser.parse_args(argv)
    if args.threads:
        torch.set_num_threads(args.threads)
    argv = sys.argv[1:] if argv is None else list(argv)
    started = time.time()
    opened = open_diffusers(args.model)
    model, diffusion = opened.denoiser, opened.diffusion
    data = ImageFolder(args.images, "all", model.image_size)
    leaked = [path.name for path in data.paths if not is_held_out(path.name)]
    images = data.tensors()
    models, _ = evaluate_per_image({"diffusers_unet": model}, images, diffusion, args.seed, tuple(TIMESTEPS),
                                   args.batch_size)
    training = opened.folder / "training.json"
    section = {
        "model": args.model, "image_size": model.image_size, "timesteps": list(TIMESTEPS), "models": models,
        "knockouts": dict(evaluate_knockouts(model, images[:args.knockout_images or None], diffusion, args.seed,
                                             batch_size=args.batch_size),
                          images=len(images[:args.knockout_images or None])),
        "images": len(data), "images_in_training_split": len(leaked), "noise_seed": args.seed,
        "noise": "image i: make_noise(noise_seed + i, (1, 3, H, W)), the same ε at every t, H = W = image_size",
        "interval": f"95 % intervals (keys ending in _ci95): {intervals.METHOD}",
        "schedule": {"num_timesteps": diffusion.num_timesteps, "beta_schedule": diffusion.beta_schedule,
                     "prediction_type": diffusion.prediction_type},
        "training": json.loads(training.read_text()).get("training") if training.exists() else None,
        "weights_sha256": json.loads(training.read_text()).get("sha256") if training.exists() else None,
        "command": shlex.join(["python", "-m", "explorer.evaluate_diffusers", *argv]),
        "torch": torch.__version__, "seconds": round(time.time() - started, 1),
    }
    metrics = json.loads(args.metrics.read_text()) if args.metrics.exists() else {}
    metrics[KEY] = section
    args.metrics.write_text(json.dumps(metrics, indent=2, ensure_ascii=False) + "\n")
    ours = metrics if "models" in metrics and "unet" in metrics.get("models", {}) else None
    print(table_markdown(section, ours))
    print()
    print(knockouts_markdown(section["knockouts"]))
    return section


if __name__ == "__main__":
    main()
