"""Exact, unbiased budget curves from one pool of n samples per problem.

"Generate once, analyse many": the performance of a strategy that
draws k samples is estimated from one pool of n >= k samples by averaging over
*all* C(n, k) subsets of the pool, uniformly, in closed form. Never from "the
first k samples", which is one order-dependent draw and a noisier estimate.

- ``pass_at_k``: at least one correct sample among k (Chen et al. 2021, the
  unbiased product form 1 - C(n-c, k) / C(n, k)).
- ``majority_at_k``: the plurality answer of the k drawn samples is correct.
- ``best_at_k``: the highest-scoring of the k drawn samples is correct.
- ``first_verified_at_k`` / ``expected_draws_until_verified``: draw until the
  cheap verifier accepts a sample (at most k); answer with it.

Modules: exact.py (pass, best, first-verified), majority.py (the exact
majority vote and its fixed tie-break order), curves.py (per-problem curves),
bootstrap.py (intervals over problems), checks.py (argument checks).

Each ``*_at_k`` has a vectorised ``*_at_ks`` twin that returns a whole curve,
and the ``*_curve`` helpers apply them to a list of pools (one per problem).
``bootstrap_ci`` resamples problems; the interval covers problem sampling only,
not the finite pool (the estimators are exact given the pool) nor the choice of
model seed.
"""

from ttscale.estimators.bootstrap import bootstrap_ci
from ttscale.estimators.curves import (Curve, PoolLike, PoolView, best_curve, curve, first_verified_curve,
                                       majority_curve, pass_curve)
from ttscale.estimators.exact import (best_at_k, best_at_ks, expected_draws_until_verified, first_verified_at_k,
                                      first_verified_at_ks, pass_at_k, pass_at_ks)
from ttscale.estimators.majority import majority_at_k, majority_at_ks

__all__ = [
    "Curve",
    "PoolLike",
    "PoolView",
    "best_at_k",
    "best_at_ks",
    "best_curve",
    "bootstrap_ci",
    "curve",
    "expected_draws_until_verified",
    "first_verified_at_k",
    "first_verified_at_ks",
    "first_verified_curve",
    "majority_at_k",
    "majority_at_ks",
    "majority_curve",
    "pass_at_k",
    "pass_at_ks",
    "pass_curve",
]
