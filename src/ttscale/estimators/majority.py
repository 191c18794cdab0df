"""Exact maj@k: the plurality answer of a uniformly random k-subset is correct.

Part of ``ttscale.estimators`` (import the public names from there).

Majority tie-break (a fixed total order of answer classes, independent of the
order of the samples in the pool): when several answers share the largest count
inside a subset, the winner is the one that comes first in

    1. larger count in the whole pool,
    2. larger sum of the samples' scores (only when ``scores`` are given),
    3. lexicographically smaller answer string.

``None`` answers (nothing extracted) never win a vote but occupy their slots in
the subset; a subset holding only ``None`` answers is wrong.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from functools import lru_cache
from typing import Sequence

import numpy as np

from ttscale.errors import InputError
from ttscale.estimators.checks import bools, check_k, check_ks, check_n, comb_row, scores_array

# C(n, n // 2) fits in a float64 up to n ~ 1029; above this the majority
# polynomials are multiplied in exact Python integers (slow, but exact).
FLOAT_MAX_N = 1000
# Pools up to this size get their whole majority curve computed (and cached) on
# the first call, so a per-k loop over a pool costs one polynomial product.
FULL_CURVE_MAX_N = 128


@dataclass(frozen=True)
class VoteClasses:
    """A pool reduced to what majority voting sees, in tie-break order."""

    counts: tuple[int, ...]  # pool count of each answer class, tie-break order
    correct: tuple[bool, ...]
    n_none: int

    @property
    def n(self) -> int:
        return sum(self.counts) + self.n_none


def answer_verdicts(members: dict[str, list[int]], correct: Sequence[bool], strict: bool) -> dict[str, bool]:
    """The one rule for what answer is correct, wherever answers are grouped into votes.

    ``members``: answer -> the indices of its samples. An answer is correct when its
    samples are graded correct. Samples sharing an answer normally share a verdict;
    with ``strict`` a disagreement is refused (InputError), without it the answer is
    correct when any of its samples is.
    """
    verdicts = {}
    for answer, idx in members.items():
        right = sum(bool(correct[i]) for i in idx)
        if strict and 0 < right < len(idx):
            raise InputError(
                f"answer {answer!r} is graded correct for {right} of its {len(idx)} samples and wrong for the "
                "others; voting needs one verdict per answer (pass strict=False to count an answer as correct "
                "when any of its samples is)"
            )
        verdicts[answer] = right > 0
    return verdicts


def answer_members(answers: Sequence[str | None]) -> tuple[dict[str, list[int]], int]:
    """answer -> indices of its samples (in first-appearance order), and the number of None answers."""
    members: dict[str, list[int]] = {}
    n_none = 0
    for i, answer in enumerate(answers):
        if answer is None:
            n_none += 1
        elif isinstance(answer, str):
            members.setdefault(answer, []).append(i)
        else:
            raise InputError(f"answers[{i}] must be a string or None, got {answer!r}")
    return members, n_none


def answer_classes(answers, is_correct, scores, strict: bool) -> VoteClasses:
    n = check_n(len(answers))
    correct = bools("is_correct", is_correct, n).tolist()
    score_list = None if scores is None else scores_array("scores", scores, n).tolist()
    members, n_none = answer_members(answers)
    verdicts = answer_verdicts(members, correct, strict)

    def order(answer: str):
        idx = members[answer]
        # fsum is correctly rounded, so the sum does not depend on sample order.
        score = 0.0 if score_list is None else math.fsum(score_list[i] for i in idx)
        return (-len(idx), -score, answer)

    ranked = sorted(members, key=order)
    return VoteClasses(
        counts=tuple(len(members[a]) for a in ranked),
        correct=tuple(verdicts[a] for a in ranked),
        n_none=n_none,
    )


def _shift_add(out: np.ndarray, poly: np.ndarray, coef, t: int, start: int) -> None:
    """out[start:, t:] += coef * poly[start:, :D-t] (multiply rows by coef * x^t, truncated)."""
    width = out.shape[1]
    out[start:, t:] += coef * poly[start:, : width - t]


def _star_wins(classes: VoteClasses, star: int, ks: np.ndarray, exact: bool) -> np.ndarray:
    """Sum over subsets where class ``star`` wins, for each k: the numerators of maj@k.

    For j = the count of ``star`` in the subset, every other class i may hold at
    most j - 1 (if it precedes ``star`` in tie-break order) or j samples. Row
    j-1 of ``poly`` is the product over other classes of the truncated
    sum_t C(c_i, t) x^t, times (1 + x)^free for the classes (and None answers)
    that cannot reach the limit; the answer is sum_j C(c*, j) [x^(k-j)] row.
    """
    kmax = int(ks.max())
    c_star = classes.counts[star]
    rows = min(c_star, kmax)
    dtype = object if exact else float
    poly = np.zeros((rows, kmax), dtype=dtype)
    poly[:, 0] = 1
    free = classes.n_none
    for i, c in enumerate(classes.counts):
        if i == star:
            continue
        slack = 0 if i < star else 1  # the limit on t is j - 1 + slack
        if c <= slack:  # never constrained, whatever j
            free += c
            continue
        comb = comb_row(c)
        new = np.zeros_like(poly)
        for t in range(min(c, kmax - 1) + 1):
            start = max(0, t - slack)  # rows with j >= t + 1 - slack allow t samples
            if start >= rows:
                break
            _shift_add(new, poly, comb[t] if exact else float(comb[t]), t, start)
        poly = new
    if free:
        comb = comb_row(free)
        new = np.zeros_like(poly)
        for t in range(min(free, kmax - 1) + 1):
            _shift_add(new, poly, comb[t] if exact else float(comb[t]), t, 0)
        poly = new
    js = np.arange(1, rows + 1)
    weight = np.array([comb_row(c_star)[j] for j in js], dtype=dtype)
    offset = ks[None, :] - js[:, None]
    valid = offset >= 0
    picked = poly[np.arange(rows)[:, None], np.clip(offset, 0, None)]
    return (weight[:, None] * picked * valid).sum(axis=0)


@lru_cache(maxsize=8192)
def majority_values(classes: VoteClasses, ks: tuple[int, ...], exact: bool) -> tuple[float, ...]:
    n = classes.n
    ks_arr = np.array(ks, dtype=np.int64)
    total = np.zeros(len(ks), dtype=object if exact else float)
    for star, ok in enumerate(classes.correct):
        if ok:
            total = total + _star_wins(classes, star, ks_arr, exact)
    denom = [math.comb(n, k) for k in ks]
    if exact:
        values = [int(num) / den for num, den in zip(total, denom)]
    else:
        values = (total / np.array(denom, dtype=float)).tolist()
    return tuple(min(1.0, max(0.0, v)) for v in values)


def majority_at_ks(answers, is_correct, ks, scores=None, strict: bool = True) -> np.ndarray:
    """maj@k for several k at once; see ``majority_at_k``."""
    classes = answer_classes(answers, is_correct, scores, strict)
    ks = check_ks(ks, classes.n)
    return np.array(majority_values(classes, tuple(int(k) for k in ks), classes.n > FLOAT_MAX_N))


def majority_at_k(
    answers: Sequence[str | None],
    is_correct: Sequence[bool],
    k: int,
    scores: Sequence[float] | None = None,
    strict: bool = True,
) -> float:
    """Probability that the plurality answer of a uniformly random k-subset is correct.

    Exact, in closed form (no enumeration): for each correct answer class a
    polynomial product counts the subsets it wins (see ``_star_wins``); ties
    are broken by the module's fixed class order (pool count, then score sum
    when ``scores`` are given, then the answer string).

    Correctness is per answer: an answer is correct if its samples are graded
    correct. With ``strict`` (the default) samples sharing an answer must
    share a verdict, otherwise InputError; with ``strict=False`` an answer is
    correct when any of its samples is. Verdicts of ``None`` answers are ignored.
    """
    n = len(answers)
    if 0 < n <= FULL_CURVE_MAX_N:  # one product gives every k; cached per pool
        k = check_k(k, n)
        correct = bools("is_correct", is_correct, n)
        score_key = None if scores is None else scores_array("scores", scores, n).tobytes()
        try:
            key = (tuple(answers), correct.tobytes(), score_key, strict)
            hash(key)
        except TypeError:  # an unhashable answer: let validation name it
            key = None
        if key is not None:
            return full_majority_curve(*key)[k - 1]
    classes = answer_classes(answers, is_correct, scores, strict)
    k = check_k(k, classes.n)
    return majority_values(classes, (k,), classes.n > FLOAT_MAX_N)[0]


@lru_cache(maxsize=4096)
def full_majority_curve(answers: tuple, correct: bytes, scores: bytes | None, strict: bool) -> tuple[float, ...]:
    """maj@k for k = 1..n of one pool (the cache key is the pool itself)."""
    flags = np.frombuffer(correct, dtype=bool)
    score_arr = None if scores is None else np.frombuffer(scores, dtype=float)
    classes = answer_classes(answers, flags, score_arr, strict)
    return majority_values(classes, tuple(range(1, classes.n + 1)), classes.n > FLOAT_MAX_N)


def plurality(answers: Sequence[str | None]) -> str | None:
    """The plurality answer of drawn samples, by this module's tie-break (larger count, then the
    smaller answer string); ``None`` answers never win, and only ``None`` answers give None."""
    counts: dict[str, int] = {}
    for answer in answers:
        if answer is not None:
            counts[answer] = counts.get(answer, 0) + 1
    return min(counts, key=lambda a: (-counts[a], a), default=None)
