"""Timings: `python -m explorer.bench [section ...]` runs the named sections (all when none is named).

A section is a function, registered with `@section("name")`, that returns rows of
(name, median ms, p95 ms, notes); `time_ms` times a callable and one printer shows them all.
"""
from __future__ import annotations

import argparse
import os
import platform
import statistics
import time
from pathlib import Path
from typing import Callable

import torch

Row = tuple[str, float, float, str]
SECTIONS: dict[str, Callable[[], list[Row]]] = {}


def section(name: str) -> Callable[[Callable[[], list[Row]]], Callable[[], list[Row]]]:
    """Register a benchmark section under `name`."""
    def register(function: Callable[[], list[Row]]) -> Callable[[], list[Row]]:
        SECTIONS[name] = function
        return function
    return register


def time_ms(function: Callable[[], object], repeat: int = 20, warmup: int = 2,
            max_seconds: float | None = None) -> tuple[float, float, int]:
    """Median and 95th-percentile wall time of `function` in ms, and how many runs were timed.

    Runs `warmup` untimed calls, then `repeat` timed ones, stopping early (after at least
    three) once `max_seconds` of timed runs have passed.
    """
    for _ in range(warmup):
        function()
    times = []
    started = time.perf_counter()
    while len(times) < repeat:
        begin = time.perf_counter()
        function()
        times.append((time.perf_counter() - begin) * 1000.0)
        if max_seconds is not None and len(times) >= 3 and time.perf_counter() - started > max_seconds:
            break
    times.sort()
    p95 = times[min(len(times) - 1, round(0.95 * (len(times) - 1)))]
    return statistics.median(times), p95, len(times)


def cpu_name() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown CPU"


def cpu_flags() -> set[str]:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("flags"):
                return set(line.split(":", 1)[1].split())
    except OSError:
        pass
    return set()


def print_rows(title: str, rows: list[Row]) -> None:
    width = max([len(name) for name, *_ in rows] + [4])
    print(f"\n== {title}")
    print(f"{'name'.ljust(width)}  {'median ms':>10}  {'p95 ms':>10}  notes")
    for name, median, p95, notes in rows:
        print(f"{name.ljust(width)}  {median:10.1f}  {p95:10.1f}  {notes}")


@section("models")
def models() -> list[Row]:
    """Forward passes at batch 1, and U-Net training steps at batch 64 in fp32 and in bf16 autocast."""
    from explorer.diffusion import Diffusion
    from explorer.naive import NaiveCNN
    from explorer.train import diffusion_loss
    from explorer.unet import UNet, UNetConfig

    torch.manual_seed(0)
    rows = []
    x, t = torch.randn(1, 3, 64, 64), torch.tensor([500])
    for name, model in (("unet", UNet(UNetConfig())), ("naive", NaiveCNN())):
        model.eval()
        with torch.no_grad():
            median, p95, runs = time_ms(lambda: model(x, t), repeat=30, warmup=3, max_seconds=8)
        rows.append((f"{name} forward, batch 1, fp32", median, p95, f"no_grad, {runs} runs"))

    diffusion = Diffusion()
    generator = torch.Generator().manual_seed(0)
    x0 = torch.rand(64, 3, 64, 64, generator=generator) * 2 - 1
    noise = torch.randn(64, 3, 64, 64, generator=generator)
    t = torch.randint(1000, (64,), generator=generator)
    for label, bf16, channels_last in (("fp32", False, False), ("fp32 + channels_last", False, True),
                                       ("bf16 autocast + channels_last", True, True)):
        model = UNet(UNetConfig()).train()
        inputs, targets = x0, noise
        if channels_last:
            model = model.to(memory_format=torch.channels_last)
            inputs, targets = x0.contiguous(memory_format=torch.channels_last), noise.contiguous(memory_format=torch.channels_last)
        optimizer = torch.optim.AdamW(model.parameters(), lr=1e-4)

        def step() -> None:
            with torch.autocast("cpu", dtype=torch.bfloat16, enabled=bf16):
                loss = diffusion_loss(model, diffusion, inputs, t, targets)
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            optimizer.step()

        median, p95, runs = time_ms(step, repeat=10, warmup=1, max_seconds=12)
        notes = f"{runs} runs, {64000 / median:.1f} images/s"
        if bf16 and not {"amx_bf16", "avx512_bf16"} & cpu_flags():
            notes += "; this CPU has no AMX or AVX-512 bf16, so bf16 is emulated and slow"
        rows.append((f"unet train step, batch 64, {label}", median, p95, notes))
    return rows


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("sections", nargs="*", metavar="section", help=f"any of: {', '.join(SECTIONS)}")
    args = parser.parse_args(argv)
    unknown = [name for name in args.sections if name not in SECTIONS]
    if unknown:
        parser.error(f"unknown section {', '.join(unknown)}: choose from {', '.join(SECTIONS)}")
    print(f"{cpu_name()}, {os.cpu_count()} CPUs, torch {torch.__version__} with {torch.get_num_threads()} threads"
          + (f", CUDA {torch.cuda.get_device_name()} (not used by these sections)" if torch.cuda.is_available() else ""))
    for name in args.sections or list(SECTIONS):
        started = time.perf_counter()
        rows = SECTIONS[name]()
        print_rows(f"{name} ({time.perf_counter() - started:.0f} s)", rows)


if __name__ == "__main__":
    main()
