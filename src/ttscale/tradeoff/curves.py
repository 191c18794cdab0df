"""Iso-performance curves, the exchange rate along them, and the efficient span.

- The curve at level P is traced in closed form (surface.solve_infer /
  solve_train) on dense grids of both log10 TC and log10 IC (so steep and flat
  parts are both sampled), kept inside the support (support.py), and
  resampled to points equally spaced in arc length in (log10 TC, log10 IC).
- The exchange rate at each point is |d log IC / d log TC| = a g_x'/(b g_y')
  (surface.py), exact, not a finite difference of the samples.
- ``median rate``: the median of the rate over the curve's equally spaced
  points, i.e. over its length in the log-log diagram.
- The efficient span is where 1/r <= rate <= r. Its ends are found by linear
  interpolation of log(rate) between neighbouring samples. It is reported as
  OOMs of TC and of IC: the sum over efficient pieces of each piece's extent
  (the rate is monotone along the curve for this family, so there is one piece,
  but nothing below relies on it).
- With extrapolation, the curve is traced over the support's bounding box
  widened by ``EXTRAPOLATION_MARGIN_OOM`` on each side, and every point
  outside the support is flagged.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ttscale.tradeoff.support import Support
from ttscale.tradeoff.surface import Surface

DENSE_PER_AXIS = 600
CURVE_SAMPLES = 601
EXTRAPOLATION_MARGIN_OOM = 3.0
LOG_RATE_CLIP = 50.0  # log(rate) beyond +-50 is "infinite" for interpolation purposes


@dataclass(frozen=True)
class IsoCurve:
    """Points (log10 TC, log10 IC), equally spaced in arc length, with the rate and support flags."""

    x: np.ndarray
    y: np.ndarray
    rate: np.ndarray
    extrapolated: np.ndarray  # bool per point: outside the data's support

    @property
    def median_rate(self) -> float:
        return float(np.median(self.rate))

    @property
    def scale_log10_train(self) -> float:
        """Where the curve sits on the TC axis: log10 TC at half its length."""
        return float(self.x[len(self.x) // 2])

    def thinned(self, count: int) -> IsoCurve:
        index = np.unique(np.linspace(0, len(self.x) - 1, min(count, len(self.x))).round().astype(int))
        return IsoCurve(self.x[index], self.y[index], self.rate[index], self.extrapolated[index])


@dataclass(frozen=True)
class Span:
    """The efficient part of a curve: pieces as ((x_start, y_start), (x_end, y_end)) in log10 FLOPs."""

    pieces: tuple[tuple[tuple[float, float], tuple[float, float]], ...]

    @property
    def oom_train(self) -> float:
        return float(sum(abs(end[0] - start[0]) for start, end in self.pieces))

    @property
    def oom_infer(self) -> float:
        return float(sum(abs(end[1] - start[1]) for start, end in self.pieces))

    def endpoints(self) -> dict | None:
        """The extreme TC and IC (in FLOPs) of the efficient part, or None when it is empty."""
        if not self.pieces:
            return None
        xs = [p[0] for piece in self.pieces for p in piece]
        ys = [p[1] for piece in self.pieces for p in piece]
        return {
            "train_flops": [10 ** min(xs), 10 ** max(xs)],
            "infer_flops": [10 ** min(ys), 10 ** max(ys)],
        }


def _dense_curve(surface: Surface, level: float, x_box, y_box) -> tuple[np.ndarray, np.ndarray]:
    xs = np.linspace(x_box[0], x_box[1], DENSE_PER_AXIS)
    ys = np.linspace(y_box[0], y_box[1], DENSE_PER_AXIS)
    x = np.concatenate([xs, surface.solve_train(ys, level)])
    y = np.concatenate([surface.solve_infer(xs, level), ys])
    tol = 1e-9
    keep = (
        np.isfinite(x)
        & np.isfinite(y)
        & (x >= x_box[0] - tol)
        & (x <= x_box[1] + tol)
        & (y >= y_box[0] - tol)
        & (y <= y_box[1] + tol)
    )
    x, y = x[keep], y[keep]
    # The curve falls (y non-increasing in x): order by x, then by falling y.
    order = np.lexsort((-y, x))
    return x[order], y[order]


def _equal_arc_length(x: np.ndarray, y: np.ndarray, count: int) -> tuple[np.ndarray, np.ndarray]:
    steps = np.hypot(np.diff(x), np.diff(y))
    s = np.concatenate([[0.0], np.cumsum(steps)])
    if s[-1] <= 0.0:
        return x[:1].copy(), y[:1].copy()
    target = np.linspace(0.0, s[-1], count)
    return np.interp(target, s, x), np.interp(target, s, y)


def extrapolation_box(support: Support, margin: float = EXTRAPOLATION_MARGIN_OOM) -> tuple[tuple, tuple]:
    """The support's (log10 TC, log10 IC) ranges widened by ``margin`` OOM on each side."""
    return ((support.x_range[0] - margin, support.x_range[1] + margin),
            (support.y_range[0] - margin, support.y_range[1] + margin))


def trace_iso_curve(
    surface: Surface,
    level: float,
    support: Support,
    extrapolate: bool = False,
    count: int = CURVE_SAMPLES,
) -> IsoCurve | None:
    """The iso-curve at ``level`` inside the support (or over the widened box, flagged), or None."""
    if surface.level_logit(level) is None:
        return None
    if support.degenerate and not extrapolate:
        return None  # points on a line meet a curve in one point: no slope can be read off
    x_box, y_box = extrapolation_box(support, EXTRAPOLATION_MARGIN_OOM if extrapolate else 0.0)
    x, y = _dense_curve(surface, level, x_box, y_box)
    if not extrapolate:
        inside = support.contains(x, y)
        x, y = x[inside], y[inside]
    if len(x) < 2:
        return None
    x, y = _equal_arc_length(x, y, count)
    if len(x) < 2:
        return None
    return IsoCurve(x, y, surface.exchange_rate(x, y), ~support.contains(x, y))


def within_t(curve: IsoCurve, t_low: float, t_high: float) -> IsoCurve | None:
    """The part of a curve whose t = log10 TC - log10 IC lies in [t_low, t_high] (a frontier's range)."""
    t = curve.x - curve.y
    keep = (t >= t_low - 1e-9) & (t <= t_high + 1e-9)
    if keep.sum() < 2:
        return None
    return IsoCurve(curve.x[keep], curve.y[keep], curve.rate[keep], curve.extrapolated[keep])


def _crossing(lr_a: float, lr_b: float, bound: float) -> float:
    """Fraction of the way from a to b where log(rate) crosses ``bound``."""
    if lr_a == lr_b:
        return 0.5
    return float(np.clip((bound - lr_a) / (lr_b - lr_a), 0.0, 1.0))


def efficient_span(curve: IsoCurve | None, ratio: float) -> Span:
    """The part of the curve where 1/ratio <= rate <= ratio (see the module docstring)."""
    if curve is None:
        return Span(())
    with np.errstate(divide="ignore", invalid="ignore"):
        lr = np.clip(np.log(curve.rate), -LOG_RATE_CLIP, LOG_RATE_CLIP)
    bound = float(np.log(ratio))
    inside = np.isfinite(lr) & (np.abs(lr) <= bound)
    pieces = []
    i, n = 0, len(lr)
    while i < n:
        if not inside[i]:
            i += 1
            continue
        j = i
        while j + 1 < n and inside[j + 1]:
            j += 1
        start = _end_point(curve, lr, i, i - 1, bound)
        end = _end_point(curve, lr, j, j + 1, bound)
        pieces.append((start, end))
        i = j + 1
    return Span(tuple(pieces))


def _end_point(curve: IsoCurve, lr: np.ndarray, last_in: int, first_out: int, bound: float):
    """The span's end between an efficient sample and its non-efficient neighbour."""
    if first_out < 0 or first_out >= len(lr) or not np.isfinite(lr[first_out]):
        return (float(curve.x[last_in]), float(curve.y[last_in]))
    edge = bound if lr[first_out] > bound else -bound
    f = _crossing(float(lr[last_in]), float(lr[first_out]), edge)
    x = curve.x[last_in] + f * (curve.x[first_out] - curve.x[last_in])
    y = curve.y[last_in] + f * (curve.y[first_out] - curve.y[last_in])
    return (float(x), float(y))
