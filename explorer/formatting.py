"""One spelling for every number the app prints: ratios, errors, decibels, shares, intervals, and where a number
comes from.

Every view, the lesson and the model card format through these, so the same ratio reads the same everywhere.
(explorer/views/numbers.py is something else: the unformatted numbers the API returns beside each view.)
"""
from __future__ import annotations

import math

HELD_OUT = "held-out average"
THIS_IMAGE = "this image"


def ratio(value: float, base: float) -> float:
    return value / base if base > 0 else math.inf


def _multiple(value: float) -> str:
    """A multiplier's number to three significant figures: 1.06, 38.2, 2,711."""
    if not math.isfinite(value):
        return "∞"
    if value >= 100:
        return f"{value:,.0f}"
    return f"{value:.1f}" if value >= 10 else f"{value:.2f}"


def times(value: float) -> str:
    """A multiplier: ×1.06, ×38.2, ×2,711."""
    return "×" + _multiple(value)


def smaller_or_larger(value: float) -> str:
    """How many times smaller a quantity is (`value` = before / after), in words: "12.7× smaller", "2.35× larger"."""
    return f"{_multiple(value)}× smaller" if value >= 1 else f"{_multiple(1 / value)}× larger"


def _significant(value: float, digits: int, sign: str = "") -> str:
    """`digits` significant figures written out in decimals (0.0003091, never 3.091e-04), thousands separated."""
    if value == 0 or not math.isfinite(value):
        return f"{value:{sign}g}"
    decimals = max(0, digits - 1 - math.floor(math.log10(abs(value))))
    return f"{value:{sign},.{decimals}f}"


def mse(value: float) -> str:
    """An ε-MSE (or any small error): four significant figures, in decimals."""
    return _significant(value, 4)


def added(value: float) -> str:
    """An error added by a knock-out (a difference of two ε-MSE), signed."""
    return _significant(value, 4, "+")


def db(value: float, decimals: int = 1) -> str:
    """A level in decibels: 25.3 dB (tables that align their columns ask for more decimals)."""
    return f"{value:.{decimals}f} dB"


def db_change(value: float) -> str:
    """A signed level in decibels: a difference of two PSNRs, or a signal-to-noise ratio: +1.2 dB."""
    return f"{value:+.1f} dB"


def fixed(value: float, decimals: int = 4) -> str:
    """A number to a fixed count of decimals, for a table whose column lines up: 0.0149, 0.316."""
    return f"{value:.{decimals}f}"


def share(value: float) -> str:
    """A share as a percentage: 34.0%, and two decimals below 1 % (0.05%), so a small share never reads as 0."""
    return f"{value:.2%}" if 0 < value < 0.01 else f"{value:.1%}"


# --- uncertainty ------------------------------------------------------------------------------------------------------
# A held-out number is an average over images; its 95 % interval (explorer/analysis/intervals.py) is printed after
# it, in one form: "×61.1 (95 % interval ×57.3 to ×65.0)". Tables print the bounds alone ("×57.3 to ×65.0") under a
# heading or a row that says "95 % interval".

INTERVAL = "95 % interval"


def span(bounds, format=mse) -> str:
    """A 95 % interval's bounds (a (low, high) pair or an explorer.metrics.Interval): "0.0140 to 0.0159"."""
    low, high = bounds
    return f"{format(low)} to {format(high)}"


def interval(low: float, high: float, format=mse) -> str:
    """A 95 % interval, as the text after a number: "(95 % interval 0.0140 to 0.0159)"."""
    return f"({INTERVAL} {span((low, high), format)})"


def with_interval(value: float, bounds, format=mse) -> str:
    """A held-out number and its 95 % interval: "0.0149 (95 % interval 0.0140 to 0.0159)"; the number alone where
    `bounds` is None (a results file from before the intervals)."""
    return format(value) if bounds is None else f"{format(value)} {interval(*bounds, format=format)}"
