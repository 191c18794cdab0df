"""A smooth monotone curve through a frontier, and the exchange rate along it.

Along a frontier TC rises and IC falls, and the curve can be anywhere from
vertical (training is everything: the compute-optimal end of a scaling law) to
flat (inference is everything). Neither log TC nor log IC can parametrise both
ends, so the curve is fitted in coordinates turned by 45 degrees:

    t = x - y   (strictly rising along a frontier)
    s = x + y   with  ds/dt = (1 - rate) / (1 + rate)  in [-1, 1]

where x = log10 TC, y = log10 IC and rate = |dy/dx|. A vertical piece has
ds/dt = -1, a flat one +1, a 1 : 1 trade 0; so s(t) is a well-behaved function
even where y(x) is not, and monotonicity of the curve is exactly
|ds/dt| <= 1 (enforced by clipping the slope, then integrating it back).

s(t) is a cubic smoothing spline whose smoothness is chosen by generalised
cross-validation (``scipy.interpolate.make_smoothing_spline``): noise-free
frontiers are interpolated, noisy ones smoothed. With 3 or 4 frontier points it
is the shape-preserving PCHIP interpolant, with 2 the straight line between
them.

The rate is then (1 - s') / (1 + s'), evaluated on a dense grid of t; it is
bounded by the data's resolution, never by an overflow.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy.interpolate import PchipInterpolator, make_smoothing_spline

from ttscale.tradeoff.frontier import Frontier

DENSE = 801
MIN_POINTS_SPLINE = 5
SLOPE_LIMIT = 1.0 - 1e-12  # |ds/dt| < 1: the rate stays finite (at most ~2e12) on a vertical piece


@dataclass(frozen=True)
class FrontierCurve:
    """The smooth curve on a dense grid: x, y (log10 FLOPs), the rate, and its frontier."""

    x: np.ndarray
    y: np.ndarray
    rate: np.ndarray
    frontier: Frontier

    @property
    def extrapolated(self) -> np.ndarray:
        return np.zeros(len(self.x), dtype=bool)  # a frontier curve never leaves the data

    @property
    def median_rate(self) -> float:
        """The median rate over the curve's length in the log-log diagram."""
        seg = np.hypot(np.diff(self.x), np.diff(self.y))
        if seg.sum() <= 0:
            return float(np.median(self.rate))
        mid_log_rate = 0.5 * (np.log(self.rate[:-1]) + np.log(self.rate[1:]))
        order = np.argsort(mid_log_rate)
        cumulative = np.cumsum(seg[order])
        return float(np.exp(mid_log_rate[order][np.searchsorted(cumulative, 0.5 * cumulative[-1])]))

    @property
    def scale_log10_train(self) -> float:
        """Where the curve sits on the TC axis: log10 TC at half its length."""
        seg = np.concatenate([[0.0], np.cumsum(np.hypot(np.diff(self.x), np.diff(self.y)))])
        return float(np.interp(0.5 * seg[-1], seg, self.x))

    @property
    def extent(self) -> tuple[float, float]:
        """OOM of TC and of IC the curve covers."""
        return float(np.ptp(self.x)), float(np.ptp(self.y))

    def thinned(self, count: int) -> FrontierCurve:
        index = np.unique(np.linspace(0, len(self.x) - 1, min(count, len(self.x))).round().astype(int))
        return FrontierCurve(self.x[index], self.y[index], self.rate[index], self.frontier)


def _smooth(t: np.ndarray, s: np.ndarray):
    if len(t) >= MIN_POINTS_SPLINE:
        return make_smoothing_spline(t, s)
    if len(t) >= 3:
        return PchipInterpolator(t, s)
    slope = (s[1] - s[0]) / (t[1] - t[0])
    return _Line(s[0], t[0], slope)


@dataclass(frozen=True)
class _Line:
    s0: float
    t0: float
    slope: float

    def __call__(self, t, nu: int = 0):
        t = np.asarray(t, dtype=float)
        if nu == 1:
            return np.full_like(t, self.slope)
        return self.s0 + self.slope * (t - self.t0)


def frontier_curve(frontier: Frontier, dense: int = DENSE) -> FrontierCurve | None:
    """The smooth curve through ``frontier``, or None with fewer than 2 points."""
    if frontier.n < 2:
        return None
    t = frontier.x - frontier.y
    s = frontier.x + frontier.y
    spline = _smooth(t, s)
    grid = np.linspace(t[0], t[-1], dense)
    slope = np.clip(spline(grid, 1), -SLOPE_LIMIT, SLOPE_LIMIT)
    # Integrate the clipped slope back (trapezoid) so the curve is monotone by construction.
    steps = np.diff(grid) * 0.5 * (slope[1:] + slope[:-1])
    s_curve = float(spline(grid[:1])[0]) + np.concatenate([[0.0], np.cumsum(steps)])
    x = 0.5 * (s_curve + grid)
    y = 0.5 * (s_curve - grid)
    rate = (1.0 - slope) / (1.0 + slope)
    return FrontierCurve(x, y, rate, frontier)
