"""The frontier of one technique at one performance level, read off the data.

This is how the published analyses draw iso-performance curves (Jones 2021 for
Hex, Epoch 2023 for their summary table): for a level P, every measured series
contributes the least compute at which it reaches P, and what is dominated is
dropped. Here, in (x, y) = (log10 TC, log10 IC):

1. **Monotone series.** A model's points (one TC, several IC: k = 1, 2, 4 ...)
   form a series along IC; points of one IC (within ``SERIES_TOLERANCE_OOM``)
   form a series along TC (Chinchilla's fixed-size runs at several token
   counts). Performance along a series is made non-decreasing by isotonic
   regression (spending more of one compute is never worse: a strategy could
   stop early), so each series reaches P at most once.
2. **Candidates.** Every point that reaches P (its cost is an upper bound on
   the least cost), every first crossing of P along a series (linear
   interpolation of the performance scale in log compute between neighbouring
   budgets), and every crossing of P on the edges of a Delaunay triangulation
   of all the points (the piecewise-linear interpolant over the plane, which
   fills in between series: its contour at P passes between a model that
   reaches P and one that does not, also where no series does).
3. **Non-dominated.** A candidate is dropped when another one reaches P with no
   more TC and no more IC. What is left is sorted by TC: TC rises and IC falls
   along it.

Interpolation is on the logit of performance (clipped to
[``CLIP``, 1 - ``CLIP``]): pass rates and accuracies move linearly in logit per
OOM of compute over wide ranges, so the crossing between two budgets is where
the measured trend puts it; a linear scale would bend every crossing towards
the budget nearer 0.5. Loss-like performances (exp(-loss)) are equally well
served: logit and log agree below 0.2.

The data's edge is the convex hull of the points: a frontier point on the
hull's boundary is where the data stop, not the technique (flagged).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy.interpolate import PchipInterpolator
from scipy.optimize import isotonic_regression
from scipy.spatial import Delaunay, QhullError

from ttscale.tradeoff.support import Support

SERIES_TOLERANCE_OOM = 0.002  # points whose IC (or TC) agree this closely share a series
CLIP = 1e-3  # performance clipped to [CLIP, 1 - CLIP] before the logit


def logit_scale(perf: np.ndarray) -> np.ndarray:
    p = np.clip(np.asarray(perf, dtype=float), CLIP, 1.0 - CLIP)
    return np.log(p) - np.log1p(-p)


def level_value(level: float) -> float:
    return float(logit_scale(np.array([level]))[0])


@dataclass(frozen=True)
class Grid:
    """One technique's points prepared for frontiers: coordinates, series, triangulation.

    Series are index arrays: ``series_model`` one model's budgets (sorted by IC),
    ``series_ic`` other points of one TC (sorted by IC), ``series_tc`` points of
    one IC (sorted by TC).
    """

    x: np.ndarray  # log10 TC
    y: np.ndarray  # log10 IC
    series_model: tuple[np.ndarray, ...]
    series_ic: tuple[np.ndarray, ...]
    series_tc: tuple[np.ndarray, ...]
    triangles: np.ndarray  # (m, 3) indices; only for points without series (else empty)
    boundary: np.ndarray  # (m, 2) index pairs: neighbours along the convex hull's boundary
    support: Support


def _clusters(values: np.ndarray, tolerance: float) -> list[np.ndarray]:
    """Groups of indices whose values chain within ``tolerance`` of each other."""
    order = np.argsort(values, kind="stable")
    groups, current = [], [order[0]] if len(order) else []
    for a, b in zip(order, order[1:]):
        if values[b] - values[a] <= tolerance:
            current.append(b)
        else:
            groups.append(np.array(current))
            current = [b]
    if current:
        groups.append(np.array(current))
    return groups


def _sorted_series(groups: list[np.ndarray], along: np.ndarray) -> tuple[np.ndarray, ...]:
    return tuple(
        index[np.argsort(along[index], kind="stable")]
        for index in groups
        if len(index) >= 2 and np.ptp(along[index]) > SERIES_TOLERANCE_OOM
    )


def _triangulate(x: np.ndarray, y: np.ndarray) -> np.ndarray:
    pts = np.column_stack([x, y])
    if len(np.unique(pts, axis=0)) < 3:
        return np.zeros((0, 3), dtype=int)
    try:
        return Delaunay(pts, qhull_options="QJ").simplices  # QJ: duplicates and grids triangulate
    except (QhullError, ValueError):
        return np.zeros((0, 3), dtype=int)


def _boundary_pairs(x: np.ndarray, y: np.ndarray, support: Support) -> np.ndarray:
    """Consecutive points around the hull's boundary (every point on it, not only the corners)."""
    if support.degenerate:
        return np.zeros((0, 2), dtype=int)
    on = np.flatnonzero(support.on_boundary(x, y))
    centre = support.vertices.mean(axis=0)
    ring = on[np.lexsort((y[on], x[on], np.arctan2(y[on] - centre[1], x[on] - centre[0])))]
    if len(ring) < 2:
        return np.zeros((0, 2), dtype=int)
    return np.column_stack([ring, np.roll(ring, -1)])


def prepare(models: list[str], x: np.ndarray, y: np.ndarray, support: Support) -> Grid:
    """Series, the boundary, and (for points that form no series) a triangulation."""
    by_model: dict[str, list[int]] = {}
    for i, model in enumerate(models):
        by_model.setdefault(model, []).append(i)
    model_groups = [np.array(indices) for indices in by_model.values()]
    known = {tuple(sorted(g)) for g in model_groups}
    tc_groups = [g for g in _clusters(x, SERIES_TOLERANCE_OOM) if tuple(sorted(g)) not in known]
    series_model = _sorted_series(model_groups, y)
    series_ic = _sorted_series(tc_groups, y)
    series_tc = _sorted_series(_clusters(y, SERIES_TOLERANCE_OOM), x)
    # Series are interpolated along themselves (to third order); the piecewise-linear
    # triangulation would only add kinks between them. Points that form no series at
    # all (one configuration per model) have nothing else to interpolate with.
    has_series = bool(series_model or series_ic or series_tc)
    tri = np.zeros((0, 3), dtype=int) if has_series else _triangulate(x, y)
    return Grid(x, y, series_model, series_ic, series_tc, tri, _boundary_pairs(x, y, support), support)


def monotone_values(grid: Grid, perf: np.ndarray) -> np.ndarray:
    """Logit performance; along each model's own budgets made non-decreasing (isotonic regression)."""
    values = logit_scale(perf)
    for index in grid.series_model:
        values[index] = isotonic_regression(values[index], increasing=True).x
    return values


@dataclass(frozen=True)
class Frontier:
    """The non-dominated points that reach a level, sorted by TC (IC falls along it)."""

    x: np.ndarray
    y: np.ndarray
    on_edge: np.ndarray  # bool: on the boundary of the data's convex hull

    @property
    def n(self) -> int:
        return len(self.x)


def _crossings(a: np.ndarray, b: np.ndarray, va: np.ndarray, vb: np.ndarray, target: float, x, y):
    """Points on segments a-b where the value crosses target (a below, b at or above, or vice versa)."""
    below_a, below_b = va < target, vb < target
    cross = below_a != below_b
    a, b, va, vb = a[cross], b[cross], va[cross], vb[cross]
    with np.errstate(divide="ignore", invalid="ignore"):
        f = np.where(vb != va, (target - va) / (vb - va), 0.5)
    f = np.clip(f, 0.0, 1.0)
    return x[a] + f * (x[b] - x[a]), y[a] + f * (y[b] - y[a])


@dataclass
class _Series:
    """One series ready for crossings: its own coordinate (sorted, unique), values, and the other axis."""

    along: np.ndarray  # the series' coordinate (log IC for a model's budgets, log TC for fixed-IC runs)
    values: np.ndarray
    positions: np.ndarray  # the original coordinates, for mapping a crossing to the other axis
    others: np.ndarray
    along_ic: bool
    _pchip: PchipInterpolator | None = None

    def crossings(self, target: float) -> tuple[np.ndarray, np.ndarray]:
        """(x, y) where the series' monotone cubic (PCHIP) interpolant crosses the target.

        PCHIP is the shape-preserving interpolant: between two budgets it stays between their
        values, and it follows the series' curvature (a scaling law bends in log compute), so a
        crossing is exact to third order in the spacing instead of the first order of a straight
        line between neighbours.
        """
        empty = (np.zeros(0), np.zeros(0))
        if len(self.along) < 2 or not self.values.min() < target <= self.values.max():
            return empty
        if len(self.along) == 2:
            (u0, u1), (v0, v1) = self.along, self.values
            roots = np.array([u0 + (target - v0) / (v1 - v0) * (u1 - u0)])
        else:
            if self._pchip is None:  # built once, solved for every level that crosses it
                self._pchip = PchipInterpolator(self.along, self.values)
            roots = self._pchip.solve(target, extrapolate=False)
            roots = np.asarray(roots[np.isfinite(roots)], dtype=float)
        other = np.interp(roots, self.positions, self.others)
        return (other, roots) if self.along_ic else (roots, other)


def _prepared(position: np.ndarray, values: np.ndarray, other: np.ndarray, along_ic: bool) -> _Series:
    u, inverse = np.unique(np.round(position, 12), return_inverse=True)
    v = np.bincount(inverse, weights=values) / np.bincount(inverse)
    return _Series(u, v, position, other, along_ic)


class LevelFrontiers:
    """The frontiers of one technique's values, level by level (series prepared once for all levels)."""

    def __init__(self, grid: Grid, values: np.ndarray):
        self.grid = grid
        self.values = values
        self.series = [_prepared(grid.y[i], values[i], grid.x[i], True) for i in grid.series_model + grid.series_ic]
        self.series += [_prepared(grid.x[i], values[i], grid.y[i], False) for i in grid.series_tc]

    def candidates(self, target: float) -> tuple[np.ndarray, np.ndarray]:
        """Every (x, y) known to reach the target (see the module docstring)."""
        grid, values = self.grid, self.values
        xs, ys = [grid.x[values >= target]], [grid.y[values >= target]]
        for series in self.series:
            cx, cy = series.crossings(target)
            xs.append(cx)
            ys.append(cy)
        # Along the data's edge: how far the frontier reaches before the data stop.
        a, b = grid.boundary[:, 0], grid.boundary[:, 1]
        cx, cy = _crossings(a, b, values[a], values[b], target, grid.x, grid.y)
        xs.append(cx)
        ys.append(cy)
        if len(grid.triangles):
            tri = grid.triangles
            edges = np.concatenate([tri[:, [0, 1]], tri[:, [1, 2]], tri[:, [2, 0]]])
            cx, cy = _crossings(edges[:, 0], edges[:, 1], values[edges[:, 0]], values[edges[:, 1]], target,
                                grid.x, grid.y)
            xs.append(cx)
            ys.append(cy)
            # The contour inside a triangle is the straight segment between its two edge crossings;
            # its midpoint can survive where both ends are dominated by different points.
            mids = _segment_midpoints(tri, values, target, grid.x, grid.y)
            xs.append(mids[0])
            ys.append(mids[1])
        return np.concatenate(xs), np.concatenate(ys)

    def at(self, level: float) -> Frontier:
        """The frontier at ``level`` (a performance fraction)."""
        cx, cy = self.candidates(level_value(level))
        keep = non_dominated(cx, cy)
        fx, fy = cx[keep], cy[keep]
        return Frontier(fx, fy, self.grid.support.on_boundary(fx, fy))


def _segment_midpoints(tri: np.ndarray, values: np.ndarray, target: float, x, y):
    mx, my = [], []
    for edge_pairs in (((0, 1), (1, 2)), ((1, 2), (2, 0)), ((2, 0), (0, 1))):
        (i, j), (k, m) = edge_pairs
        a1, b1, a2, b2 = tri[:, i], tri[:, j], tri[:, k], tri[:, m]
        c1 = (values[a1] < target) != (values[b1] < target)
        c2 = (values[a2] < target) != (values[b2] < target)
        both = c1 & c2
        if not both.any():
            continue
        x1, y1 = _crossings(a1[both], b1[both], values[a1[both]], values[b1[both]], target, x, y)
        x2, y2 = _crossings(a2[both], b2[both], values[a2[both]], values[b2[both]], target, x, y)
        mx.append((x1 + x2) / 2)
        my.append((y1 + y2) / 2)
    if not mx:
        return np.zeros(0), np.zeros(0)
    return np.concatenate(mx), np.concatenate(my)


def non_dominated(x: np.ndarray, y: np.ndarray, tolerance: float = 1e-9) -> np.ndarray:
    """Indices of the points no other point beats in both TC and IC, sorted by TC."""
    if len(x) == 0:
        return np.zeros(0, dtype=int)
    order = np.lexsort((y, x))
    keep, best_y = [], np.inf
    for i in order:
        if y[i] < best_y - tolerance:
            keep.append(i)
            best_y = y[i]
    return np.array(keep, dtype=int)
