"""weights/metrics.json, read through named accessors.

`python -m explorer.evaluate` writes the file; everything else reads it through `Metrics`, so that a
change of the file's layout is one change here. Every held-out number is a mean over images, and
beside most of them the file keeps a 95 % interval over images (`*_ci95`, see
explorer/analysis/intervals.py); the accessors return both.

`Metrics` is also the raw file as a dict, for readers not yet moved to the accessors (and for tests that
build variants of it).
"""
from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

FILE = "metrics.json"


@dataclass(frozen=True)
class Interval:
    """A 95 % interval over images."""

    low: float
    high: float

    def __contains__(self, value: float) -> bool:
        return self.low <= value <= self.high

    def __iter__(self):
        """low, high: an Interval unpacks like the file's [low, high] pair."""
        return iter((self.low, self.high))


@dataclass(frozen=True)
class Spread:
    """One measure over several seeds: mean, sample standard deviation, extremes and the number of runs."""

    mean: float
    sd: float
    low: float
    high: float
    runs: int


def _interval(pair) -> Interval | None:
    return Interval(float(pair[0]), float(pair[1])) if pair else None


def _interval_at(pairs, column: int, columns: int) -> Interval | None:
    """The interval at `column` of a row of [low, high] pairs, or None where the row is missing or does not match
    the section's timesteps (a file, or a test's variant of it, whose numbers changed without their intervals)."""
    return _interval(pairs[column]) if pairs and len(pairs) == columns else None


def _row_name(knockout) -> str:
    """A metrics row name from a row name or a typed knock-out value (explorer.knockouts)."""
    return knockout if isinstance(knockout, str) else knockout.row_name()


class Metrics(dict):
    """The evaluation's results. Sections may be missing (an older or partial file): a missing section reads as
    None, a number from it raises KeyError; `has(section)` says whether it is there."""

    @property
    def _data(self) -> dict[str, Any]:
        return self

    @classmethod
    def load(cls, directory: Path) -> Metrics | None:
        """The metrics file in `directory`, or None when there is none."""
        path = Path(directory) / FILE
        return cls(json.loads(path.read_text())) if path.is_file() else None

    @classmethod
    def of(cls, value: Mapping[str, Any] | None) -> Metrics:
        """`value` as Metrics: a raw dict is wrapped, None (not computed) reads as an empty file, which is falsy."""
        return value if isinstance(value, Metrics) else cls(value or {})

    def has(self, section: str) -> bool:
        return bool(self._data.get(section))

    # the whole set
    @property
    def images(self) -> int | None:
        """How many held-out images the main table averages over."""
        return self._data.get("images")

    @property
    def timesteps(self) -> list[int]:
        """The t of the main table (models' ε-MSE and PSNR)."""
        return list(self._data["timesteps"])

    def _column(self, t: int, timesteps: list[int]) -> int:
        if t not in timesteps:
            raise KeyError(f"t = {t} was not evaluated: the evaluated t are {', '.join(map(str, timesteps))}")
        return timesteps.index(t)

    # the models: "unet", "naive", "blur"
    def eps_mse(self, model: str, t: int) -> float:
        """Held-out average ε-MSE of `model` at t."""
        return float(self._data["models"][model]["eps_mse"][self._column(t, self.timesteps)])

    def psnr(self, model: str, t: int) -> float:
        """Held-out average PSNR (dB) of `model`'s x̂₀ at t."""
        return float(self._data["models"][model]["psnr"][self._column(t, self.timesteps)])

    def eps_mse_interval(self, model: str, t: int) -> Interval | None:
        timesteps = self.timesteps
        return _interval_at(self._data["models"][model].get("eps_mse_ci95"), self._column(t, timesteps),
                            len(timesteps))

    def psnr_interval(self, model: str, t: int) -> Interval | None:
        timesteps = self.timesteps
        return _interval_at(self._data["models"][model].get("psnr_ci95"), self._column(t, timesteps), len(timesteps))

    def blur_sigma(self, t: int) -> float:
        """The blur baseline's chosen width (pixels) at t."""
        return float(self._data["models"]["blur"]["sigma"][self._column(t, self.timesteps)])

    def curve(self, model: str) -> tuple[list[float], list[float]]:
        """(ε-MSE per t, PSNR per t) of `model` over `timesteps`."""
        entry = self._data["models"][model]
        return list(entry["eps_mse"]), list(entry["psnr"])

    # knock-outs: rows by name ("skip1 cut", …) or by typed value (explorer.knockouts.Knockouts)
    @property
    def knockout_timesteps(self) -> list[int]:
        return list(self._data["knockouts"]["timesteps"])

    def knockout_rows(self) -> list[str]:
        return list(self._data["knockouts"]["eps_mse"])

    def has_knockouts(self, *knockouts) -> bool:
        """Whether the knock-out table is there with the intact row and every one of `knockouts`."""
        rows = (self.knockouts or {}).get("eps_mse") or {}
        return all(_row_name(knockout) in rows for knockout in ("intact",) + knockouts)

    @property
    def told_the_wrong_t(self) -> str | None:
        """How the "told the wrong t" knock-out chose the wrong t, in words (None in an older file)."""
        return (self.knockouts or {}).get("told_the_wrong_t")

    def knockout(self, knockout, t: int) -> float:
        """Held-out average ε-MSE of the U-Net with `knockout` at t ("intact": nothing broken)."""
        section = self._data["knockouts"]
        return float(section["eps_mse"][_row_name(knockout)][self._column(t, section["timesteps"])])

    def knockout_ratio(self, knockout, t: int) -> float:
        """The knock-out's ε-MSE as a multiple of the intact U-Net's, at t."""
        return self.knockout(knockout, t) / self.knockout("intact", t)

    def knockout_added(self, knockout, t: int) -> float:
        """The ε-MSE the knock-out adds to the intact U-Net's, at t."""
        return self.knockout(knockout, t) - self.knockout("intact", t)

    def _knockout_interval(self, key: str, knockout, t: int) -> Interval | None:
        section = self._data["knockouts"]
        rows = (section.get(key) or {}).get(_row_name(knockout))
        return _interval_at(rows, self._column(t, section["timesteps"]), len(section["timesteps"]))

    def knockout_interval(self, knockout, t: int) -> Interval | None:
        return self._knockout_interval("eps_mse_ci95", knockout, t)

    def knockout_ratio_interval(self, knockout, t: int) -> Interval | None:
        return self._knockout_interval("ratio_ci95", knockout, t)

    def knockout_added_interval(self, knockout, t: int) -> Interval | None:
        return self._knockout_interval("added_ci95", knockout, t)

    # the U-Net against the naive CNN
    def unet_over_naive(self, t: int) -> tuple[float, Interval | None]:
        """U-Net ε-MSE / naive ε-MSE at t, and its interval (images paired)."""
        column = self._column(t, self.timesteps)
        section = self._data.get("unet_vs_naive") or {}
        ratio = self.eps_mse("unet", t) / self.eps_mse("naive", t)
        return ratio, _interval_at(section.get("eps_mse_ratio_ci95"), column, len(self.timesteps))

    def psnr_gap(self, t: int) -> tuple[float, Interval | None]:
        """U-Net PSNR minus naive PSNR at t (dB), and its interval (images paired)."""
        column = self._column(t, self.timesteps)
        section = self._data.get("unet_vs_naive") or {}
        gap = self.psnr("unet", t) - self.psnr("naive", t)
        return gap, _interval_at(section.get("psnr_gap_db_ci95"), column, len(self.timesteps))

    # the shipped diffusers model (`python -m explorer.evaluate_diffusers`)
    def diffusers_unet(self, weights_sha256: str) -> Metrics | None:
        """The key diffusers_unet as results of their own, read as the main table is (models "unet" and "blur",
        the knock-outs), when it measured the weights with this sha256; None for any other weights."""
        section = self._data.get("diffusers_unet") or {}
        if not section or section.get("weights_sha256") != weights_sha256:
            return None
        models = section["models"]
        return Metrics({"timesteps": section["timesteps"], "images": section.get("images"),
                        "models": {"unet": models["diffusers_unet"], "blur": models["blur"]},
                        "knockouts": section.get("knockouts") or {}})

    # the part-by-part sections, whole (their views read them as tables); None when not computed
    @property
    def knockouts(self) -> dict | None:
        return self._data.get("knockouts") or None

    @property
    def gradients(self) -> dict | None:
        return self._data.get("gradients") or None

    def gradient_spread(self, network: str, measure: str) -> Spread | None:
        """How much larger enc1's gradient is with the skips than without, over seeds.

        network: "trained" or "random_init". measure: "absolute" or "relative" (see analysis.gradients.enc1_ratios).
        None for a file from before the measure was taken over seeds.
        """
        entry = (((self.gradients or {}).get("enc1") or {}).get(network) or {}).get(measure)
        if not entry:
            return None
        return Spread(entry["mean"], entry["sd"], entry["min"], entry["max"], entry["runs"])

    # gradient highways: parameter-gradient norms per block, with the skips and with them cut
    @property
    def gradient_blocks(self) -> list[str]:
        return list(self._data["gradients"]["blocks"])

    def gradient_norms(self, network: str) -> dict[str, list[float]]:
        """network: "trained" or "random_init" → {"intact": [...], "skips_cut": [...]}, one norm per block (the mean
        norms over the runs)."""
        entry = self._data["gradients"][network]
        return {"intact": list(entry["intact"]), "skips_cut": list(entry["skips_cut"])}

    @property
    def gradient_images(self) -> int | None:
        return (self.gradients or {}).get("images")

    @property
    def fresh_seeds(self) -> list[int]:
        """The initialisation seeds of the freshly initialised U-Nets (one in an older file)."""
        section = self.gradients or {}
        return list(section.get("fresh_seeds") or [section.get("fresh_seed", 0)])

    def gradient_loss(self, network: str) -> dict[str, float] | None:
        """{"intact": loss, "skips_cut": loss} of `network` over the measured images, or None in an older file."""
        return ((self.gradients or {}).get("loss") or {}).get(network)

    # concatenation: one half of a decoder level's input blanked (variants "skip_zero", "up_zero", "skip_mean", …)
    @property
    def concat(self) -> dict | None:
        return self._data.get("concat") or None

    @property
    def concat_timesteps(self) -> list[int]:
        return list(self._data["concat"]["timesteps"])

    @property
    def concat_images(self) -> int | None:
        return (self.concat or {}).get("images")

    def concat_channels(self, level: int) -> dict[str, int]:
        """{"up": …, "skip": …, "out": …}: the channels decoder level `level` stacks and mixes down to."""
        return dict(self._data["concat"]["levels"][str(level)]["channels"])

    def concat_eps_mse(self, level: int, variant: str, t: int) -> float:
        """Held-out average ε-MSE with `variant` at decoder level `level` ("intact": nothing blanked), at t."""
        section = self._data["concat"]
        return float(section["levels"][str(level)]["eps_mse"][variant][self._column(t, section["timesteps"])])

    def concat_ratio(self, level: int, variant: str, t: int) -> float:
        """The variant's ε-MSE as a multiple of the intact U-Net's, at t."""
        return self.concat_eps_mse(level, variant, t) / self.concat_eps_mse(level, "intact", t)

    def concat_ratio_interval(self, level: int, variant: str, t: int) -> Interval | None:
        section = self._data["concat"]
        rows = (section["levels"][str(level)].get("ratio_ci95") or {}).get(variant)
        return _interval_at(rows, self._column(t, section["timesteps"]), len(section["timesteps"]))

    @property
    def time_conditioning(self) -> dict | None:
        return self._data.get("time_conditioning") or None

    @property
    def naive_selection(self) -> dict | None:
        return self._data.get("naive_selection")
