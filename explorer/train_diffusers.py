"""Train a small diffusers `UNet2DModel` on the emoji: `python -m explorer.train_diffusers`.

The model is diffusers' own class, in the style of google/ddpm-cifar10-32 (DownBlock2D, AttnDownBlock2D,
DownBlock2D, DownBlock2D and the mirrored up blocks, attention at the second level), scaled down to train on
a CPU. The protocol is the project's (explorer/train.py): ε-prediction with the DDPM loss, t uniform, the
same training split and validation split (held-out images never read), horizontal flips, AdamW with linear
warm-up, gradient clipping at 1, EMA weights, the validation loss with fixed noise and t.

Writes a diffusers pipeline folder into --out: `model_index.json`, `unet/` (config + float16 safetensors,
`save_pretrained`), `scheduler/` (the DDPM schedule it was trained with) and `training.json` (steps, curve,
split, the weights' sha256). Checkpoints go to --checkpoint-dir, outside the repository; `--resume` continues.
"""
from __future__ import annotations

import argparse
import copy
import json
import platform
import shlex
import sys
import time
from pathlib import Path

import torch
from torch import nn

from explorer.data import HELD_OUT_PERCENT, ImageFolder
from explorer.diffusion import Diffusion
from explorer.train import VALIDATION_PERCENT, ValidationLoss, diffusion_loss, learning_rate, validation_split
from explorer.weights import sha256_of

# google/ddpm-cifar10-32 is (128, 256, 256, 256) channels, two ResNets per block, 35.7 M parameters;
# this keeps its block types and attention level at a quarter of the width and one ResNet per block (1.5 M).
MODEL_CONFIG = dict(
    sample_size=32,
    in_channels=3,
    out_channels=3,
    block_out_channels=(32, 64, 64, 64),
    layers_per_block=1,
    down_block_types=("DownBlock2D", "AttnDownBlock2D", "DownBlock2D", "DownBlock2D"),
    up_block_types=("UpBlock2D", "UpBlock2D", "AttnUpBlock2D", "UpBlock2D"),
    norm_num_groups=8,
    attention_head_dim=8,
    dropout=0.0,
)
# The schedule every model here trains with (explorer.diffusion.Diffusion's defaults), as diffusers writes it.
SCHEDULER_CONFIG = dict(num_train_timesteps=1000, beta_start=1e-4, beta_end=0.02, beta_schedule="linear",
                        prediction_type="epsilon", clip_sample=True, variance_type="fixed_small")
DEFAULT_CHECKPOINTS = Path.home() / ".cache" / "unet-explorer" / "diffusers"


def parse_args(argv=None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--name", default="diffusers-unet", help="checkpoint name")
    parser.add_argument("--data", type=Path, default=Path("data/emoji"))
    parser.add_argument("--out", type=Path, default=Path("out/diffusers-unet"), help="the pipeline folder to write")
    parser.add_argument("--checkpoint-dir", type=Path, default=DEFAULT_CHECKPOINTS)
    parser.add_argument("--resume", action="store_true", help="continue from the checkpoint of --name")
    parser.add_argument("--steps", type=int, default=20000, help="total optimiser steps")
    parser.add_argument("--max-minutes", type=float, default=None, help="stop (and save) after this wall time")
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument("--lr", type=float, default=5e-4)
    parser.add_argument("--warmup", type=int, default=100)
    parser.add_argument("--schedule", choices=["constant", "cosine", "wsd"], default="constant")
    parser.add_argument("--decay-fraction", type=float, default=0.15)
    parser.add_argument("--ema-decay", type=float, default=0.999)
    parser.add_argument("--image-size", type=int, default=MODEL_CONFIG["sample_size"])
    parser.add_argument("--block-out-channels", default=",".join(map(str, MODEL_CONFIG["block_out_channels"])),
                        help="channels per level (four levels, the block types of MODEL_CONFIG)")
    parser.add_argument("--norm-groups", type=int, default=MODEL_CONFIG["norm_num_groups"])
    parser.add_argument("--validation-samples", type=int, default=256,
                        help="(image, t, ε) draws of the validation loss")
    parser.add_argument("--eval-every", type=int, default=100)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--checkpoint-minutes", type=float, default=5.0)
    parser.add_argument("--seed", type=int, default=0)
    return parser.parse_args(argv)


class EpsilonOf(nn.Module):
    """A `UNet2DModel` as the training loop calls a noise predictor: (x_t, t) → ε̂ (B, C, H, W)."""

    def __init__(self, unet: nn.Module):
        super().__init__()
        self.unet = unet

    def forward(self, x: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
        return self.unet(x, t, return_dict=False)[0]


def model_config(args) -> dict:
    """MODEL_CONFIG with the size, widths and groups of the command line."""
    return {**MODEL_CONFIG, "sample_size": args.image_size, "norm_num_groups": args.norm_groups,
            "block_out_channels": tuple(int(part) for part in args.block_out_channels.split(","))}


def build(config: dict) -> nn.Module:
    from diffusers import UNet2DModel

    return UNet2DModel(**config)


def export(unet: nn.Module, out: Path, record: dict) -> None:
    """Write the pipeline folder: model_index.json, unet/ (float16 safetensors), scheduler/, training.json."""
    from diffusers import DDPMPipeline, DDPMScheduler

    half = copy.deepcopy(unet).to(torch.float16)
    DDPMPipeline(unet=half, scheduler=DDPMScheduler(**SCHEDULER_CONFIG)).save_pretrained(out, safe_serialization=True)
    weights_file = out / "unet" / "diffusion_pytorch_model.safetensors"
    record = dict(record, weights_file=str(weights_file.relative_to(out)), weights_dtype="float16",
                  sha256=sha256_of(weights_file), parameters=sum(p.numel() for p in unet.parameters()))
    (out / "training.json").write_text(json.dumps(record, indent=2) + "\n")


def main(argv=None) -> None:
    args = parse_args(argv)
    command = shlex.join(["python", "-m", "explorer.train_diffusers", *(sys.argv[1:] if argv is None else argv)])
    torch.set_num_threads(args.threads)
    torch.manual_seed(args.seed)
    train_data = ImageFolder(args.data, "train", args.image_size)
    fit_images, validation_images, validation_names = validation_split(train_data)
    diffusion = Diffusion()
    config = model_config(args)
    unet = build(config)
    model = EpsilonOf(unet).train()
    ema = copy.deepcopy(unet).eval().requires_grad_(False)
    optimizer = torch.optim.AdamW(model.parameters(), lr=args.lr)
    generator = torch.Generator().manual_seed(args.seed)
    noise_generator = torch.Generator().manual_seed(args.seed + 1)
    validation_loss = ValidationLoss(validation_images, diffusion, torch.device("cpu"), count=args.validation_samples)

    def autocast():
        return torch.autocast("cpu", enabled=False)

    checkpoint_path = args.checkpoint_dir / f"{args.name}.pt"
    state = dict(step=0, images_seen=0, wall_time_s=0.0, curve=[])
    if args.resume:
        if not checkpoint_path.exists():
            raise SystemExit(f"--resume: no checkpoint at {checkpoint_path}")
        checkpoint = torch.load(checkpoint_path, map_location="cpu", weights_only=False)
        unet.load_state_dict(checkpoint["model"])
        ema.load_state_dict(checkpoint["ema"])
        optimizer.load_state_dict(checkpoint["optimizer"])
        generator.set_state(checkpoint["generator"])
        noise_generator.set_state(checkpoint["noise_generator"])
        state.update(checkpoint["state"])
        print(f"resumed {args.name} at step {state['step']}", flush=True)

    def save_checkpoint() -> None:
        args.checkpoint_dir.mkdir(parents=True, exist_ok=True)
        payload = dict(model=unet.state_dict(), ema=ema.state_dict(), optimizer=optimizer.state_dict(),
                       generator=generator.get_state(), noise_generator=noise_generator.get_state(), state=state,
                       args={key: str(value) for key, value in vars(args).items()})
        torch.save(payload, str(checkpoint_path) + ".tmp")
        Path(str(checkpoint_path) + ".tmp").replace(checkpoint_path)
        export(ema, args.out, dict(
            model="diffusers UNet2DModel", config=config,
            scheduler=SCHEDULER_CONFIG,
            data=dict(folder=str(args.data), train_images=len(fit_images), validation_images=len(validation_images),
                      split=f"sha256 of the file name without skin-tone code points, {HELD_OUT_PERCENT}% held out "
                            "(never read by training)",
                      validation=f"{len(validation_images)} of the {len(train_data)} training-split images "
                                 f"({VALIDATION_PERCENT}%, explorer.train.validation_split)",
                      validation_names=validation_names, augmentation="horizontal flips"),
            training=dict(steps=state["step"], images_seen=state["images_seen"], batch_size=args.batch_size,
                          image_size=args.image_size, lr=args.lr, warmup=args.warmup, schedule=args.schedule,
                          ema_decay=args.ema_decay, seed=args.seed, threads=args.threads,
                          wall_time_s=round(state["wall_time_s"], 1), device=platform.processor() or "cpu",
                          torch=torch.__version__, command=command),
            curve=state["curve"]))

    started, wall_at_start, last_checkpoint = time.time(), state["wall_time_s"], time.time()
    running_loss, running_count = 0.0, 0
    while state["step"] < args.steps:
        step_start = time.time()
        index = torch.randint(len(fit_images), (args.batch_size,), generator=generator)
        flips = (torch.rand(args.batch_size, generator=generator) < 0.5)[:, None, None, None]
        x0 = fit_images[index].float() / 127.5 - 1.0  # (B, 3, H, W) in [-1, 1]
        x0 = torch.where(flips, x0.flip(-1), x0)
        t = torch.randint(diffusion.num_timesteps, (args.batch_size,), generator=generator)
        noise = torch.randn(x0.shape, generator=noise_generator)
        for group in optimizer.param_groups:
            group["lr"] = learning_rate(args, state["step"])
        loss = diffusion_loss(model, diffusion, x0, t, noise)
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        optimizer.step()
        with torch.no_grad():
            decay = min(args.ema_decay, (1 + state["step"]) / (10 + state["step"]))
            for ema_param, param in zip(ema.parameters(), unet.parameters()):
                ema_param.lerp_(param, 1.0 - decay)
        state["step"] += 1
        state["images_seen"] += args.batch_size
        state["wall_time_s"] = wall_at_start + time.time() - started
        running_loss, running_count = running_loss + loss.item(), running_count + 1
        if state["step"] % 10 == 0:
            print(f"step {state['step']}: loss {loss.item():.4f}, {time.time() - step_start:.2f} s/step", flush=True)
        if state["step"] % args.eval_every == 0 or state["step"] == args.steps:
            held = validation_loss(EpsilonOf(ema), autocast)
            state["curve"].append(dict(step=state["step"], train_loss=round(running_loss / max(1, running_count), 5),
                                       validation_loss=round(held, 5), wall_time_s=round(state["wall_time_s"], 1)))
            running_loss, running_count = 0.0, 0
            print(f"step {state['step']}: validation {held:.4f}", flush=True)
        out_of_time = args.max_minutes is not None and time.time() - started > 60 * args.max_minutes
        if time.time() - last_checkpoint > 60 * args.checkpoint_minutes or out_of_time:
            save_checkpoint()
            last_checkpoint = time.time()
        if out_of_time:
            print(f"--max-minutes {args.max_minutes} reached at step {state['step']}: saved, resume with --resume")
            break
    save_checkpoint()
    print(f"saved {args.out} after {state['step']} steps, {state['wall_time_s']:.0f} s", flush=True)


if __name__ == "__main__":
    main()
