"""The numbers each view shows, as plain JSON-ready dicts: what the API returns beside the HTML and Markdown.

A view's text formats these numbers for a reader; these dicts carry them for a program (`gradio_client`),
rounded to 6 significant digits (more than any view shows, and stable across runs). Keys name the quantity
and its unit: `eps_mse`, `x0_psnr_db`, `snr_db`.
"""
from __future__ import annotations

import math

from explorer.views.context import Context
from explorer.views.denoising import Comparison, columns_for
from explorer.views.proofs import AttentionView, TimeView
from explorer.views.receptive import FieldView


def rounded(value: float) -> float | None:
    """`value` to 6 significant digits; None for NaN or infinity (JSON has neither)."""
    value = float(value)
    return float(f"{value:.6g}") if math.isfinite(value) else None


def noise_level(ctx: Context, t: int) -> dict:
    """How much of x_t is signal and how much noise at t (the input panel's noise-level line)."""
    return {"t": t, "signal": rounded(ctx.diffusion.sqrt_alphas_cumprod[t]),
            "noise": rounded(ctx.diffusion.sqrt_one_minus_alphas_cumprod[t]),
            "snr_db": rounded(ctx.diffusion.snr_db(t))}


def comparison(result: Comparison, seed: int) -> dict:
    """The Denoising lab's scores: each denoiser's ε-MSE and x̂₀ PSNR, and the U-Net against the naive CNN."""
    knockouts = result.knockouts
    models = {name: {"eps_mse": rounded(result.predictions[name].eps_mse),
                     "x0_psnr_db": rounded(result.predictions[name].psnr)} for name in columns_for(knockouts)}
    naive, unet = result.predictions["naive"], result.predictions["unet"]
    return {"t": result.t, "seed": seed,
            "models": models,  # naive, unet, knocked (the U-Net with the knock-outs, when any), blur
            "unet_eps_mse_over_naive": rounded(unet.eps_mse / max(naive.eps_mse, 1e-12)),
            "unet_psnr_gain_db": rounded(unet.psnr - naive.psnr),
            "blur_sigma_px": rounded(result.blur_sigma),
            "knockouts": {"told_t": knockouts.told_t, "cut_skips": [f"skip{level}" for level in
                                                                    sorted(knockouts.zero_skips)],
                          "attention": knockouts.attention, "bypass_bottleneck": knockouts.bypass_mid,
                          "summary": knockouts.describe()}}


def _square(radius: int | None, side: int) -> int | None:
    """Side of the square y±r, x±r inside the image, as the receptive-field table shows it."""
    return None if radius is None else min(2 * radius + 1, side)


def receptive_fields(ctx: Context, fields: list[FieldView], t: int, seed: int) -> dict:
    """The Receptive-field tab's table: per network (or block unit), the field the layers allow and the measured one."""
    side = ctx.image_size
    first = fields[0].effective
    out = []
    for view in fields:
        result = view.effective
        y0, y1, x0, x1 = result.box
        out.append({"title": view.title, "block": result.block,
                    "theoretical_size": result.field.size,
                    "theoretical_box": {"y0": y0, "y1": y1, "x0": x0, "x1": x1},
                    "global_via": list(result.field.global_via),
                    "square_half_dependence": _square(result.radius_50, side),
                    "square_90_percent": _square(result.radius_90, side),
                    "pixels_that_matter": result.support, "pixels_in_image": side * side,
                    "outside_fraction": rounded(result.outside_fraction)})
    return {"t": t, "seed": seed, "y": first.y, "x": first.x, "fields": out}


def attention(view: AttentionView) -> dict:
    """The attention section's entropies: per head, for this query and averaged over every query."""
    maps = view.maps
    return {"block": maps.block, "grid": maps.resolution, "pixel": {"y": view.pixel[0], "x": view.pixel[1]},
            "query_cell": {"row": maps.query[0], "column": maps.query[1]},
            "max_entropy_bits": rounded(maps.max_entropy),
            "heads": [{"head": index + 1, "entropy_bits": rounded(maps.entropy[index]),
                       "mean_entropy_all_queries_bits": rounded(maps.entropy_all[index])}
                      for index in range(maps.num_heads)]}


def time_conditioning(view: TimeView) -> dict:
    """The time-conditioning section: how each network's ε̂ changes when told another t, and the time shift table."""
    def gaps(pair) -> dict:
        difference = (pair[0] - pair[1]).abs()
        return {"max_abs_difference": rounded(difference.max()), "mean_abs_difference": rounded(difference.mean())}

    table = view.table
    return {"t": view.t, "other_t": view.other_t,
            "naive": {"identical": view.naive_identical, **gaps(view.naive)},
            "unet": {"identical": view.unet_identical, **gaps(view.unet)},
            "time_shift": {"blocks": list(table["blocks"]), "timesteps": list(table["timesteps"]),
                           "shift": [[rounded(value) for value in row] for row in table["shift"]]}}


def block_facts(ctx: Context, name: str) -> dict:
    """The block panel's facts: shapes, parameter count and receptive field."""
    spec = ctx.spec(name)
    field = ctx.fields.get(name)
    size = getattr(field, "size", None) if field is not None else None
    return {"block": name, "kind": spec.kind, "input_shape": list(spec.input_shape),
            "output_shape": list(spec.output_shape), "parameters": spec.parameters,
            "receptive_field": size, "global_via": list(getattr(field, "global_via", None) or [])}
