"""Techniques turn stored pools into tradeoff points.

A technique is a set of *arms*: (task, strategy, budgets). Every model that was
swept on an arm's task contributes one point per budget: its training compute
from the model card, its expected inference compute per problem from the pool
replay, its performance with a bootstrap CI. For example "repeated sampling,
cheap verification" is one arm (factoring, first-verified, k = 1..N), and
"chain of thought" is two arms at k = 1 (the direct and the scratchpad form of
the same problems), so its points differ only in the inference they spend.
"""

from __future__ import annotations

from dataclasses import dataclass

from ttscale.pools import Pool, common_pool_size
from ttscale.strategies import replay
from ttscale.types import ModelCard, Point


@dataclass(frozen=True)
class Arm:
    task: str
    strategy: str
    ks: tuple[int, ...]


@dataclass(frozen=True)
class TechniqueSpec:
    name: str
    arms: tuple[Arm, ...]
    description: str = ""


@dataclass(frozen=True)
class PointDetail:
    """A point plus what produced it (for reports and CSV export)."""

    point: Point
    task: str
    strategy: str
    k: int
    infer_seconds: float
    mean_draws: float


def budgets_up_to(n: int) -> tuple[int, ...]:
    """Powers of two up to n, plus n itself."""
    ks, k = [], 1
    while k < n:
        ks.append(k)
        k *= 2
    ks.append(n)
    return tuple(ks)


def technique_points(
    spec: TechniqueSpec,
    pools: dict[tuple[str, str, str], list[Pool]],
    cards: dict[str, ModelCard],
    n_boot: int = 500,
    seed: int = 0,
) -> list[PointDetail]:
    details: list[PointDetail] = []
    for arm in spec.arms:
        for (model, task, _config), cell in sorted(pools.items()):
            if task != arm.task or model not in cards:
                continue
            n = common_pool_size(cell)
            for k in arm.ks:
                if k > n:
                    continue
                result = replay(arm.strategy, cell, k, n_boot=n_boot, seed=seed)
                card = cards[model]
                details.append(
                    PointDetail(
                        point=Point(
                            technique=spec.name,
                            model=model,
                            train_flops=float(card.train_flops),
                            infer_flops=result.infer_flops,
                            performance=result.performance,
                            ci_low=result.ci_low,
                            ci_high=result.ci_high,
                            budget=f"{arm.strategy}@{k}",
                        ),
                        task=task,
                        strategy=arm.strategy,
                        k=k,
                        infer_seconds=result.infer_seconds,
                        mean_draws=result.mean_draws,
                    )
                )
    return details
