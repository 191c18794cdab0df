"""Techniques turn stored pools into tradeoff points.

A technique is a set of *arms*: (task, strategy, settings). Every model (or
group of models, for multi-model strategies) that was swept on an arm's task
contributes one point per setting: its training compute from the model cards
(summed over the group, plus any compute the strategy spent before deployment,
such as training a learned verifier), its expected inference compute per
problem from the replay, its performance with a bootstrap CI. For example
"repeated sampling, cheap verification" is one arm (factoring, first-verified,
k = 1..N), and "chain of thought" is two arms at k = 1 (the direct and the
scratchpad form of the same problems), so its points differ only in the
inference they spend.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Mapping, Sequence

from ttscale.sampling.pools import Pool, common_pool_size
from ttscale.strategies import REPLAY, STRATEGIES, Strategy, StrategyResult, check_mode, settings_of, summarize
from ttscale.techniques.points import PointDetail, point_detail
from ttscale.types import ModelCard

PoolCells = Mapping[tuple[str, str, str], list[Pool]]


@dataclass(frozen=True)
class Arm:
    task: str
    strategy: str
    settings: tuple[Mapping[str, float], ...]
    # Explicit model groups for multi-model strategies; None = the default groups.
    groups: tuple[tuple[str, ...], ...] | None = None

    @classmethod
    def uniform(cls, task: str, strategy: str, ks: Sequence[int]) -> "Arm":
        return cls(task, strategy, tuple({"k": k} for k in ks))


@dataclass(frozen=True)
class TechniqueSpec:
    name: str
    arms: tuple[Arm, ...]
    description: str = ""
    # The models it reads. None: the plan's own models; a compression variant is read only by the
    # techniques that name it (a quantized model must not join the majority-vote row's frontier).
    models: tuple[str, ...] | None = None


def budgets_up_to(n: int) -> tuple[int, ...]:
    """Powers of two up to n, plus n itself."""
    ks, k = [], 1
    while k < n:
        ks.append(k)
        k *= 2
    ks.append(n)
    return tuple(ks)


def default_groups(strategy: Strategy, models: Sequence[str], cards: Mapping[str, ModelCard]) -> list[tuple[str, ...]]:
    """Which models a strategy runs on when the arm names none.

    Single-model strategies: each model. Multi-model strategies pair models of
    different *size* (non-embedding parameters, which set the cost per sample),
    each size represented by its best-trained model (most training compute):
    a cascade from a model to one as large is no cascade. Two models (small,
    large): consecutive sizes, and every size with the largest. Any number:
    consecutive sizes, and all sizes together.
    """
    if strategy.traits.n_models == 1:
        return [(m,) for m in sorted(models)]
    best: dict[int, str] = {}
    for m in sorted(models):
        size = int(cards[m].params_non_embedding)
        if size not in best or float(cards[m].train_flops or 0) > float(cards[best[size]].train_flops or 0):
            best[size] = m
    ordered = [best[size] for size in sorted(best)]
    pairs = list(zip(ordered, ordered[1:]))
    if strategy.traits.n_models == 2:
        return list(dict.fromkeys(pairs + [(m, ordered[-1]) for m in ordered[:-1]]))
    return list(dict.fromkeys(pairs + ([tuple(ordered)] if len(ordered) > 2 else [])))


def _cells_by_model(pools: PoolCells, task: str) -> dict[str, list[Pool]]:
    return {model: cell for (model, t, _config), cell in sorted(pools.items()) if t == task}


def technique_points(
    spec: TechniqueSpec,
    pools: PoolCells,
    cards: Mapping[str, ModelCard],
    n_boot: int = 500,
    seed: int = 0,
    calibration: PoolCells | None = None,
) -> list[PointDetail]:
    details: list[PointDetail] = []
    for arm in spec.arms:
        strategy = STRATEGIES.get(arm.strategy)
        check_mode(strategy, REPLAY)
        by_model = {m: c for m, c in _cells_by_model(pools, arm.task).items() if m in cards}
        calib_by_model = _cells_by_model(calibration, arm.task) if calibration else {}
        groups = arm.groups if arm.groups is not None else default_groups(strategy, list(by_model), cards)
        for group in groups:
            if not all(m in by_model for m in group):
                continue
            cells = [by_model[m] for m in group]
            n = min(common_pool_size(c) for c in cells)
            for given in arm.settings:
                if "k" in given and int(given["k"]) > n:
                    continue
                settings = settings_of(strategy, given)
                calib = None
                if strategy.needs_calibration(settings):
                    # Skipped without calibration pools for every model of the group.
                    calib = [calib_by_model.get(m) for m in group]
                    if not all(calib):
                        continue
                evaluation = strategy.replay(cells, settings, calib, seed)
                result = summarize(strategy.name, settings, evaluation, n_boot=n_boot, seed=seed)
                ids = tuple(pool.problem_id for pool in cells[0])
                details.append(_detail(spec.name, arm, group, cards, result, ids, evaluation.performance))
    return details


def _detail(technique: str, arm: Arm, group: tuple[str, ...], cards, result: StrategyResult,
            problem_ids: tuple[str, ...], scores) -> PointDetail:
    train = sum(float(cards[m].train_flops) for m in group) + result.extra_train_flops
    return point_detail(technique, "+".join(group), train, result, task=arm.task, strategy=arm.strategy,
                        notes=result.notes, problem_ids=problem_ids, scores=scores)
