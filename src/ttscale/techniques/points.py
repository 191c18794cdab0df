"""A point with what produced it (for reports, CSV export and the bootstrap over problems)."""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Mapping
from dataclasses import dataclass, field

from ttscale.strategies import StrategyResult
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
    infer_bytes: float = math.nan  # weight bytes read per problem (Pool.inference_bytes); NaN: not counted
    settings: Mapping[str, float] = field(default_factory=dict)
    notes: Mapping[str, float] = field(default_factory=dict)
    # What the point scored on each problem (ids aligned): the tradeoff's bootstrap over problems.
    problem_ids: tuple[str, ...] = ()
    problem_scores: tuple[float, ...] = ()

    def cost(self, cost: str) -> float:
        """This point's inference cost per problem in ``cost`` (tradeoff/costs.py): FLOPs, bytes or seconds."""
        return {"flops": self.point.infer_flops, "bytes": self.infer_bytes, "seconds": self.infer_seconds}[cost]

    def in_cost(self, cost: str) -> "PointDetail":
        """The same point with its IC counted in ``cost`` (what the engine reads as IC)."""
        return dataclasses.replace(self, point=dataclasses.replace(self.point, infer_flops=self.cost(cost)))


def point_detail(technique: str, model: str, train_flops: float, result: StrategyResult, *, task: str,
                 strategy: str, notes: Mapping[str, float], problem_ids: tuple[str, ...], scores) -> PointDetail:
    """The point a strategy's summarised result puts on the map, with what produced it."""
    point = Point(technique=technique, model=model, train_flops=train_flops, infer_flops=result.infer_flops,
                  performance=result.performance, ci_low=result.ci_low, ci_high=result.ci_high,
                  budget=result.strategy)
    return PointDetail(point=point, task=task, strategy=strategy, k=result.k, infer_seconds=result.infer_seconds,
                       infer_bytes=result.infer_bytes, mean_draws=result.mean_draws, settings=result.settings, notes=notes,
                       problem_ids=problem_ids, problem_scores=tuple(float(v) for v in scores))
