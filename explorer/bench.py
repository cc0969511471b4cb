"""Timings: `python -m explorer.bench [section ...]` runs the named sections (all when none is named).

A section is a function, registered with `@section("name")`, that returns rows of
(name, median ms, p95 ms, notes); `time_ms` times a callable and one printer shows them all.
The sections that start the app and drive it as a page and its clients do (startup, scrub, overhead, load)
use the tests' harness, so they live in tests/bench_app.py: `python -m tests.bench_app [section ...]`.
"""
from __future__ import annotations

import argparse
import os
import statistics
import time
from collections.abc import Callable
from pathlib import Path

import torch

from explorer.devices import cpu_name
from explorer.memory import tune_malloc

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
    return statistics.median(times), percentile_95(times), len(times)


def percentile_95(times: list[float]) -> float:
    """The 95th percentile (nearest rank) of `times`."""
    ordered = sorted(times)
    return ordered[min(len(ordered) - 1, round(0.95 * (len(ordered) - 1)))]


def paired_ms(first: Callable[[], object], second: Callable[[], object], pairs: int = 30, warmup: int = 2,
              max_seconds: float = 20.0) -> tuple[float, float, float, float, int]:
    """Time `first` and `second` in turns (A B, B A, …) so that a busy machine slows both alike.

    Returns the median ms of each, the 95th percentile of `second`, the median of the per-pair
    differences (second − first) and the number of pairs.
    """
    for _ in range(warmup):
        first()
        second()
    a_times, b_times = [], []
    started = time.perf_counter()
    for index in range(pairs):
        order = ((first, a_times), (second, b_times))
        for function, times in (order if index % 2 == 0 else order[::-1]):
            begin = time.perf_counter()
            function()
            times.append((time.perf_counter() - begin) * 1000.0)
        if index >= 4 and time.perf_counter() - started > max_seconds:
            break
    differences = [b - a for a, b in zip(a_times, b_times)]
    return (statistics.median(a_times), statistics.median(b_times), percentile_95(b_times),
            statistics.median(differences), len(differences))


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

    # Inference in channels_last: adopted only where faster here and within 1e-4 of the default layout.
    reference = UNet(UNetConfig()).eval()
    moved = UNet(UNetConfig()).eval().to(memory_format=torch.channels_last)
    moved.load_state_dict(reference.state_dict())
    for batch in (1, 16):
        x, t = torch.randn(batch, 3, 64, 64), torch.full((batch,), 500)
        x_last = x.contiguous(memory_format=torch.channels_last)
        with torch.no_grad():
            plain, _, _ = time_ms(lambda: reference(x, t), repeat=20, warmup=2, max_seconds=8)
            last, p95, runs = time_ms(lambda: moved(x_last, t), repeat=20, warmup=2, max_seconds=8)
            gap = float((reference(x, t) - moved(x_last, t)).abs().max())
        rows.append((f"unet forward, batch {batch}, channels_last", last, p95,
                     f"default layout {plain:.1f} ms (×{plain / last:.2f}); max abs difference {gap:.1e}; {runs} runs"))

    # Training steps as `explorer.train` takes them (channels_last, AdamW), in fp32 and in bf16 autocast.
    diffusion = Diffusion()
    generator = torch.Generator().manual_seed(0)
    x0 = (torch.rand(64, 3, 64, 64, generator=generator) * 2 - 1).contiguous(memory_format=torch.channels_last)
    noise = torch.randn(64, 3, 64, 64, generator=generator).contiguous(memory_format=torch.channels_last)
    t = torch.randint(diffusion.num_timesteps, (64,), generator=generator)
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
                     f"{runs} run{'s' if runs > 1 else ''}, {64000 / median:.1f} images/s"
                     + (f"; {notes}" if notes else "")))
    return rows


@section("study")
def study() -> list[Row]:
    """Training images per second for each (variant, resolution) of the study's ladder (one thread, as the ladder
    trains), the whole plan's training time on this machine from those rates, and the time it took where trained."""
    from explorer.diffusion import Diffusion
    from explorer.study import ladder
    from explorer.study.protocol import Protocol
    from explorer.study.results import results
    from explorer.study.variants import build
    from explorer.train import diffusion_loss

    protocol = Protocol()
    threads = torch.get_num_threads()
    torch.set_num_threads(protocol.threads)
    rows, total_s = [], 0.0
    try:
        diffusion = Diffusion()
        generator = torch.Generator().manual_seed(0)
        batch = protocol.batch_size
        for name, side, seeds, top in ladder.PLAN:
            x0 = torch.rand(batch, 3, side, side, generator=generator) * 2 - 1
            x0 = x0.contiguous(memory_format=torch.channels_last)
            noise = torch.randn(batch, 3, side, side, generator=generator).contiguous(memory_format=torch.channels_last)
            t = torch.randint(diffusion.num_timesteps, (batch,), generator=generator)
            model = build(name, side).train().to(memory_format=torch.channels_last)
            optimizer = torch.optim.AdamW(model.parameters(), lr=protocol.lr)

            def step() -> None:
                loss = diffusion_loss(model, diffusion, x0, t, noise)
                optimizer.zero_grad(set_to_none=True)
                loss.backward()
                optimizer.step()

            median, p95, runs = time_ms(step, repeat=8, warmup=2, max_seconds=10, min_runs=3)
            chain = ladder.Chain(name, side, 0, top)
            steps = ladder.decay_start(top) + sum(rung - ladder.decay_start(rung) for rung in chain.rungs)
            total_s += median / 1000 * steps * seeds
            rows.append((f"study {name}: train step, batch {batch}, {side}×{side}, 1 thread", median, p95,
                         f"{batch * 1000 / median:.0f} images/s; {runs} runs; its plan: {seeds} × {steps:,} steps "
                         f"(up to {top:,}) = {median / 1000 * steps * seeds / 3600:.1f} h"))
    finally:
        torch.set_num_threads(threads)
    shipped = results()
    shipped_s = shipped.data["trained_on"].get("cpu_seconds", 0.0) if shipped else 0.0
    trained = f"; the shipped study's runs took {shipped_s / 3600:.1f} thread-hours" if shipped else ""
    rows.append(("study: the whole ladder, estimated from these rates", total_s * 1000, float("nan"),
                 f"{total_s / 3600:.1f} h on one thread, ~{total_s / 7200:.1f} h with two runs at once{trained}"))
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
        return denoising.side_by_side_html(comparison, denoising.strip_key(image, seed, knockouts))

    def strip(knockouts=denoising.Knockouts()):
        frames = denoising.scrub_frames(ctx, image, seed, denoising.scrub_grid(), knockouts)
        return denoising.png_bytes(denoising.scrub_strip(frames, knockouts)), \
            denoising.scrub_meta_html("k", frames, knockouts)

    def strip_floor():
        grid = torch.tensor(denoising.scrub_grid())
        x0, _, eps = ctx.x_t(image, t, seed)
        batch = ctx.diffusion.q_sample(x0.expand(len(grid), -1, -1, -1), grid, eps.expand(len(grid), -1, -1, -1))
        with torch.no_grad():
            for i in range(0, len(grid), 16):
                unet(batch[i:i + 16], grid[i:i + 16]), naive(batch[i:i + 16], grid[i:i + 16])

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
        _path_row(f"scrub strip: {denoising.SCRUB_FRAMES} t values, once per image/seed/knock-outs", strip,
                  strip_floor, repeat=3, max_seconds=20),
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


@section("diffusers_views")
def diffusers_views() -> list[Row]:
    """The model tabs' paths with a diffusers UNet2DModel in the U-Net's place (`python app.py --model`): the
    shipped one (weights/diffusers-unet, 1.5 M parameters) and a random one of google/ddpm-cifar10-32's config
    (35.7 M), opened from a folder `save_pretrained` writes to a temporary folder (nothing is downloaded)."""
    import tempfile

    import diffusers

    from explorer.analysis.activations import record
    from explorer.analysis.receptive_field import effective
    from explorer.bench_denoisers import CIFAR10_CONFIG
    from explorer.views import architecture, denoising, receptive
    from explorer.views.context import Context
    from explorer.weights import DEFAULT_DIR

    rows = []
    with tempfile.TemporaryDirectory(prefix="bench-ddpm-cifar10-32-") as folder:
        torch.manual_seed(0)
        diffusers.UNet2DModel(**CIFAR10_CONFIG).save_pretrained(folder)
        for label, source in (("shipped diffusers-unet", DEFAULT_DIR / "diffusers-unet"),
                              ("ddpm-cifar10-32 config", folder)):
            ctx = Context.load(model=source)
            image = ctx.image(ctx.examples[5])
            t, seed, block = 250, 0, "mid_block.attentions.0"
            _, x_t, _ = ctx.x_t(image, t, seed)
            unet, naive, t_batch = ctx.pair.unet, ctx.pair.naive, torch.tensor([t])
            centre = ctx.image_size // 2

            def both_forward(unet=unet, naive=naive, x_t=x_t, t_batch=t_batch):
                with torch.no_grad():
                    return unet(x_t, t_batch), naive(x_t, t_batch)

            def block_click(ctx=ctx, image=image, t=t, seed=seed, block=block):
                return architecture.diagram(ctx, block), architecture.block_panel(ctx, image, t, seed, block)

            def side_by_side(ctx=ctx, image=image, t=t, seed=seed):
                comparison = denoising.compare(ctx, image, t, seed)
                return denoising.side_by_side_html(comparison, "k")

            def pixel_click(ctx=ctx, image=image, t=t, seed=seed, centre=centre):
                fields = receptive.views(ctx, image, t, seed, centre, centre, receptive.OUTPUT)
                return receptive.overlays_image(fields), receptive.numbers_markdown(ctx, fields, t)

            def gradients(unet=unet, naive=naive, x_t=x_t, t=t, centre=centre):
                return effective(naive, x_t, t, centre, centre), effective(unet, x_t, t, centre, centre)

            rows += [
                _path_row(f"{label}: block click ({block}): panel + diagram", block_click,
                          lambda unet=unet, x_t=x_t, t=t, block=block: record(unet, x_t, t, {block}), repeat=10,
                          max_seconds=20, target_ms=400),
                _path_row(f"{label}: side by side at one t", side_by_side, both_forward, repeat=10, max_seconds=20),
                _path_row(f"{label}: pixel click, both effective fields", pixel_click, gradients, repeat=5,
                          max_seconds=20),
            ]
    return rows


@section("proofs")
def proofs() -> list[Row]:
    """The "Part by part" tab's live views (explorer/bench_proofs.py keeps the timed paths)."""
    from explorer.bench_proofs import bench_rows
    return bench_rows(_path_row, time_ms)


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("sections", nargs="*", metavar="section", help=f"any of: {', '.join(SECTIONS)}")
    parser.add_argument("--threads", type=int, default=None,
                        help="torch threads (default: what the app uses per request on this machine)")
    args = parser.parse_args(argv)
    from explorer.views.context import threads_per_request
    tune_malloc()  # as app.py does: the same allocator settings as the app's requests
    torch.set_num_threads(args.threads or threads_per_request())
    unknown = [name for name in args.sections if name not in SECTIONS]
    if unknown:
        parser.error(f"unknown section {', '.join(unknown)}: choose from {', '.join(SECTIONS)}")
    print(f"{cpu_name()}, {os.cpu_count()} CPUs, torch {torch.__version__} with {torch.get_num_threads()} threads, "
          f"load average {os.getloadavg()[0]:.1f} (anything else running slows every number)"
          + (f", CUDA {torch.cuda.get_device_name()} (not used by these sections)"
             if torch.cuda.is_available() else ""))
    for name in args.sections or list(SECTIONS):
        started = time.perf_counter()
        rows = SECTIONS[name]()
        print_rows(f"{name} ({time.perf_counter() - started:.0f} s)", rows)


if __name__ == "__main__":
    main()
