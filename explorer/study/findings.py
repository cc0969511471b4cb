"""What the study says about each of the lesson's architecture claims: one verdict per claim, computed here.

A claim compares two trained variants that differ in the one choice the lesson names. The score is
the held-out ε-MSE averaged over the table's timesteps (lower is better), per training seed. The
verdict is "holds" when every seed of the variant the lesson prefers beats every seed of the other,
"contradicted" when every seed of the other wins, and "within the seed spread" otherwise: at this
budget the study cannot tell them apart. The app, the Lesson and the model card print these, never
their own copy.
"""
from __future__ import annotations

from dataclasses import asdict, dataclass

from explorer.formatting import times
from explorer.study.results import StudyResults

HOLDS = "holds"
CONTRADICTED = "contradicted"
UNCLEAR = "within the seed spread"


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


@dataclass(frozen=True)
class Finding:
    claim: Claim
    verdict: str
    without_seeds: tuple[float, ...]  # score of each seed of the variant without the choice
    with_seeds: tuple[float, ...]
    by_t: tuple[tuple[int, str], ...] = ()  # (t, verdict) from the held-out ε-MSE at each t alone

    @property
    def without_mean(self) -> float:
        return sum(self.without_seeds) / len(self.without_seeds)

    @property
    def with_mean(self) -> float:
        return sum(self.with_seeds) / len(self.with_seeds)

    @property
    def ratio(self) -> float:
        """How many times the error of the variant without the choice is that of the one with it."""
        return self.without_mean / self.with_mean

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
        """The finding in one sentence, numbers included (held-out averages over images, mean of seeds)."""
        return self._verdict_sentence() + self.where()

    def _verdict_sentence(self) -> str:
        c = self.claim
        numbers = (f"held-out ε-MSE averaged over t: {c.without} {self.without_mean:.4f} "
                   f"({len(self.without_seeds)} seeds), {c.with_} {self.with_mean:.4f} ({len(self.with_seeds)} seeds)")
        if self.verdict == HOLDS:
            return (f"Holds when both are trained: {c.without} errs {times(self.ratio)} as much as {c.with_} "
                    f"({numbers}).")
        if self.verdict == CONTRADICTED:
            return (f"Contradicted when both are trained: {c.without} does better than {c.with_}, "
                    f"{times(1 / self.ratio)} less error ({numbers}).")
        return (f"Not shown when both are trained: the difference is within what changing the training seed "
                f"changes ({numbers}).")

    def to_dict(self) -> dict:
        return {"claim": asdict(self.claim), "verdict": self.verdict, "without_seeds": list(self.without_seeds),
                "with_seeds": list(self.with_seeds), "ratio": self.ratio, "by_t": dict(self.by_t),
                "sentence": self.sentence()}


def score(results: StudyResults, name: str) -> tuple[float, ...]:
    """Per seed: the held-out ε-MSE averaged over the study's timesteps."""
    per_t = [results.per_seed(name, "eps_mse", t) for t in results.timesteps]  # (T, S)
    return tuple(sum(column) / len(column) for column in zip(*per_t))


def verdict(without: tuple[float, ...], with_: tuple[float, ...]) -> str:
    if max(with_) < min(without):
        return HOLDS
    if max(without) < min(with_):
        return CONTRADICTED
    return UNCLEAR


def verdicts(results: StudyResults) -> list[Finding]:
    """A finding for every claim whose two variants the study trained."""
    out = []
    for claim in CLAIMS:
        if claim.without in results.variants and claim.with_ in results.variants:
            without, with_ = score(results, claim.without), score(results, claim.with_)
            by_t = tuple((t, verdict(tuple(results.per_seed(claim.without, "eps_mse", t)),
                                     tuple(results.per_seed(claim.with_, "eps_mse", t)))) for t in results.timesteps)
            out.append(Finding(claim, verdict(without, with_), without, with_, by_t))
    return out


def finding(results: StudyResults, claim_id: str) -> Finding | None:
    return next((f for f in verdicts(results) if f.claim.id == claim_id), None)


def where(results: StudyResults) -> str:
    """What the study trained on, in words: the CPU or GPU, threads per run, total training time."""
    trained = results.data["trained_on"]
    device = trained.get("cpu") if trained.get("device") == "cpu" else trained.get("device")
    hours = trained.get("cpu_seconds", 0) / 3600
    return (f"{device or 'an unrecorded device'}, {results.data['protocol']['threads']} thread per run"
            + (f", {hours:.1f} thread-hours of training in all" if hours else ""))


def model_card_markdown(results: StudyResults) -> str:
    """The model card's section: protocol, the table at t = 250 and averaged, and the verdicts."""
    protocol = results.data["protocol"]
    lines = [
        f"Every variant below was trained by one protocol (`python -m explorer.study train`): the shipped training "
        f"split at {results.resolution}×{results.resolution}, AdamW, learning rate {protocol['lr']} with "
        f"{protocol['warmup']} warm-up steps then a cosine decay, batch {protocol['batch_size']}, "
        f"{protocol['images_seen']:,} images seen, the app's noise schedule, no early stopping and no selection "
        f"(the last weights are scored), on {where(results)}. Scored on the "
        f"{results.data['heldout_images']} clean held-out images by `python -m explorer.study evaluate`; "
        "± is a 95 % interval over images.",
        "",
        "| variant | parameters | multiply-adds | window (px) | ε-MSE t=250 | x̂₀ PSNR t=250 | ε-MSE over t, per seed |",
        "| --- | ---: | ---: | ---: | ---: | ---: | --- |",
    ]
    for name in results.variants:
        entry = results.variant(name)
        low, high = results.interval(name, "eps_mse", 250)
        p_low, p_high = results.interval(name, "psnr", 250)
        seeds = ", ".join(f"{value:.4f}" for value in score(results, name))
        lines.append(f"| `{name}` | {entry['params']:,} | {entry['macs'] / 1e6:.1f} M | {entry['window']} | "
                     f"{results.mean(name, 'eps_mse', 250):.4f} ± {(high - low) / 2:.4f} | "
                     f"{results.mean(name, 'psnr', 250):.2f} ± {(p_high - p_low) / 2:.2f} dB | {seeds} |")
    for key, label in (("no_noise", "predict no noise"), ("shipped_unet", "shipped U-Net, 64×64")):
        eps, psnr = results.reference(key, "eps_mse", 250), results.reference(key, "psnr", 250)
        if eps is not None:
            lines.append(f"| *{label}* | | | | {eps:.4f} | {psnr:.2f} dB | |")
    first = results.variant(results.variants[0])["curve"]["images_seen"]
    picks = sorted({0, len(first) // 3, 2 * len(first) // 3, len(first) - 1})
    lines += ["", "Learning curves: held-out ε-MSE during training (256 fixed held-out samples, t drawn uniformly; "
                  "mean of the seeds). The cosine schedule flattens every curve at the end, so compare the curves at "
                  "equal images seen, not their slopes.",
              "", "| variant | " + " | ".join(f"{first[i]:,} images" for i in picks) + " |",
              "| --- | " + " | ".join("---:" for _ in picks) + " |"]
    for name in results.variants:
        curve = results.variant(name)["curve"]["eps_mse"]
        lines.append(f"| `{name}` | " + " | ".join(f"{sum(curve[i]) / len(curve[i]):.4f}" for i in picks) + " |")
    found = verdicts(results)
    verdict_counts = {v: sum(1 for f in found if f.verdict == v) for v in (HOLDS, CONTRADICTED, UNCLEAR)}
    lines += ["", f"What the trained alternatives say about the lesson's claims (score: held-out ε-MSE averaged "
                  f"over the {len(results.timesteps)} timesteps, lower is better; per t where the verdict changes "
                  f"with t). Of {len(found)} claims, {verdict_counts[HOLDS]} hold, "
                  f"{verdict_counts[CONTRADICTED]} are contradicted and {verdict_counts[UNCLEAR]} are within the "
                  "seed spread at this budget:", ""]
    for item in found:
        lines.append(f"- **{item.claim.lesson}** ({item.claim.without} vs {item.claim.with_}): {item.sentence()}")
    return "\n".join(lines)
