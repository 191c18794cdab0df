"""Exact pass@k, best@k and first-verified@k from one pool of n samples (averaged over all k-subsets).

- ``pass_at_k``: at least one correct sample among k (Chen et al. 2021, the
  unbiased product form 1 - C(n-c, k) / C(n, k)).
- ``best_at_k``: the highest-scoring of the k drawn samples is correct.
- ``first_verified_at_k`` / ``expected_draws_until_verified``: draw until the
  cheap verifier accepts a sample (at most k); answer with it.
"""

from __future__ import annotations

from typing import Sequence

import numpy as np

from ttscale.errors import InputError
from ttscale.estimators.checks import as_int, bools, check_k, check_ks, check_n, scores_array

# ------------------------------------------------------------------- pass@k


def pass_at_ks(n: int, c: int, ks) -> np.ndarray:
    """pass@k for several k at once; see ``pass_at_k``."""
    n = check_n(n)
    c = as_int("c", c)
    if not 0 <= c <= n:
        raise InputError(f"c={c} correct samples is impossible in a pool of n={n}")
    ks = check_ks(ks, n)
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
    n = check_n(len(scores))
    scores = scores_array("scores", scores, n)
    correct = bools("is_correct", is_correct, n)
    ks = check_ks(ks, n)
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
    verified = bools("verified", verified)
    n = check_n(len(verified))
    correct = bools("is_correct", is_correct, n)
    v = int(verified.sum())
    if v == 0:
        check_ks(ks, n)
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
    n = check_n(n)
    v = as_int("v", v)
    if not 0 <= v <= n:
        raise InputError(f"v={v} verified samples is impossible in a pool of n={n}")
    k = check_k(k, n)
    a = n - v
    if a < k:
        tail = 0.0
    else:  # C(a, k) / C(n+1, k) = prod_{i<k} (a-i) / (n+1-i)
        i = np.arange(k, dtype=float)
        tail = float(np.exp(np.log((a - i) / (n + 1 - i)).sum()))
    return (n + 1) / (v + 1) * (1.0 - tail)
