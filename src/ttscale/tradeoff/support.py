"""Where the data support the fit: the convex hull of a technique's points.

Iso-curves and planner configurations are kept inside the convex hull of the
measured (log10 TC, log10 IC) points, not their bounding box: measured grids
are usually sheared (IC grows with model size, so "a big model at a tiny IC"
is often a corner nobody measured), and a bounding box would count that
corner as supported. A hull is the tightest convex set that contains the
points; inside it the surface interpolates, outside it extrapolates.

A small tolerance (``TOLERANCE_OOM``) keeps points on the hull's edges inside
despite rounding. When the points are collinear (e.g. IC tied to TC by model
size, with nothing else varied) the hull has no area: the data support no
two-dimensional question, and ``contains`` is true only on that segment.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy.spatial import ConvexHull, QhullError

TOLERANCE_OOM = 1e-6


@dataclass(frozen=True)
class Support:
    """The convex hull as half-planes ``normal . (x, y) + offset <= 0``, plus the bounding box."""

    normals: np.ndarray  # (m, 2)
    offsets: np.ndarray  # (m,)
    vertices: np.ndarray  # (v, 2) in order around the hull (log10 TC, log10 IC)
    x_range: tuple[float, float]
    y_range: tuple[float, float]
    degenerate: bool

    def contains(self, x, y) -> np.ndarray:
        x = np.asarray(x, dtype=float)
        y = np.asarray(y, dtype=float)
        if self.degenerate:
            return self._on_segment(x, y)
        values = np.multiply.outer(x, self.normals[:, 0]) + np.multiply.outer(y, self.normals[:, 1]) + self.offsets
        return np.all(values <= TOLERANCE_OOM, axis=-1)

    def on_boundary(self, x, y, tolerance: float = TOLERANCE_OOM) -> np.ndarray:
        """True where (x, y) lies within ``tolerance`` OOM of the hull's boundary (or outside it)."""
        x = np.asarray(x, dtype=float)
        y = np.asarray(y, dtype=float)
        if self.degenerate:
            return np.ones(np.broadcast(x, y).shape, dtype=bool)
        values = np.multiply.outer(x, self.normals[:, 0]) + np.multiply.outer(y, self.normals[:, 1]) + self.offsets
        return np.max(values, axis=-1) >= -tolerance

    def _on_segment(self, x, y) -> np.ndarray:
        start, end = self.vertices[0], self.vertices[-1]
        direction = end - start
        length2 = float(direction @ direction)
        if length2 == 0.0:
            return (np.abs(x - start[0]) <= TOLERANCE_OOM) & (np.abs(y - start[1]) <= TOLERANCE_OOM)
        t = np.clip(((x - start[0]) * direction[0] + (y - start[1]) * direction[1]) / length2, 0.0, 1.0)
        distance = np.hypot(x - start[0] - t * direction[0], y - start[1] - t * direction[1])
        return distance <= 1e-3  # a segment: allow a thousandth of an OOM

    def to_dict(self) -> dict:
        return {
            "method": "convex hull of the points in (log10 TC, log10 IC)",
            "degenerate": self.degenerate,
            "log10_train_flops_range": list(self.x_range),
            "log10_infer_flops_range": list(self.y_range),
            "hull_vertices_log10": self.vertices.tolist(),
        }


def support_of(x, y) -> Support:
    """The convex hull of the points (x, y) = (log10 TC, log10 IC)."""
    pts = np.unique(np.column_stack([np.asarray(x, dtype=float), np.asarray(y, dtype=float)]), axis=0)
    x_range = (float(pts[:, 0].min()), float(pts[:, 0].max()))
    y_range = (float(pts[:, 1].min()), float(pts[:, 1].max()))
    try:
        if len(pts) < 3:
            raise QhullError("fewer than 3 distinct points")
        hull = ConvexHull(pts)
    except (QhullError, ValueError):
        # Collinear: keep the two extreme points along the main direction.
        centred = pts - pts.mean(axis=0)
        direction = np.linalg.svd(centred, full_matrices=False)[2][0] if len(pts) > 1 else np.array([1.0, 0.0])
        order = np.argsort(centred @ direction)
        ends = pts[[order[0], order[-1]]]
        return Support(np.zeros((0, 2)), np.zeros(0), ends, x_range, y_range, degenerate=True)
    return Support(
        normals=hull.equations[:, :2].copy(),
        offsets=hull.equations[:, 2].copy(),
        vertices=pts[hull.vertices],
        x_range=x_range,
        y_range=y_range,
        degenerate=False,
    )
