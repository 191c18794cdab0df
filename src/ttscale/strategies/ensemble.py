"""Ensemble: k samples from each of several models, one plurality vote over all.

``cells = [model_1, model_2, ...]`` (two or more). Every model draws ``k``
samples of the same problem; the answer is the plurality answer of the union
(plain, unweighted: every sample one vote). Ties are broken as
``estimators.majority_at_k`` breaks them, over the union of the pools: larger
count in all the pools together, then the smaller answer string. ``None``
answers take their slots but never win. Compute is the sum of each model's
``Pool.inference_flops(k)`` (every model pays its own prefill).

Replay is Monte Carlo: the union's vote has no cheap closed form across
models (each model's k-subset is constrained separately), so every problem
averages ``perms`` independent draws (a uniformly random k-subset of each
model's pool per draw), seeded by (seed, problem id). Compute is exact. The
Monte-Carlo standard error of the mean performance is in
``Evaluation.notes["mc_standard_error"]``.

Live: samples 0..k-1 of every model, one plurality vote over all of them
(``estimators.majority.plurality``), each model paying its own prefill.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Sequence

import numpy as np

from pydantic import Field

from ttscale.errors import InputError
from ttscale.estimators.majority import answer_members, answer_verdicts, plurality
from ttscale.sampling.pools import Pool
from ttscale.settings import TypedSettings
from ttscale.strategies.base import (Evaluation, LiveAnswer, LiveContext, StrategyTraits, check_aligned,
                                     check_pool_size, live_answer, live_cost, random_subsets, vote_correct)
from ttscale.strategies.registry import STRATEGIES
from ttscale.types import Problem, stable_hash


class EnsembleSettings(TypedSettings):
    k: int = Field(1, ge=1, le=1_000_000, description="samples per model")
    perms: int = Field(1000, ge=1, le=1_000_000, description="random draws per problem (Monte-Carlo replay)")


@dataclass(frozen=True)
class UnionClasses:
    """The answers of one problem across models, ranked in tie-break order."""

    rank: tuple[np.ndarray, ...]  # per model, per sample: the answer's rank (-1 for None)
    correct: np.ndarray  # per rank: is that answer correct


def union_classes(pools: Sequence[Pool]) -> UnionClasses:
    """Rank every answer of the union: larger total count first, then the smaller string."""
    answers = [a for pool in pools for a in pool.answers]
    members, _ = answer_members(answers)
    try:
        verdicts = answer_verdicts(members, [ok for pool in pools for ok in pool.correct], strict=True)
    except InputError as exc:
        raise InputError(f"strategy 'ensemble', problem {pools[0].problem_id!r}: {exc}") from None
    counts = {answer: len(idx) for answer, idx in members.items()}
    ranked = sorted(counts, key=lambda a: (-counts[a], a))
    index = {answer: i for i, answer in enumerate(ranked)}
    rank = tuple(np.array([index.get(a, -1) if a is not None else -1 for a in pool.answers]) for pool in pools)
    return UnionClasses(rank=rank, correct=np.array([verdicts[a] for a in ranked], dtype=bool))


def problem_seed(seed: int, problem_id: str) -> int:
    """The same problem gets the same draws whatever the order or the other problems."""
    return int(stable_hash(["ensemble", seed, problem_id], length=12), 16)


def union_vote_wins(pools: Sequence[Pool], k: int, perms: int, seed: int) -> np.ndarray:
    """(perms,) bool: did the plurality of the union of k draws per model answer correctly, per draw."""
    classes = union_classes(pools)
    rng = np.random.default_rng(problem_seed(seed, pools[0].problem_id))
    drawn = np.concatenate(
        [ranks[random_subsets(len(ranks), k, perms, rng)] for ranks in classes.rank], axis=1
    )  # (perms, models * k) answer ranks
    n_classes = len(classes.correct)
    if n_classes == 0:
        return np.zeros(perms, dtype=bool)
    # One bincount over (draw, answer) cells counts every draw's votes; None (-1) gets a bin of its own.
    cells = np.arange(perms)[:, None] * (n_classes + 1) + (drawn + 1)
    votes = np.bincount(cells.ravel(), minlength=perms * (n_classes + 1)).reshape(perms, n_classes + 1)[:, 1:]
    # argmax takes the first maximum: the lowest rank, i.e. the tie-break winner.
    winner = votes.argmax(axis=1)
    return (votes.max(axis=1) > 0) & classes.correct[winner]


@dataclass(frozen=True)
class EnsembleStrategy:
    name: str = "ensemble"
    traits: StrategyTraits = StrategyTraits("k samples from each model; plurality answer of all of them",
                                            EnsembleSettings, n_models=None)

    def needs_calibration(self, settings: EnsembleSettings) -> bool:
        return False

    def replay(self, cells: Sequence[Sequence[Pool]], settings: EnsembleSettings, calibration=None,
               seed: int = 0) -> Evaluation:
        check_aligned(self.name, cells, None)
        k, perms = settings.k, settings.perms
        check_pool_size(self.name, cells, "k", k)
        problems = list(zip(*cells))  # per problem: one pool per model
        performance = np.array([union_vote_wins(pools, k, perms, seed).mean() for pools in problems])
        # Per-problem binomial variance of the Monte-Carlo mean, summed over problems.
        variance = (performance * (1 - performance) / max(perms - 1, 1)).sum() / len(problems) ** 2
        return Evaluation(
            performance=performance,
            infer_flops=np.array([sum(p.inference_flops(k, False) for p in pools) for pools in problems]),
            infer_seconds=np.array([sum(p.inference_seconds(k) for p in pools) for pools in problems]),
            infer_bytes=np.array([sum(p.inference_bytes(k) for p in pools) for pools in problems]),
            draws=np.full(len(problems), float(k * len(cells))),
            notes={"mc_standard_error": float(np.sqrt(variance))},
        )

    def live(self, context: LiveContext, problems: Sequence[Problem], settings: EnsembleSettings) -> list[LiveAnswer]:
        """Every model of the sample source votes."""
        if context.samples is None or context.samples.n_models < 2:
            raise InputError("strategy 'ensemble': a live run needs a sample source of at least 2 models")
        answers = []
        for problem in problems:
            per_model = [context.samples.draw(m, problem, list(range(settings.k)))
                         for m in range(context.samples.n_models)]
            drawn = [s for samples in per_model for s in samples]
            winner = plurality([s.answer for s in drawn])
            answers.append(live_answer(problem, drawn, winner, vote_correct(drawn, winner),
                                       sum(live_cost(samples, 1, False) for samples in per_model)))
        return answers


ENSEMBLE = STRATEGIES.register("ensemble")(EnsembleStrategy())
