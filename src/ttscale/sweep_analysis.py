"""A sweep's pools -> per-model curves -> the tradeoff between models.

Built-in curves for every model, at every budget k (all k up to 16, then powers
of two and n): pass@k (an oracle bound: solved if any of k samples is right),
maj@k, best-of-n by mean log-probability, and first-verified@k when the task
has a verifier. A problem without a verifier of its own (a JSONL line without
``verifier``, a HumanEval prompt without examples) accepts its first sample
under first-verified: that is what a deployment would do with no check at
hand. Every ``--strategy`` spec is one more technique, at its given settings.

Training compute comes from each model's card (``train_flops``). A model whose
card has none keeps its curves but is left out of the tradeoff and of
multi-model strategies (which order models by training compute). With fewer
than two distinct training computes there is nothing to trade: the result
says so, and only the curves are reported.
"""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass
from typing import Mapping, Sequence

import numpy as np

from ttscale import tradeoff
from ttscale.sampling.pools import Pool
from ttscale.strategies import STRATEGIES, resolve, settings_of, spec_of
from ttscale.techniques import Arm, PointDetail, TechniqueSpec, budgets_up_to, technique_points
from ttscale.tradeoff import SCHEMA_VERSION
from ttscale.tradeoff.uncertainty import problem_scores_of
from ttscale.types import ModelCard

PoolCells = Mapping[tuple[str, str, str], list[Pool]]

BUILTIN = (
    ("pass@k (oracle)", "pass", "solved if any of k samples is correct: an upper bound, not deployable"),
    ("maj@k", "majority", "plurality answer of k samples"),
    ("best-of-n", "best-of-n", "the sample with the highest mean token log-probability of k"),
    ("first-verified@k", "first-verified", "sample until the task's verifier accepts (at most k)"),
)


@dataclass(frozen=True)
class SweepAnalysis:
    techniques: tuple[TechniqueSpec, ...]
    details: tuple[PointDetail, ...]  # every point, models without training compute included
    tradeoff_details: tuple[PointDetail, ...]  # the points with a known training compute
    result: dict  # the tradeoff engine's JSON (schema_version ...)
    distinct_train_flops: int
    notes: tuple[str, ...]

    @property
    def nothing_to_trade(self) -> bool:
        return self.distinct_train_flops < 2


def sweep_budgets(n: int) -> tuple[int, ...]:
    return tuple(sorted(set(range(1, min(n, 16) + 1)) | set(budgets_up_to(n))))


def sweep_techniques(task: str, n: int, has_verifier: bool, strategy_specs: Sequence[str]) -> list[TechniqueSpec]:
    ks = sweep_budgets(n)
    specs = [
        TechniqueSpec(name, (Arm.uniform(task, strategy, ks),), description)
        for name, strategy, description in BUILTIN
        if strategy != "first-verified" or has_verifier
    ]
    for spec in strategy_specs:
        strategy, settings = resolve(spec)
        name = spec_of(strategy.name, settings)
        if name not in {s.name for s in specs}:  # one spec given twice is one technique
            specs.append(TechniqueSpec(name, (Arm(task, strategy.name, (settings.values(),)),), strategy.description))
    return specs


def accept_first_without_verifier(pools: PoolCells) -> tuple[dict, set[str]]:
    """Pools whose problem has no verifier get one that accepts every sample; and those problems' ids."""
    filled, unverifiable = {}, set()
    for cell, cell_pools in pools.items():
        fixed = []
        for pool in cell_pools:
            if pool.verified is None:
                pool = dataclasses.replace(pool, verified=np.ones(pool.n, dtype=bool))
                unverifiable.add(pool.problem_id)
            fixed.append(pool)
        filled[cell] = fixed
    return filled, unverifiable


def analyse_sweep(
    pools: PoolCells,
    cards: Mapping[str, ModelCard],
    task: str,
    n: int,
    has_verifier: bool,
    strategy_specs: Sequence[str],
    n_boot: int,
    seed: int,
    searched: Sequence[PointDetail] = (),
) -> SweepAnalysis:
    """``searched``: tree-search points, run live by the sweep (a model without a known
    training compute keeps its points in the curves, out of the tradeoff)."""
    notes: list[str] = []
    if has_verifier:
        pools, unverifiable = accept_first_without_verifier(pools)
        if unverifiable:
            notes.append(f"{len(unverifiable)} problem(s) have no verifier: under first-verified "
                         "they accept their first sample")
    known = {m: c for m, c in cards.items() if _known_tc(c)}
    for name in sorted(set(cards) - set(known)):
        notes.append(f"model {name!r}: its card has no train_flops; its curves are shown, "
                     "but it is left out of the tradeoff and of multi-model strategies")
    # NaN training compute lets a model without one keep its curves; it never reaches the tradeoff.
    all_cards = {m: c if m in known else dataclasses.replace(c, train_flops=math.nan) for m, c in cards.items()}
    techniques = sweep_techniques(task, n, has_verifier, strategy_specs)
    details: list[PointDetail] = [
        d if d.point.model in known else dataclasses.replace(d, point=dataclasses.replace(d.point, train_flops=math.nan))
        for d in searched
    ]
    for spec in techniques:
        strategy = STRATEGIES.get(spec.arms[0].strategy)
        if all(strategy.needs_calibration(settings_of(strategy, given)) for given in spec.arms[0].settings):
            notes.append(f"{spec.name}: chooses its threshold on a calibration split, which a sweep does not "
                         "sample; skipped (give a fixed threshold, e.g. cascade:threshold=0.75)")
            continue
        single = strategy.n_models == 1
        found = technique_points(spec, pools, all_cards if single else known, n_boot=n_boot, seed=seed)
        if not found and not single:
            notes.append(f"{spec.name}: needs at least 2 models with a known training compute; skipped")
        details.extend(found)
    tradeoff_details = [d for d in details if math.isfinite(d.point.train_flops)]
    distinct = len({d.point.train_flops for d in tradeoff_details})
    if distinct < 2:
        notes.append(f"nothing to trade: the models with a known training compute span {distinct} distinct "
                     "value(s); the tradeoff needs at least 2, so only the curves are reported")
    result = (tradeoff.analyse([d.point for d in tradeoff_details], levels=None, n_boot=n_boot, seed=seed,
                               problem_scores=problem_scores_of(tradeoff_details))
              if tradeoff_details else empty_result(n_boot, seed))
    return SweepAnalysis(tuple(techniques), tuple(details), tuple(tradeoff_details), result, distinct, tuple(notes))


def empty_result(n_boot: int, seed: int) -> dict:
    """The engine's JSON shape with no technique: no model has a known training compute."""
    return {"schema_version": SCHEMA_VERSION, "ratio": 6.0, "levels": [], "levels_chosen": "automatic",
            "extrapolate": False, "smoother": None, "n_boot": n_boot, "seed": seed,
            "uncertainty": {"method": "none", "words": "no points with a known training compute"},
            "techniques": {}, "combinations": []}


def _known_tc(card: ModelCard) -> bool:
    return card.train_flops is not None and math.isfinite(card.train_flops) and card.train_flops > 0
