"""Uniform strategies (k samples for every problem), replayed from pools.

- ``first-verified``: draw samples until the cheap verifier accepts one (at most
  k); answer with it. Performance is the chance that the accepted sample is
  correct; draws are the expected position of the first verified sample, so
  stopping early is credited in the compute.
- ``majority``: draw k, answer with the plurality answer (maj@k).
- ``best-of-n``: draw k, answer with the highest mean token log-probability
  (the model's own score, free with generation).

Each is exact: averaged over every k-subset of the pool, not sampled.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable, Sequence

import numpy as np

from ttscale import estimators
from ttscale.errors import InputError
from ttscale.pools import Pool
from ttscale.strategies.base import Evaluation, Param, Settings, check_aligned
from ttscale.strategies.registry import STRATEGIES

K = Param("k", int, 1, 1_000_000, 1, "samples per problem")


@dataclass(frozen=True)
class UniformStrategy:
    name: str
    description: str
    performance: Callable[[Pool, int], float]
    draws: Callable[[Pool, int], float]
    uses_verifier: bool
    params: tuple[Param, ...] = (K,)
    n_models: int | None = 1

    def needs_calibration(self, settings: Settings) -> bool:
        return False

    def evaluate(
        self, cells: Sequence[Sequence[Pool]], settings: Settings, calibration=None, seed: int = 0
    ) -> Evaluation:
        check_aligned(self.name, cells, 1)
        pools, k = cells[0], int(settings["k"])
        too_small = [p.problem_id for p in pools if p.n < k]
        if too_small:
            raise InputError(f"strategy {self.name!r}: k={k} exceeds the pool size of problem {too_small[0]!r}")
        draws = np.array([self.draws(p, k) for p in pools])
        return Evaluation(
            performance=np.array([self.performance(p, k) for p in pools]),
            infer_flops=np.array([p.inference_flops(d, self.uses_verifier) for p, d in zip(pools, draws)]),
            infer_seconds=np.array([p.inference_seconds(d) for p, d in zip(pools, draws)]),
            draws=draws,
        )


def _verified(pool: Pool) -> np.ndarray:
    if pool.verified is None:
        raise InputError(f"strategy 'first-verified' needs a verifier; task {pool.task!r} has none")
    return pool.verified


STRATEGIES.register("first-verified")(
    UniformStrategy(
        name="first-verified",
        description="sample until the cheap verifier accepts (at most k)",
        performance=lambda pool, k: estimators.first_verified_at_k(_verified(pool), pool.correct, k),
        draws=lambda pool, k: estimators.expected_draws_until_verified(pool.n, int(_verified(pool).sum()), k),
        uses_verifier=True,
    )
)
STRATEGIES.register("majority")(
    UniformStrategy(
        name="majority",
        description="plurality answer of k samples",
        performance=lambda pool, k: estimators.majority_at_k(pool.answers, pool.correct, k),
        draws=lambda pool, k: float(k),
        uses_verifier=False,
    )
)
STRATEGIES.register("best-of-n")(
    UniformStrategy(
        name="best-of-n",
        description="the sample with the highest mean token log-probability of k",
        performance=lambda pool, k: estimators.best_at_k(pool.scores, pool.correct, k),
        draws=lambda pool, k: float(k),
        uses_verifier=False,
    )
)
STRATEGIES.register("pass")(
    UniformStrategy(
        name="pass",
        description="pass@k: solved if any of k samples is correct (an oracle bound, not deployable)",
        performance=lambda pool, k: estimators.pass_at_k(pool.n, int(pool.correct.sum()), k),
        draws=lambda pool, k: float(k),
        uses_verifier=False,
    )
)
