"""Performance levels and the exchange ratio: checking what the user asked, and
choosing levels when they did not.

Automatic levels (``choose_levels``): take each fittable technique's observed
performance range [min, max]; the range every technique reaches is
[max of the mins, min of the maxes]. When it is not empty, the levels are at
25 %, 50 % and 75 % of it, so each technique's data straddle every level and
the curves exist without extrapolation. When the techniques do not overlap,
the levels are the 25th, 50th and 75th percentiles of all performances pooled
(some techniques will then have no curve at some levels, reported as null).
Levels are rounded to 2 decimals, kept in [0.01, 0.99] and de-duplicated.
"""

from __future__ import annotations

import math

import numpy as np

from ttscale.errors import InputError

AUTO_FRACTIONS = (0.25, 0.5, 0.75)


def check_levels(levels: list[float], flag: str = "levels") -> list[float]:
    """Levels are fractions strictly inside (0, 1); returned sorted and de-duplicated."""
    if not levels:
        raise InputError(f"{flag}: no levels given")
    for level in levels:
        if not (isinstance(level, (int, float)) and math.isfinite(level) and 0.0 < level < 1.0):
            raise InputError(f"{flag}: {level!r} is outside (0, 1); levels are performance fractions")
    return sorted({float(level) for level in levels})


def parse_levels(text: str, flag: str = "--levels") -> list[float]:
    """'0.5,0.8' -> [0.5, 0.8], with errors naming the flag and the bad item."""
    values = []
    for item in text.split(","):
        item = item.strip()
        if not item:
            continue
        try:
            values.append(float(item))
        except ValueError:
            raise InputError(f"{flag}: {item!r} is not a number (expected e.g. 0.5,0.8)") from None
    return check_levels(values, flag)


def check_ratio(ratio: float, flag: str = "ratio") -> float:
    if not (isinstance(ratio, (int, float)) and math.isfinite(ratio) and ratio > 1.0):
        raise InputError(f"{flag} must be > 1 (the span is where 1/r <= rate <= r), got {ratio!r}")
    return float(ratio)


def level_key(level: float) -> str:
    """The JSON key of a level: '0.5', '0.85'."""
    return f"{level:g}"


def choose_levels(performance_by_technique: dict[str, list[float]]) -> list[float]:
    """Automatic levels (see the module docstring)."""
    ranges = [(min(v), max(v)) for v in performance_by_technique.values() if v]
    if not ranges:
        return [0.5]
    low = max(r[0] for r in ranges)
    high = min(r[1] for r in ranges)
    if high > low:
        raw = [low + f * (high - low) for f in AUTO_FRACTIONS]
    else:
        pooled = np.concatenate([np.asarray(v, dtype=float) for v in performance_by_technique.values()])
        raw = [float(np.quantile(pooled, f)) for f in AUTO_FRACTIONS]
    levels = sorted({min(0.99, max(0.01, round(value, 2))) for value in raw})
    return levels
