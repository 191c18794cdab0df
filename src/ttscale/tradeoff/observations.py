"""One technique's points in the coordinates the fit uses, with their weights.

x = log10 TC, y = log10 IC, performance as given. With CIs, a point's sigma is
its CI half-width / 1.96 (a normal approximation), floored at ``SIGMA_FLOOR``
so a point measured as exactly 0 or 1 with a zero-width CI cannot dominate;
points without a CI get the median sigma of those with one. Without any CI,
sigma = 1 (ordinary least squares).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

SIGMA_FLOOR = 0.01


@dataclass(frozen=True)
class Observations:
    """One technique's data in the coordinates the fit uses."""

    x: np.ndarray  # log10 TC
    y: np.ndarray  # log10 IC
    perf: np.ndarray
    sigma: np.ndarray
    weighted: bool

    @property
    def n(self) -> int:
        return len(self.perf)


def observations(train_flops, infer_flops, perf, ci_low=None, ci_high=None) -> Observations:
    x = np.log10(np.asarray(train_flops, dtype=float))
    y = np.log10(np.asarray(infer_flops, dtype=float))
    p = np.asarray(perf, dtype=float)
    sigma = np.ones_like(p)
    weighted = False
    if ci_low is not None and ci_high is not None:
        lo = np.array([np.nan if v is None else v for v in ci_low], dtype=float)
        hi = np.array([np.nan if v is None else v for v in ci_high], dtype=float)
        half = (hi - lo) / (2 * 1.96)
        known = np.isfinite(half)
        if known.any():
            weighted = True
            sigma = np.where(known, half, np.median(half[known]))
            sigma = np.maximum(sigma, SIGMA_FLOOR)
    return Observations(x, y, p, sigma, weighted)
