"""How much choosing the naive CNN's step on the set-aside images could flatter it.

The shipped naive CNN was trained before the training code had a validation split: its loss curve,
its early stopping and the step it kept were all measured on the set-aside images, which include the
held-out images every reported number uses. Keeping the lowest of many noisy measurements favours it on
exactly those images. Two numbers bound the size of that favour:

- the selection's own gain: how far the kept step's loss lies below the curve around it (the plateau).
  What the held-out numbers can have gained is at most this, and less where the gain was luck in the
  curve's fixed noise and t, which the evaluation does not share;
- the spread of the same loss on the held-out images over fresh draws of noise and t, which says how much
  of that gain a measurement's noise alone explains.

Both are set beside the gap between the naive CNN and the U-Net on the same measure.
"""
from __future__ import annotations

import torch
from torch import nn

from explorer import weights
from explorer.diffusion import Diffusion

PLATEAU = 8  # evaluations on each side of the kept one that form the plateau
FRESH_DRAWS = 10  # draws of (t, ε) on the held-out images
FRESH_SEED = 2000  # draw d uses seed FRESH_SEED + d (the training curve used 1234)


@torch.no_grad()
def uniform_t_loss(model: nn.Module, x0: torch.Tensor, diffusion: Diffusion, seed: int,
                   batch_size: int = 64) -> float:
    """The training loss ‖ε̂ − ε‖² averaged over images, each image at one t drawn uniformly (DDPM eq. 14),
    t and ε from `seed`, as the training curve measures it. x0: (N, 3, H, W) in [-1, 1]."""
    generator = torch.Generator().manual_seed(seed)
    t = torch.randint(diffusion.num_timesteps, (len(x0),), generator=generator)
    noise = torch.randn(x0.shape, generator=generator)
    total = 0.0
    for start in range(0, len(x0), batch_size):
        part = slice(start, start + batch_size)
        x_t = diffusion.q_sample(x0[part], t[part], noise[part])
        total += float((model(x_t, t[part]).float() - noise[part]).pow(2).mean()) * len(x0[part])
    return total / len(x0)


def _spread(values: list[float]) -> dict:
    array = torch.tensor(values, dtype=torch.float64)
    return {"mean": float(array.mean()), "sd": float(array.std()) if len(values) > 1 else 0.0,
            "per_draw": [round(value, 6) for value in values]}


def curve_selection(naive_meta: dict, unet_meta: dict) -> dict | None:
    """The kept step of the naive CNN's curve, the plateau around it and the U-Net's last point, or None when
    the curve is a validation curve (selection on training images: nothing to correct)."""
    curve = naive_meta.get("curve") or []
    if not curve or "validation_loss" in curve[0] or not naive_meta.get("training", {}).get("stopped_early"):
        return None
    losses = [weights.curve_loss(point) for point in curve]
    kept = min(range(len(losses)), key=losses.__getitem__)
    around = [losses[index] for index in range(max(0, kept - PLATEAU), min(len(losses), kept + PLATEAU + 1))
              if index != kept]
    steps = [curve[index]["step"] for index in (max(0, kept - PLATEAU), min(len(losses), kept + PLATEAU + 1) - 1)]
    plateau = _spread(around)
    differences = [later - earlier for earlier, later in zip(around, around[1:])]
    unet_curve = unet_meta.get("curve") or []
    return {"kept_step": curve[kept]["step"], "kept_loss": losses[kept], "last_step": curve[-1]["step"],
            "evaluations": len(curve), "plateau_steps": steps, "plateau_mean": plateau["mean"],
            "plateau_sd": plateau["sd"],
            "step_to_step_sd": _spread(differences)["sd"] / 2 ** 0.5 if len(differences) > 1 else 0.0,
            "gain": plateau["mean"] - losses[kept],
            "unet_last_loss": weights.curve_loss(unet_curve[-1]) if unet_curve else None,
            "set_aside_images": naive_meta.get("data", {}).get("heldout_images")}


def fresh_draws(models: dict[str, nn.Module], x0: torch.Tensor, diffusion: Diffusion,
                draws: int = FRESH_DRAWS) -> dict:
    """Each model's uniform-t loss on x0 (the held-out images) over `draws` fresh draws of t and ε."""
    return {name: _spread([uniform_t_loss(model, x0, diffusion, FRESH_SEED + draw) for draw in range(draws)])
            for name, model in models.items()}


def naive_selection(pair: weights.ModelPair, x0: torch.Tensor, diffusion: Diffusion,
                    study_finding: dict | None = None) -> dict | None:
    """The metrics.json section: the curve's selection, the fresh draws, and the comparison they support."""
    selection = curve_selection(pair.naive_meta, pair.unet_meta)
    if selection is None:
        return None
    fresh = fresh_draws({"unet": pair.unet, "naive": pair.naive}, x0, diffusion)
    gap = fresh["naive"]["mean"] - fresh["unet"]["mean"]
    return {**selection, "heldout_images": len(x0), "fresh": fresh, "fresh_draws": FRESH_DRAWS,
            "fresh_first_seed": FRESH_SEED,
            "fresh_gap": gap, "gain_share_of_gap": selection["gain"] / gap if gap > 0 else None,
            "study_finding": study_finding,
            "note": "losses: ‖ε̂ − ε‖² averaged over images at uniform t (the training curve's measure). gain: "
                    "the plateau's mean minus the kept step's loss on the set-aside images (an upper bound on what "
                    "the choice of step can have gained on them). fresh: the same measure on the held-out images "
                    f"over {FRESH_DRAWS} fresh draws of t and ε (seeds {FRESH_SEED} …)."}
