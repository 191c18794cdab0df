"""Bootstrap intervals for the exchange rate and the span.

A replicate is a new performance for every point; the frontier, its curve,
the rate and the span are recomputed from it exactly as from the data.
Intervals are the 2.5th and 97.5th percentiles over the replicates in which
the level's quantity exists (``defined_fraction`` says in how many it did).

Where replicates come from (``Replicates.method``):

- ``problems`` — the lab and the sweep know each point's per-problem scores:
  a replicate resamples the problems with replacement, with the **same**
  resample for every point measured on the same problems (every model and
  budget of a task), so the correlation between a model's budgets and between
  models, which decides where a frontier lies, is kept. This is the bootstrap
  over problems. Inference compute is held at its measured means.
- ``ci`` — a points CSV carries only each point's CI: a replicate redraws each
  performance from a normal with the CI's half-width / 1.96 as standard
  deviation, with one shared draw per model (a model's budgets are measured on
  the same problems, so their errors move together), clipped to [0, 1].
- no CI and no per-problem scores: no intervals (null), said in the JSON.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from ttscale.types import Point


@dataclass(frozen=True)
class ProblemScores:
    """What one point scored on each problem of its task, by problem id."""

    task: str
    problem_ids: tuple[str, ...]
    performance: np.ndarray


@dataclass(frozen=True)
class Replicates:
    performance: np.ndarray  # (n_points, n_boot)
    method: str


METHOD_WORDS = {
    "problems": "bootstrap over problems (one resample per task, shared by every point on it); IC held at its mean",
    "ci": "each point's performance redrawn within its CI (one normal draw per model); IC held as given",
    "none": "no intervals: the points carry neither a CI nor per-problem scores",
}


def problem_scores_of(details) -> list[ProblemScores] | None:
    """Per-problem scores of every point (objects with task, problem_ids, problem_scores), or None if any lacks them."""
    if not details or any(not d.problem_scores for d in details):
        return None
    return [ProblemScores(d.task, tuple(d.problem_ids), np.asarray(d.problem_scores, dtype=float)) for d in details]


def problem_replicates(scores: Sequence[ProblemScores], n_boot: int, seed: int) -> Replicates:
    """Resample problems per task (see the module docstring); ``scores`` is aligned with the points."""
    rng = np.random.default_rng(seed)
    draws: dict[tuple[str, tuple[str, ...]], np.ndarray] = {}
    out = np.empty((len(scores), n_boot))
    for i, score in enumerate(scores):
        ids = tuple(sorted(score.problem_ids))  # one canonical order per problem set
        key = (score.task, ids)
        if key not in draws:
            draws[key] = rng.integers(0, len(ids), size=(n_boot, len(ids)))
        position = {pid: j for j, pid in enumerate(ids)}
        canonical = np.empty(len(ids))
        canonical[[position[pid] for pid in score.problem_ids]] = score.performance
        out[i] = canonical[draws[key]].mean(axis=1)
    return Replicates(out, "problems")


def ci_replicates(points: Sequence[Point], n_boot: int, seed: int) -> Replicates | None:
    """CI-based replicates, or None when no point has a CI."""
    sigma = np.array([
        (p.ci_high - p.ci_low) / (2 * 1.96) if p.ci_low is not None and p.ci_high is not None else 0.0
        for p in points
    ])
    if not np.any(sigma > 0):
        return None
    rng = np.random.default_rng(seed)
    models = sorted({(p.technique, p.model) for p in points})
    shocks = {m: rng.normal(0.0, 1.0, n_boot) for m in models}
    perf = np.array([p.performance for p in points])
    out = np.array([perf[i] + sigma[i] * shocks[(p.technique, p.model)] for i, p in enumerate(points)])
    return Replicates(np.clip(out, 0.0, 1.0), "ci")


def percentile_interval(values: Sequence[float]) -> tuple[float, float] | None:
    if not len(values):
        return None
    v = np.asarray(values, dtype=float)
    return float(np.quantile(v, 0.025, method="lower")), float(np.quantile(v, 0.975, method="higher"))


@dataclass
class LevelDraws:
    """What one level gave over the replicates."""

    rates: list[float]
    spans_train: list[float]
    spans_infer: list[float]
    frontier_found: int = 0

    def to_dict(self, n_replicates: int) -> dict:
        return {
            "n_replicates": n_replicates,
            "rate_defined_fraction": len(self.rates) / n_replicates if n_replicates else 0.0,
            "frontier_fraction": self.frontier_found / n_replicates if n_replicates else 0.0,
        }
