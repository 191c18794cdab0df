"""Fitting the surface of surface.py to one technique's points.

Method: bounded (trust-region reflective) least squares on performance, from a
few deterministic starts per variant, for each variant of the family that the
data can afford (n >= parameters + 2); the variant with the lowest AICc wins.

- Residuals are (predicted - measured) / sigma, sigma from each point's CI
  (observations.py); the Jacobian is analytic (objective.py).
- Bounds enforce monotonicity (a, b >= 0) and keep saturation points within
  a few OOM of the data, where they can be identified at all.
- AICc = n log(RSS/n) + 2k + 2k(k+1)/(n-k-1) trades fit against the number of
  parameters k, so saturation and a free floor/ceiling are used only when the
  data ask for them.
- R² and RMSE are reported unweighted, on performance, so a poor fit is plain.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy.optimize import least_squares

from ttscale.tradeoff.objective import jacobian, residuals
from ttscale.tradeoff.observations import Observations
from ttscale.tradeoff.surface import (ALL_VARIANTS, Saturation, Surface, Variant, surface_from_vector)

MAX_SLOPE = 50.0  # logit per OOM: steeper than any measured technique, loose enough not to bind
MIN_SHARPNESS, MAX_SHARPNESS = 0.5, 30.0
SATURATION_MARGIN_BELOW, SATURATION_MARGIN_ABOVE = 1.0, 3.0  # OOM around the data
SEARCH_MAX_NFEV = 150  # per start; starts that wander this long are degenerate (a saturation at a bound)


class FitFailed(RuntimeError):
    """No variant could be fitted (not seen in practice; callers report it instead of crashing)."""


@dataclass(frozen=True)
class VariantScore:
    variant: str
    n_params: int
    aicc: float
    r2: float | None


@dataclass(frozen=True)
class Fit:
    surface: Surface
    r2: float | None
    rmse: float
    aicc: float
    n_points: int
    weighted: bool
    tried: tuple[VariantScore, ...]

    def to_dict(self) -> dict:
        return {
            "method": "monotone logistic surface in (log10 TC, log10 IC), bounded least squares, variant by AICc",
            "variant": self.surface.variant.name,
            "parameters": self.surface.parameters(),
            "r2": self.r2,
            "rmse": self.rmse,
            "aicc": self.aicc,
            "n_points": self.n_points,
            "weighted_by_ci": self.weighted,
            "quality": fit_quality(self.r2),
            "variants_tried": [vars(score) for score in self.tried],
        }


def fit_quality(r2: float | None) -> str:
    """A word for the summary table; thresholds are conventional, not statistical tests."""
    if r2 is None:
        return "undetermined (performance does not vary)"
    if r2 >= 0.9:
        return "good"
    if r2 >= 0.7:
        return "fair"
    return "poor"


def _bounds(variant: Variant, obs: Observations) -> tuple[list[float], list[float]]:
    lo, hi = [0.0, 0.0, -200.0], [MAX_SLOPE, MAX_SLOPE, 200.0]
    for enabled, axis in ((variant.saturate_train, obs.x), (variant.saturate_infer, obs.y)):
        if enabled:
            lo += [axis.min() - SATURATION_MARGIN_BELOW, MIN_SHARPNESS]
            hi += [axis.max() + SATURATION_MARGIN_ABOVE, MAX_SHARPNESS]
    if variant.free_bounds:
        lo += [0.0, 0.02]
        hi += [0.98, 1.0]
    return lo, hi


def _theta(surface: Surface, sat_train: list[float], sat_infer: list[float], bounds: list[float]) -> list[float]:
    """A start vector from a fitted surface, with parts swapped in (empty list = leave out)."""
    return [surface.slope_train, surface.slope_infer, surface.offset] + sat_train + sat_infer + bounds


def _saturation(sat: Saturation | None) -> list[float]:
    return [] if sat is None else [sat.point, sat.sharpness]


def _starts(variant: Variant, obs: Observations, plane: tuple[float, float, float], fitted: dict) -> list[list[float]]:
    """Starting points, warm where a simpler variant has been fitted (variants go simple to complex).

    - a free floor/ceiling starts from the same variant without it, with the
      floor and ceiling just outside the observed performance range;
    - two saturations start from each one-saturation fit, the other saturation
      placed just past the data (where it changes nothing yet);
    - otherwise: the logit-regression plane, with saturation at the 50th and
      80th percentiles of the data and just past them.
    """
    fixed = Variant(variant.saturate_train, variant.saturate_infer, free_bounds=False)
    if variant.free_bounds and fixed in fitted:
        base = fitted[fixed]
        floor = float(0.5 * obs.perf.min())
        ceiling = float(obs.perf.max() + 0.5 * (1.0 - obs.perf.max()))
        bounds = [floor, (ceiling - floor) / (1.0 - floor)]
        return [_theta(base, _saturation(base.sat_train), _saturation(base.sat_infer), bounds)]

    def sat_options(axis: np.ndarray) -> list[list[float]]:
        return [[float(np.quantile(axis, q)), 2.0] for q in (0.5, 0.8)] + [[float(axis.max()) + 0.5, 2.0]]

    if variant.saturate_train and variant.saturate_infer and not variant.free_bounds:
        warm = []
        only_infer = fitted.get(Variant(False, True, False))
        only_train = fitted.get(Variant(True, False, False))
        if only_infer is not None:
            warm.append(_theta(only_infer, [float(obs.x.max()) + 0.5, 2.0], _saturation(only_infer.sat_infer), []))
        if only_train is not None:
            warm.append(_theta(only_train, _saturation(only_train.sat_train), [float(obs.y.max()) + 0.5, 2.0], []))
        if warm:
            return warm

    train_opts = sat_options(obs.x) if variant.saturate_train else [[]]
    infer_opts = sat_options(obs.y) if variant.saturate_infer else [[]]
    if variant.saturate_train and variant.saturate_infer:
        combos = [(train_opts[i], infer_opts[j]) for i, j in ((0, 0), (2, 1), (1, 2))]
    else:
        combos = [(t, i) for t in train_opts for i in infer_opts]
    bounds_opts: list[list[float]] = [[]]
    if variant.free_bounds:
        floor = float(max(0.0, min(0.9, obs.perf.min() * 0.9)))
        ceiling = float(min(1.0, max(obs.perf.max() * 1.05, floor + 0.05)))
        bounds_opts = [[floor, (ceiling - floor) / (1.0 - floor)]]
    return [list(plane) + t + i + b for t, i in combos for b in bounds_opts]


def logit_plane(obs: Observations) -> tuple[float, float, float, float, float]:
    """(a, b, c, x0, y0) from linear regression of the clipped logit on centred x, y."""
    x0, y0 = float(obs.x.mean()), float(obs.y.mean())
    p = np.clip(obs.perf, 0.02, 0.98)
    target = np.log(p) - np.log1p(-p)
    design = np.column_stack([obs.x - x0, obs.y - y0, np.ones(obs.n)])
    coef, *_ = np.linalg.lstsq(design, target, rcond=None)
    a, b, c = (float(v) for v in coef)
    return min(max(a, 0.05), MAX_SLOPE - 1), min(max(b, 0.05), MAX_SLOPE - 1), float(np.clip(c, -150, 150)), x0, y0


def _solve(variant: Variant, obs: Observations, x0: float, y0: float, starts: list[list[float]], max_nfev: int = 200):
    lo, hi = _bounds(variant, obs)
    residual = residuals(variant, obs, x0, y0)
    jac = jacobian(variant, obs, x0, y0)
    best = None
    for start in starts:
        theta0 = np.clip(np.asarray(start, dtype=float), np.asarray(lo) + 1e-9, np.asarray(hi) - 1e-9)
        try:
            sol = least_squares(
                residual, theta0, jac=jac, bounds=(lo, hi), method="trf", x_scale="jac", max_nfev=max_nfev
            )
        except (ValueError, np.linalg.LinAlgError):
            continue
        if not np.all(np.isfinite(sol.fun)):
            continue
        if best is None or sol.cost < best.cost:
            best = sol
    return best


def _aicc(rss: float, n: int, k: int) -> float:
    rss = max(rss, n * 1e-12)  # an exact fit would give log(0)
    return float(n * np.log(rss / n) + 2 * k + 2 * k * (k + 1) / (n - k - 1))


def _scores(surface: Surface, obs: Observations) -> tuple[float | None, float]:
    predicted = surface.predict(obs.x, obs.y)
    ss_res = float(np.sum((predicted - obs.perf) ** 2))
    ss_tot = float(np.sum((obs.perf - obs.perf.mean()) ** 2))
    r2 = None if ss_tot <= 1e-15 else 1.0 - ss_res / ss_tot
    return r2, float(np.sqrt(ss_res / obs.n))


def fit_surface(obs: Observations) -> Fit:
    """Fit every affordable variant, keep the lowest AICc (see the module docstring)."""
    a, b, c, x0, y0 = logit_plane(obs)
    candidates: list[tuple[float, Surface]] = []
    tried: list[VariantScore] = []
    fitted: dict[Variant, Surface] = {}
    for variant in ALL_VARIANTS:
        k = variant.n_params
        if obs.n < k + 2:
            continue
        sol = _solve(variant, obs, x0, y0, _starts(variant, obs, (a, b, c), fitted), max_nfev=SEARCH_MAX_NFEV)
        if sol is None:
            continue
        surface = surface_from_vector(variant, sol.x, x0, y0)
        fitted[variant] = surface
        aicc = _aicc(2.0 * float(sol.cost), obs.n, k)
        r2, _ = _scores(surface, obs)
        tried.append(VariantScore(variant.name, k, aicc, r2))
        candidates.append((aicc, surface))
    if not candidates:
        raise FitFailed("the optimiser failed for every variant of the surface")
    aicc, surface = min(candidates, key=lambda item: item[0])
    r2, rmse = _scores(surface, obs)
    return Fit(surface, r2, rmse, aicc, obs.n, obs.weighted, tuple(tried))
