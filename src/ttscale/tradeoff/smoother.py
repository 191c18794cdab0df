"""Parametric smoothers, kept only where they agree with the frontier.

The frontier (frontier.py) is the measurement; a parametric surface is an
optional smoother on top of it, for two uses: ``--smoother NAME`` reads rates
and spans off the smoother's iso-curves inside the data (smoother noise-free
curves where a family is known to hold), and ``--extrapolate`` continues a
span that the data's edge cuts (marked as extrapolated, never mixed with the
measured span).

Families (``SMOOTHERS``):

- ``logistic``: perf = floor + (ceiling - floor) sigmoid(a g(log TC) + b g(log IC) + c)
  with optional saturation (surface.py, fitting.py);
- ``power-law``: perf = exp(-(E + A IC^-alpha + B (TC/IC)^-beta)), the Chinchilla
  form in (TC, IC) (powerlaw.py).

**The check.** A smoother is accepted only when its iso-curves pass through the
frontier: at every level whose frontier has at least ``MIN_CHECKED`` points,
each frontier point's offset from the curve is measured along the diagonal
(half the difference in s = log TC + log IC at the same t = log TC - log IC,
i.e. OOM on each axis), and the median absolute offset must stay below
``TOLERANCE_OOM``. A family that misses the frontier systematically is
rejected, and the reason names the level and the offset. When no name is
given, the accepted smoother with the smallest offset is used.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass
from typing import Callable

import numpy as np

from ttscale.errors import InputError
from ttscale.tradeoff.curves import IsoCurve, extrapolation_box, trace_iso_curve, within_t
from ttscale.tradeoff.fitting import FitFailed, fit_surface
from ttscale.tradeoff.frontier import Frontier
from ttscale.tradeoff.observations import observations
from ttscale.tradeoff.powerlaw import fit_power_law
from ttscale.tradeoff.support import Support

TOLERANCE_OOM = 0.1
MIN_CHECKED = 3
MIN_POINTS = 6


@dataclass(frozen=True)
class FittedSmoother:
    name: str
    # level -> curve over the widened box (flagged outside the data); cached: judging, the span and the
    # JSON all read the same level's curve.
    curve_at: Callable[[float], IsoCurve | None]
    description: dict  # parameters and fit quality, for the JSON


def _logistic(x, y, perf, support: Support) -> FittedSmoother | None:
    try:
        fit = fit_surface(observations(10.0**x, 10.0**y, perf))
    except FitFailed:
        return None

    def curve_at(level: float) -> IsoCurve | None:
        return trace_iso_curve(fit.surface, level, support, extrapolate=True)

    return FittedSmoother("logistic", functools.cache(curve_at), fit.to_dict())


def _power_law(x, y, perf, support: Support) -> FittedSmoother | None:
    found = fit_power_law(x, y, perf)
    if found is None:
        return None
    law, rms = found

    def curve_at(level: float) -> IsoCurve | None:
        curve = law.iso_curve(level)
        if curve is None:
            return None
        (lo_x, hi_x), (lo_y, hi_y) = extrapolation_box(support)
        keep = (curve.x >= lo_x) & (curve.x <= hi_x) & (curve.y >= lo_y) & (curve.y <= hi_y)
        if keep.sum() < 2:
            return None
        return IsoCurve(curve.x[keep], curve.y[keep], curve.rate[keep], ~support.contains(curve.x[keep], curve.y[keep]))

    description = {"method": "power law in IC and TC/IC, robust (Huber) least squares on ln(-ln perf)",
                   "parameters": law.parameters(), "rms_log_loss": rms, "n_points": len(perf)}
    return FittedSmoother("power-law", functools.cache(curve_at), description)


SMOOTHERS: dict[str, Callable[..., FittedSmoother | None]] = {"logistic": _logistic, "power-law": _power_law}


def check_smoother_name(name: str, flag: str = "--smoother") -> str:
    if name not in SMOOTHERS:
        raise InputError(f"{flag}: unknown smoother {name!r} (choose one of: {', '.join(SMOOTHERS)})")
    return name


def frontier_offsets(curve: IsoCurve, frontier: Frontier) -> np.ndarray:
    """Each frontier point's offset from the curve along the diagonal (OOM on each axis); nan off its range."""
    t_curve, s_curve = curve.x - curve.y, curve.x + curve.y
    order = np.argsort(t_curve)
    t_curve, s_curve = t_curve[order], s_curve[order]
    t, s = frontier.x - frontier.y, frontier.x + frontier.y
    inside = (t >= t_curve[0]) & (t <= t_curve[-1])
    offsets = np.full(len(t), np.nan)
    offsets[inside] = 0.5 * (s[inside] - np.interp(t[inside], t_curve, s_curve))
    return offsets


@dataclass(frozen=True)
class SmootherVerdict:
    smoother: FittedSmoother
    accepted: bool
    reason: str | None
    median_offset_oom: dict[float, float]  # per checked level

    @property
    def worst_offset(self) -> float:
        return max(self.median_offset_oom.values(), default=np.inf)

    def to_dict(self) -> dict:
        return {
            "name": self.smoother.name,
            "accepted": self.accepted,
            "reason": self.reason,
            "median_offset_from_frontier_oom": {f"{k:g}": v for k, v in self.median_offset_oom.items()},
            "tolerance_oom": TOLERANCE_OOM,
            "fit": self.smoother.description,
        }


def judge(smoother: FittedSmoother, frontiers: dict[float, Frontier]) -> SmootherVerdict:
    """Accept the smoother when its curves pass through every checkable frontier (module docstring)."""
    offsets: dict[float, float] = {}
    for level, frontier in frontiers.items():
        if frontier.n < MIN_CHECKED:
            continue
        curve = smoother.curve_at(level)
        if curve is None:
            continue
        values = frontier_offsets(curve, frontier)
        values = values[np.isfinite(values)]
        if len(values) < MIN_CHECKED:
            offsets[level] = np.inf
            continue
        offsets[level] = float(np.median(np.abs(values)))
    if not offsets:
        return SmootherVerdict(smoother, False, "no level has a frontier of at least "
                               f"{MIN_CHECKED} points to check the smoother against", {})
    worst_level = max(offsets, key=offsets.get)
    worst = offsets[worst_level]
    if worst > TOLERANCE_OOM:
        where = "does not cover the frontier" if not np.isfinite(worst) else f"misses it by a median {worst:.2f} OOM"
        return SmootherVerdict(smoother, False, f"rejected: at level {worst_level:g} the {smoother.name} surface "
                               f"{where} (tolerance {TOLERANCE_OOM:g} OOM)", offsets)
    return SmootherVerdict(smoother, True, None, offsets)


def fit_smoothers(x, y, perf, support: Support, frontiers: dict[float, Frontier], names: list[str]) -> list[SmootherVerdict]:
    """Fit and judge each named smoother (those the data can afford)."""
    if len(perf) < MIN_POINTS:
        return []
    verdicts = []
    for name in names:
        fitted = SMOOTHERS[name](x, y, perf, support)
        if fitted is not None:
            verdicts.append(judge(fitted, frontiers))
    return verdicts


def best_accepted(verdicts: list[SmootherVerdict]) -> SmootherVerdict | None:
    accepted = [v for v in verdicts if v.accepted]
    return min(accepted, key=lambda v: v.worst_offset) if accepted else None


def inside_frontier(curve: IsoCurve | None, frontier: Frontier) -> IsoCurve | None:
    """The smoother's curve over the frontier's own range (what the data show)."""
    if curve is None or frontier.n < 2:
        return None
    t = frontier.x - frontier.y
    return within_t(curve, float(t.min()), float(t.max()))
