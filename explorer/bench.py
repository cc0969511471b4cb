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
            max_seconds: float | None = None, min_runs: int = 3) -> tuple[float, float, int]:
    """Median and 95th-percentile wall time of `function` in ms, and how many runs were timed.

    Runs `warmup` untimed calls, then `repeat` timed ones, stopping early (after at least
    `min_runs`) once `max_seconds` of timed runs have passed.
    """
    for _ in range(warmup):
        function()
    times = []
    started = time.perf_counter()
    while len(times) < repeat:
        begin = time.perf_counter()
        function()
        times.append((time.perf_counter() - begin) * 1000.0)
        if max_seconds is not None and len(times) >= min_runs and time.perf_counter() - started > max_seconds:
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

    # Training steps as `explorer.train` takes them (channels_last, AdamW), in fp32 and in bf16 autocast.
    diffusion = Diffusion()
    generator = torch.Generator().manual_seed(0)
    x0 = (torch.rand(64, 3, 64, 64, generator=generator) * 2 - 1).contiguous(memory_format=torch.channels_last)
    noise = torch.randn(64, 3, 64, 64, generator=generator).contiguous(memory_format=torch.channels_last)
    t = torch.randint(1000, (64,), generator=generator)
    bf16_hardware = bool({"amx_bf16", "avx512_bf16"} & cpu_flags())
    for label, bf16 in (("fp32", False), ("bf16 autocast", True)):
        model = UNet(UNetConfig()).train().to(memory_format=torch.channels_last)
        optimizer = torch.optim.AdamW(model.parameters(), lr=1e-4)

        def step() -> None:
            with torch.autocast("cpu", dtype=torch.bfloat16, enabled=bf16):
                loss = diffusion_loss(model, diffusion, x0, t, noise)
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            optimizer.step()

        if bf16 and not bf16_hardware:
            # Emulated bf16 takes about a minute a step here: one timed step, and no warm-up (its
            # first-call overhead is a fraction of a percent of such a step), to stay near 90 s.
            median, p95, runs = time_ms(step, repeat=1, warmup=0, min_runs=1)
            notes = "no AMX or AVX-512 bf16 on this CPU: bf16 is emulated and far slower than fp32"
        else:
            median, p95, runs = time_ms(step, repeat=5, warmup=1, max_seconds=15, min_runs=2)
            notes = ""
        rows.append((f"unet train step, batch 64, {label} + channels_last", median, p95,
                     f"{runs} run{'s' if runs > 1 else ''}, {64000 / median:.1f} images/s" + (f"; {notes}" if notes else "")))
    return rows


def _path_row(name: str, view: Callable[[], object], floor: Callable[[], object], target_ms: float | None = None,
              repeat: int = 20, max_seconds: float = 10.0) -> Row:
    """Time an interactive path and the pure model compute inside it (its floor), and compare them.

    The DESIGN target for every path: at most 2 × floor + 60 ms; `target_ms` is the issue's own
    budget for that path where it has one.
    """
    floor_median, _, _ = time_ms(floor, repeat=repeat, warmup=2, max_seconds=max_seconds)
    median, p95, runs = time_ms(view, repeat=repeat, warmup=2, max_seconds=max_seconds)
    budget = 2 * floor_median + 60
    notes = (f"floor {floor_median:.0f} ms, ratio {median / floor_median:.2f}, "
             f"≤ 2×floor+60 = {budget:.0f} ms: {'met' if median <= budget else 'NOT met'}")
    if target_ms is not None:
        notes += f"; target {target_ms:.0f} ms: {'met' if median <= target_ms else 'NOT met'}"
    return (name, median, p95, notes + f"; {runs} runs")


@section("views")
def views() -> list[Row]:
    """Every interactive path as the app's handlers run it, on the shipped weights, next to its model compute."""
    from explorer.analysis.activations import record
    from explorer.analysis.receptive_field import effective
    from explorer.views import architecture, denoising, levels, receptive
    from explorer.views.context import Context

    torch.manual_seed(0)
    ctx = Context.load()
    image = ctx.image(ctx.examples[5])
    t, seed = 250, 0
    _, x_t, _ = ctx.x_t(image, t, seed)
    t_batch = torch.tensor([t])
    unet, naive = ctx.pair.unet, ctx.pair.naive

    def unet_forward():
        with torch.no_grad():
            return unet(x_t, t_batch)

    def both_forward():
        with torch.no_grad():
            return unet(x_t, t_batch), naive(x_t, t_batch)

    def block_click():
        panel = architecture.block_panel(ctx, image, t, seed, "mid.attn")
        return architecture.diagram(ctx, "mid.attn"), panel

    def all_levels():
        outputs = levels.record_levels(ctx, image, t, seed)
        return (levels.level_grid(ctx, outputs), levels.spectrum_figure(ctx, outputs, t),
                levels.spectrum_figure(ctx, outputs, t, group="skips"))

    def side_by_side(knockouts=denoising.Knockouts()):
        comparison = denoising.compare(ctx, image, t, seed, knockouts)
        return (denoising.comparison_figure(comparison), denoising.metrics_markdown(comparison),
                denoising.curves_figure(ctx, t))

    knocked = denoising.Knockouts(zero_skips=frozenset({1}), attention=False)

    def knocked_floor():
        with torch.no_grad():
            return unet(x_t, t_batch), naive(x_t, t_batch), unet(x_t, t_batch, probe=knocked.probe())

    def pixel_click():
        fields = receptive.views(ctx, image, t, seed, 32, 20, receptive.OUTPUT)
        return receptive.overlays_image(fields), receptive.numbers_markdown(ctx, fields, t), \
            receptive.clickable_image(ctx, image, t, seed)

    def gradients():
        return effective(naive, x_t, t, 32, 20), effective(unet, x_t, t, 32, 20)

    rows = [
        _path_row("block click (mid.attn): panel + diagram", block_click,
                  lambda: record(unet, x_t, t, {"mid.attn"}), target_ms=150),
        _path_row("all levels: maps + 2 spectra", all_levels, unet_forward, target_ms=300),
        _path_row("side by side at one t", side_by_side, both_forward, target_ms=120),
        _path_row("side by side with knock-outs", lambda: side_by_side(knocked), knocked_floor),
        _path_row("pixel click: both effective fields", pixel_click, gradients, target_ms=250),
    ]

    steps = 50

    def reverse(render: bool):
        first = None
        started = time.perf_counter()
        frames = []
        for frame in denoising.reverse_process(ctx, image, t, seed, steps, every=steps // 10):
            frames.append(frame)
            if render:
                denoising.reverse_frame_image(frame), denoising.drift_figure(frame, False)
            if first is None:
                first = (time.perf_counter() - started) * 1000
        if render:
            denoising.frame_strip(frames), denoising.animation_gif(frames)
        return first

    def ddim_floor():  # the samplers alone, both models stepping in parallel as the view runs them; no pictures
        for _ in denoising.reverse_process(ctx, image, t, seed, steps, every=steps):
            pass

    floor_median, _, _ = time_ms(ddim_floor, repeat=3, warmup=1, max_seconds=20)
    totals, firsts = [], []
    for _ in range(3):
        begin = time.perf_counter()
        firsts.append(reverse(render=True))
        totals.append((time.perf_counter() - begin) * 1000)
    totals.sort()
    firsts.sort()
    rows.append((f"reverse process, DDIM {steps} steps, both models", statistics.median(totals), totals[-1],
                 f"floor {floor_median:.0f} ms, ratio {statistics.median(totals) / floor_median:.2f}; "
                 f"target 2500 ms: {'met' if statistics.median(totals) <= 2500 else 'NOT met'}; 3 runs"))
    rows.append(("reverse process, first frame", statistics.median(firsts), firsts[-1],
                 f"target 300 ms: {'met' if statistics.median(firsts) <= 300 else 'NOT met'}"))
    return rows


@section("startup")
def startup() -> list[Row]:
    """Cold start (`python app.py` until the page answers) and the app's peak resident memory after use."""
    import socket
    import subprocess
    import sys
    import urllib.request

    rows = []
    starts, peaks = [], []
    root = Path(__file__).resolve().parent.parent
    for _ in range(2):
        with socket.socket() as sock:
            sock.bind(("127.0.0.1", 0))
            port = sock.getsockname()[1]
        env = dict(os.environ, GRADIO_SERVER_NAME="127.0.0.1", GRADIO_SERVER_PORT=str(port),
                   GRADIO_ANALYTICS_ENABLED="False")
        begin = time.perf_counter()
        process = subprocess.Popen([sys.executable, "app.py"], cwd=root, env=env,
                                   stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        try:
            while True:
                try:
                    with urllib.request.urlopen(f"http://127.0.0.1:{port}/", timeout=2) as response:
                        if response.status == 200:
                            break
                except OSError:
                    if process.poll() is not None or time.perf_counter() - begin > 120:
                        raise RuntimeError("the app did not start")
                    time.sleep(0.05)
            starts.append((time.perf_counter() - begin) * 1000)
            _exercise(port)
            peaks.append(_peak_rss_mb(process.pid))
        finally:
            process.terminate()
            process.wait(timeout=30)
    starts.sort()
    rows.append(("cold start: python app.py until the page answers", statistics.median(starts), starts[-1],
                 f"target 8000 ms: {'met' if statistics.median(starts) <= 8000 else 'NOT met'}; 2 runs"))
    peak = max(peaks)
    rows.append(("peak resident memory of the app after every view (MB)", peak, peak,
                 f"target 1229 MB (1.2 GB): {'met' if peak <= 1229 else 'NOT met'}; VmHWM"))
    return rows


def _exercise(port: int) -> None:
    """Drive each view once through the API so the memory peak includes them."""
    import contextlib
    import io

    from gradio_client import Client

    with contextlib.redirect_stdout(io.StringIO()):
        client = Client(f"http://127.0.0.1:{port}/", verbose=False)
        client.predict(250, 0, "mid.attn", api_name="/select_block")
        client.predict(250, 0, api_name="/levels")
        client.predict(250, 0, False, 250, ["skip2", "skip3", "skip4"], True, api_name="/denoise")
        client.predict(250, 0, 32, 32, "output", api_name="/receptive_field")
        client.predict(250, 0, 20, api_name="/denoise_from_here")


def _peak_rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("sections", nargs="*", metavar="section", help=f"any of: {', '.join(SECTIONS)}")
    parser.add_argument("--threads", type=int, default=None,
                        help="torch threads (default: what the app uses per request on this machine)")
    args = parser.parse_args(argv)
    from explorer.views.context import threads_per_request
    torch.set_num_threads(args.threads or threads_per_request())
    unknown = [name for name in args.sections if name not in SECTIONS]
    if unknown:
        parser.error(f"unknown section {', '.join(unknown)}: choose from {', '.join(SECTIONS)}")
    print(f"{cpu_name()}, {os.cpu_count()} CPUs, torch {torch.__version__} with {torch.get_num_threads()} threads, "
          f"load average {os.getloadavg()[0]:.1f} (anything else running slows every number)"
          + (f", CUDA {torch.cuda.get_device_name()} (not used by these sections)" if torch.cuda.is_available() else ""))
    for name in args.sections or list(SECTIONS):
        started = time.perf_counter()
        rows = SECTIONS[name]()
        print_rows(f"{name} ({time.perf_counter() - started:.0f} s)", rows)


if __name__ == "__main__":
    main()
