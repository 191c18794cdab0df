"""The percentile bootstrap over problems."""

from __future__ import annotations

import numpy as np

from ttscale.errors import InputError
from ttscale.estimators.checks import as_int

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
    n_boot = as_int("n_boot", n_boot)
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
