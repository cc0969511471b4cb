"""Time the denoisers at batch 1 on this CPU: `python -m explorer.bench_denoisers [--threads N] [--repeats N]`.

For the shipped U-Net, the shipped diffusers model (weights/diffusers-unet) and a random model with
google/ddpm-cifar10-32's config (35.7 M parameters, built here: nothing is downloaded), the median of: one forward,
one forward recording every block (what the feature maps and the diagram's block click read), one forward keeping
the first attention block's weights, one forward with a skip knocked out, and the block tree with its shapes
(`structure.describe`, done once per model when the app opens it).
"""
from __future__ import annotations

import argparse
import statistics
import time
from collections.abc import Callable
from pathlib import Path

import torch

from explorer import denoiser
from explorer.analysis.structure import describe
from explorer.probe import Probe
from explorer.weights import DEFAULT_DIR, load

SHIPPED_DIFFUSERS = DEFAULT_DIR / "diffusers-unet"
# google/ddpm-cifar10-32's unet/config.json
CIFAR10_CONFIG = dict(sample_size=32, in_channels=3, out_channels=3, block_out_channels=(128, 256, 256, 256),
                      layers_per_block=2, down_block_types=("DownBlock2D", "AttnDownBlock2D", "DownBlock2D",
                                                            "DownBlock2D"),
                      up_block_types=("UpBlock2D", "UpBlock2D", "AttnUpBlock2D", "UpBlock2D"),
                      attention_head_dim=None, norm_num_groups=32, dropout=0.1, flip_sin_to_cos=False, freq_shift=1,
                      norm_eps=1e-6, downsample_padding=0)


def median_ms(call: Callable[[], object], repeats: int) -> tuple[float, float]:
    """The median wall time and CPU time (this thread's: with one torch thread, the work itself, whatever else
    the machine runs) of `call` in milliseconds, after one untimed warm-up call."""
    call()
    wall, cpu = [], []
    for _ in range(repeats):
        start, start_cpu = time.perf_counter(), time.thread_time()
        call()
        wall.append(1000 * (time.perf_counter() - start))
        cpu.append(1000 * (time.thread_time() - start_cpu))
    return statistics.median(wall), statistics.median(cpu)


@torch.no_grad()
def time_denoiser(model: denoiser.Denoiser, repeats: int = 10) -> dict[str, float]:
    """The median milliseconds (wall, and CPU as `…_cpu_ms`) of each kind of call the views make, at batch 1."""
    size = model.image_size
    x, t = torch.randn(1, model.in_channels, size, size), torch.tensor([500])
    attention = denoiser.attention_blocks(model)[:1]
    skips = denoiser.skips(model)
    calls = {"forward": lambda: model(x, t), "forward_recording_every_block": lambda: model(x, t, Probe(record="*"))}
    if attention:
        calls["forward_with_attention_weights"] = lambda: model(x, t, Probe(record_attention=set(attention)))
    if skips:
        calls["forward_one_skip_cut"] = lambda: model(x, t, Probe(zero_skips={skips[0].skip}))
    out = {}
    for name, call in calls.items():
        out[f"{name}_ms"], out[f"{name}_cpu_ms"] = median_ms(call, repeats)
    start = time.perf_counter()
    describe(model, size)
    out["describe_ms"] = 1000 * (time.perf_counter() - start)
    out["parameters"] = sum(p.numel() for p in model.parameters())
    return out


def cifar10_config_model() -> denoiser.Denoiser:
    """A random UNet2DModel with google/ddpm-cifar10-32's config behind the adapter (built, not downloaded)."""
    from diffusers import UNet2DModel

    from explorer.diffusers_unet import DiffusersUNet

    torch.manual_seed(0)
    model = DiffusersUNet(UNet2DModel(**CIFAR10_CONFIG)).eval().requires_grad_(False)
    return model.to(memory_format=torch.channels_last)  # as open_diffusers and weights.load leave a model


def run(repeats: int = 10, shipped: Path = SHIPPED_DIFFUSERS) -> dict[str, dict[str, float]]:
    """Each model's timings, by name."""
    from explorer.diffusers_folder import open_diffusers

    results = {"unet (ours, 64×64)": time_denoiser(load(DEFAULT_DIR, "unet")[0], repeats)}
    if (shipped / "model_index.json").exists():
        start = time.perf_counter()
        import diffusers  # noqa: F401  (timed apart: the first model opened pays for the import)
        import_ms = 1000 * (time.perf_counter() - start)
        start = time.perf_counter()
        opened = open_diffusers(shipped)
        load_ms = 1000 * (time.perf_counter() - start)
        results[f"diffusers-unet (shipped, {opened.denoiser.image_size}×{opened.denoiser.image_size})"] = dict(
            time_denoiser(opened.denoiser, repeats), import_diffusers_ms=import_ms, open_ms=load_ms)
    results["ddpm-cifar10-32 config (random, 32×32)"] = time_denoiser(cifar10_config_model(), repeats)
    return results


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--threads", type=int, default=1, help="torch CPU threads (the app gives each request 1)")
    parser.add_argument("--repeats", type=int, default=10)
    args = parser.parse_args(argv)
    torch.set_num_threads(args.threads)
    for name, timings in run(args.repeats).items():
        print(name)
        for key, value in timings.items():
            print(f"  {key:36s} {value:12,.1f}" if key != "parameters" else f"  {key:36s} {value:12,d}")


if __name__ == "__main__":
    main()
