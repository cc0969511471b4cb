"""The "Part by part" tab's words: the markdown sentences and tables each section prints for the live numbers.
The held-out sentences, verdicts and tables (shared with the model card) are explorer/model_card.py's. Every number
goes through explorer/formatting.py."""
from __future__ import annotations

from explorer.formatting import HELD_OUT, mse, times, with_interval
from explorer.metrics import Metrics
from explorer.model_card import (
    NOT_COMPUTED,
    VARIANT_TITLES,
    bottleneck_verdict,
    concat_verdict,
    enc1_sentence,
    gradients_heldout_sentences,
    shift_sentence,
)
from explorer.study import findings
from explorer.views.context import Context
from explorer.views.proofs.compute import BOTTLENECK_ROWS, AttentionView, GradientView, TimeView, bookkeeping


def gradients_markdown(view: GradientView, metrics: dict | None) -> str:
    blocks = view.trained.blocks
    lines = [enc1_sentence(blocks, view.trained.norms["intact"], view.trained.norms["skips_cut"],
                           f"This image, trained weights (t = {view.t})"),
             enc1_sentence(blocks, view.fresh.norms["intact"], view.fresh.norms["skips_cut"],
                           "This image, freshly initialised U-Net")]
    heldout = Metrics.of(metrics)
    section = heldout.gradients
    if section:
        lines += [gradients_heldout_sentences(section)]
        losses = heldout.gradient_loss("trained")
        if losses:
            lines.append(f"On those images, cutting every skip raises the trained U-Net's noise loss from "
                         f"{mse(losses['intact'])} to {mse(losses['skips_cut'])}.")
    else:
        lines.append(f"Held-out summary: {NOT_COMPUTED}.")
    loss_cut, loss_intact = view.trained.loss["skips_cut"], view.trained.loss["intact"]
    lines.append(f"Cutting every skip raises this batch's noise error from {mse(loss_intact)} to {mse(loss_cut)}, so "
                 "every gradient grows with it; dividing by the gradient at `out` compares where the signal goes, "
                 "not how large the error is.")
    return "\n\n".join(lines)


def concat_markdown(ctx: Context, errors: dict[int, dict[str, float]], t: int) -> str:
    """Per decoder level: the channel bookkeeping and the error multipliers for this image at t."""
    channels = bookkeeping(ctx)
    variants = list(VARIANT_TITLES)
    lines = ["| decoder level | what goes in | " + " | ".join(VARIANT_TITLES[v] for v in variants) + " |",
             "|---|---|" + "---:|" * len(variants)]
    for level in sorted(errors, reverse=True):
        c = channels[level]
        row = errors[level]
        cells = [times(row[v] / row["intact"]) for v in variants]
        lines.append(f"| dec{level} | {c['up'] + c['skip']} = {c['up']} upsampled (dec{level}.up) + {c['skip']} "
                     f"from skip{level}, mixed down to {c['out']} | " + " | ".join(cells) + " |")
    intact = next(iter(errors.values()))["intact"]
    lines += ["", f"Multiples of the intact U-Net's noise error ({mse(intact)}) on this image at t = {t}.",
              "", concat_verdict(errors)]
    heldout = concat_heldout_sentence(Metrics.of(ctx.metrics), t)
    return "\n".join(lines + (["", heldout] if heldout else []))


def concat_heldout_sentence(metrics: Metrics, t: int) -> str:
    """The held-out multipliers at dec1 at t, as the lesson's step quotes them (the chart below has every t)."""
    try:
        timesteps = metrics.concat_timesteps
        if t not in timesteps:
            return (f"{HELD_OUT.capitalize()}s are measured at t = {', '.join(map(str, timesteps))}: the chart below.")
        skip, up = (with_interval(metrics.concat_ratio(1, variant, t), metrics.concat_ratio_interval(1, variant, t),
                                  times) for variant in ("skip_zero", "up_zero"))
    except (TypeError, KeyError):
        return ""
    return (f"{HELD_OUT.capitalize()} over {metrics.concat_images or '?'} images at t = {t} (the chart below), at "
            f"dec1: blanking the skip half multiplies the ε-MSE by **{skip}**, blanking the upsampled half by "
            f"**{up}**.")


def bottleneck_markdown(live: dict[str, float], t: int, metrics: dict | None, study=None) -> str:
    """This image's multiples, then the held-out verdict (the Lesson step's: with the trained alternatives' answer
    from `study`, the study's results, where it has one)."""
    cells = " · ".join(f"{name}: **{times(live[name])}**" for name in BOTTLENECK_ROWS if name in live)
    answer = None if study is None else findings.skips_by_t(study)
    trained = (None if answer is None or not findings.decided(answer)
               else (findings.IN_LESSON_WORDS[answer.verdict], answer.sentence()))
    return (f"This image at t = {t}, as multiples of the intact U-Net's ε-MSE: {cells}.\n\n"
            + bottleneck_verdict(Metrics.of(metrics).knockouts, Metrics.of(metrics).images, trained))


def attention_markdown(view: AttentionView) -> str:
    maps = view.maps
    side = maps.resolution
    factor = view.x_t.shape[-1] // side
    rows = ["| head | entropy of this query | mean over all queries |", "|---|---:|---:|"]
    rows += [f"| {index + 1} | {float(maps.entropy[index]):.2f} bits | {float(maps.entropy_all[index]):.2f} bits |"
             for index in range(maps.num_heads)]
    spread = max(range(maps.num_heads), key=lambda index: float(maps.entropy[index]))
    sharp = min(range(maps.num_heads), key=lambda index: float(maps.entropy[index]))
    return "\n".join(rows + [
        "", f"`{maps.block}` works on a {side}×{side} grid: each cell covers {factor}×{factor} pixels of x_t, so "
        f"the maps are enlarged {factor} times onto x_t. The query is cell (row {maps.query[0]}, column "
        f"{maps.query[1]}), outlined in green. Entropy measures how spread a head's attention is: 0 bits means "
        f"it looks at one cell, {maps.max_entropy:.0f} bits that it looks at all {side * side} cells equally. "
        f"Here head {spread + 1} spreads widest and head {sharp + 1} is the most focused. Each map is "
        "coloured from 0 to its own largest weight."])


def time_markdown(view: TimeView, metrics: dict | None) -> str:
    naive_first, naive_second = view.naive
    unet_first, unet_second = view.unet
    naive_gap = float((naive_first - naive_second).abs().max())
    unet_gap = float((unet_first - unet_second).abs().max())
    naive_text = ("bit for bit identical (largest difference 0): it has no input for t, so it cannot tell a nearly "
                  "clean image from a very noisy one" if view.naive_identical
                  else f"different (largest difference {naive_gap:.3g}), which should never happen")
    lines = [f"Same x_t, told t = {view.t} and then t = {view.other_t}. The naive CNN's two predictions are "
             f"{naive_text}. The U-Net's change by up to {unet_gap:.2f} per pixel "
             f"(mean |difference| {float((unet_first - unet_second).abs().mean()):.3f}).",
             "", shift_sentence(view.table, "On this image")]
    section = Metrics.of(metrics).time_conditioning
    lines += ["", shift_sentence(section, f"On the held-out set ({Metrics.of(metrics).images or '?'} images)")
              if section else f"Held-out heat map: {NOT_COMPUTED}."]
    return "\n".join(lines)


