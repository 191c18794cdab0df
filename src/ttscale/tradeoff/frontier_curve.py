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

s(t) is the least-squares **convex** fit to the frontier's points (slopes
non-decreasing, within [-1, 1]): convexity in (t, s) is convexity of the
iso-curve in log-log, i.e. an exchange rate that never rises as TC grows —
diminishing returns to each compute, which every law this project is tested
on has (a sum of power laws, a logistic surface with or without saturation, a
constant rate). It is a shape constraint, not a family: it needs no smoothing
parameter, does not overshoot at the ends, and averages noise over as many
points as the shape allows. The fit is piecewise linear between the frontier's
points; the slope used for the rate is interpolated linearly between segment
midpoints (still non-decreasing), so the rate varies continuously and a span's
end falls between points, not on them.

The rate is then (1 - s') / (1 + s'), evaluated on a dense grid of t; it is
bounded by the data's resolution, never by an overflow.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy.optimize import lsq_linear

from ttscale.tradeoff.frontier import Frontier

DENSE = 801
SLOPE_LIMIT = 1.0 - 1e-12  # |ds/dt| < 1: the rate stays finite (at most ~2e12) on a vertical piece


@dataclass(frozen=True)
class FrontierCurve:
    """The smooth curve on a dense grid: x, y (log10 FLOPs) and the rate."""

    x: np.ndarray
    y: np.ndarray
    rate: np.ndarray

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

    def thinned(self, count: int) -> FrontierCurve:
        index = np.unique(np.linspace(0, len(self.x) - 1, min(count, len(self.x))).round().astype(int))
        return FrontierCurve(self.x[index], self.y[index], self.rate[index])


def convex_fit(t: np.ndarray, s: np.ndarray) -> np.ndarray:
    """Fitted values of the least-squares convex function of t through (t, s), slopes in [-1, 1].

    Parametrised by the first value and the slope increments: s_i = s_0 + sum_j<i d_j dt_j with
    d_j = -1 + sum_k<=j e_k and e_k >= 0, so convexity and the lower slope bound are box
    constraints (bounded-variable least squares); the upper bound is a final clip.
    """
    n = len(t)
    if n <= 2:
        return s.astype(float).copy()
    dt = np.diff(t)
    # Column 0: s_0; column 1 + k: increment e_k of the slope from segment k on.
    design = np.zeros((n, n))
    design[:, 0] = 1.0
    for k in range(n - 1):
        design[k + 1:, 1 + k] = np.cumsum(dt[k:])
    offset = -(t - t[0])  # the slope starts at -1
    lower = np.concatenate([[-np.inf], np.zeros(n - 1)])
    upper = np.concatenate([[np.inf], np.full(n - 1, 2.0)])
    solution = lsq_linear(design, s - offset, bounds=(lower, upper), method="bvls")
    fitted = design @ solution.x + offset
    slopes = np.clip(np.diff(fitted) / dt, -1.0, 1.0)
    return fitted[0] + np.concatenate([[0.0], np.cumsum(slopes * dt)])


def frontier_curve(frontier: Frontier, dense: int = DENSE) -> FrontierCurve | None:
    """The smooth curve through ``frontier``, or None with fewer than 2 points."""
    if frontier.n < 2:
        return None
    t = frontier.x - frontier.y
    fitted = convex_fit(t, frontier.x + frontier.y)
    segment_slope = np.diff(fitted) / np.diff(t)
    middles = 0.5 * (t[1:] + t[:-1])
    grid = np.linspace(t[0], t[-1], dense)
    slope = np.clip(np.interp(grid, middles, segment_slope), -SLOPE_LIMIT, SLOPE_LIMIT)
    # Integrate the interpolated slope back (trapezoid), anchored at the fit's mean level.
    steps = np.diff(grid) * 0.5 * (slope[1:] + slope[:-1])
    s_curve = np.concatenate([[0.0], np.cumsum(steps)])
    s_curve += float(np.mean(fitted - np.interp(t, grid, s_curve)))
    x = 0.5 * (s_curve + grid)
    y = 0.5 * (s_curve - grid)
    rate = (1.0 - slope) / (1.0 + slope)
    return FrontierCurve(x, y, rate)
