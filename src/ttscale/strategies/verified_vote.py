"""``verified-vote``: k samples, the plurality answer among those the cheap verifier accepts.

When no sample of the k passes the verifier, the plurality of all k answers
instead. Between first-verified (trust the first sample that passes) and
majority (ignore the verifier): a verifier that lets wrong answers through is
outvoted by the right ones it accepts.

Replay is Monte Carlo: ``perms`` random k-subsets of each pool, seeded by
(seed, problem id); the verifier runs on every drawn sample. Live draws samples
0..k-1 and applies the same rule. (This module is the worked example of
docs/ARCHITECTURE.md, "How to add a strategy".)
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from pydantic import Field

from ttscale.errors import InputError
from ttscale.estimators.majority import plurality
from ttscale.sampling.pools import Pool
from ttscale.settings import TypedSettings
from ttscale.strategies.base import (Evaluation, LiveAnswer, LiveContext, StrategyTraits, live_answer, live_cost,
                                     one_model_pools, problem_rng, random_subsets, replayed, vote_correct)
from ttscale.strategies.registry import STRATEGIES
from ttscale.types import Problem


class VerifiedVoteSettings(TypedSettings):
    k: int = Field(4, ge=1, le=1_000_000, description="samples per problem")
    perms: int = Field(200, ge=1, le=100_000, description="random k-subsets per problem (Monte-Carlo replay)")


def verified_plurality(answers: Sequence[str | None], verified: Sequence[bool]) -> str | None:
    """The plurality among verified answers, else among all of them."""
    passed = [a for a, ok in zip(answers, verified) if ok]
    return plurality(passed if any(a is not None for a in passed) else answers)


@dataclass(frozen=True)
class VerifiedVote:
    name: str = "verified-vote"
    traits: StrategyTraits = StrategyTraits(
        "plurality of the verified answers among k samples (of all k when none is verified)",
        VerifiedVoteSettings, uses_verifier=True)

    def needs_calibration(self, settings: VerifiedVoteSettings) -> bool:
        return False

    def replay(self, cells: Sequence[Sequence[Pool]], settings: VerifiedVoteSettings, calibration=None,
               seed: int = 0) -> Evaluation:
        pools = one_model_pools(self.name, cells, "k", settings.k)
        for pool in pools:
            if pool.verified is None:
                raise InputError(f"strategy {self.name!r} needs a verifier; task {pool.task!r} has none")
        performance = []
        for pool in pools:
            wins = 0
            for pick in random_subsets(pool.n, settings.k, settings.perms, problem_rng(seed, pool.problem_id)):
                answer = verified_plurality([pool.answers[i] for i in pick], pool.verified[pick])
                wins += answer is not None and any(pool.correct[i] for i in pick if pool.answers[i] == answer)
            performance.append(wins / settings.perms)
        return replayed(pools, np.array(performance), np.full(len(pools), float(settings.k)), True)

    def live(self, context: LiveContext, problems: Sequence[Problem], settings: VerifiedVoteSettings
             ) -> list[LiveAnswer]:
        if context.samples is None:
            raise InputError(f"strategy {self.name!r}: a live run needs a sample source")
        answers = []
        for problem in problems:
            drawn = context.samples.draw(0, problem, list(range(settings.k)))
            answer = verified_plurality([s.answer for s in drawn], [bool(s.verified) for s in drawn])
            answers.append(live_answer(problem, drawn, answer, vote_correct(drawn, answer), live_cost(drawn, 1, True)))
        return answers


VERIFIED_VOTE = STRATEGIES.register("verified-vote")(VerifiedVote())
