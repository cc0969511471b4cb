"""What the study says about each of the lesson's architecture claims, at each budget: computed here only.

A claim compares two trained variants that differ in the one choice the lesson names. A comparison
is made at a stated budget (steps of 64 images, or equal training compute) by a stated measure: the
training objective (held-out ε-MSE averaged over t uniform on 0 … 999, lower is better) or the
held-out ε-MSE at one t. The one verdict rule (`verdict`): "holds" when every seed of the variant
the lesson prefers beats every seed of the other, "contradicted" when every seed of the other wins,
and "within the seed spread" otherwise. The app, the Lesson, Part by part and the model card print
these, never their own copy.
"""
from __future__ import annotations

import math
from dataclasses import asdict, dataclass

from explorer.formatting import added, times
from explorer.study.results import StudyResults

HOLDS = "holds"
CONTRADICTED = "contradicted"
UNCLEAR = "within the seed spread"
OBJECTIVE = "objective"
MIN_SEEDS = 2  # a seed spread needs two seeds
# A verdict here in the Lesson's words (explorer/lesson.py, explorer/model_card.py `one_verdict`).
IN_LESSON_WORDS = {HOLDS: "agrees", CONTRADICTED: "disagrees", UNCLEAR: "partly"}
MEASURE_WORDS = {OBJECTIVE: "the training objective (held-out ε-MSE averaged over every t)"}


def measure_words(measure) -> str:
    return MEASURE_WORDS.get(measure, f"the held-out ε-MSE at t = {measure}")


@dataclass(frozen=True)
class Claim:
    id: str
    lesson: str  # the lesson's claim, in our words
    without: str  # the variant without the choice
    with_: str  # the variant with it (the lesson says: better)


CLAIMS = (
    Claim("simple-cnn", "A simple CNN is not enough to denoise.", "naive", "unet"),
    Claim("needs-t", "The network needs to be told t.", "unet-notime", "unet"),
    Claim("t-alone", "Telling t to the simple CNN does not fix it by itself.", "naive-t", "unet"),
    Claim("window", "A window as wide as the image beats an 11-pixel one (both one scale, both told t).",
          "naive-t", "deep-residual"),
    Claim("gradient-highways", "Residual connections (gradient highways) let a deep network train.",
          "deep-plain", "deep-residual"),
    Claim("many-scales", "Many scales beat one scale, even with a window as wide as the image.", "dilated", "unet"),
    Claim("skips", "Skip connections carry back the detail that the way down loses.", "unet-noskip", "unet"),
    Claim("concat", "Skips concatenated, not added.", "unet-add", "unet"),
    Claim("attention", "Self-attention in the bottleneck and at 8×8 helps.", "unet-noattn", "unet"),
)
CLAIMS_BY_ID = {claim.id: claim for claim in CLAIMS}


def decided(item) -> bool:
    """Whether a finding (or a comparison) is a verdict: at least two seeds on each side. With fewer its verdict reads
    UNCLEAR but means "no verdict yet": the Lesson does not rest a step on it, nor send Show me to it. A finding
    judged by its means and not by seeds (`SkipsByT`) is always one."""
    if not hasattr(item, "without_seeds"):
        return True
    return min(len(item.without_seeds), len(item.with_seeds)) >= MIN_SEEDS


def label(item) -> str:
    """A finding's verdict as a chip says it: "no verdict yet (one seed)" where the seed spread is not known."""
    return item.verdict if decided(item) else "no verdict yet (one seed)"


def verdict(without: tuple[float, ...], with_: tuple[float, ...]) -> str:
    """The one verdict rule: the seeds of the two variants (errors: lower is better) do not overlap, or do.
    With fewer than two seeds on a side the seed spread is unknown: no verdict yet (UNCLEAR)."""
    if min(len(without), len(with_)) < MIN_SEEDS:
        return UNCLEAR
    if max(with_) < min(without):
        return HOLDS
    if max(without) < min(with_):
        return CONTRADICTED
    return UNCLEAR


def images_words(images: int) -> str:
    return f"{images:,} training images"


class _Paired:
    """What a comparison of two variants' seeds says: shared by Comparison and ComputePoint (their fields:
    claim, without_seeds, with_seeds, verdict)."""

    @property
    def ratio(self) -> float:
        """How many times the error of the variant without the choice is that of the one with it."""
        return _mean(self.without_seeds) / _mean(self.with_seeds)

    def leader(self) -> str | None:
        return {HOLDS: self.claim.with_, CONTRADICTED: self.claim.without}.get(self.verdict)


@dataclass(frozen=True)
class Comparison(_Paired):
    """One claim at one budget by one measure: each seed's error, and the verdict of `verdict`."""

    claim: Claim
    steps: int  # budget in optimiser steps of 64 images (equal images for both)
    images_seen: int
    measure: str  # OBJECTIVE or a t, as a string
    without_seeds: tuple[float, ...]
    with_seeds: tuple[float, ...]
    verdict: str


def _seeds(values) -> str:
    return f"{len(values)} seed" + ("s" if len(values) != 1 else "")


def _mean(values) -> float:
    return sum(values) / len(values)


def compare(results: StudyResults, claim: Claim, steps: int, measure: str = OBJECTIVE) -> Comparison | None:
    """The claim at `steps` (equal images), or None where the study has not trained both variants that far."""
    without, with_ = results.at(claim.without, steps, measure), results.at(claim.with_, steps, measure)
    if not without or not with_:
        return None
    return Comparison(claim, steps, steps * 64, str(measure), tuple(without), tuple(with_), verdict(without, with_))


def along_ladder(results: StudyResults, claim: Claim, measure: str = OBJECTIVE) -> list[Comparison]:
    """The claim at every budget both variants reached, smallest first."""
    shared = sorted(set(results.budgets(claim.without)) & set(results.budgets(claim.with_)))
    return [comparison for steps in shared if (comparison := compare(results, claim, steps, measure))]


def _state(comparison, leader: str | None) -> str:
    """'unet leads by ×1.18' or 'the seeds overlap' (comparison: a Comparison or a ComputePoint)."""
    if leader is None:
        one_seed = min(len(comparison.without_seeds), len(comparison.with_seeds)) < MIN_SEEDS
        return "no verdict yet (one seed)" if one_seed else "the seeds overlap"
    ratio = comparison.ratio if leader == comparison.claim.with_ else 1 / comparison.ratio
    return f"{leader} leads by {times(ratio)}"


def order_sentence(comparisons: list[Comparison]) -> str:
    """Where the order of the two variants changes along the ladder, or that it never does, in one sentence:
    'The order changes with training: up to 38,400 images naive-t leads by ×1.21; from 153,600 images on unet
    leads by ×1.12 (at 614,400).'"""
    segments: list[list[Comparison]] = []
    for comparison in comparisons:
        if segments and segments[-1][-1].leader() == comparison.leader():
            segments[-1].append(comparison)
        else:
            segments.append([comparison])
    if not segments:
        return ""
    if len(segments) == 1:
        first, last = comparisons[0], comparisons[-1]
        span = (f"At every budget trained ({first.images_seen:,} to {last.images_seen:,} images)"
                if len(comparisons) > 1 else f"At the one budget trained ({last.images_seen:,} images)")
        return f"{span} the order is the same: {_state(last, last.leader())}" + (
            f" at {last.images_seen:,}" if len(comparisons) > 1 else "") + "."
    pieces = []
    for index, segment in enumerate(segments):
        first, last = segment[0], segment[-1]
        if index == 0:
            where = f"up to {last.images_seen:,} images"
        elif index == len(segments) - 1:
            where = f"from {first.images_seen:,} images on"
        else:
            where = f"from {first.images_seen:,} to {last.images_seen:,} images"
        at = f" (at {last.images_seen:,})" if index > 0 and len(segment) > 1 else ""
        pieces.append(f"{where} {_state(last, last.leader())}{at}")
    return "The order changes with training: " + "; ".join(pieces) + "."


@dataclass(frozen=True)
class ComputePoint(_Paired):
    """The claim at equal training compute: the `with_` variant at one of its budgets against the `without`
    variant's error interpolated (log-log, per seed) to the same multiply-adds."""

    claim: Claim
    training_macs: int
    without_seeds: tuple[float, ...]
    with_seeds: tuple[float, ...]
    verdict: str


def _interpolate(points: list[tuple[float, float]], x: float) -> float | None:
    """log-log interpolation through (compute, error) points sorted by compute; None outside their range."""
    for (x0, y0), (x1, y1) in zip(points, points[1:]):
        if x0 <= x <= x1:
            share = (math.log(x) - math.log(x0)) / (math.log(x1) - math.log(x0)) if x1 > x0 else 0.0
            return math.exp(math.log(y0) + share * (math.log(y1) - math.log(y0)))
    if points and math.isclose(points[0][0], x):
        return points[0][1]
    return None


def at_equal_compute(results: StudyResults, claim: Claim, measure: str = OBJECTIVE) -> list[ComputePoint]:
    """The claim at each budget of `claim.with_`, against `claim.without` at the same training compute."""
    out = []
    without_budgets = results.budgets(claim.without)
    seeds = len(results.at(claim.without, without_budgets[0], measure)) if without_budgets else 0
    curves = [[(results.compute(claim.without, steps), results.at(claim.without, steps, measure)[seed])
               for steps in without_budgets if len(results.at(claim.without, steps, measure)) > seed]
              for seed in range(seeds)]
    for steps in results.budgets(claim.with_):
        macs = results.compute(claim.with_, steps)
        without = [value for curve in curves if (value := _interpolate(curve, macs)) is not None]
        with_ = results.at(claim.with_, steps, measure)
        if without and with_:
            out.append(ComputePoint(claim, macs, tuple(without), tuple(with_), verdict(without, with_)))
    return out


def compute_sentence(points: list[ComputePoint]) -> str:
    """The claim at equal training compute, each point in words."""
    if not points:
        return ""
    parts = [f"at {point.training_macs:.2g} multiply-adds {_state(point, point.leader())}" for point in points]
    return "At equal training compute: " + "; ".join(parts) + "."


# A network whose objective is this close to predicting no noise (relatively) has not learned the task.
NOT_LEARNED_MARGIN = 0.01


@dataclass(frozen=True)
class Finding:
    """A claim at the study's common budget by the training objective, with what the ladder adds."""

    claim: Claim
    verdict: str
    without_seeds: tuple[float, ...]  # objective of each seed of the variant without the choice
    with_seeds: tuple[float, ...]
    by_t: tuple[tuple[int, str], ...] = ()  # (t, verdict) from the held-out ε-MSE at each t alone
    steps: int = 0
    ladder: str = ""  # order_sentence along the ladder
    compute: str = ""  # compute_sentence
    no_noise: float | None = None  # the objective of predicting no noise, on the same images and noise

    @property
    def without_mean(self) -> float:
        return _mean(self.without_seeds)

    @property
    def with_mean(self) -> float:
        return _mean(self.with_seeds)

    @property
    def ratio(self) -> float:
        """How many times the error of the variant without the choice is that of the one with it."""
        return self.without_mean / self.with_mean

    @property
    def images_seen(self) -> int:
        return self.steps * 64

    def where(self) -> str:
        """Which t the verdict per t holds and fails at, in words ('' when it is the same at every t)."""
        groups = {verdict: [t for t, v in self.by_t if v == verdict] for verdict in (HOLDS, CONTRADICTED, UNCLEAR)}
        if len([ts for ts in groups.values() if ts]) <= 1:
            return ""
        parts = [f"{name} at t = {', '.join(map(str, ts))}" for name, ts in
                 (("it holds", groups[HOLDS]), ("it is contradicted", groups[CONTRADICTED]),
                  ("the seeds overlap", groups[UNCLEAR])) if ts]
        return " Per t: " + "; ".join(parts) + "."

    def sentence(self) -> str:
        """The finding in words, numbers included (held-out averages over images, mean of seeds), with its
        budget and measure, and what changes along the ladder and at equal compute."""
        extra = " ".join(part for part in (self.ladder, self.compute, self.not_learned()) if part)
        return self._verdict_sentence() + self.where() + (" " + extra if extra else "")

    def not_learned(self) -> str:
        """Which of the two has not learned the task at this budget (its objective within `NOT_LEARNED_MARGIN` of
        predicting no noise), in words; '' when both have."""
        if self.no_noise is None:
            return ""
        names = [name for name, value in ((self.claim.without, self.without_mean), (self.claim.with_, self.with_mean))
                 if value >= self.no_noise * (1 - NOT_LEARNED_MARGIN)]
        if not names:
            return ""
        return (f"{' and '.join(names)} {'has' if len(names) == 1 else 'have'} not learned the task at this budget: "
                f"within {NOT_LEARNED_MARGIN:.0%} of the objective of predicting no noise ({self.no_noise:.4f}).")

    def _verdict_sentence(self) -> str:
        c = self.claim
        at = f"At {images_words(self.images_seen)} each ({self.steps:,} steps of 64), by {measure_words(OBJECTIVE)}"
        numbers = f"{c.without} {self.without_mean:.4f} ({_seeds(self.without_seeds)}), " \
                  f"{c.with_} {self.with_mean:.4f} ({_seeds(self.with_seeds)})"
        if self.verdict == HOLDS:
            return f"{at}, it holds: {c.without} errs {times(self.ratio)} as much as {c.with_} ({numbers})."
        if self.verdict == CONTRADICTED:
            return (f"{at}, it is contradicted: {c.without} errs {times(1 / self.ratio)} less than {c.with_} "
                    f"({numbers}).")
        if min(len(self.without_seeds), len(self.with_seeds)) < MIN_SEEDS:
            ahead = (f"{c.with_} errs {times(self.ratio)} less" if self.ratio >= 1 else
                     f"{c.without} errs {times(1 / self.ratio)} less")
            return (f"{at}, no verdict yet: with one training seed the seed spread is not known ({ahead}; "
                    f"{numbers}).")
        return f"{at}, the two are within what changing the training seed changes ({numbers})."

    def to_dict(self) -> dict:
        return {"claim": asdict(self.claim), "verdict": self.verdict, "steps": self.steps,
                "images_seen": self.images_seen, "measure": OBJECTIVE, "without_seeds": list(self.without_seeds),
                "with_seeds": list(self.with_seeds), "ratio": self.ratio, "by_t": dict(self.by_t),
                "ladder": self.ladder, "compute": self.compute, "sentence": self.sentence()}


def judged_budget(results: StudyResults, claim: Claim) -> int:
    """The budget a claim's finding speaks of: the largest at which both its variants have a verdict's seeds (two or
    more each), else the study's common budget. The smallest budget is where no network has learned much yet: a
    verdict there alone taught the wrong lesson (issue 28)."""
    decided_budgets = [c.steps for c in along_ladder(results, claim) if decided(c)]
    return max(decided_budgets) if decided_budgets else results.budget


def verdicts(results: StudyResults) -> list[Finding]:
    """A finding for every claim whose two variants the study trained to its common budget, at the claim's largest
    budget with a verdict's seeds (`judged_budget`)."""
    out = []
    for claim in CLAIMS:
        if claim.without in results.variants and claim.with_ in results.variants:
            steps = judged_budget(results, claim)
            without, with_ = tuple(results.at(claim.without, steps)), tuple(results.at(claim.with_, steps))
            by_t = tuple((t, verdict(tuple(results.at(claim.without, steps, t)),
                                     tuple(results.at(claim.with_, steps, t)))) for t in results.timesteps)
            out.append(Finding(claim, verdict(without, with_), without, with_, by_t, steps,
                               order_sentence(along_ladder(results, claim)),
                               compute_sentence(at_equal_compute(results, claim)), _no_noise(results)))
    return out


def _no_noise(results: StudyResults) -> float | None:
    """The objective of predicting no noise, None in a file without it."""
    try:
        return results.no_noise()
    except (KeyError, TypeError):
        return None


def finding(results: StudyResults, claim_id: str) -> Finding | None:
    return next((f for f in verdicts(results) if f.claim.id == claim_id), None)


# --- claims judged at one t or between two, not by the training objective ------------------------------------------

@dataclass(frozen=True)
class AtSmallT(_Paired):
    """A claim judged by the held-out ε-MSE at one small t, where the added noise is faint and telling it from the
    image's own fine detail decides the error (the one verdict rule on the seeds at the common budget)."""

    claim: Claim
    t: int
    without_seeds: tuple[float, ...]
    with_seeds: tuple[float, ...]
    verdict: str

    def sentence(self) -> str:
        c = self.claim
        numbers = (f"{c.without} {_mean(self.without_seeds):.4f} ({_seeds(self.without_seeds)}), {c.with_} "
                   f"{_mean(self.with_seeds):.4f} ({_seeds(self.with_seeds)})")
        at = f"By {measure_words(self.t)}, where the faint noise must be told apart from the image's fine detail"
        if self.verdict == HOLDS:
            return f"{at}, it holds: {c.without} errs {times(self.ratio)} as much as {c.with_} ({numbers})."
        if self.verdict == CONTRADICTED:
            return f"{at}, it is contradicted: {c.without} errs {times(1 / self.ratio)} less ({numbers})."
        if min(len(self.without_seeds), len(self.with_seeds)) < MIN_SEEDS:
            ahead = (f"{c.with_} errs {times(self.ratio)} less" if self.ratio >= 1 else
                     f"{c.without} errs {times(1 / self.ratio)} less")
            return f"{at}, no verdict yet: with one training seed the seed spread is not known ({ahead}; {numbers})."
        return f"{at}, the two are within what changing the training seed changes ({numbers})."


@dataclass(frozen=True)
class SkipsByT:
    """Trained without skips, everything passes the bottleneck: does that cost more at small t than at large t?
    Judged like the knock-out of the same claim, by the error the missing skips add, with the ratio beside it."""

    small: int
    large: int
    added_small: float
    added_large: float
    ratio_small: float
    ratio_large: float

    @property
    def verdict(self) -> str:
        return HOLDS if self.added_small > self.added_large else CONTRADICTED

    def sentence(self) -> str:
        return (f"The U-Net trained without skips (so everything passes the bottleneck) adds {added(self.added_small)} "
                f"to the full U-Net's ε-MSE at t = {self.small} ({times(self.ratio_small)}) and "
                f"{added(self.added_large)} at t = {self.large} ({times(self.ratio_large)}): the skips matter "
                + ("more at small t, as the lesson says." if self.verdict == HOLDS else "no more at small t than at "
                   "large t, against the lesson: without them the network cannot place the noise at any t."))


# Step 6 of the Lesson ("fine detail gets lost"): a plain stack of convolutions that is told t, against the U-Net.
DETAIL = Claim("detail", "A plain stack of convolutions loses the fine detail that the U-Net keeps.", "naive-t", "unet")


def detail_at_small_t(results: StudyResults) -> AtSmallT | None:
    """The plain stack told t against the U-Net at the study's smallest t inside the schedule's ends (t = 10)."""
    if not {DETAIL.without, DETAIL.with_} <= set(results.variants):
        return None
    t = results.timesteps[1]
    without = tuple(results.per_seed(DETAIL.without, "eps_mse", t))
    with_ = tuple(results.per_seed(DETAIL.with_, "eps_mse", t))
    return AtSmallT(DETAIL, t, without, with_, verdict(without, with_))


def skips_by_t(results: StudyResults) -> SkipsByT | None:
    """Where in t the U-Net trained without skips loses the most (t = 10 against t = 900, inside the schedule's
    ends); None until the study has both networks at its common budget."""
    if not {"unet-noskip", "unet"} <= set(results.variants):
        return None
    small, large = results.timesteps[1], results.timesteps[-2]

    def cost(t: int) -> tuple[float, float]:
        without, full = results.mean("unet-noskip", "eps_mse", t), results.mean("unet", "eps_mse", t)
        return without - full, without / full

    (added_small, ratio_small), (added_large, ratio_large) = cost(small), cost(large)
    return SkipsByT(small, large, added_small, added_large, ratio_small, ratio_large)


# The claims above by the id a Lesson step names them (lesson.TRAINED_CLAIMS), beside `finding`'s.
BY_T = {"detail": detail_at_small_t, "skips-by-t": skips_by_t}


def judged(results: StudyResults, claim_id: str):
    """A Lesson step's claim as the study answers it: a `Finding` (by the training objective), one of `BY_T`'s (at
    one t or between two), or None. Each has `.sentence()` and `.verdict` (HOLDS, CONTRADICTED or UNCLEAR)."""
    if claim_id in BY_T:
        return BY_T[claim_id](results)
    return finding(results, claim_id)


def ladder_summary(results: StudyResults) -> list[dict]:
    """Every claim at every budget (equal images) and at equal compute, as data for study.json."""
    out = []
    for claim in CLAIMS:
        comparisons = along_ladder(results, claim)
        if not comparisons:
            continue
        out.append({"claim": claim.id, "measure": OBJECTIVE,
                    "budgets": [{"steps": c.steps, "images_seen": c.images_seen, "verdict": c.verdict,
                                 "ratio": c.ratio, "without_seeds": list(c.without_seeds),
                                 "with_seeds": list(c.with_seeds)} for c in comparisons],
                    "equal_compute": [{"training_macs": p.training_macs, "verdict": p.verdict, "ratio": p.ratio}
                                      for p in at_equal_compute(results, claim)],
                    "order": order_sentence(comparisons)})
    return out


def where(results: StudyResults) -> str:
    """What the study trained on, in words: the CPU or GPU, threads per run, total training time."""
    trained = results.data["trained_on"]
    device = trained.get("cpu") if trained.get("device") == "cpu" else trained.get("device")
    hours = trained.get("cpu_seconds", 0) / 3600
    return (f"{device or 'an unrecorded device'}, {results.data['protocol']['threads']} thread per run"
            + (f", {hours:.1f} thread-hours of training in all" if hours else ""))


# DDPM's CIFAR-10 model: 800,000 steps of 128 images (Ho et al. 2020, appendix B), the scale of a real run.
DDPM_CIFAR10_IMAGES = 800_000 * 128


def scale_sentence(results: StudyResults) -> str:
    """How far the study's largest budget is from a real training run and from the shipped models."""
    largest = max((run["images_seen"] for run in results.runs if run.get("schedule", "wsd") == "wsd"), default=0)
    if not largest:
        return ""
    shipped = results.data["references"].get("shipped_unet", {})
    text = (f"The largest budget trained here is {largest:,} images; DDPM's CIFAR-10 model saw about "
            f"{DDPM_CIFAR10_IMAGES / 1e6:.0f} million ({times(DDPM_CIFAR10_IMAGES / largest)} as many)")
    if shipped.get("images_seen"):
        text += f", the shipped 64×64 U-Net {shipped['images_seen']:,}"
    return text + "."


def model_card_markdown(results: StudyResults) -> str:
    """The model card's section: protocol, the ladder, the table at the common budget, and the verdicts."""
    protocol = results.data["protocol"]
    budget = results.budget
    lines = [
        f"Every variant below was trained by one protocol (`python -m explorer.study train`): the shipped training "
        f"split (less the 5 % validation carve-out) at {results.resolution}×{results.resolution}, AdamW, learning "
        f"rate {protocol['lr']} with {protocol['warmup']} warm-up steps, then constant, and a linear decay to 0 over "
        f"the last {results.data['decay_fraction']:.0%} of each budget (one constant-rate run per variant and seed, "
        f"a decay branch at each budget of the ladder {', '.join(f'{s:,}' for s in results.data['ladder'])} steps of "
        f"{protocol['batch_size']}), the app's noise schedule, no EMA, no early stopping and no selection (the last "
        f"weights are scored), on {where(results)}. Scored on the {results.data['heldout_images']} clean held-out "
        f"images by `python -m explorer.study evaluate`; ± is a 95 % bootstrap interval over images. "
        + scale_sentence(results),
        "",
        "Every run, by the training objective (held-out ε-MSE averaged over t uniform on the schedule; mean of the "
        "seeds; '—' not trained yet):",
        "",
    ]
    resolutions = sorted({run["resolution"] for run in results.runs})
    rungs = sorted({run["steps"] for run in results.runs})
    lines += ["| variant | px | " + " | ".join(f"{steps:,} steps" for steps in rungs) + " |",
              "| --- | ---: | " + " | ".join("---:" for _ in rungs) + " |"]
    for resolution in resolutions:
        for name in [n for n in dict.fromkeys(run["variant"] for run in results.runs)
                     if results.runs_of(n, resolution)]:
            cells = []
            for steps in rungs:
                values = results.at(name, steps, OBJECTIVE, resolution)
                cells.append(f"{_mean(values):.4f} ({len(values)})" if values else "—")
            lines.append(f"| `{name}` | {resolution} | " + " | ".join(cells) + " |")
        no_noise = results.no_noise(OBJECTIVE, resolution)
        lines.append(f"| *predict no noise* | {resolution} | " + " | ".join(f"{no_noise:.4f}" for _ in rungs) + " |")
    for key in ("shipped_unet", "shipped_naive"):
        reference = results.data["references"].get(key)
        if reference:
            lines.append(f"| *{reference['what']}* | {reference['resolution']} | objective "
                         f"{reference['objective']:.4f} at {reference['images_seen']:,} images | | |")
    lines += ["", f"The table at the common budget, {budget:,} steps ({budget * protocol['batch_size']:,} images), "
                  "the largest every key variant has reached with all its seeds:", "",
              "| variant | parameters | multiply-adds | window (px) | objective | ε-MSE t=250 | x̂₀ PSNR t=250 |",
              "| --- | ---: | ---: | ---: | ---: | ---: | ---: |"]
    for name in results.variants:
        entry = results.variant(name)
        low, high = results.interval(name, "eps_mse", 250)
        p_low, p_high = results.interval(name, "psnr", 250)
        o_low, o_high = entry["objective_ci95"]
        lines.append(f"| `{name}` | {entry['params']:,} | {entry['macs'] / 1e6:.1f} M | {entry['window']} | "
                     f"{_mean(entry['objective']):.4f} ± {(o_high - o_low) / 2:.4f} | "
                     f"{results.mean(name, 'eps_mse', 250):.4f} ± {(high - low) / 2:.4f} | "
                     f"{results.mean(name, 'psnr', 250):.2f} ± {(p_high - p_low) / 2:.2f} dB |")
    checks = results.data.get("cosine_checks", [])
    if checks:
        lines += ["", "Is a decay branch a fair stand-in for a whole run? The same budget trained once with a cosine "
                      "decay from the start (objective), beside the branches' seeds:", ""]
        for check in checks:
            branches = ", ".join(f"{value:.4f}" for value in check["branches"])
            lines.append(f"- `{check['variant']}` at {check['steps']:,} steps ({check['resolution']}×"
                         f"{check['resolution']}): cosine {check['cosine']:.4f}, branches {branches} (spread "
                         f"{check['spread']:.4f}): " + ("within the seed spread." if check["within"] else
                                                          "outside the seed spread."))
    found = verdicts(results)
    counts = {v: sum(1 for f in found if f.verdict == v and decided(f)) for v in (HOLDS, CONTRADICTED, UNCLEAR)}
    undecided = sum(1 for f in found if not decided(f))
    lines += ["", "What the trained alternatives say about the lesson's claims, by the training objective, each at "
                  "the largest budget where both networks have two seeds (else at the common budget, "
                  f"{budget * 64:,} images), then along the ladder and at equal compute (claims tested: {len(found)}; "
                  f"holding: {counts[HOLDS]}; contradicted: {counts[CONTRADICTED]}; within the seed spread: "
                  f"{counts[UNCLEAR]}; no verdict yet, one seed on a side: {undecided}):", ""]
    for item in found:
        lines.append(f"- **{item.claim.lesson}** ({item.claim.without} vs {item.claim.with_}): {item.sentence()}")
    return "\n".join(lines)
