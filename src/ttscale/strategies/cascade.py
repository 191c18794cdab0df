"""Cascade: answer with a small model; escalate to a large one when it is unsure.

``cells = [small, large]``. The small model draws ``k_small`` samples and
answers with the plurality answer (or, when the pools carry verifier verdicts,
the first verified sample). Its confidence is the vote agreement, the share of
the leading answer among the k_small samples (with a verifier: 1 if a sample
verified, else 0). Below ``threshold`` the problem is escalated: the large
model draws ``k_large`` samples, same answer rule, and its answer is final.

The threshold is chosen on the calibration pools, never on the scored ones:
the cheapest threshold (lowest mean inference FLOPs on calibration) whose
calibration accuracy is within ``tol`` of the large model alone at k_large on
the same calibration problems. Always escalating meets that bar exactly, so a
threshold always exists. A fixed ``threshold`` skips calibration (unset, the
default, means "choose it on calibration").

Compute: the small model's draws always, the large model's (its prefill
included) only on escalated problems, each model charged through its own
``Pool.inference_flops``.

Replay is exact, no sampling: for each pool the distribution of the leading
answer's count over all C(n, k) subsets, jointly with whether that answer is
correct, is counted in closed form (``lead_distribution``); the two models'
draws are independent, so the cascade's expectations are sums over it.

Live (a fixed threshold only): the small model's samples 0..k_small-1, the
same answer rule and confidence; below the threshold the large model's samples
0..k_large-1 answer instead.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from functools import lru_cache
from typing import Sequence

import numpy as np

from pydantic import Field

from ttscale import estimators
from ttscale.errors import InputError
from ttscale.estimators.majority import answer_classes
from ttscale.sampling.pools import Pool
from ttscale.settings import TypedSettings
from ttscale.strategies.base import (Evaluation, LiveAnswer, LiveContext, StrategyTraits, check_aligned, live_answer,
                                     live_cost)
from ttscale.strategies.registry import STRATEGIES
from ttscale.strategies.uniform import first_verified, majority_vote
from ttscale.types import Problem, Sample

# Confidence is in [0, 1]; a threshold above 1 escalates every problem.
ALWAYS_ESCALATE = 2.0
# Above this the subset counts overflow float64 (C(1030, 515) > 1e308).
_MAX_POOL = 1000


@dataclass(frozen=True)
class Outcomes:
    """One model's answer rule at budget k on a list of problems, by confidence level.

    ``p[i, j]``: probability that problem i's drawn samples have confidence
    ``levels[j]``; ``p_correct[i, j]``: that, and the answer is correct.
    ``draws``, ``flops``, ``seconds`` and ``bytes`` are each problem's expected cost of answering.
    """

    levels: np.ndarray  # (L,)
    p: np.ndarray  # (problems, L)
    p_correct: np.ndarray  # (problems, L)
    draws: np.ndarray  # (problems,)
    flops: np.ndarray
    seconds: np.ndarray
    bytes: np.ndarray

    @property
    def accuracy(self) -> np.ndarray:
        return self.p_correct.sum(axis=1)

    def take(self, rows) -> "Outcomes":
        """These problems only (a bootstrap resamples them)."""
        return Outcomes(self.levels, self.p[rows], self.p_correct[rows], self.draws[rows], self.flops[rows],
                        self.seconds[rows], self.bytes[rows])


@lru_cache(maxsize=65536)
def _truncated_binomials(count: int, limit: int, degree: int) -> np.ndarray:
    """sum_{t <= min(limit, count)} C(count, t) x^t, up to x^degree: ways to take t of a class."""
    top = min(limit, count, degree)
    poly = np.zeros(degree + 1)
    poly[: top + 1] = [math.comb(count, t) for t in range(top + 1)]
    poly.flags.writeable = False  # cached: shared between callers
    return poly


@lru_cache(maxsize=16384)
def lead_distribution(answers: tuple, correct: bytes, k: int) -> tuple[np.ndarray, np.ndarray]:
    """(p, p_correct) over the leading answer's count j = 0..k in a random k-subset.

    The plurality winner and its tie-break are those of ``estimators.majority_at_k``
    (pool count, then answer string), so ``p_correct.sum()`` is maj@k. j = 0 is a
    subset of ``None`` answers only (no answer, never correct). A class s wins
    with count j when every class before it in tie-break order holds at most
    j - 1 and every class after it at most j: with prefix products of the first
    and suffix products of the second, each (s, j) is one dot product.
    """
    flags = np.frombuffer(correct, dtype=bool)
    classes = answer_classes(answers, flags, None, True)
    n, counts = classes.n, classes.counts
    total = float(math.comb(n, k))
    p, p_correct = np.zeros(k + 1), np.zeros(k + 1)
    p[0] = math.comb(classes.n_none, k) / total
    for j in range(1, k + 1):
        degree = k - j  # the other classes and None answers fill the other k - j slots
        before = [np.eye(1, degree + 1)[0]]  # before[s]: classes < s, each at most j - 1
        for c in counts:
            before.append(np.convolve(before[-1], _truncated_binomials(c, j - 1, degree))[: degree + 1])
        after = [_truncated_binomials(classes.n_none, degree, degree)]  # after[r-1-s]: classes > s, at most j
        for c in reversed(counts):
            after.append(np.convolve(after[-1], _truncated_binomials(c, j, degree))[: degree + 1])
        for s, c in enumerate(counts):
            if c < j:
                continue
            rest = after[len(counts) - 1 - s]
            ways = math.comb(c, j) * float(np.dot(before[s], rest[::-1]))
            p[j] += ways / total
            if classes.correct[s]:
                p_correct[j] += ways / total
    p.flags.writeable = p_correct.flags.writeable = False  # cached: shared between callers
    return p, p_correct


def _one_problem(pool: Pool, k: int, with_verifier: bool) -> tuple[np.ndarray, np.ndarray, float]:
    """(p, p_correct, expected draws) of one pool at budget k."""
    if pool.n < k:
        raise InputError(f"strategy 'cascade': k={k} exceeds the pool size of problem {pool.problem_id!r} ({pool.n})")
    if pool.n > _MAX_POOL:
        raise InputError(f"strategy 'cascade': pools of at most {_MAX_POOL} samples, problem {pool.problem_id!r} has {pool.n}")
    if not with_verifier:
        p, p_correct = lead_distribution(tuple(pool.answers), np.asarray(pool.correct, dtype=bool).tobytes(), k)
        return p, p_correct, float(k)
    v = int(pool.verified.sum())
    p_any = estimators.pass_at_k(pool.n, v, k)
    p_right = estimators.first_verified_at_k(pool.verified, pool.correct, k)
    return np.array([1.0 - p_any, p_any]), np.array([0.0, p_right]), estimators.expected_draws_until_verified(pool.n, v, k)


def outcomes(pools: Sequence[Pool], k: int, with_verifier: bool) -> Outcomes:
    """What drawing k samples from each pool gives, exactly (see the module doc).

    Confidence levels: with a verifier 0 (nothing verified) or 1; otherwise the
    leading answer's share j / k, j = 0..k.
    """
    rows = [_one_problem(pool, k, with_verifier) for pool in pools]
    draws = np.array([r[2] for r in rows])
    return Outcomes(
        levels=np.array([0.0, 1.0]) if with_verifier else np.arange(k + 1) / k,
        p=np.array([r[0] for r in rows]),
        p_correct=np.array([r[1] for r in rows]),
        draws=draws,
        flops=np.array([pool.inference_flops(d, with_verifier) for pool, d in zip(pools, draws)]),
        seconds=np.array([pool.inference_seconds(d) for pool, d in zip(pools, draws)]),
        bytes=np.array([pool.inference_bytes(d) for pool, d in zip(pools, draws)]),
    )


@dataclass(frozen=True)
class CascadeReplay:
    """Per-problem expectations of a cascade at one threshold."""

    performance: np.ndarray
    infer_flops: np.ndarray
    infer_seconds: np.ndarray
    infer_bytes: np.ndarray
    draws: np.ndarray
    p_escalate: np.ndarray


def replay(small: Outcomes, large: Outcomes, threshold: float) -> CascadeReplay:
    """Escalate when the small model's confidence < threshold; the draws of the two models are independent."""
    escalated = small.levels < threshold
    esc = small.p[:, escalated].sum(axis=1)
    kept_correct = small.p_correct[:, ~escalated].sum(axis=1)
    return CascadeReplay(
        performance=kept_correct + esc * large.accuracy,
        infer_flops=small.flops + esc * large.flops,
        infer_seconds=small.seconds + esc * large.seconds,
        infer_bytes=small.bytes + esc * large.bytes,
        draws=small.draws + esc * large.draws,
        p_escalate=esc,
    )


@dataclass(frozen=True)
class Calibrated:
    threshold: float
    target: float  # the large model alone at k_large, on calibration
    performance: float  # the cascade at the chosen threshold, on calibration
    escalation_rate: float
    infer_flops: float  # mean per calibration problem, at the chosen threshold


def choose_threshold(
    small: Sequence[Pool], large: Sequence[Pool], k_small: int, k_large: int, tol: float, with_verifier: bool
) -> Calibrated:
    """The cheapest threshold whose accuracy on these (calibration) pools is within tol of the large model alone."""
    return threshold_from_outcomes(outcomes(small, k_small, with_verifier), outcomes(large, k_large, with_verifier), tol)


def threshold_from_outcomes(small: Outcomes, large: Outcomes, tol: float) -> Calibrated:
    """``choose_threshold`` on outcomes already computed (a bootstrap resamples these)."""
    target = float(large.accuracy.mean())
    candidates = sorted({float(level) for level in small.levels} | {ALWAYS_ESCALATE})
    best: tuple[float, float, CascadeReplay] | None = None
    for threshold in candidates:  # ascending, so among equal costs the lowest threshold wins
        result = replay(small, large, threshold)
        # A hair of slack: always escalating equals the target up to rounding.
        if result.performance.mean() >= target - tol - 1e-12:
            cost = float(result.infer_flops.mean())
            if best is None or cost < best[1]:
                best = (threshold, cost, result)
    assert best is not None  # ALWAYS_ESCALATE reproduces the target
    threshold, cost, result = best
    return Calibrated(threshold, target, float(result.performance.mean()), float(result.p_escalate.mean()), cost)


def _uses_verifier(cells: Sequence[Sequence[Pool]]) -> bool:
    return all(p.verified is not None for cell in cells for p in cell)


def _check_calibration(cells, calibration) -> None:
    if calibration is None:
        raise InputError("strategy 'cascade': needs calibration pools to choose its threshold (or give threshold=)")
    check_aligned("cascade", calibration, 2)
    for cell, calib in zip(cells, calibration):
        if calib[0].model != cell[0].model:
            raise InputError(
                f"strategy 'cascade': calibration pools are of model {calib[0].model!r}, scored pools of {cell[0].model!r}"
            )
    shared = {p.problem_id for p in cells[0]} & {p.problem_id for p in calibration[0]}
    if shared:
        raise InputError(
            f"strategy 'cascade': calibration and scored pools share {len(shared)} problem(s), "
            f"e.g. {sorted(shared)[0]!r}; the threshold must be chosen on problems that are not scored"
        )


class CascadeSettings(TypedSettings):
    k_small: int = Field(4, ge=1, le=1_000_000, description="samples from the small model")
    k_large: int = Field(1, ge=1, le=1_000_000, description="samples from the large model, on escalated problems")
    tol: float = Field(0.01, ge=0.0, le=1.0, description="calibration accuracy may trail the large model alone by "
                                                          "this much")
    threshold: float | None = Field(None, ge=0.0, le=ALWAYS_ESCALATE,
                                    description="escalate below this confidence; unset: chosen on calibration; "
                                                "0: never; above 1: always")


def _answer(samples: Sequence[Sample], with_verifier: bool) -> tuple[Sample | None, float]:
    """The answer sample and its confidence: the first verified one (confidence 1, else 0) with a
    verifier, else the plurality answer and its share of the draws."""
    if with_verifier:
        chosen = first_verified(samples)
        return chosen, float(chosen is not None)
    chosen = majority_vote(samples)
    if chosen is None:
        return None, 0.0
    return chosen, sum(s.answer == chosen.answer for s in samples) / len(samples)


@dataclass(frozen=True)
class CascadeStrategy:
    name: str = "cascade"
    # uses_verifier is decided per call: pools with verdicts use the verifier.
    traits: StrategyTraits = StrategyTraits(
        "small model first; escalate to the large one when its vote agreement is below a calibrated threshold",
        CascadeSettings, n_models=2, pool_params=("k_small", "k_large"))

    def needs_calibration(self, settings: CascadeSettings) -> bool:
        """An unset threshold is chosen on calibration; a fixed one needs none."""
        return settings.threshold is None

    def replay(self, cells: Sequence[Sequence[Pool]], settings: CascadeSettings, calibration=None,
               seed: int = 0) -> Evaluation:
        check_aligned(self.name, cells, 2)
        k_small, k_large = settings.k_small, settings.k_large
        calibrate = settings.threshold is None
        if calibrate:
            _check_calibration(cells, calibration)
        # One answer rule for both splits: the verifier only where every pool has verdicts.
        with_verifier = _uses_verifier(list(cells) + (list(calibration) if calibrate else []))
        notes: dict[str, float] = {}
        threshold = settings.threshold
        if calibrate:
            chosen = choose_threshold(calibration[0], calibration[1], k_small, k_large, settings.tol, with_verifier)
            threshold = chosen.threshold
            notes.update(
                calib_target=chosen.target,
                calib_performance=chosen.performance,
                calib_escalation_rate=chosen.escalation_rate,
                calib_infer_flops=chosen.infer_flops,
            )
        result = replay(outcomes(cells[0], k_small, with_verifier), outcomes(cells[1], k_large, with_verifier), threshold)
        notes.update(threshold=threshold, escalation_rate=float(result.p_escalate.mean()))
        return Evaluation(
            performance=result.performance,
            infer_flops=result.infer_flops,
            infer_seconds=result.infer_seconds,
            infer_bytes=result.infer_bytes,
            draws=result.draws,
            notes=notes,
        )

    def live(self, context: LiveContext, problems: Sequence[Problem], settings: CascadeSettings) -> list[LiveAnswer]:
        if settings.threshold is None:
            raise InputError("strategy 'cascade': a live cascade needs a fixed threshold= (a calibrated one is "
                             "chosen on calibration pools, by replay)")
        if context.samples is None:
            raise InputError("strategy 'cascade': a live run needs a sample source")
        with_verifier = context.task.has_verifier
        answers = []
        for problem in problems:
            small = context.samples.draw(0, problem, list(range(settings.k_small)))
            chosen, confidence = _answer(small, with_verifier)
            cost, drawn = live_cost(small, 1, with_verifier), list(small)
            escalated = confidence < settings.threshold
            if escalated:
                large = context.samples.draw(1, problem, list(range(settings.k_large)))
                chosen, _ = _answer(large, with_verifier)
                cost += live_cost(large, 1, with_verifier)
                drawn += large
            answers.append(live_answer(problem, drawn, None if chosen is None else chosen.answer,
                                       chosen is not None and chosen.correct, cost, {"escalated": float(escalated)}))
        return answers


CASCADE = STRATEGIES.register("cascade")(CascadeStrategy())
