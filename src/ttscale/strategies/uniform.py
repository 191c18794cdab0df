"""Uniform strategies: k samples for every problem.

- ``first-verified``: draw samples until the cheap verifier accepts one (at most
  k); answer with it. Performance is the chance that the accepted sample is
  correct; draws are the expected position of the first verified sample, so
  stopping early is credited in the compute.
- ``majority``: draw k, answer with the plurality answer (maj@k).
- ``best-of-n``: draw k, answer with the highest mean token log-probability
  (the model's own score, free with generation).
- ``pass``: solved if any of k samples is correct — an oracle bound (it needs the
  grader), so it has no live mode.

Replay is exact: averaged over every k-subset of the pool, not sampled. Live
draws samples 0..k-1 (first-verified: one at a time, stopping at the first
verified one) and applies the same rule to them; run on a stored pool it is the
replay of that pool in index order.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from functools import cached_property

import numpy as np
from pydantic import Field

from ttscale import estimators
from ttscale.errors import InputError
from ttscale.estimators.majority import plurality
from ttscale.sampling.pools import Pool
from ttscale.settings import TypedSettings
from ttscale.strategies.base import (LIVE, REPLAY, Evaluation, LiveAnswer, LiveContext, StrategyTraits, live_answer,
                                     live_cost, one_model_pools, replayed)
from ttscale.strategies.registry import STRATEGIES
from ttscale.types import Problem, Sample


class UniformSettings(TypedSettings):
    k: int = Field(1, ge=1, le=1_000_000, description="samples per problem")


# What a live strategy answers from the samples it drew: (answer sample, or None for no answer).
Pick = Callable[[Sequence[Sample]], Sample | None]


@dataclass(frozen=True)
class UniformStrategy:
    name: str
    description: str
    performance: Callable[[Pool, int], float]
    draws: Callable[[Pool, int], float]
    uses_verifier: bool
    pick: Pick | None  # None: no live mode
    uses_logprobs: bool = False

    @cached_property
    def traits(self) -> StrategyTraits:
        modes = frozenset({REPLAY, LIVE} if self.pick is not None else {REPLAY})
        return StrategyTraits(self.description, UniformSettings, uses_verifier=self.uses_verifier, modes=modes,
                              uses_logprobs=self.uses_logprobs)

    def needs_calibration(self, settings: UniformSettings) -> bool:
        return False

    def replay(self, cells: Sequence[Sequence[Pool]], settings: UniformSettings, calibration=None,
               seed: int = 0) -> Evaluation:
        k = settings.k
        pools = one_model_pools(self.name, cells, "k", k)
        draws = np.array([self.draws(p, k) for p in pools])
        return replayed(pools, np.array([self.performance(p, k) for p in pools]), draws, self.uses_verifier)

    def live(self, context: LiveContext, problems: Sequence[Problem], settings: UniformSettings) -> list[LiveAnswer]:
        if context.samples is None:
            raise InputError(f"strategy {self.name!r}: a live run needs a sample source")
        answers = []
        for problem in problems:
            if self.uses_verifier:  # one at a time: stop at the first verified sample
                drawn, calls = [], 0
                while len(drawn) < settings.k and not (drawn and drawn[-1].verified):
                    drawn += context.samples.draw(0, problem, [len(drawn)])
                    calls += 1
            else:
                drawn, calls = context.samples.draw(0, problem, list(range(settings.k))), 1
            chosen = self.pick(drawn)
            answers.append(live_answer(problem, drawn, None if chosen is None else chosen.answer,
                                       chosen is not None and chosen.correct,
                                       live_cost(drawn, calls, self.uses_verifier)))
        return answers


def _verified(pool: Pool) -> np.ndarray:
    if pool.verified is None:
        raise InputError(f"strategy 'first-verified' needs a verifier; task {pool.task!r} has none")
    return pool.verified


def first_verified(samples: Sequence[Sample]) -> Sample | None:
    return next((s for s in samples if s.verified), None)


def majority_vote(samples: Sequence[Sample]) -> Sample | None:
    """The first sample of the plurality answer (``estimators.majority.plurality``'s rule)."""
    winner = plurality([s.answer for s in samples])
    return next((s for s in samples if winner is not None and s.answer == winner), None)


def best_scored(samples: Sequence[Sample]) -> Sample | None:
    """The highest mean token log-probability; ties go to the lower index (as ``best_at_k`` ranks)."""
    return max(samples, key=lambda s: s.mean_logprob, default=None)


def _k_draws(pool: Pool, k: int) -> float:
    return float(k)


for _strategy in (
    UniformStrategy(
        "first-verified", "sample until the cheap verifier accepts (at most k)",
        lambda pool, k: estimators.first_verified_at_k(_verified(pool), pool.correct, k),
        lambda pool, k: estimators.expected_draws_until_verified(pool.n, int(_verified(pool).sum()), k),
        uses_verifier=True, pick=first_verified),
    UniformStrategy(
        "majority", "plurality answer of k samples",
        lambda pool, k: estimators.majority_at_k(pool.answers, pool.correct, k), _k_draws,
        uses_verifier=False, pick=majority_vote),
    UniformStrategy(
        "best-of-n", "the sample with the highest mean token log-probability of k",
        lambda pool, k: estimators.best_at_k(pool.scores, pool.correct, k), _k_draws,
        uses_verifier=False, pick=best_scored, uses_logprobs=True),
    UniformStrategy(
        "pass", "pass@k: solved if any of k samples is correct (an oracle bound, not deployable)",
        lambda pool, k: estimators.pass_at_k(pool.n, int(pool.correct.sum()), k), _k_draws,
        uses_verifier=False, pick=None),
):
    STRATEGIES.register(_strategy.name)(_strategy)
