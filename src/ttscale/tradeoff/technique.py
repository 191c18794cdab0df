"""One technique at one level: frontier -> curve -> exchange rate -> span, in words too.

Shared by the analysis (with bootstrap intervals), the combinations (a union
of two techniques' frontiers) and the planner (optimising along the curve).

A rate is a number only where the data measure one (``rate_reason`` says why
not, otherwise): the level must be reached by at least two configurations on
the frontier, and the frontier must extend over at least ``MIN_EXTENT_OOM`` of
both computes. A frontier that spans TC but not IC means inference compute
does not stand in for training compute there (and vice versa); a rate read off
such a frontier would only measure noise, so it is null.

An end of the frontier that lies on the data's edge (the convex hull's
boundary), with a rate there still inside [1/r, r] (read over its last
``END_STRETCH_OOM``), **truncates** the span: the data stop before the rate
leaves [1/r, r], so the true span is at least as wide; ``--extrapolate`` asks a
smoother (smoother.py) for the rest, marked as extrapolated.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property

import numpy as np

from ttscale.tradeoff.curves import IsoCurve, Span, efficient_span
from ttscale.tradeoff.frontier import Frontier, Grid, LevelFrontiers, monotone_values, prepare
from ttscale.tradeoff.frontier_curve import FrontierCurve, frontier_curve
from ttscale.tradeoff.support import Support, support_of
from ttscale.types import Point

JSON_CURVE_POINTS = 101  # the curve as written to JSON and drawn; statistics use the dense one
MIN_EXTENT_OOM = 0.05
RATE_RESOLVED = (1e-3, 1e3)  # beyond these a rate is below what log-compute data resolve
END_STRETCH_OOM = 0.5  # the rate at an end of a frontier is read over this much of its length


@dataclass(frozen=True)
class TechniqueData:
    """One technique's points in the coordinates of the analysis."""

    name: str
    points: tuple[Point, ...]
    x: np.ndarray  # log10 TC
    y: np.ndarray  # log10 IC
    perf: np.ndarray
    grid: Grid

    @property
    def support(self) -> Support:
        return self.grid.support

    def frontiers(self, perf: np.ndarray | None = None) -> LevelFrontiers:
        """The frontiers of the measured performance (or of ``perf``, a bootstrap replicate), by level."""
        if perf is None:
            return self._measured_frontiers
        return LevelFrontiers(self.grid, monotone_values(self.grid, perf))

    @cached_property
    def _measured_frontiers(self) -> LevelFrontiers:
        # Read by the technique's own analysis and again by every pair it is combined with.
        return LevelFrontiers(self.grid, monotone_values(self.grid, self.perf))


def technique_data(name: str, points: list[Point]) -> TechniqueData:
    x = np.log10([p.train_flops for p in points])
    y = np.log10([p.infer_flops for p in points])
    perf = np.array([p.performance for p in points], dtype=float)
    support = support_of(x, y)
    grid = prepare([p.model for p in points], x, y, support)
    return TechniqueData(name, tuple(points), x, y, perf, grid)


@dataclass(frozen=True)
class Truncation:
    """Which ends of the efficient span the data's edge cuts."""

    low_train: bool  # the high-IC, low-TC end (smaller models, more inference)
    high_train: bool  # the low-IC, high-TC end (more training, less inference)

    def words(self) -> str | None:
        ends = [end for end, cut in (("low-TC", self.low_train), ("high-TC", self.high_train)) if cut]
        if not ends:
            return None
        return f"truncated at the data's edge ({' and '.join(ends)} end): the true span is at least this wide"


NO_TRUNCATION = Truncation(False, False)


@dataclass(frozen=True)
class LevelResult:
    level: float
    frontier: Frontier
    curve: FrontierCurve | IsoCurve | None
    span: Span
    rate: float | None
    rate_reason: str | None
    truncation: Truncation


def _why_no_rate(data: TechniqueData, frontier: Frontier, curve, level: float, perf: np.ndarray) -> str | None:
    if frontier.n == 0:
        return f"no measured configuration reaches {level:g} (best: {float(perf.max()):.3g})"
    if frontier.n == 1 or curve is None:
        return "one configuration reaches the level with both the least TC and the least IC: nothing to trade"
    extent_train, extent_infer = float(np.ptp(frontier.x)), float(np.ptp(frontier.y))
    if extent_train < MIN_EXTENT_OOM:
        return (f"the frontier spans {extent_train:.2g} OOM of TC only: more inference does not stand in for "
                "training here (the level is reached at one training compute)")
    if extent_infer < MIN_EXTENT_OOM:
        return (f"the frontier spans {extent_infer:.2g} OOM of IC only: more training does not save "
                "inference here")
    rate = curve.median_rate
    if not RATE_RESOLVED[0] <= rate <= RATE_RESOLVED[1]:
        return f"the median rate ({rate:.2g}) is beyond what the data resolve ({RATE_RESOLVED[0]:g} to {RATE_RESOLVED[1]:g})"
    return None


def end_rates(frontier: Frontier, stretch: float = END_STRETCH_OOM) -> tuple[float, float]:
    """The rate at each end of the frontier: the secant from the end to the first point ``stretch`` OOM away.

    A secant over a stretch, not the curve's derivative at its last point: a fitted curve's slope at
    an end follows the last one or two points, and on measured data those are as noisy as any.
    """
    arc = np.concatenate([[0.0], np.cumsum(np.hypot(np.diff(frontier.x), np.diff(frontier.y)))])

    def secant(i: int, j: int) -> float:
        dx, dy = abs(frontier.x[j] - frontier.x[i]), abs(frontier.y[j] - frontier.y[i])
        return np.inf if dx == 0 else dy / dx

    far_from_start = int(np.searchsorted(arc, stretch))
    near_end = int(np.searchsorted(arc, arc[-1] - stretch, side="right")) - 1
    last = frontier.n - 1
    return secant(0, min(max(far_from_start, 1), last)), secant(max(min(near_end, last - 1), 0), last)


def _truncation(frontier: Frontier, curve, ratio: float) -> Truncation:
    if curve is None or frontier.n < 2:
        return NO_TRUNCATION
    first, last = end_rates(frontier)
    efficient = lambda rate: bool(1.0 / ratio <= rate <= ratio)  # noqa: E731
    return Truncation(bool(frontier.on_edge[0]) and efficient(first), bool(frontier.on_edge[-1]) and efficient(last))


def read_level(data: TechniqueData, frontier: Frontier, level: float, ratio: float, perf: np.ndarray | None = None,
               smoothed: IsoCurve | None = None) -> LevelResult:
    """The frontier's curve (or an accepted smoother's ``smoothed`` curve), rate and span at ``level``."""
    curve = frontier_curve(frontier)
    if smoothed is not None and curve is not None:
        curve = smoothed
    reason = _why_no_rate(data, frontier, curve, level, data.perf if perf is None else perf)
    if reason is not None:
        return LevelResult(level, frontier, curve if frontier.n >= 2 else None, Span(()), None, reason, NO_TRUNCATION)
    span = efficient_span(curve, ratio)
    return LevelResult(level, frontier, curve, span, float(curve.median_rate), None,
                       _truncation(frontier, curve, ratio))


def curve_pairs(x, y) -> list[list[float]]:
    """[[TC, IC], ...] in FLOPs from log10 coordinates (the JSON's curves and frontiers)."""
    return [[float(10.0**a), float(10.0**b)] for a, b in zip(x, y)]


def finite_or_none(values) -> list[float | None]:
    """Rates for the JSON: a value that is not finite is written as null."""
    return [float(v) if np.isfinite(v) else None for v in values]


def level_dict(result: LevelResult) -> dict:
    """The JSON of one level, without bootstrap intervals (analysis.py adds them)."""
    curve = result.curve
    shown = curve.thinned(JSON_CURVE_POINTS) if curve is not None else None
    frontier = result.frontier
    return {
        "level": result.level,
        "exchange_rate": result.rate,
        "exchange_rate_reason": result.rate_reason,
        "exchange_rate_ci": None,
        # The rate at the low-TC end of the frontier's curve and at its high-TC end (only where measured).
        "exchange_rate_range": None if result.rate is None else [float(curve.rate[0]), float(curve.rate[-1])],
        "span_oom_train": result.span.oom_train,
        "span_oom_infer": result.span.oom_infer,
        "span_oom_train_ci": None,
        "span_oom_infer_ci": None,
        "span_endpoints": result.span.endpoints(),
        "span_truncated": {"low_train": result.truncation.low_train, "high_train": result.truncation.high_train},
        "span_note": result.truncation.words(),
        "scale_log10_train_flops": None if curve is None else curve.scale_log10_train,
        "frontier": {
            "points": curve_pairs(frontier.x, frontier.y),
            "on_data_edge": [bool(v) for v in frontier.on_edge],
        },
        "curve": [] if shown is None else curve_pairs(shown.x, shown.y),
        "exchange_rate_along_curve": [] if shown is None else finite_or_none(shown.rate),
    }
