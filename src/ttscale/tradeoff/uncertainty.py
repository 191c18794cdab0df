"""Bootstrap intervals for the exchange rate and the span.

Each replicate resamples the technique's points with replacement (the points
are the units that were measured); where a point has a CI, its performance is
also redrawn from a normal with the CI's half-width / 1.96 as standard
deviation, clipped to [0, 1] (the measurement's own noise, on top of which
points happen to be in the set). The replicate is refitted with the variant
chosen on the full data, warm-started from the full fit, and its curves are
traced inside the *original* support, so every replicate answers the same
question. Replicates with fewer than 2 distinct TC or IC values are skipped.

Intervals are the 2.5th and 97.5th percentiles (no interpolation, so an
unbounded rate stays unbounded and shows as null in JSON) over the replicates
in which the level's curve exists; ``defined_fraction`` says in how many it did.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ttscale.tradeoff.curves import efficient_span, trace_iso_curve
from ttscale.tradeoff.fitting import Fit, refit
from ttscale.tradeoff.observations import Observations
from ttscale.tradeoff.support import Support

BOOT_CURVE_SAMPLES = 301  # replicates need less resolution than the reported curve


@dataclass(frozen=True)
class LevelInterval:
    """Bootstrap intervals for one level; None where no replicate had a curve."""

    rate_ci: tuple[float, float] | None
    span_train_ci: tuple[float, float] | None
    span_infer_ci: tuple[float, float] | None
    n_replicates: int
    defined_fraction: float

    def to_dict(self) -> dict:
        return {"n_replicates": self.n_replicates, "curve_defined_fraction": self.defined_fraction}


def _interval(values: list[float]) -> tuple[float, float] | None:
    if not values:
        return None
    v = np.asarray(values, dtype=float)
    return float(np.quantile(v, 0.025, method="lower")), float(np.quantile(v, 0.975, method="higher"))


def _replicate(obs: Observations, ci_sigma: np.ndarray | None, rng: np.random.Generator) -> Observations | None:
    index = rng.integers(0, obs.n, obs.n)
    x, y = obs.x[index], obs.y[index]
    if len(np.unique(x)) < 2 or len(np.unique(y)) < 2:
        return None
    perf = obs.perf[index]
    if ci_sigma is not None:
        perf = np.clip(perf + rng.normal(0.0, 1.0, obs.n) * ci_sigma[index], 0.0, 1.0)
    return Observations(x, y, perf, obs.sigma[index], obs.weighted)


def bootstrap_levels(
    obs: Observations,
    ci_sigma: np.ndarray | None,
    fit: Fit,
    support: Support,
    levels: list[float],
    ratio: float,
    n_boot: int,
    rng: np.random.Generator,
) -> dict[float, LevelInterval]:
    """Intervals per level (see the module docstring). ``ci_sigma``: per-point jitter sd, or None."""
    rates: dict[float, list[float]] = {level: [] for level in levels}
    spans_train: dict[float, list[float]] = {level: [] for level in levels}
    spans_infer: dict[float, list[float]] = {level: [] for level in levels}
    n_valid = 0
    for _ in range(n_boot):
        sample = _replicate(obs, ci_sigma, rng)
        if sample is None:
            continue
        surface = refit(sample, fit.surface)
        if surface is None:
            continue
        n_valid += 1
        for level in levels:
            curve = trace_iso_curve(surface, level, support, count=BOOT_CURVE_SAMPLES)
            if curve is None:
                continue
            span = efficient_span(curve, ratio)
            rates[level].append(curve.median_rate)
            spans_train[level].append(span.oom_train)
            spans_infer[level].append(span.oom_infer)
    return {
        level: LevelInterval(
            rate_ci=_interval(rates[level]),
            span_train_ci=_interval(spans_train[level]),
            span_infer_ci=_interval(spans_infer[level]),
            n_replicates=n_valid,
            defined_fraction=(len(rates[level]) / n_valid) if n_valid else 0.0,
        )
        for level in levels
    }
