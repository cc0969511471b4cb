"""The held-out measurements in words and tables, from weights/metrics.json alone (no model, no Gradio): the model
card's "part by part" sections (`model_card_markdown`, written into weights/README.md by `python -m explorer.evaluate`)
and the held-out sentences and verdicts the Part-by-part tab and the lesson print beside their live numbers
(explorer/views/proofs/text.py). Every number goes through explorer/formatting.py."""
from __future__ import annotations

from dataclasses import dataclass
from functools import partial

import numpy as np

from explorer.formatting import HELD_OUT, added, fixed, smaller_or_larger, times, with_interval
from explorer.knockouts import Knockouts
from explorer.metrics import Interval, Metrics

NOT_COMPUTED = "not computed yet for these weights"
# The four ways one half of a decoder level's concatenation is replaced (metrics.json's concat section).
VARIANT_TITLES = {"skip_zero": "skip half → 0", "skip_mean": "skip half → its mean",
                  "up_zero": "upsampled half → 0", "up_mean": "upsampled half → its mean"}

_shift = partial(fixed, decimals=3)  # a time-conditioning share, as the heat map's table prints it
BYPASSED = Knockouts(bypass_mid=True).row_name()
SKIP1_CUT = Knockouts(zero_skips=frozenset({1})).row_name()


def _pair(bounds: Interval | None) -> tuple[float, float] | None:
    """A 95 % interval as the plain (low, high) kept in a verdict's values beside its number (`<name>_ci95`)."""
    return None if bounds is None else (bounds.low, bounds.high)


def enc1_sentence(blocks: list[str], intact: list[float], cut: list[float], which: str) -> str:
    ratio = enc1_ratio(blocks, intact, cut)
    return (f"{which}: with skips cut, the gradient reaching enc1 is **{smaller_or_larger(ratio)}** (relative to the "
            "output head `out`).")


def gradients_heldout_sentences(section: dict) -> str:
    blocks = section["blocks"]
    over = " over the runs" if section.get("enc1") else ""
    trained = enc1_sentence(blocks, section["trained"]["intact"], section["trained"]["skips_cut"],
                            f"Held-out ({section['images']} images, mean norms{over}), trained")
    fresh = enc1_sentence(blocks, section["random_init"]["intact"], section["random_init"]["skips_cut"],
                          "held-out, fresh init")
    text = f"{trained} {fresh[0].upper()}{fresh[1:]}"
    return f"{text} {gradient_seeds_sentence(section)}" if section.get("enc1") else text


def gradient_seeds_sentence(section: dict) -> str:
    """The enc1 measure over seeds: mean ± sd (range) of intact / skips-cut, absolute and relative to `out`."""
    def spread(entry: dict) -> str:
        return (f"{times(entry['mean'])} ± {entry['sd']:.2g} ({times(entry['min'])} to {times(entry['max'])}, "
                f"{entry['runs']} runs)")

    fresh, trained = section["enc1"]["random_init"], section["enc1"]["trained"]
    draws = section.get("noise_draws", {})
    return (f"Over seeds, enc1's gradient with the skips as a multiple of it with every skip cut (above ×1: the skips "
            f"carry more signal), {HELD_OUT} of each run: freshly initialised U-Nets ({len(section['fresh_seeds'])} "
            f"seeds × {draws.get('random_init_per_seed', '?')} draws of noise and t), {spread(fresh['relative'])} "
            f"relative to `out`, {spread(fresh['absolute'])} absolute; the trained U-Net "
            f"({draws.get('trained', '?')} draws), {spread(trained['relative'])} relative, "
            f"{spread(trained['absolute'])} absolute. Absolute compares the gradients' sizes; relative divides each by "
            "the gradient at `out` of the same network first, so that a larger loss does not count as more signal.")


def gradients_table(section: dict) -> str:
    """Model-card table: per-block norm relative to `out`, four columns."""
    blocks = section["blocks"]
    columns = [("trained, intact", section["trained"]["intact"]),
               ("trained, skips cut", section["trained"]["skips_cut"]),
               ("fresh, intact", section["random_init"]["intact"]),
               ("fresh, skips cut", section["random_init"]["skips_cut"])]
    lines = ["| block | " + " | ".join(name for name, _ in columns) + " |", "|---|" + "---:|" * len(columns)]
    for index, block in enumerate(blocks):
        cells = [f"{values[index] / values[blocks.index('out')]:.3g}" for _, values in columns]
        lines.append(f"| {block} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def concat_verdict(errors: dict[int, dict[str, float]], where: str = "on this image") -> str:
    both = [level for level, row in errors.items()
            if row["skip_mean"] / row["intact"] > 1.1 and row["up_mean"] / row["intact"] > 1.1]
    level1 = errors.get(1)
    text = ""
    if level1:
        text = (f"At dec1, replacing the skip half by its mean costs {times(level1['skip_mean'] / level1['intact'])} "
                f"and replacing the upsampled half costs {times(level1['up_mean'] / level1['intact'])} {where}. ")
    used = ", ".join(f"dec{level}" for level in sorted(both, reverse=True)) or "none"
    return text + (f"Levels where both halves matter {where} (each costs more than ×1.1 when replaced by its mean): "
                   f"{used}.")


CONCAT_NOTE = ("Concatenation stacks the two halves side by side, so nothing of either is lost before the level's "
               "first convolution decides how to mix them. The lesson contrasts this with adding them (as ResNet "
               "does); we trained no U-Net with added skips, so there is nothing to compare against here. What the "
               "numbers show is only that this decoder uses both halves. Replacing a half by its own per-channel "
               "mean keeps its values in their usual range, so a large cost there is not an artefact of feeding "
               "the network zeros it never saw.")


def concat_table(section: dict) -> str:
    """Model-card table: multiplier per level, variant and t."""
    timesteps = section["timesteps"]
    lines = ["| level | half replaced | " + " | ".join(f"t = {t}" for t in timesteps) + " |",
             "|---|---|" + "---:|" * len(timesteps)]
    for level in sorted(section["levels"], key=int, reverse=True):
        entry = section["levels"][level]
        c = entry["channels"]
        for variant in VARIANT_TITLES:
            values = entry["eps_mse"][variant]
            lines.append(f"| dec{level} ({c['up']} + {c['skip']} → {c['out']}) | {VARIANT_TITLES[variant]} | "
                         + " | ".join(times(v / base) for v, base in zip(values, entry["eps_mse"]["intact"])) + " |")
    return "\n".join(lines)


@dataclass(frozen=True)
class NoiseScales:
    """The one verdict on "at large t the bottleneck matters most; at small t, the skips", from the held-out
    knock-out table: the Part-by-part tab and the lesson print the same `text`."""

    text: str
    values: dict
    verdict: str  # agrees | partly | disagrees


def noise_scales(metrics: Metrics) -> NoiseScales:
    """Both halves of the claim, each judged by the error a knock-out adds (a difference of ε-MSE: a ratio over the
    tiny error of the intact U-Net at large t would blow up) and reported with its ratio beside it; every held-out
    number with its 95 % interval where the file has one."""
    timesteps = metrics.knockout_timesteps
    low, high = timesteps[0], timesteps[-1]

    def costs(name: str) -> dict:
        return {"added": [metrics.knockout_added(name, t) for t in timesteps],
                "added_ci95": [_pair(metrics.knockout_added_interval(name, t)) for t in timesteps],
                "ratios": [metrics.knockout_ratio(name, t) for t in timesteps],
                "ratios_ci95": [_pair(metrics.knockout_ratio_interval(name, t)) for t in timesteps]}

    bypass, skip = costs(BYPASSED), costs(SKIP1_CUT)

    def cost(row: dict, index: int) -> str:
        return (f"{with_interval(row['added'][index], row['added_ci95'][index], added)} at t = {timesteps[index]}, "
                f"that is {with_interval(row['ratios'][index], row['ratios_ci95'][index], times)} the intact error")

    peak_b = timesteps[int(np.argmax(bypass["added"]))]
    peak_b_ratio = timesteps[int(np.argmax(bypass["ratios"]))]
    peak_s = timesteps[int(np.argmax(skip["added"]))]
    bottleneck_holds = peak_b == high
    skip_holds = peak_s == low
    text = (f"{HELD_OUT.capitalize()} over {metrics.images or 'the'} images. Bypassing the bottleneck adds to the "
            f"intact U-Net's ε-MSE {cost(bypass, 0)}, and {cost(bypass, -1)}; the added error is largest at "
            f"t = {peak_b}, the ratio at t = {peak_b_ratio}. ")
    text += ("So the bottleneck matters most at the largest t, as the lesson says. " if bottleneck_holds else
             f"So, against the lesson, the bottleneck does not matter most at large t: its largest cost is at "
             f"t = {peak_b}. ")
    text += f"Cutting skip1 adds {cost(skip, 0)}, and {cost(skip, -1)}. "
    text += ("So the finest skip costs the most at small t, as the lesson says" if skip_holds else
             f"So, against the lesson, the finest skip costs the most at t = {peak_s}, not at small t")
    broken, intact = metrics.knockout(SKIP1_CUT, high), metrics.knockout("intact", high)
    broken_ci95 = _pair(metrics.knockout_interval(SKIP1_CUT, high))
    intact_ci95 = _pair(metrics.knockout_interval("intact", high))
    text += (f"; but it breaks the network at every t: at t = {high} its ε-MSE, "
             f"{with_interval(broken, broken_ci95)}, is near that of predicting no noise at all (the noise's own "
             "variance, which is 1 by construction). The ratio grows with t only because the intact error shrinks "
             f"to {with_interval(intact, intact_ci95)}."
             if skip["ratios"][-1] > skip["ratios"][0] else ".")
    values = {"timesteps": timesteps,
              "bottleneck_added": bypass["added"], "bottleneck_added_ci95": bypass["added_ci95"],
              "bottleneck_ratios": bypass["ratios"], "bottleneck_ratios_ci95": bypass["ratios_ci95"],
              "skip1_added": skip["added"], "skip1_added_ci95": skip["added_ci95"], "skip1_ratios": skip["ratios"],
              "skip1_ratios_ci95": skip["ratios_ci95"], "skip1_at_high": broken, "skip1_at_high_ci95": broken_ci95,
              "intact_at_high": intact, "intact_at_high_ci95": intact_ci95, "bottleneck_peak_t": peak_b,
              "bottleneck_ratio_peak_t": peak_b_ratio, "skip1_peak_t": peak_s}
    verdict = ("agrees" if bottleneck_holds and skip_holds else "disagrees" if not (bottleneck_holds or skip_holds)
               else "partly")
    return NoiseScales(text, values, verdict)


# --- one verdict per claim ---------------------------------------------------------------------------------------

VERDICT_MARKS = {"agrees": "✓ agrees with the lesson", "partly": "◑ agrees only in part",
                 "disagrees": "✗ disagrees with the lesson"}


def one_verdict(measured: str, trained: str | None = None) -> str:
    """A claim's one verdict, wherever it is printed (a Lesson step, the panel its Show me opens): the trained
    alternatives' where the study has one (a knock-out shows what this one U-Net relies on, not what a network built
    without the part learns to do), else the measurement on the shipped model. Verdicts: agrees | partly |
    disagrees, or anything else for "not computed"."""
    return trained if trained in VERDICT_MARKS else measured


def verdict_line(measured: str, trained: str | None = None) -> str:
    """`one_verdict` in words, saying which measurement it rests on: the line the step and its panel both print."""
    verdict = one_verdict(measured, trained)
    if verdict not in VERDICT_MARKS:
        return f"**Verdict: {NOT_COMPUTED}.**"
    if trained not in VERDICT_MARKS:
        return f"**Verdict: {VERDICT_MARKS[verdict]}.**"
    return (f"**Verdict: {VERDICT_MARKS[verdict]}** (it rests on the trained alternatives"
            + ("" if trained == measured or measured not in VERDICT_MARKS else
               f"; measured on this model alone it {VERDICT_MARKS[measured].split(' ', 1)[1]}") + ").")


def bottleneck_verdict(knockouts: dict | None, images: int | None = None,
                       trained: tuple[str, str] | None = None) -> str:
    """What the held-out knock-out numbers (metrics.json's knockouts section) say about the lesson's claim, in words
    made from the numbers; `trained`: the study's answer to the same claim (explorer/study/findings.py
    `skips_by_t`) as (its verdict in the lesson's words, its sentence), which decides the verdict where it exists."""
    metrics = Metrics({"knockouts": knockouts, "images": images})
    if not metrics.has_knockouts(BYPASSED, SKIP1_CUT):
        return f"Held-out verdict: {NOT_COMPUTED}."
    result = noise_scales(metrics)
    if trained is None:
        return f"{verdict_line(result.verdict)} {result.text}"
    return f"{verdict_line(result.verdict, trained[0])} {result.text}\n\n*Trained alternatives:* {trained[1]}"


def shift_sentence(table: dict, where: str) -> str:
    """Which blocks t drives hardest, from a shift table."""
    means = {block: float(np.mean(row)) for block, row in zip(table["blocks"], table["shift"])}
    ranked = sorted(means, key=means.get, reverse=True)
    def shift(block: str, t: int) -> float:
        return table["shift"][table["blocks"].index(block)][table["timesteps"].index(t)]

    peak_block, peak_t = max(((block, t) for block in table["blocks"] for t in table["timesteps"]),
                             key=lambda pair: shift(*pair))
    peak = shift(peak_block, peak_t)
    bounds = table.get("shift_ci95")  # held-out only: [block][t] → [low, high]
    if bounds:
        bounds = bounds[table["blocks"].index(peak_block)][table["timesteps"].index(peak_t)]
    return (f"{where}, t moves `{ranked[0]}` and `{ranked[1]}` hardest (time vector {means[ranked[0]]:.2f} and "
            f"{means[ranked[1]]:.2f} times the size of their features, averaged over t) and `{ranked[-1]}` least "
            f"({means[ranked[-1]]:.2f}); the largest share is {with_interval(peak, bounds or None, _shift)}, in "
            f"`{peak_block}` at t = {peak_t}.")


def time_table(section: dict) -> str:
    timesteps = section["timesteps"]
    lines = ["| ResBlock | " + " | ".join(f"t = {t}" for t in timesteps) + " |", "|---|" + "---:|" * len(timesteps)]
    lines += [f"| {block} | " + " | ".join(f"{value:.3f}" for value in row) + " |"
              for block, row in zip(section["blocks"], section["shift"])]
    return "\n".join(lines)


def model_card_markdown(metrics: dict) -> str:
    """The evaluation's "part by part" sections for weights/README.md (empty where not computed)."""
    lines = []
    metrics = Metrics.of(metrics)
    if metrics.knockouts and "bottleneck bypassed" in metrics.knockout_rows():
        lines += ["", "**The bottleneck and the skips across t.** "
                  + bottleneck_verdict(metrics.knockouts, metrics.images)]
    section = metrics.gradients
    if section:
        runs = (f"averaged over {len(section['runs']['trained'])} draws of noise and t for the trained weights and "
                f"{len(section['runs']['random_init'])} runs of freshly initialised U-Nets (seeds "
                f"{', '.join(map(str, section['fresh_seeds']))})" if section.get("runs") else
                f"for the trained weights and a freshly initialised U-Net (seed {section.get('fresh_seed', 0)})")
        lines += ["", f"**Gradient highways.** Parameter-gradient norm of each block, divided by the norm at `out`, "
                  f"of the noise loss over {section['images']} held-out images with t spread over "
                  f"{', '.join(map(str, section['timesteps']))}, {runs}:", "",
                  gradients_table(section), "", gradients_heldout_sentences(section)]
    section = metrics.concat
    if section:
        errors = {int(level): {variant: values[-1] for variant, values in entry["eps_mse"].items()}
                  for level, entry in section["levels"].items()}
        lines += ["", "**Concatenation.** Held-out noise error when one half of a decoder level's concatenation is "
                  "replaced by zeros or by its per-channel mean, as a multiple of the intact U-Net's, on "
                  f"{section['images']} held-out images (a subset, to keep the evaluation short; level: channels "
                  "upsampled + skip → out):", "", concat_table(section), "",
                  concat_verdict(errors, f"at t = {section['timesteps'][-1]}"), "", CONCAT_NOTE]
    section = metrics.time_conditioning
    if section:
        lines += ["", "**Time conditioning.** ‖time vector broadcast over the map‖ / ‖features it is added to‖ per "
                  "ResBlock and t, mean over the held-out images:", "", time_table(section), "",
                  shift_sentence(section, "On the held-out set")]
    return "\n".join(lines)


def enc1_ratio(blocks: list[str], intact: list[float], cut: list[float], block: str = "enc1") -> float:
    """How many times smaller `block`'s gradient is with skips cut, each measured relative to `out`."""
    out, index = blocks.index("out"), blocks.index(block)
    return (intact[index] / intact[out]) / (cut[index] / cut[out])

