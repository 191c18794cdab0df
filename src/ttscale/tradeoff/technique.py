"""One technique: its points fitted, its support, and the per-level numbers.

Shared by the analysis (with bootstrap intervals), the combinations (fit on a
union of points) and the planner (optimising on the fitted surface).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ttscale.tradeoff.curves import IsoCurve, Span, efficient_span, trace_iso_curve
from ttscale.tradeoff.fitting import Fit, FitFailed, fit_surface
from ttscale.tradeoff.observations import Observations, observations
from ttscale.tradeoff.points import fit_readiness
from ttscale.tradeoff.support import Support, support_of
from ttscale.types import Point

JSON_CURVE_POINTS = 101  # the curve as written to JSON and drawn; statistics use the dense one


@dataclass(frozen=True)
class FittedTechnique:
    name: str
    obs: Observations
    ci_sigma: np.ndarray | None  # per-point performance sd from the CI, for the bootstrap's jitter
    fit: Fit
    support: Support


@dataclass(frozen=True)
class LevelCurve:
    """The numbers of one level before bootstrap intervals are attached."""

    level: float
    curve: IsoCurve | None
    span: Span
    extrapolated_curve: IsoCurve | None
    extrapolated_span: Span | None
    note: str | None


def fit_technique(name: str, points: list[Point]) -> FittedTechnique:
    """Fit one technique's points (the caller has checked it has enough of them)."""
    has_ci = [p.ci_low is not None and p.ci_high is not None for p in points]
    obs = observations(
        [p.train_flops for p in points],
        [p.infer_flops for p in points],
        [p.performance for p in points],
        [p.ci_low for p in points],
        [p.ci_high for p in points],
    )
    # The bootstrap redraws each performance within its CI (sd = half-width / 1.96; 0 without a CI).
    ci_sigma = (
        np.array([(p.ci_high - p.ci_low) / (2 * 1.96) if known else 0.0 for p, known in zip(points, has_ci)])
        if any(has_ci)
        else None
    )
    return FittedTechnique(name, obs, ci_sigma, fit_surface(obs), support_of(obs.x, obs.y))


def try_fit(name: str, points: list[Point]) -> tuple[FittedTechnique | None, str | None]:
    """(fitted, None), or (None, what the technique lacks / why the fit failed): never raises."""
    readiness = fit_readiness(name, points)
    if not readiness.ok:
        return None, readiness.problem
    try:
        return fit_technique(name, points), None
    except FitFailed as exc:
        return None, f"technique {name!r}: {exc}"


def _why_no_curve(fitted: FittedTechnique, level: float) -> str:
    surface = fitted.fit.surface
    if not surface.floor < level < surface.ceiling:
        return (
            f"level {level:g} is outside the fitted range of performance "
            f"({surface.floor:.3g} to {surface.ceiling:.3g})"
        )
    if fitted.support.degenerate:
        return "the points lie on a line in (log TC, log IC): they support no iso-curve"
    return f"the level-{level:g} curve does not pass through the region the data cover"


def level_curve(fitted: FittedTechnique, level: float, ratio: float, extrapolate: bool) -> LevelCurve:
    surface = fitted.fit.surface
    curve = trace_iso_curve(surface, level, fitted.support)
    span = efficient_span(curve, ratio)
    note = None if curve is not None else _why_no_curve(fitted, level)
    if curve is not None and not np.isfinite(curve.median_rate):
        note = "inference compute does not help at this level: the exchange rate is unbounded"
    extrapolated = extrapolated_span = None
    if extrapolate:
        extrapolated = trace_iso_curve(surface, level, fitted.support, extrapolate=True)
        extrapolated_span = efficient_span(extrapolated, ratio) if extrapolated is not None else None
    return LevelCurve(level, curve, span, extrapolated, extrapolated_span, note)


def _pairs(curve: IsoCurve) -> list[list[float]]:
    return [[10.0**x, 10.0**y] for x, y in zip(curve.x, curve.y)]


def _finite_or_none(value: float) -> float | None:
    return float(value) if np.isfinite(value) else None


def level_dict(result: LevelCurve) -> dict:
    """The JSON of one level, without bootstrap intervals (analysis.py adds them)."""
    curve = result.curve
    shown = curve.thinned(JSON_CURVE_POINTS) if curve is not None else None
    out = {
        "level": result.level,
        "exchange_rate_median": None if curve is None else _finite_or_none(curve.median_rate),
        "exchange_rate_ci": None,
        "span_oom_train": result.span.oom_train,
        "span_oom_infer": result.span.oom_infer,
        "span_oom_train_ci": None,
        "span_oom_infer_ci": None,
        "span_endpoints": result.span.endpoints(),
        "scale_log10_train_flops": None if curve is None else curve.scale_log10_train,
        "curve": [] if shown is None else _pairs(shown),
        "exchange_rate_along_curve": [] if shown is None else [_finite_or_none(r) for r in shown.rate],
        "extrapolated": False,
        "note": result.note,
    }
    if result.extrapolated_curve is not None:
        ext = result.extrapolated_curve.thinned(JSON_CURVE_POINTS)
        out["extrapolated"] = bool(np.any(ext.extrapolated))
        out["extrapolated_curve"] = {
            "curve": _pairs(ext),
            "extrapolated": [bool(v) for v in ext.extrapolated],
            "exchange_rate_along_curve": [_finite_or_none(r) for r in ext.rate],
            "span_oom_train": result.extrapolated_span.oom_train if result.extrapolated_span else 0.0,
            "span_oom_infer": result.extrapolated_span.oom_infer if result.extrapolated_span else 0.0,
            "span_endpoints": result.extrapolated_span.endpoints() if result.extrapolated_span else None,
        }
    return out
