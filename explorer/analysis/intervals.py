"""95 % intervals over images: the percentile bootstrap every held-out number is reported with.

A held-out number is a mean over images. Resampling the images with replacement (DRAWS times, from a
fixed seed, so the intervals are reproducible) and taking the 2.5th and 97.5th percentiles of the
resampled statistic gives its 95 % interval: how much the number could move with another draw of
images like these. Ratios and differences of two means are resampled in pairs (the same images for
both), as they were measured.
"""
from __future__ import annotations

import numpy as np

DRAWS = 2000
SEED = 0
LEVEL = 0.95
METHOD = f"percentile bootstrap over images, {DRAWS} resamples, seed {SEED}"


def _resamples(count: int, draws: int = DRAWS, seed: int = SEED) -> np.ndarray:
    """(draws, count) image indices, drawn with replacement."""
    if count < 1:
        raise ValueError("an interval needs at least one image")
    return np.random.default_rng(seed).integers(0, count, size=(draws, count))


def _percentiles(statistics: np.ndarray) -> list[float]:
    """(draws,) resampled statistics → [low, high] at LEVEL."""
    tail = (1 - LEVEL) / 2 * 100
    low, high = np.percentile(statistics, [tail, 100 - tail])
    return [float(low), float(high)]


def mean_interval(values, draws: int = DRAWS, seed: int = SEED) -> list[float]:
    """[low, high] of the mean of `values` (N,), one value per image."""
    values = np.asarray(values, dtype=np.float64)
    return _percentiles(values[_resamples(len(values), draws, seed)].mean(axis=1))


def mean_intervals(rows) -> list[list[float]]:
    """[[low, high], ...] for each row of `rows` (R, N): one interval per row, the same resamples for all."""
    rows = np.asarray(rows, dtype=np.float64)
    index = _resamples(rows.shape[1])
    return [_percentiles(row[index].mean(axis=1)) for row in rows]


def ratio_interval(numerator, denominator) -> list[float]:
    """[low, high] of mean(numerator) / mean(denominator), images resampled in pairs. Both (N,)."""
    numerator, denominator = np.asarray(numerator, np.float64), np.asarray(denominator, np.float64)
    index = _resamples(len(numerator))
    return _percentiles(numerator[index].mean(axis=1) / denominator[index].mean(axis=1))


def difference_interval(first, second) -> list[float]:
    """[low, high] of mean(first) − mean(second), images resampled in pairs. Both (N,)."""
    first, second = np.asarray(first, np.float64), np.asarray(second, np.float64)
    return mean_interval(first - second)
