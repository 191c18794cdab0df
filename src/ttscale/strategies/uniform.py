"""Uniform strategies (k samples for every problem), replayed from pools.

- ``first-verified``: draw samples until the cheap verifier accepts one (at most
  k); answer with it. Performance is the chance that the accepted sample is
  correct; draws are the expected position of the first verified sample, so
  stopping early is credited in the compute.
- ``majority``: draw k, answer with the plurality answer (maj@k).
- ``best-of-n``: draw k, answer with the highest mean token log-probability
  (the model's own score, free with generation).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

import numpy as np

from ttscale import estimators
from ttscale.errors import InputError
from ttscale.pools import Pool
from ttscale.registry import Registry


@dataclass(frozen=True)
class ReplayStrategy:
    name: str
    performance: Callable[[Pool, int], float]
    draws: Callable[[Pool, int], float]
    uses_verifier: bool


STRATEGIES: Registry[ReplayStrategy] = Registry("strategy")


def _verified(pool: Pool) -> np.ndarray:
    if pool.verified is None:
        raise InputError(f"strategy 'first-verified' needs a verifier; task {pool.task!r} has none")
    return pool.verified


STRATEGIES.register("first-verified")(
    ReplayStrategy(
        name="first-verified",
        performance=lambda pool, k: estimators.first_verified_at_k(_verified(pool), pool.correct, k),
        draws=lambda pool, k: estimators.expected_draws_until_verified(pool.n, int(_verified(pool).sum()), k),
        uses_verifier=True,
    )
)
STRATEGIES.register("majority")(
    ReplayStrategy(
        name="majority",
        performance=lambda pool, k: estimators.majority_at_k(pool.answers, pool.correct, k),
        draws=lambda pool, k: float(k),
        uses_verifier=False,
    )
)
STRATEGIES.register("best-of-n")(
    ReplayStrategy(
        name="best-of-n",
        performance=lambda pool, k: estimators.best_at_k(pool.scores, pool.correct, k),
        draws=lambda pool, k: float(k),
        uses_verifier=False,
    )
)


@dataclass(frozen=True)
class ReplayResult:
    """One strategy at one k over a set of problems."""

    strategy: str
    k: int
    performance: float
    ci_low: float
    ci_high: float
    infer_flops: float  # mean per problem
    infer_seconds: float  # mean per problem, measured
    mean_draws: float


def replay(strategy_name: str, pools: list[Pool], k: int, n_boot: int = 500, seed: int = 0) -> ReplayResult:
    """Expected performance and compute of a strategy at budget k, with a bootstrap CI over problems."""
    strategy = STRATEGIES.get(strategy_name)
    if not pools:
        raise InputError(f"strategy {strategy_name!r}: no pools to replay")
    per_problem = np.array([strategy.performance(p, k) for p in pools])
    draws = np.array([strategy.draws(p, k) for p in pools])
    flops = np.array([p.inference_flops(d, strategy.uses_verifier) for p, d in zip(pools, draws)])
    seconds = np.array([p.inference_seconds(d) for p, d in zip(pools, draws)])
    low, high = estimators.bootstrap_ci(per_problem, n_boot=n_boot, seed=seed)
    return ReplayResult(
        strategy=strategy_name,
        k=k,
        performance=float(per_problem.mean()),
        ci_low=float(low),
        ci_high=float(high),
        infer_flops=float(flops.mean()),
        infer_seconds=float(seconds.mean()),
        mean_draws=float(draws.mean()),
    )
