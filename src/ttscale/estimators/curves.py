"""Budget curves over problems: one exact estimator applied to every problem's pool."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable, Protocol, Sequence

import numpy as np

from ttscale.errors import InputError
from ttscale.estimators.bootstrap import bootstrap_ci
from ttscale.estimators.checks import bools, int_ks, scores_array
from ttscale.estimators.exact import best_at_ks, first_verified_at_ks, pass_at_ks
from ttscale.estimators.majority import majority_at_ks

# ------------------------------------------------------------------ curves


class PoolLike(Protocol):
    """What the curve helpers read from a pool (``PoolView`` and ``pools.Pool`` both fit)."""

    answers: Sequence[str | None]
    correct: np.ndarray
    verified: np.ndarray | None
    scores: np.ndarray | None

    @property
    def n(self) -> int: ...


@dataclass(frozen=True)
class PoolView:
    """The n samples of one problem, as the estimators see them.

    ``scores`` is the scorer used by best-of-n (the mean token log-probability
    by default); ``verified`` is None when the task has no verifier.
    """

    answers: tuple[str | None, ...]
    correct: np.ndarray
    verified: np.ndarray | None = None
    scores: np.ndarray | None = None

    def __post_init__(self) -> None:
        n = len(self.answers)
        object.__setattr__(self, "answers", tuple(self.answers))
        object.__setattr__(self, "correct", bools("correct", self.correct, n))
        if self.verified is not None:
            object.__setattr__(self, "verified", bools("verified", self.verified, n))
        if self.scores is not None:
            object.__setattr__(self, "scores", scores_array("scores", self.scores, n))

    @property
    def n(self) -> int:
        return len(self.answers)


@dataclass(frozen=True)
class Curve:
    """A budget curve: ``mean[i]`` over problems at ``ks[i]``; ``per_problem`` is (problems, ks)."""

    ks: np.ndarray
    mean: np.ndarray
    per_problem: np.ndarray

    def ci(self, n_boot: int = 1000, alpha: float = 0.05, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
        """Percentile bootstrap over problems at each k (problem sampling only)."""
        return bootstrap_ci(self.per_problem, n_boot=n_boot, alpha=alpha, seed=seed)


def curve(per_problem_fn: Callable[[PoolLike, np.ndarray], np.ndarray], pools: Sequence[PoolLike], ks) -> Curve:
    """Apply ``per_problem_fn(pool, ks) -> values`` to every pool; mean over problems."""
    if not pools:
        raise InputError("no pools: a curve needs at least one problem")
    ks = int_ks(ks)
    rows = []
    for index, pool in enumerate(pools):
        try:
            rows.append(np.asarray(per_problem_fn(pool, ks), dtype=float))
        except InputError as exc:
            name = getattr(pool, "problem_id", index)
            raise InputError(f"problem {name!r}: {exc}") from exc
    per_problem = np.vstack(rows)
    return Curve(ks=ks, mean=per_problem.mean(axis=0), per_problem=per_problem)


def pass_curve(pools: Sequence[PoolLike], ks) -> Curve:
    return curve(lambda p, ks: pass_at_ks(p.n, int(np.sum(p.correct)), ks), pools, ks)


def majority_curve(pools: Sequence[PoolLike], ks, strict: bool = True) -> Curve:
    return curve(lambda p, ks: majority_at_ks(p.answers, p.correct, ks, strict=strict), pools, ks)


def best_curve(pools: Sequence[PoolLike], ks) -> Curve:
    return curve(_needing("scores", "best-of-n needs scores; this pool has none",
                          lambda p, ks: best_at_ks(p.scores, p.correct, ks)), pools, ks)


def first_verified_curve(pools: Sequence[PoolLike], ks) -> Curve:
    return curve(_needing("verified", "first-verified needs a verifier; this pool has no verdicts",
                          lambda p, ks: first_verified_at_ks(p.verified, p.correct, ks)), pools, ks)


def _needing(field: str, message: str, per_pool):
    """``per_pool``, refused with ``message`` on a pool whose ``field`` is missing."""
    def one(pool, ks):
        if getattr(pool, field) is None:
            raise InputError(message)
        return per_pool(pool, ks)

    return one
