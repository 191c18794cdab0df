"""Input checks shared by the estimators (``ttscale.estimators``).

Each check raises InputError naming the offending argument; ``comb_row``
caches exact binomial rows for the majority polynomials.
"""

from __future__ import annotations

import math
from functools import lru_cache
from typing import Sequence

import numpy as np

from ttscale.errors import InputError


def as_int(name: str, value) -> int:
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, (int, np.integer)):
        raise InputError(f"{name} must be an integer, got {name}={value!r}")
    return int(value)


def check_k(k, n: int) -> int:
    k = as_int("k", k)
    if k < 1:
        raise InputError(f"k must be >= 1, got k={k}")
    if k > n:
        raise InputError(f"k={k} exceeds the pool size n={n}")
    return k


def int_ks(ks) -> np.ndarray:
    values = [as_int("k", k) for k in np.atleast_1d(np.asarray(ks, dtype=object))]
    if not values:
        raise InputError("ks is empty: give at least one budget k")
    return np.array(values, dtype=np.int64)


def check_ks(ks, n: int) -> np.ndarray:
    ks = int_ks(ks)
    for k in ks.tolist():
        check_k(k, n)
    return ks


def check_n(n) -> int:
    n = as_int("n", n)
    if n < 1:
        raise InputError(f"the pool is empty: n={n}; a pool needs at least one sample")
    return n


def bools(name: str, values: Sequence, n: int | None = None) -> np.ndarray:
    if isinstance(values, np.ndarray) and values.dtype == bool and values.ndim == 1:
        out = values
    else:
        checked = []
        for i, v in enumerate(values):
            if not isinstance(v, (bool, np.bool_, int, np.integer)) or v not in (0, 1):
                raise InputError(f"{name}[{i}] must be a bool, got {v!r}")
            checked.append(bool(v))
        out = np.array(checked, dtype=bool)
    if n is not None and len(out) != n:
        raise InputError(f"{name} has {len(out)} entries but the pool has n={n} samples")
    return out


def scores_array(name: str, values: Sequence[float], n: int) -> np.ndarray:
    scores = np.asarray(values, dtype=float).reshape(-1)
    if len(scores) != n:
        raise InputError(f"{name} has {len(scores)} entries but the pool has n={n} samples")
    bad = np.flatnonzero(np.isnan(scores))
    if len(bad):
        raise InputError(f"{name}[{bad[0]}] is NaN; scores must be numbers")
    return scores


@lru_cache(maxsize=4096)
def comb_row(n: int) -> tuple[int, ...]:
    """C(n, 0..n) as exact Python ints."""
    return tuple(math.comb(n, t) for t in range(n + 1))
