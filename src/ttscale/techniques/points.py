"""A point with what produced it (for reports, CSV export and the bootstrap over problems)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

from ttscale.types import Point


@dataclass(frozen=True)
class PointDetail:
    """A point plus what produced it."""

    point: Point
    task: str
    strategy: str
    k: int
    infer_seconds: float
    mean_draws: float
    settings: Mapping[str, float] = field(default_factory=dict)
    notes: Mapping[str, float] = field(default_factory=dict)
    # What the point scored on each problem (ids aligned): the tradeoff's bootstrap over problems.
    problem_ids: tuple[str, ...] = ()
    problem_scores: tuple[float, ...] = ()
