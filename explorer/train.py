"""Train a noise predictor: `python -m explorer.train --model unet|naive` (or `--variant NAME` of the study).

Writes into --out (default out/weights, outside the repository's tracked files); writing over the
shipped weights in weights/ needs --overwrite-shipped.

ε-prediction with the DDPM loss ‖ε - ε_θ(x_t, t)‖², t uniform. AdamW with linear
warm-up; EMA weights for the U-Net; bf16 autocast + channels_last (fp32 master
weights); CUDA when present. Checkpoints every few minutes and on exit, and
`--resume` continues a run.

The loss is tracked on a validation split carved out of the training images (`is_validation`: a fixed
hash of the file name puts about VALIDATION_PERCENT % of them aside; those are not trained on), with
fixed noise and t. The naive CNN stops when it no longer improves and keeps its best step, both judged
on that split: the held-out (test) images are never read here, so the numbers reported on them are not
chosen by them.
"""
from __future__ import annotations

import argparse
import copy
import hashlib
import math
import platform
import time
from pathlib import Path

import torch
from torch import nn
from tqdm import tqdm

from explorer import weights
from explorer.data import HELD_OUT_PERCENT, ImageFolder, split_key
from explorer.diffusion import Diffusion
from explorer.naive import NaiveCNN
from explorer.study import variants
from explorer.unet import UNet, UNetConfig


def parse_args(argv=None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    kind = parser.add_mutually_exclusive_group(required=True)
    kind.add_argument("--model", choices=["unet", "naive"], help="one of the shipped models' architectures")
    kind.add_argument("--variant", choices=sorted(variants.VARIANTS),
                      help="a variant of the study of architectures (explorer.study), at --image-size")
    parser.add_argument("--name", help="output name in --out (default: the model kind)")
    parser.add_argument("--data", type=Path, default=Path("data/emoji"), help="any folder of images")
    parser.add_argument("--out", type=Path, default=Path("out/weights"),
                        help="folder for the weights (default out/weights; the shipped ones in weights/ are kept)")
    parser.add_argument("--overwrite-shipped", action="store_true",
                        help="allow --out to be the shipped weights/ folder and replace a model there")
    parser.add_argument("--checkpoint-dir", type=Path, default=Path("checkpoints"))
    parser.add_argument("--resume", action="store_true", help="continue from the checkpoint of --name")
    parser.add_argument("--init-from", type=Path,
                        help="start from another run's checkpoint (weights, optimiser, random state, step): a decay "
                             "branch of the study's ladder starts from its constant-rate trunk this way")
    parser.add_argument("--steps", type=int, default=20000, help="total optimiser steps")
    parser.add_argument("--max-minutes", type=float, default=None, help="stop (and save) after this wall time")
    parser.add_argument("--batch-size", type=int, default=64)
    parser.add_argument("--lr", type=float, default=2e-4)
    parser.add_argument("--warmup", type=int, default=500)
    parser.add_argument("--schedule", choices=["constant", "cosine", "wsd"], default="constant",
                        help="learning rate after the linear warm-up: constant, a cosine decay to 0 at --steps, or "
                             "wsd (warm-up, stable, decay): constant, then a linear decay to 0 over the last "
                             "--decay-fraction of --steps")
    parser.add_argument("--decay-fraction", type=float, default=0.15, help="wsd: the share of --steps that decays")
    parser.add_argument("--weight-decay", type=float, default=0.0)
    parser.add_argument("--ema-decay", type=float, default=0.999, help="U-Net and study variants; 0: no EMA")
    parser.add_argument("--image-size", type=int, default=64)
    parser.add_argument("--base-channels", type=int, default=32)
    parser.add_argument("--channel-mults", type=str, default="1,2,2,4")
    parser.add_argument("--num-res-blocks", type=int, default=1)
    parser.add_argument("--attention-resolutions", type=str, default="8")
    parser.add_argument("--dropout", type=float, default=0.1)
    parser.add_argument("--hidden-dim", type=int, default=64, help="naive CNN width")
    parser.add_argument("--eval-every", type=int, default=500, help="steps between validation evaluations")
    parser.add_argument("--patience", type=int, default=6,
                        help="naive: evaluations without improvement before stopping (0: never stop early)")
    parser.add_argument("--threads", type=int, help="torch CPU threads (default: torch's own choice)")
    parser.add_argument("--checkpoint-minutes", type=float, default=5.0)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--device", default="auto", help="auto, cpu or cuda")
    parser.add_argument("--precision", choices=["auto", "bf16", "fp32"], default="auto",
                        help="auto: bf16 autocast on CUDA and on CPUs with AMX, else fp32 (master weights stay fp32)")
    parser.add_argument("--weights-dtype", choices=["float16", "float32"], default="float16",
                        help="dtype of the exported weights (float16 keeps the U-Net under 10 MB)")
    return parser.parse_args(argv)


def ints(text: str) -> tuple[int, ...]:
    return tuple(int(part) for part in text.split(",") if part.strip())


def cpu_has_amx() -> bool:
    """bf16 autocast pays off on CPUs with AMX tiles; without them it is several times slower than fp32."""
    try:
        return "amx_bf16" in Path("/proc/cpuinfo").read_text()
    except OSError:
        return False


def build(args) -> nn.Module:
    if args.variant:
        return variants.build(args.variant, args.image_size)
    if args.model == "naive":
        return NaiveCNN(hidden_dim=args.hidden_dim)
    return UNet(UNetConfig(image_size=args.image_size, base_channels=args.base_channels,
                           channel_mults=ints(args.channel_mults), num_res_blocks=args.num_res_blocks,
                           attention_resolutions=ints(args.attention_resolutions), dropout=args.dropout))


def diffusion_loss(model: nn.Module, diffusion: Diffusion, x0: torch.Tensor, t: torch.Tensor,
                   noise: torch.Tensor) -> torch.Tensor:
    """Mean squared error between the true noise and the model's prediction (DDPM eq. 14)."""
    x_t = diffusion.q_sample(x0, t, noise)
    return (model(x_t, t).float() - noise).pow(2).mean()


VALIDATION_PERCENT = 5


def _validation_hash(name: str) -> int:
    # salted, so that it does not repeat the held-out split's hash (explorer.data.hashed_out)
    return int.from_bytes(hashlib.sha256(f"validation:{split_key(name)}".encode()).digest()[:4], "big") % 100


def is_validation(name: str, percent: int = VALIDATION_PERCENT) -> bool:
    """Whether a training image is set aside for validation (a fixed hash of its name, skin tones removed)."""
    return _validation_hash(name) < percent


def validation_split(data: ImageFolder) -> tuple[torch.Tensor, torch.Tensor, list[str]]:
    """Split the training images into (images to train on, validation images, validation names).

    data: the training split only. Images: (N, 3, H, W) uint8. A folder too small for the hash to set any
    image aside gives up the one with the lowest hash, so that there is always something to validate on.
    """
    if data.split != "train":
        raise ValueError(f"the validation split is carved out of the training images, not the {data.split!r} split")
    names = [path.name for path in data.paths]
    chosen = [is_validation(name) for name in names]
    if not any(chosen):
        chosen[min(range(len(names)), key=lambda index: _validation_hash(names[index]))] = True
    if all(chosen):
        raise ValueError(f"only {len(names)} training image(s) in {data.folder}: too few to set any aside")
    mask = torch.tensor(chosen)
    return data.images[~mask], data.images[mask], [name for name, keep in zip(names, chosen) if keep]


class ValidationLoss:
    """The ε-MSE on the validation images with noise and t fixed once, so values are comparable across steps.

    images: (N, 3, H, W) uint8, the validation split (`validation_split`), repeated up to `count` samples.
    """

    def __init__(self, images: torch.Tensor, diffusion: Diffusion, device: torch.device, count: int = 256,
                 seed: int = 1234):
        generator = torch.Generator().manual_seed(seed)
        x0 = images.float() / 127.5 - 1.0  # (N, 3, H, W) in [-1, 1]
        index = torch.arange(len(x0)).repeat((count + len(x0) - 1) // len(x0))[:count]
        self.x0 = x0[index].to(device)
        self.t = torch.randint(diffusion.num_timesteps, (count,), generator=generator).to(device)
        self.noise = torch.randn(self.x0.shape, generator=generator).to(device)
        self.diffusion = diffusion

    @torch.no_grad()
    def __call__(self, model: nn.Module, autocast) -> float:
        was_training = model.training
        model.eval()
        total = 0.0
        for start in range(0, len(self.x0), 64):
            part = slice(start, start + 64)
            with autocast():
                total += diffusion_loss(model, self.diffusion, self.x0[part], self.t[part], self.noise[part]).item() \
                    * len(self.x0[part])
        model.train(was_training)
        return total / len(self.x0)


def decay_start(steps: int, fraction: float) -> int:
    """The step where a wsd schedule of `steps` starts to decay (the trunk's branch point): 600 → 510."""
    return steps - round(fraction * steps)


def learning_rate(args, step: int) -> float:
    """The learning rate of optimiser step `step` (0-based): linear warm-up, then constant, cosine or wsd to 0.

    wsd equals constant up to `decay_start`, so a run at constant rate is the common trunk of every wsd
    budget: a branch taken from its checkpoint at decay_start(B) and decayed to B is a whole wsd run of B steps.
    """
    warm = min(1.0, (step + 1) / max(1, args.warmup))
    if args.schedule == "cosine" and step >= args.warmup:
        progress = (step - args.warmup) / max(1, args.steps - args.warmup)
        return args.lr * 0.5 * (1.0 + math.cos(math.pi * min(1.0, progress)))
    if args.schedule == "wsd":
        start = decay_start(args.steps, args.decay_fraction)
        if step >= start:
            return args.lr * warm * (args.steps - step) / max(1, args.steps - start)
    return args.lr * warm


def check_out_folder(args) -> None:
    """Refuse to write over the shipped weights unless asked to: metrics.json and the app describe them."""
    if args.overwrite_shipped:
        return
    shipped = weights.DEFAULT_DIR.resolve()
    if args.out.resolve() == shipped:
        raise SystemExit(f"--out {args.out} is the shipped weights folder: training there would replace the "
                         "models the app and weights/metrics.json describe. Choose another --out (default "
                         "out/weights), or pass --overwrite-shipped and re-run `python -m explorer.evaluate`.")


def main(argv=None) -> None:
    args = parse_args(argv)
    check_out_folder(args)
    if args.threads:
        torch.set_num_threads(args.threads)
    name = args.name or args.variant or args.model
    # The shipped models keep their rules (EMA for the U-Net, early stopping for the naive CNN);
    # a study variant follows the study's protocol: the flags given, the same for every variant.
    use_ema = args.ema_decay > 0 and (args.variant is not None or args.model == "unet")
    stops_early = args.patience > 0 and args.model == "naive"
    device = torch.device("cuda" if args.device == "auto" and torch.cuda.is_available() else
                          ("cpu" if args.device == "auto" else args.device))
    torch.manual_seed(args.seed)
    use_bf16 = args.precision == "bf16" or (args.precision == "auto" and (device.type == "cuda" or cpu_has_amx()))

    def autocast():
        return torch.autocast(device.type, dtype=torch.bfloat16, enabled=use_bf16)

    # Only the training split is read: the held-out images stay unseen, by training and by model selection.
    train_data = ImageFolder(args.data, "train", args.image_size)
    fit_images, validation_images, validation_names = validation_split(train_data)
    diffusion = Diffusion()
    model = build(args).to(device).to(memory_format=torch.channels_last)
    ema = copy.deepcopy(model).eval().requires_grad_(False) if use_ema else None
    optimizer = torch.optim.AdamW(model.parameters(), lr=args.lr, weight_decay=args.weight_decay)
    generator = torch.Generator().manual_seed(args.seed)  # batches and timesteps
    noise_generator = torch.Generator(device).manual_seed(args.seed + 1)  # noise, drawn where the model runs
    train_images = fit_images.to(device)  # (N, 3, H, W) uint8, indexed on the device
    validation_loss = ValidationLoss(validation_images, diffusion, device)

    checkpoint_path = args.checkpoint_dir / f"{name}.pt"
    state = dict(step=0, images_seen=0, wall_time_s=0.0, curve=[], best_validation=float("inf"),
                 evals_without_improvement=0, best_state=None, best_step=None)
    if args.resume and not checkpoint_path.exists():
        raise SystemExit(f"--resume: no checkpoint at {checkpoint_path}")
    if args.init_from is not None and not args.resume and not args.init_from.exists():
        raise SystemExit(f"--init-from: no checkpoint at {args.init_from}")
    start_from = checkpoint_path if args.resume else args.init_from
    if start_from is not None:
        checkpoint = torch.load(start_from, map_location="cpu", weights_only=False)
        model.load_state_dict(checkpoint["model"])
        if ema is not None:
            ema.load_state_dict(checkpoint["ema"])
        optimizer.load_state_dict(checkpoint["optimizer"])
        generator.set_state(checkpoint["generator"])
        noise_generator.set_state(checkpoint["noise_generator"])
        state.update(checkpoint["state"])
        if not args.resume:
            state["branched_from_step"] = state["step"]
        print(f"{'resumed' if args.resume else 'started from ' + str(start_from) + ':'} {name} at step "
              f"{state['step']} ({state['images_seen']} images seen)")

    def save_checkpoint() -> None:
        args.checkpoint_dir.mkdir(parents=True, exist_ok=True)
        payload = dict(model=model.state_dict(), ema=ema.state_dict() if ema is not None else None,
                       optimizer=optimizer.state_dict(), generator=generator.get_state(),
                       noise_generator=noise_generator.get_state(), state=state,
                       args=vars(args))
        torch.save(payload, str(checkpoint_path) + ".tmp")
        Path(str(checkpoint_path) + ".tmp").replace(checkpoint_path)

    def export() -> None:
        final = ema if ema is not None else model
        if stops_early and state["best_state"] is not None:
            final = build(args)
            final.load_state_dict(state["best_state"])
        weights.save(final, args.out, name, dtype=getattr(torch, args.weights_dtype), metadata=dict(
            data=dict(folder=str(args.data), train_images=len(fit_images), validation_images=len(validation_images),
                      split=f"sha256 of the file name without skin-tone code points, {HELD_OUT_PERCENT}% held out "
                            "(never read by training)",
                      validation=f"{len(validation_images)} of the {len(train_data)} training-split images, set "
                                 f"aside by a salted sha256 of the file name ({VALIDATION_PERCENT}%): the loss "
                                 "curve, early stopping and the choice of step use these, never held-out images",
                      validation_names=validation_names,
                      augmentation="horizontal flips"),
            training=dict(steps=state["step"], images_seen=state["images_seen"], batch_size=args.batch_size,
                          image_size=args.image_size, variant=args.variant,
                          lr=args.lr, warmup=args.warmup, schedule=args.schedule,
                          decay_fraction=args.decay_fraction if args.schedule == "wsd" else None,
                          branched_from_step=state.get("branched_from_step"),
                          ema_decay=args.ema_decay if ema is not None else None,
                          bf16=use_bf16, seed=args.seed, wall_time_s=round(state["wall_time_s"], 1),
                          device=(torch.cuda.get_device_name() if device.type == "cuda"
                                  else platform.processor() or "cpu"),
                          torch=torch.__version__, stopped_early=state.get("stopped_early", False),
                          selected_by="validation loss" if stops_early else None,
                          selected_step=state.get("best_step") if stops_early else None),
            curve=state["curve"]))

    model.train()
    started = time.time()
    wall_at_start = state["wall_time_s"]
    last_checkpoint = time.time()
    running_loss, running_count = 0.0, 0
    progress = tqdm(total=args.steps, initial=state["step"], desc=name, dynamic_ncols=True)
    while state["step"] < args.steps:
        step_start = time.time()
        index = torch.randint(len(fit_images), (args.batch_size,), generator=generator).to(device)
        flips = (torch.rand(args.batch_size, generator=generator) < 0.5).to(device)[:, None, None, None]
        x0 = train_images[index].float() / 127.5 - 1.0  # (B, 3, H, W) in [-1, 1]
        x0 = torch.where(flips, x0.flip(-1), x0).contiguous(memory_format=torch.channels_last)
        t = torch.randint(diffusion.num_timesteps, (args.batch_size,), generator=generator).to(device)
        noise = torch.randn(x0.shape, generator=noise_generator, device=device)
        noise = noise.contiguous(memory_format=torch.channels_last)
        for group in optimizer.param_groups:
            group["lr"] = learning_rate(args, state["step"])
        with autocast():
            loss = diffusion_loss(model, diffusion, x0, t, noise)
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        optimizer.step()
        if ema is not None:
            with torch.no_grad():
                decay = min(args.ema_decay, (1 + state["step"]) / (10 + state["step"]))
                for ema_param, param in zip(ema.parameters(), model.parameters()):
                    ema_param.lerp_(param, 1.0 - decay)
        state["step"] += 1
        state["images_seen"] += args.batch_size
        state["wall_time_s"] = wall_at_start + time.time() - started
        if state["step"] % 10 == 0 or device.type == "cpu":  # .item() waits for the GPU: not every step
            running_loss += loss.item()
            running_count += 1
            progress.set_postfix(loss=f"{loss.item():.4f}", img_s=f"{args.batch_size / (time.time() - step_start):.0f}")
        progress.update(1)

        if state["step"] % args.eval_every == 0 or state["step"] == args.steps:
            held = validation_loss(ema if ema is not None else model, autocast)
            state["curve"].append(dict(step=state["step"], train_loss=round(running_loss / max(1, running_count), 5),
                                       validation_loss=round(held, 5), wall_time_s=round(state["wall_time_s"], 1)))
            running_loss, running_count = 0.0, 0
            tqdm.write(f"step {state['step']}: train {state['curve'][-1]['train_loss']:.4f}  validation {held:.4f}")
            if held < state["best_validation"] - 1e-5:
                state["best_validation"], state["evals_without_improvement"] = held, 0
                if stops_early:
                    state["best_state"] = {k: v.detach().cpu().clone() for k, v in model.state_dict().items()}
                    state["best_step"] = state["step"]
            else:
                state["evals_without_improvement"] += 1
            if stops_early and state["evals_without_improvement"] >= args.patience:
                tqdm.write(f"validation loss has not improved for {args.patience} evaluations: stopping")
                state["stopped_early"] = True
                break
        out_of_time = args.max_minutes is not None and time.time() - started > 60 * args.max_minutes
        if time.time() - last_checkpoint > 60 * args.checkpoint_minutes or out_of_time:
            save_checkpoint()
            export()
            last_checkpoint = time.time()
        if out_of_time:
            tqdm.write(f"--max-minutes {args.max_minutes} reached at step {state['step']}: saved, resume with --resume")
            break
    progress.close()
    save_checkpoint()
    export()
    print(f"saved {args.out / name}.safetensors after {state['step']} steps, {state['wall_time_s']:.0f} s")


if __name__ == "__main__":
    main()
