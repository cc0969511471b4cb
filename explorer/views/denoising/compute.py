"""The Denoising lab's computation: both networks and the blur baseline on one x_t, the frames for scrubbing
through t, this image's curves and the reverse process. Pure functions of the inputs, returning dataclasses."""
from __future__ import annotations

import hashlib
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field

import numpy as np
import torch

from explorer.analysis.denoise import Prediction, make_noise, predict, predict_blur
from explorer.analysis.metrics import TIMESTEPS, blur_sigma_for, eps_mse, psnr
from explorer.data import image_digest, to_uint8
from explorer.diffusion import NUM_TIMESTEPS
from explorer.knockouts import Knockouts
from explorer.metrics import Metrics
from explorer.render import colorize, noise_image
from explorer.views.context import Context
from explorer.views.domain import DomainScores


@dataclass
class Comparison:
    t: int
    x0: torch.Tensor
    x_t: torch.Tensor
    eps: torch.Tensor
    predictions: dict[str, Prediction]  # naive, unet, blur, and knocked when knock-outs are active
    blur_sigma: float
    knockouts: Knockouts = field(default_factory=Knockouts)


# Threads for the forwards of `compare`, shared by every request (each runs two or three networks: the naive CNN,
# the U-Net and, with knock-outs, the knocked-out U-Net). A worker starts on first use and is kept.
FORWARDS = ThreadPoolExecutor(max_workers=4, thread_name_prefix="forward")


def with_threads(threads: int, fn, *args, **kwargs):
    """`fn(*args, **kwargs)` with `threads` torch threads in this thread. A thread keeps the count torch had when it
    first computed, so a kept worker started before a later `torch.set_num_threads` would split its sums otherwise
    than its caller, and the last bits of a result would depend on which worker ran it."""
    if torch.get_num_threads() != threads:
        torch.set_num_threads(threads)
    return fn(*args, **kwargs)


def compare(ctx: Context, image: np.ndarray, t: int, seed: int, knockouts: Knockouts = Knockouts()) -> Comparison:
    """Both networks (and the blur baseline) on the same x_t; the U-Net once more with knock-outs if any."""
    x0, x_t, eps = ctx.x_t(image, t, seed)
    calls = {"naive": (ctx.pair.naive, None), "unet": (ctx.pair.unet, None)}
    if knockouts.active:
        calls["knocked"] = (ctx.pair.unet, knockouts.probe())
    # The networks run in parallel threads (torch releases the GIL), as in the reverse process: with a core free,
    # the view costs the slowest forward instead of their sum (letting go of t waits for it). They run in threads
    # kept for it (`FORWARDS`: starting two threads per view cost ~5 ms), all of them: one network run in another
    # thread than its knocked-out twin could differ in the last bits, and telling the true t must give the intact
    # U-Net's answer exactly.
    threads = torch.get_num_threads()
    futures = {name: FORWARDS.submit(with_threads, threads, predict, model, ctx.diffusion, x_t, t, x0, eps,
                                     probe=probe)
               for name, (model, probe) in calls.items()}
    sigma = blur_sigma_for(t, blur_table(ctx))
    blur = predict_blur(ctx.diffusion, x_t, t, x0, eps, sigma)
    predictions = {name: future.result() for name, future in futures.items()} | {"blur": blur}
    return Comparison(t, x0, x_t, eps, predictions, sigma, knockouts)


TITLES = {"naive": "Naive CNN", "unet": "U-Net", "knocked": "U-Net, knocked out", "blur": "Gaussian blur"}

# --- one t as native-size tiles, and many t at once for scrubbing ------------------------------------------------

SCRUB_FRAMES = 48  # t values precomputed per image, seed and knock-outs: the frames the slider swaps while dragged
ROWS = (("eps", "predicted noise ε̂"), ("x0", "predicted clean image x̂₀"), ("error", "error |x̂₀ − x₀|"))
ERROR_LIMIT = 1.0  # the error maps' colour scale: 0 … this mean |x̂₀ − x₀| over colours


def scrub_grid(count: int = SCRUB_FRAMES, num_timesteps: int = NUM_TIMESTEPS) -> list[int]:
    """`count` timesteps from 1 to T−1, evenly spaced in √t: dense where the picture changes fast (small t)."""
    top = num_timesteps - 1
    values = {round((1 + (top ** 0.5 - 1) * i / (count - 1)) ** 2) for i in range(count)}
    return sorted(min(top, max(1, v)) for v in values)


def columns_for(knockouts: Knockouts) -> list[str]:
    """The model columns shown, left to right."""
    return ["naive", "unet"] + (["knocked"] if knockouts.active else []) + ["blur"]


def tile_names(knockouts: Knockouts) -> list[str]:
    """The tiles that change with t, in sprite order: x_t, then each column's ε̂, x̂₀ and error map."""
    return ["x_t"] + [f"{name}.{row}" for name in columns_for(knockouts) for row, _ in ROWS]


@dataclass
class Tiles:
    """One t as the page shows it: native-size pictures (H, W, 3) uint8 and each model's scores."""

    t: int
    images: dict[str, np.ndarray]  # tile name → picture
    scores: dict[str, tuple[float, float]]  # model → (ε-MSE, x̂₀ PSNR in dB)
    blur_sigma: float


def error_map(x0_hat: torch.Tensor, x0: torch.Tensor) -> np.ndarray:
    """|x̂_0 − x_0| averaged over colours (H, W, 3) uint8, on the fixed 0 … ERROR_LIMIT scale so columns compare."""
    return colorize((x0_hat[0] - x0[0]).abs().mean(0), 0.0, ERROR_LIMIT, "heat")


def noise_pixels(eps: torch.Tensor) -> np.ndarray:
    return np.asarray(noise_image(eps))


def _tiles(t: int, x_t: torch.Tensor, x0: torch.Tensor, predictions: dict[str, Prediction], sigma: float) -> Tiles:
    images = {"x_t": to_uint8(x_t[0])}
    for name, prediction in predictions.items():
        images[f"{name}.eps"] = noise_pixels(prediction.eps_hat)
        images[f"{name}.x0"] = to_uint8(prediction.x0_hat[0])
        images[f"{name}.error"] = error_map(prediction.x0_hat, x0)
    scores = {name: (prediction.eps_mse, prediction.psnr) for name, prediction in predictions.items()}
    return Tiles(t, images, scores, sigma)


def comparison_tiles(comparison: Comparison) -> Tiles:
    """The single-step view at the comparison's t as tiles."""
    return _tiles(comparison.t, comparison.x_t, comparison.x0, comparison.predictions, comparison.blur_sigma)


def blur_table(ctx: Context) -> dict[int, float] | None:
    metrics = Metrics.of(ctx.metrics)
    return {t: metrics.blur_sigma(t) for t in metrics.timesteps} if metrics else None


@torch.no_grad()
def scrub_frames(ctx: Context, image: np.ndarray, seed: int, timesteps: list[int],
                 knockouts: Knockouts = Knockouts(), batch: int = 16) -> list[Tiles]:
    """The side-by-side for many t at once (same image and noise), each model run in batches.

    Frame i equals `comparison_tiles(compare(ctx, image, timesteps[i], seed, knockouts))` up to the
    rounding of a batched forward (pictures within 1/255, scores within 1e-4 relative)."""
    x0, _, eps = ctx.x_t(image, timesteps[0], seed)  # ε does not depend on t
    t_all = torch.tensor(timesteps, dtype=torch.long)
    count = len(timesteps)
    x_t = ctx.diffusion.q_sample(x0.expand(count, -1, -1, -1), t_all, eps.expand(count, -1, -1, -1))  # (N, 3, H, W)
    models = {"naive": (ctx.pair.naive, None), "unet": (ctx.pair.unet, None)}
    if knockouts.active:
        models["knocked"] = (ctx.pair.unet, knockouts.probe())
    outputs: dict[str, list[Prediction]] = {name: [] for name in models}
    for name, (model, probe) in models.items():
        eps_hat = torch.cat([model(x_t[i:i + batch], t_all[i:i + batch], probe=probe)
                             for i in range(0, count, batch)])  # (N, 3, H, W)
        x0_hat = ctx.diffusion.predict_x0(x_t, t_all, eps_hat)
        mse, quality = eps_mse(eps_hat, eps), psnr(x0_hat, x0)
        outputs[name] = [Prediction(eps_hat[i:i + 1], x0_hat[i:i + 1], float(mse[i]), float(quality[i]))
                         for i in range(count)]
    table = blur_table(ctx)
    frames = []
    for i, t in enumerate(timesteps):
        sigma = blur_sigma_for(t, table)
        predictions = {name: outputs[name][i] for name in models}
        predictions["blur"] = predict_blur(ctx.diffusion, x_t[i:i + 1], t, x0, eps, sigma)
        frames.append(_tiles(t, x_t[i:i + 1], x0, predictions, sigma))
    return frames


def strip_key(image: np.ndarray, seed: int, knockouts: Knockouts) -> str:
    """What a strip depends on besides t: the page previews a strip only for the view with the same key."""
    # The dataclass's repr names every knock-out field.
    return hashlib.sha1(f"{image_digest(image)}|{seed}|{knockouts!r}".encode()).hexdigest()[:16]


def heldout_digests(ctx: Context) -> frozenset[str]:
    """The fingerprints of the held-out examples (about 0.1 s for 217 images): any other image gets the domain note."""
    return frozenset(image_digest(ctx.image(path)) for path in ctx.examples)


def domain_scores(comparison: Comparison) -> DomainScores:
    """Both networks' ε-MSE on this image at the comparison's t: the numbers of the side-by-side itself."""
    predictions = comparison.predictions
    return DomainScores(comparison.t, predictions["unet"].eps_mse, predictions["naive"].eps_mse)


def image_curves(ctx: Context, image: np.ndarray, seed: int) -> dict:
    """This image's scores on the evaluation's t grid (same seed for every t)."""
    timesteps = Metrics.of(ctx.metrics).timesteps if ctx.metrics else list(TIMESTEPS)
    out = {"timesteps": timesteps, "models": {name: {"eps_mse": [], "psnr": []} for name in ("naive", "unet", "blur")}}
    for t in timesteps:
        comparison = compare(ctx, image, t, seed)
        for name in ("naive", "unet", "blur"):
            out["models"][name]["eps_mse"].append(comparison.predictions[name].eps_mse)
            out["models"][name]["psnr"].append(comparison.predictions[name].psnr)
    return out


@dataclass
class ReverseFrame:
    """The state of both reverse processes after `step` of `num_steps`."""

    step: int
    num_steps: int
    t: int
    samples: dict[str, torch.Tensor]  # model → x at this step (1, 3, H, W)
    pred_x0: dict[str, torch.Tensor]  # model → x̂_0 predicted at this step
    drift: dict[str, list[float]]  # model → PSNR of x̂_0 against x_0 so far (or change per step, from noise)


def reverse_process(ctx: Context, image: np.ndarray | None, t: int, seed: int, num_steps: int,
                    every: int = 1) -> Iterator[ReverseFrame]:
    """DDIM from x_t (or from pure noise at t = T - 1 when `image` is None) with both models in lockstep.

    Yields a frame every `every` steps and always the last one.
    """
    if image is None:
        t = ctx.diffusion.max_t
        x_start = make_noise(seed, (1, 3, ctx.image_size, ctx.image_size))
        x0 = None
    else:
        x0, x_start, _ = ctx.x_t(image, t, seed)
    samplers = {name: ctx.diffusion.ddim_sample(ctx.pair.model(name), x_start, t, num_steps)
                for name in ("naive", "unet")}
    drift = {"naive": [], "unet": []}
    previous = {}

    def advance(sampler):
        with torch.no_grad():  # grad mode is per thread
            return next(sampler, None)

    # The two models step in parallel threads (torch releases the GIL): a step costs the slower model, not both.
    with ThreadPoolExecutor(max_workers=2) as pool:
        while True:
            futures = {name: pool.submit(advance, sampler) for name, sampler in samplers.items()}
            by_model = {name: future.result() for name, future in futures.items()}
            if any(frame is None for frame in by_model.values()):
                break
            for name, frame in by_model.items():
                if x0 is not None:
                    drift[name].append(float(psnr(frame.pred_x0, x0)))
                else:
                    change = ((frame.pred_x0 - previous[name]).pow(2).mean().sqrt() if name in previous
                              else torch.tensor(0.0))
                    drift[name].append(float(change))
                    previous[name] = frame.pred_x0
            frame = by_model["unet"]
            if frame.step % every == 0 or frame.step == frame.num_steps or frame.step == 1:
                yield ReverseFrame(frame.step, frame.num_steps, frame.t,
                                   {name: f.sample for name, f in by_model.items()},
                                   {name: f.pred_x0 for name, f in by_model.items()},
                                   {name: list(values) for name, values in drift.items()})
