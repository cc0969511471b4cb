"""Draw a grid of samples from pure noise: `python -m explorer.sample` writes weights/samples.png.

DDIM (η = 0, deterministic) from t = T - 1 in 50 steps; the starting noise for the whole
batch is `make_noise(seed, (count, 3, H, W))`, so a seed always gives the same grid.
"""
from __future__ import annotations

import argparse
import time
from pathlib import Path

import numpy as np
import torch
from PIL import Image
from torch import nn

from explorer import weights
from explorer.analysis.denoise import make_noise
from explorer.data import to_uint8
from explorer.diffusion import Diffusion


@torch.no_grad()
def sample(model: nn.Module, diffusion: Diffusion, count: int, image_size: int, seed: int,
           num_steps: int = 50, batch_size: int = 64) -> torch.Tensor:
    """`count` DDIM samples from t = T-1. Returns (count, 3, image_size, image_size) in [-1, 1]."""
    noise = make_noise(seed, (count, 3, image_size, image_size))  # (N, 3, H, W)
    t_start = diffusion.num_timesteps - 1
    samples = []
    for start in range(0, count, batch_size):
        for frame in diffusion.ddim_sample(model, noise[start:start + batch_size], t_start, num_steps):  # noqa: B007
            pass  # only the last frame is kept
        samples.append(frame.sample.clamp(-1, 1))
    return torch.cat(samples)


def grid_image(images: torch.Tensor, columns: int, gutter: int = 2) -> Image.Image:
    """(N, 3, H, W) images in [-1, 1] → one RGB picture, `columns` wide, with white gutters between tiles."""
    count, _, height, width = images.shape
    rows = (count + columns - 1) // columns
    canvas = np.full((rows * height + (rows - 1) * gutter, columns * width + (columns - 1) * gutter, 3), 255, np.uint8)
    for index, image in enumerate(images):
        top, left = (index // columns) * (height + gutter), (index % columns) * (width + gutter)
        canvas[top:top + height, left:left + width] = to_uint8(image)
    return Image.fromarray(canvas)


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--weights", type=Path, default=weights.DEFAULT_DIR)
    parser.add_argument("--model", choices=weights.MODEL_NAMES, default="unet")
    parser.add_argument("--out", type=Path, help="PNG to write (default: samples.png in --weights for the U-Net)")
    parser.add_argument("--count", type=int, default=64)
    parser.add_argument("--columns", type=int, default=8)
    parser.add_argument("--steps", type=int, default=50, help="DDIM steps")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)
    if args.out is None and args.model != "unet":
        parser.error("give --out for the naive CNN's samples: samples.png in the weights folder is the U-Net's")
    out = args.out or args.weights / "samples.png"

    model, _ = weights.load(args.weights, args.model)
    image_size = model.config.image_size if hasattr(model, "config") else 64
    started = time.time()
    images = sample(model, Diffusion(), args.count, image_size, args.seed, args.steps)
    grid_image(images, args.columns).save(out, optimize=True)
    print(f"{args.count} DDIM-{args.steps} samples (seed {args.seed}) in {time.time() - started:.0f} s: wrote {out}")


if __name__ == "__main__":
    main()
