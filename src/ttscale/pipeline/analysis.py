"""A plan's stored samples -> points of every technique -> the tradeoff between the models.

Scored on the plan's first split; the calibration splits go only to strategies
that choose something there (cascades). Training compute comes from each
model's card: a model without one keeps its curves but is left out of the
tradeoff and of multi-model strategies; with fewer than two distinct training
computes there is nothing to trade, and the result says so. A problem of a task
with a verifier that has no verifier of its own (a JSONL line without one, a
HumanEval prompt without examples) accepts its first sample under
first-verified: what a deployment would do with no check at hand.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np

from ttscale import tradeoff
from ttscale.pipeline.plan import Plan, Split
from ttscale.progress import AddStep
from ttscale.sampling.pools import Pool, pools_from_samples, with_weight_bytes
from ttscale.store import Store
from ttscale.strategies import STRATEGIES, settings_of
from ttscale.techniques import PointDetail, technique_points
from ttscale.tradeoff import SCHEMA_VERSION
from ttscale.tradeoff.costs import COSTS, usable_cost
from ttscale.tradeoff.uncertainty import problem_scores_of
from ttscale.types import ModelCard

PoolCells = Mapping[tuple[str, str, str], list[Pool]]


@dataclass(frozen=True)
class Analysis:
    details: tuple[PointDetail, ...]  # every point, models without a training compute included
    tradeoff_details: tuple[PointDetail, ...]  # the points with a known training compute
    result: dict  # the tradeoff engine's JSON
    distinct_train_flops: int
    notes: tuple[str, ...]
    pools: PoolCells  # the scored split's pools
    errors: int  # samples that failed in the backend (stored as errors, retried by the next run)

    @property
    def nothing_to_trade(self) -> bool:
        return self.distinct_train_flops < 2


def known_train_flops(card: ModelCard) -> bool:
    return card.train_flops is not None and math.isfinite(card.train_flops) and card.train_flops > 0


def split_pools(store: Store, plan: Plan, split: Split) -> tuple[dict, int]:
    """The pools of the plan's models and problems on one split (a store may hold more), and how many of
    their samples are stored as errors."""
    wanted = {t.task.name: {p.problem_id for p in t.problems} for t in split.tasks}
    samples, errors = [], 0
    for entry in plan.models:
        for task, ids in wanted.items():
            kept = store.samples(split.run, entry.name, task, plan.sampling.key)
            samples += [s for s in kept if s.key.problem_id in ids]
            failed = store.samples(split.run, entry.name, task, plan.sampling.key, status="error")
            errors += sum(s.key.problem_id in ids for s in failed)
    return pools_from_samples(samples), errors


def accept_first_without_verifier(pools: PoolCells, verified_tasks: set[str]) -> tuple[dict, set[str]]:
    """Pools of a verifier task whose problem has no verifier get one that accepts every sample."""
    filled, unverifiable = {}, set()
    for cell, cell_pools in pools.items():
        fixed = []
        for pool in cell_pools:
            if pool.verified is None and pool.task in verified_tasks:
                pool = dataclasses.replace(pool, verified=np.ones(pool.n, dtype=bool))
                unverifiable.add(pool.problem_id)
            fixed.append(pool)
        filled[cell] = fixed
    return filled, unverifiable


def empty_result(n_boot: int, seed: int, cost: str = "flops") -> dict:
    """The engine's JSON shape with no technique: no model has a known training compute."""
    return {"schema_version": SCHEMA_VERSION, "cost": cost, "cost_words": COSTS[cost], "ratio": 6.0, "levels": [], "levels_chosen": "automatic",
            "extrapolate": False, "smoother": None, "n_boot": n_boot, "seed": seed,
            "uncertainty": {"method": "none", "words": "no points with a known training compute"},
            "techniques": {}, "combinations": []}


def _bytes_tradeoff(details: Sequence[PointDetail], plan: Plan, levels: list[float] | None,
                    notes: list[str]) -> dict:
    """The same tradeoff with IC counted in weight bytes read (tradeoff/costs.py). Points whose bytes were not
    counted (live searches; models whose card gives no bits per weight) are left out, and a note says which."""
    counted = [d.in_cost("bytes") for d in details if usable_cost(d.infer_bytes)]
    missing = sorted({d.point.technique for d in details if not usable_cost(d.infer_bytes)})
    if missing:
        notes.append("in bytes: no weight bytes counted for " + ", ".join(missing)
                     + " (live searches count FLOPs and seconds; a card without bits per weight counts none)")
    if not counted:
        return empty_result(plan.n_boot, plan.seed, "bytes")
    return tradeoff.analyse([d.point for d in counted], levels=levels, n_boot=plan.n_boot, seed=plan.seed,
                            problem_scores=problem_scores_of(counted), cost="bytes")


def analyse_plan(plan: Plan, store: Store, searched: Sequence[PointDetail],
                 add_step: AddStep | None = None) -> Analysis:
    """Pools from the store -> every technique's points -> the tradeoff. ``add_step`` reports progress
    (a line per stage in a log): one tick per technique replayed, then the tradeoff's own."""
    notes: list[str] = []
    cards = {entry.name: entry.card for entry in plan.models}
    pools, errors = split_pools(store, plan, plan.scored)
    pools = with_weight_bytes(pools, cards)
    verified_tasks = {t.task.name for t in plan.scored.tasks if t.task.has_verifier}
    pools, unverifiable = accept_first_without_verifier(pools, verified_tasks)
    if unverifiable:
        notes.append(f"{len(unverifiable)} problem(s) have no verifier: under first-verified they accept their "
                     "first sample")
    calibration: dict = {}
    for split in plan.calibration:
        calibration.update(with_weight_bytes(split_pools(store, plan, split)[0], cards))
    known = {m: c for m, c in cards.items() if known_train_flops(c)}
    for name in sorted(set(cards) - set(known)):
        notes.append(f"model {name!r}: its card has no train_flops; its curves are shown, "
                     "but it is left out of the tradeoff and of multi-model strategies")
    # NaN training compute lets a model without one keep its curves; it never reaches the tradeoff.
    all_cards = {m: c if m in known else dataclasses.replace(c, train_flops=math.nan) for m, c in cards.items()}
    details: list[PointDetail] = [
        d if d.point.model in known else dataclasses.replace(d, point=dataclasses.replace(d.point, train_flops=math.nan))
        for d in searched
    ]
    advance = add_step("replay techniques", len(plan.techniques)) if add_step else (lambda n: None)
    for spec in plan.techniques:
        strategy = STRATEGIES.get(spec.arms[0].strategy)
        needs = all(strategy.needs_calibration(settings_of(strategy, given)) for arm in spec.arms
                    for given in arm.settings)
        single = strategy.traits.n_models == 1
        if needs and not calibration:
            notes.append(f"{spec.name}: chooses its threshold on a calibration split, which this run does not "
                         "sample; skipped (give a fixed threshold, e.g. cascade:threshold=0.75)")
        else:
            reads = set(spec.models if spec.models is not None else plan.own_models)
            usable = {m: c for m, c in (all_cards if single else known).items() if m in reads}
            found = technique_points(spec, pools, usable, n_boot=plan.n_boot,
                                     seed=plan.seed, calibration=calibration or None)
            if not found and not single:
                notes.append(f"{spec.name}: needs at least 2 models with a known training compute; skipped")
            details.extend(found)
        advance(1)
    tradeoff_details = [d for d in details if math.isfinite(d.point.train_flops)]
    distinct = len({d.point.train_flops for d in tradeoff_details})
    if distinct < 2:
        notes.append(f"nothing to trade: the models with a known training compute span {distinct} distinct "
                     "value(s); the tradeoff needs at least 2, so only the curves are reported")
    levels = list(plan.levels) if plan.levels is not None else None
    result = (tradeoff.analyse([d.point for d in tradeoff_details], levels=levels, n_boot=plan.n_boot,
                               seed=plan.seed, problem_scores=problem_scores_of(tradeoff_details), add_step=add_step)
              if tradeoff_details else empty_result(plan.n_boot, plan.seed))
    if tradeoff_details:
        result["by_cost"] = {"bytes": _bytes_tradeoff(tradeoff_details, plan, levels, notes)}
    if errors:
        notes.append(f"{errors} sample(s) failed in the backend (stored as errors, left out of every estimate); "
                     "run the same command again to retry them")
    return Analysis(tuple(details), tuple(tradeoff_details), result, distinct, tuple(notes), pools, errors)
