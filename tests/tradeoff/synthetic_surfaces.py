"""Known surfaces for the tradeoff tests, with their iso-curves, exchange rates
and efficient spans computed here independently of the engine (closed forms
and root finding on the true function's rate).

    perf = sigmoid(a (gx(x) - x0) + b (gy(y) - y0) + c)
    g(u) = s - softplus(k (s - u)) / k   (saturating) or u
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy.optimize import brentq

from ttscale.types import Point


def _softplus(t):
    return np.logaddexp(0.0, t)


def _sigmoid(t):
    return 1.0 / (1.0 + np.exp(-np.asarray(t, dtype=float)))


@dataclass(frozen=True)
class TrueSurface:
    a: float
    b: float
    c: float = 0.0
    x0: float = 20.0
    y0: float = 10.0
    sat_x: tuple[float, float] | None = None  # (s, k)
    sat_y: tuple[float, float] | None = None

    @staticmethod
    def _g(u, sat):
        if sat is None:
            return np.asarray(u, dtype=float)
        s, k = sat
        return s - _softplus(k * (s - np.asarray(u, dtype=float))) / k

    @staticmethod
    def _dg(u, sat):
        if sat is None:
            return np.ones_like(np.asarray(u, dtype=float))
        s, k = sat
        return _sigmoid(k * (s - np.asarray(u, dtype=float)))

    def perf(self, x, y):
        z = self.a * (self._g(x, self.sat_x) - self.x0) + self.b * (self._g(y, self.sat_y) - self.y0) + self.c
        return _sigmoid(z)

    def rate(self, x, y):
        return self.a * self._dg(x, self.sat_x) / (self.b * self._dg(y, self.sat_y))

    @staticmethod
    def _g_inverse(t, sat):
        """u with g(u) = t, in closed form: softplus(k (s - u)) = k (s - t); nan where t >= s."""
        t = np.asarray(t, dtype=float)
        if sat is None:
            return t
        s, k = sat
        v = k * (s - t)
        with np.errstate(invalid="ignore", divide="ignore"):
            return np.where(v > 0, s - np.log(np.expm1(np.where(v > 0, v, 1.0))) / k, np.nan)

    def _logit(self, level: float) -> float:
        return float(np.log(level / (1.0 - level)))

    def x_on_curve(self, level: float, y):
        """x with perf(x, y) = level (nan where there is none)."""
        gx = (self._logit(level) - self.c - self.b * (self._g(y, self.sat_y) - self.y0)) / self.a + self.x0
        return self._g_inverse(gx, self.sat_x)

    def y_on_curve(self, level: float, x):
        """y with perf(x, y) = level (nan where there is none)."""
        gy = (self._logit(level) - self.c - self.a * (self._g(x, self.sat_x) - self.x0)) / self.b + self.y0
        return self._g_inverse(gy, self.sat_y)

    def curve_in_box(self, level: float, box_x, box_y, n: int = 20001):
        """Dense points of the true iso-curve inside the box, ordered by falling y.

        Both axes are gridded (x from y and y from x), so flat and steep parts of
        the curve are both sampled.
        """
        ys = np.linspace(box_y[0], box_y[1], n)
        xs = np.linspace(box_x[0], box_x[1], n)
        x = np.concatenate([self.x_on_curve(level, ys), xs])
        y = np.concatenate([ys, self.y_on_curve(level, xs)])
        keep = np.isfinite(x) & np.isfinite(y) & (x >= box_x[0]) & (x <= box_x[1]) & (y >= box_y[0]) & (y <= box_y[1])
        x, y = x[keep], y[keep]
        order = np.lexsort((x, -y))
        return x[order], y[order]

    def span_endpoints(self, level: float, ratio: float, box_x, box_y):
        """((x_min, x_max), (y_min, y_max)) of the efficient part of the true curve inside the box."""
        xs, ys = self.curve_in_box(level, box_x, box_y)
        rates = self.rate(xs, ys)
        efficient = (rates >= 1 / ratio) & (rates <= ratio)
        if not efficient.any():
            return None
        # Refine the ends where the rate crosses a bound (between grid points) by root finding in y.
        def refine(i, j):
            bound = ratio if max(rates[i], rates[j]) > ratio else 1 / ratio
            if abs(xs[j] - xs[i]) > abs(ys[j] - ys[i]):  # flat piece: parametrise by x
                point = lambda x: (x, float(self.y_on_curve(level, x)))
                lo, hi = sorted((xs[i], xs[j]))
            else:
                point = lambda y: (float(self.x_on_curve(level, y)), y)
                lo, hi = sorted((ys[i], ys[j]))
            g = lambda t: float(np.log(self.rate(*point(t))) - np.log(bound))
            return point(brentq(g, lo, hi, xtol=1e-12))

        idx = np.flatnonzero(efficient)
        ends = []
        for i, step in ((idx[0], -1), (idx[-1], 1)):
            j = i + step
            ends.append(refine(min(i, j), max(i, j)) if 0 <= j < len(ys) else (xs[i], ys[i]))
        ex = [e[0] for e in ends]
        ey = [e[1] for e in ends]
        return (min(ex), max(ex)), (min(ey), max(ey))

    def median_rate(self, level: float, box_x, box_y) -> float:
        """Median rate over the curve's length (equal arc-length spacing) inside the box."""
        xs, ys = self.curve_in_box(level, box_x, box_y)
        s = np.concatenate([[0.0], np.cumsum(np.hypot(np.diff(xs), np.diff(ys)))])
        t = np.linspace(0, s[-1], 2001)
        return float(np.median(self.rate(np.interp(t, s, xs), np.interp(t, s, ys))))


def grid_points(
    surface: TrueSurface,
    technique: str,
    xs,
    ys,
    noise: float = 0.0,
    seed: int = 0,
    ci_halfwidth: float | None = None,
) -> list[Point]:
    """Points on a grid of (log10 TC, log10 IC), one model per TC, with optional binomial-like noise and CIs."""
    rng = np.random.default_rng(seed)
    points = []
    for x in xs:
        for y in ys:
            p = float(surface.perf(x, y))
            if noise:
                # Binomial-like: sd peaks at `noise` at p = 0.5 and vanishes at 0 and 1.
                p = float(np.clip(p + rng.normal(0.0, noise * 2.0 * np.sqrt(p * (1.0 - p))), 0.0, 1.0))
            lo = hi = None
            if ci_halfwidth is not None:
                lo, hi = max(0.0, p - ci_halfwidth), min(1.0, p + ci_halfwidth)
            points.append(Point(technique, f"model-{x:.2f}", 10.0**x, 10.0**y, p, lo, hi))
    return points


def median_rate_along(surface: TrueSurface, curve_flops) -> float:
    """The true rate's median over a curve's length (the engine's curve, given in FLOPs).

    The engine reports the median along the frontier it measured (dominated tails of the true curve,
    where it runs off vertically or flat, are not on any frontier); compare it with the truth over the
    same stretch.
    """
    xy = np.log10(np.asarray(curve_flops, dtype=float))
    x, y = xy[:, 0], xy[:, 1]
    log_rate = np.log(surface.rate(x, y))
    seg = np.hypot(np.diff(x), np.diff(y))
    mid = 0.5 * (log_rate[1:] + log_rate[:-1])
    order = np.argsort(mid)
    cumulative = np.cumsum(seg[order])
    return float(np.exp(mid[order][np.searchsorted(cumulative, 0.5 * cumulative[-1])]))
