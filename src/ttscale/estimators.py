"""Exact, unbiased budget curves from one pool of n samples per problem.

"Generate once, analyse many" (DESIGN.md): the performance of a strategy that
draws k samples is estimated from one pool of n >= k samples by averaging over
*all* C(n, k) subsets of the pool, uniformly, in closed form. Never from "the
first k samples", which is one order-dependent draw and a noisier estimate.

- ``pass_at_k``: at least one correct sample among k (Chen et al. 2021, the
  unbiased product form 1 - C(n-c, k) / C(n, k)).
- ``majority_at_k``: the plurality answer of the k drawn samples is correct.
- ``best_at_k``: the highest-scoring of the k drawn samples is correct.
- ``first_verified_at_k`` / ``expected_draws_until_verified``: draw until the
  cheap verifier accepts a sample (at most k); answer with it.

The exact majority-vote machinery and its fixed tie-break order live in
``ttscale.estimators_majority``; every public name is re-exported here.

Each ``*_at_k`` has a vectorised ``*_at_ks`` twin that returns a whole curve,
and the ``*_curve`` helpers apply them to a list of pools (one per problem).
``bootstrap_ci`` resamples problems; the interval covers problem sampling only,
not the finite pool (the estimators are exact given the pool) nor the choice of
model seed.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable, Protocol, Sequence

import numpy as np

from ttscale.errors import InputError
from ttscale.estimators_majority import (  # noqa: F401  (re-exported)
    _FLOAT_MAX_N,
    _FULL_CURVE_MAX_N,
    _answer_classes,
    _Classes,
    _full_majority_curve,
    _majority_values,
    majority_at_k,
    majority_at_ks,
)
from ttscale.estimators_validation import (  # noqa: F401  (re-exported)
    _as_int,
    _bools,
    _check_k,
    _check_ks,
    _check_n,
    _comb_row,
    _int_ks,
    _scores,
)

# ------------------------------------------------------------------- pass@k


def pass_at_ks(n: int, c: int, ks) -> np.ndarray:
    """pass@k for several k at once; see ``pass_at_k``."""
    n = _check_n(n)
    c = _as_int("c", c)
    if not 0 <= c <= n:
        raise InputError(f"c={c} correct samples is impossible in a pool of n={n}")
    ks = _check_ks(ks, n)
    if c == 0:
        return np.zeros(len(ks))
    out = np.ones(len(ks))
    room = ks <= n - c  # otherwise every k-subset holds a correct sample
    if room.any():
        i = np.arange(n - c + 1, n + 1, dtype=float)
        # 1 - prod(1 - k/i) = -expm1(sum log1p(-k/i)): stable for tiny values too.
        out[room] = -np.expm1(np.log1p(-ks[room, None] / i[None, :]).sum(axis=1))
    return out


def pass_at_k(n: int, c: int, k: int) -> float:
    """Unbiased pass@k from n samples of which c are correct: 1 - C(n-c, k) / C(n, k).

    The probability that a uniformly random k-subset of the pool holds at
    least one correct sample, in the numerically stable product form
    1 - prod_{i=n-c+1}^{n} (1 - k / i).
    """
    return float(pass_at_ks(n, c, [k])[0])


# ------------------------------------------------------------------- best@k


def best_at_ks(scores: Sequence[float], is_correct: Sequence[bool], ks) -> np.ndarray:
    """best@k for several k at once; see ``best_at_k``."""
    scores = np.asarray(scores, dtype=float).reshape(-1)
    n = _check_n(len(scores))
    scores = _scores("scores", scores, n)
    correct = _bools("is_correct", is_correct, n)
    ks = _check_ks(ks, n)
    rank = np.lexsort((np.arange(n), -scores))  # score descending, then lower index
    # w[k, r] = C(n-1-r, k-1) / C(n, k): w[k, 0] = k/n, w[k, r+1] / w[k, r] = (n-r-k) / (n-1-r).
    r = np.arange(n - 1)
    ratios = (n - r[None, :] - ks[:, None]) / (n - 1 - r[None, :])
    weights = np.cumprod(np.concatenate([ks[:, None] / n, ratios], axis=1), axis=1)
    weights = np.clip(weights, 0.0, 1.0)
    return np.clip(weights @ correct[rank].astype(float), 0.0, 1.0)


def best_at_k(scores: Sequence[float], is_correct: Sequence[bool], k: int) -> float:
    """Probability that the highest-scoring sample of a random k-subset is correct.

    Samples are ranked by score, highest first, ties broken by the lower sample
    index; the sample at rank r (0-based) is the subset's best with probability
    C(n-1-r, k-1) / C(n, k). NaN scores are refused.
    """
    return float(best_at_ks(scores, is_correct, [k])[0])


# ---------------------------------------------------------- first-verified


def first_verified_at_ks(verified: Sequence[bool], is_correct: Sequence[bool], ks) -> np.ndarray:
    """first-verified@k for several k at once; see ``first_verified_at_k``."""
    verified = _bools("verified", verified)
    n = _check_n(len(verified))
    correct = _bools("is_correct", is_correct, n)
    v = int(verified.sum())
    if v == 0:
        _check_ks(ks, n)
        return np.zeros(len(np.atleast_1d(ks)))
    good = int((verified & correct).sum())
    return pass_at_ks(n, v, ks) * (good / v)


def first_verified_at_k(verified: Sequence[bool], is_correct: Sequence[bool], k: int) -> float:
    """Draw samples in random order until the verifier accepts one (at most k); is it correct?

    The probability over uniformly random k-subsets (in random order) that at
    least one is verified and the first verified one is correct. By symmetry
    the first verified sample is a uniformly random verified sample of the pool
    and is independent of whether one appears within k draws, so this is
    pass@k(n, v, k) * (verified-and-correct / verified). With a perfect verifier
    (verified == correct) it is pass@k.
    """
    return float(first_verified_at_ks(verified, is_correct, [k])[0])


def expected_draws_until_verified(n: int, v: int, k: int) -> float:
    """Expected samples drawn when drawing stops at the first verified one, at most k.

    E[min(T, k)] for T the position of the first of v verified samples in a
    random order of n: sum_{t<k} C(n-v, t) / C(n, t), which telescopes to the
    hypergeometric closed form (n+1)/(v+1) * (1 - C(n-v, k) / C(n+1, k)).
    It is k when v = 0 and 1 when every sample is verified.
    """
    n = _check_n(n)
    v = _as_int("v", v)
    if not 0 <= v <= n:
        raise InputError(f"v={v} verified samples is impossible in a pool of n={n}")
    k = _check_k(k, n)
    a = n - v
    if a < k:
        tail = 0.0
    else:  # C(a, k) / C(n+1, k) = prod_{i<k} (a-i) / (n+1-i)
        i = np.arange(k, dtype=float)
        tail = float(np.exp(np.log((a - i) / (n + 1 - i)).sum()))
    return (n + 1) / (v + 1) * (1.0 - tail)


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
        object.__setattr__(self, "correct", _bools("correct", self.correct, n))
        if self.verified is not None:
            object.__setattr__(self, "verified", _bools("verified", self.verified, n))
        if self.scores is not None:
            object.__setattr__(self, "scores", _scores("scores", self.scores, n))

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
    ks = _int_ks(ks)
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
    def one(pool, ks):
        if pool.scores is None:
            raise InputError("best-of-n needs scores; this pool has none")
        return best_at_ks(pool.scores, pool.correct, ks)

    return curve(one, pools, ks)


def first_verified_curve(pools: Sequence[PoolLike], ks) -> Curve:
    def one(pool, ks):
        if pool.verified is None:
            raise InputError("first-verified needs a verifier; this pool has no verdicts")
        return first_verified_at_ks(pool.verified, pool.correct, ks)

    return curve(one, pools, ks)


# --------------------------------------------------------------- bootstrap


def bootstrap_ci(per_problem_values, n_boot: int = 1000, alpha: float = 0.05, seed: int = 0):
    """Percentile bootstrap CI of the mean over problems.

    ``per_problem_values`` is (problems,) -> returns floats (lo, hi), or
    (problems, ks) -> arrays, every column resampled with the same problem
    draws. The interval covers the sampling of problems only: the estimators
    are exact given each pool, and the pool's own finite size is not resampled.
    """
    values = np.asarray(per_problem_values, dtype=float)
    if values.ndim not in (1, 2) or values.shape[0] == 0:
        raise InputError(f"per_problem_values must be a non-empty 1-D or 2-D array, got shape {values.shape}")
    if not np.isfinite(values).all():
        raise InputError("per_problem_values holds NaN or infinite values")
    n_boot = _as_int("n_boot", n_boot)
    if n_boot < 1:
        raise InputError(f"n_boot must be >= 1, got n_boot={n_boot}")
    if not 0.0 < alpha < 1.0:
        raise InputError(f"alpha must be in (0, 1), got alpha={alpha!r}")
    flat = values.reshape(values.shape[0], -1)
    problems = flat.shape[0]
    rng = np.random.default_rng(seed)
    block = max(1, 2_000_000 // problems)  # bounds the (boot, problems) count matrix
    means = []
    for start in range(0, n_boot, block):
        size = min(block, n_boot - start)
        counts = rng.multinomial(problems, np.full(problems, 1.0 / problems), size=size)
        means.append(counts @ flat / problems)
    lo, hi = np.quantile(np.vstack(means), [alpha / 2, 1 - alpha / 2], axis=0)
    if values.ndim == 1:
        return float(lo[0]), float(hi[0])
    return lo, hi
