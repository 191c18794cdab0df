"""Known exchange rates and span endpoints recovered from points sampled on surfaces whose iso-curves
are known (closed forms and root finding in synthetic_surfaces.py, independent of the engine).

The frontier alone resolves a curve as finely as the points are spaced: a constant rate from a coarse
noisy grid, curved (saturating) surfaces from a denser one. On a coarse grid of a surface from the
logistic family, the ``logistic`` smoother (accepted only when it passes through the frontier) gives
the exact answer.
"""

from __future__ import annotations

import numpy as np
import pytest
from synthetic_surfaces import TrueSurface, grid_points, median_rate_along

from ttscale.tradeoff import analyse
from ttscale.tradeoff.fitting import fit_surface
from ttscale.tradeoff.observations import observations

RATE_TOLERANCE = 0.05
ENDPOINT_TOLERANCE_OOM = 0.1

# Constant exchange rate a/b = 1.5 everywhere.
PLANE = TrueSurface(a=1.2, b=0.8)
PLANE_BOX = (np.linspace(18, 22, 6), np.linspace(8, 12, 6))

# IC saturates at 1e10 FLOPs: the rate a / (b sigmoid(k (s - y))) runs from 1/12 (below 1/6) up to infinity,
# so both ends of the efficient span are set by the rate, not by the data's edge.
IC_SATURATING = TrueSurface(a=0.5, b=6.0, c=0.19, sat_y=(10.0, 4.0))
IC_SATURATING_BOX = (np.linspace(17, 24, 8), np.linspace(9, 12.5, 8))

# Both saturate: the span is bounded by saturation in IC at one end and in TC at the other.
BOTH_SATURATING = TrueSurface(a=1.0, b=3.0, sat_x=(21.0, 2.0), sat_y=(10.5, 3.0))
BOTH_SATURATING_BOX = (np.linspace(17, 24, 8), np.linspace(8, 13, 8))


def _box(grid):
    xs, ys = grid
    return (xs[0], xs[-1]), (ys[0], ys[-1])


def _dense(grid, n: int = 22):
    (x0, x1), (y0, y1) = _box(grid)
    return np.linspace(x0, x1, n), np.linspace(y0, y1, n)


def _check(surface: TrueSurface, grid, levels, noise: float, seed: int, smoother: str | None = None,
           rate_tol=RATE_TOLERANCE, end_tol=ENDPOINT_TOLERANCE_OOM):
    points = grid_points(surface, "t", *grid, noise=noise, seed=seed)
    result = analyse(points, levels=levels, n_boot=0, smoother=smoother)
    tech = result["techniques"]["t"]
    if smoother is not None:
        assert tech["smoother_used"] == smoother, tech["smoothers"]
    box_x, box_y = _box(grid)
    for level in levels:
        entry = tech["levels"][f"{level:g}"]
        assert entry["exchange_rate"] == pytest.approx(median_rate_along(surface, entry["curve"]), rel=rate_tol)
        (x_lo, x_hi), (y_lo, y_hi) = surface.span_endpoints(level, 6.0, box_x, box_y)
        ends = entry["span_endpoints"]
        assert np.log10(ends["train_flops"]) == pytest.approx([x_lo, x_hi], abs=end_tol), level
        assert np.log10(ends["infer_flops"]) == pytest.approx([y_lo, y_hi], abs=end_tol), level
        assert entry["span_oom_train"] == pytest.approx(x_hi - x_lo, abs=2 * end_tol)
        assert entry["span_oom_infer"] == pytest.approx(y_hi - y_lo, abs=2 * end_tol)
    return result


@pytest.mark.parametrize("seed", [0, 1])
def test_constant_rate_recovered_from_noisy_points_by_the_frontier(seed):
    result = _check(PLANE, PLANE_BOX, [0.3, 0.5, 0.7], noise=0.01, seed=seed)
    entry = result["techniques"]["t"]["levels"]["0.5"]
    # a/b = 1.5 lies inside [1/6, 6]: the whole frontier is efficient, and the data's edge cuts it.
    assert entry["exchange_rate"] == pytest.approx(1.5, rel=RATE_TOLERANCE)
    assert entry["span_oom_infer"] == pytest.approx(1.5 * entry["span_oom_train"], rel=RATE_TOLERANCE)
    assert entry["span_truncated"] == {"low_train": True, "high_train": True}


@pytest.mark.parametrize(
    "surface, grid",
    [(PLANE, PLANE_BOX), (IC_SATURATING, IC_SATURATING_BOX), (BOTH_SATURATING, BOTH_SATURATING_BOX)],
    ids=["plane", "ic-saturating", "both-saturating"],
)
def test_noise_free_dense_points_give_the_answer_from_the_frontier_alone(surface, grid):
    _check(surface, _dense(grid), [0.4, 0.6], noise=0.0, seed=0, rate_tol=0.05, end_tol=0.1)


def test_ic_saturation_bounds_the_span_and_is_recovered():
    result = _check(IC_SATURATING, IC_SATURATING_BOX, [0.3, 0.5], noise=0.003, seed=0, smoother="logistic")
    entry = result["techniques"]["t"]["levels"]["0.5"]
    # Analytic IC ends: the rate (a/b) / sigmoid(k (s - y)) equals 1/r and r where sigmoid(k (s - y)) = (a/b) r
    # and (a/b) / r, i.e. y = s - logit((a/b) r) / k and y = s - logit((a/b) / r) / k.
    a_over_b, ratio, s, k = 0.5 / 6.0, 6.0, 10.0, 4.0
    lo = s - np.log((a_over_b * ratio) / (1 - a_over_b * ratio)) / k
    hi = s - np.log((a_over_b / ratio) / (1 - a_over_b / ratio)) / k
    assert np.log10(entry["span_endpoints"]["infer_flops"]) == pytest.approx([lo, hi], abs=ENDPOINT_TOLERANCE_OOM)
    verdict = next(v for v in result["techniques"]["t"]["smoothers"] if v["name"] == "logistic")
    assert "IC-saturation" in verdict["fit"]["variant"]


@pytest.mark.parametrize("seed", [0, 1])
def test_two_saturations_recovered_from_noisy_points_with_the_logistic_smoother(seed):
    _check(BOTH_SATURATING, BOTH_SATURATING_BOX, [0.3, 0.5], noise=0.01, seed=seed, smoother="logistic")


@pytest.mark.parametrize(
    "surface, grid",
    [(PLANE, PLANE_BOX), (IC_SATURATING, IC_SATURATING_BOX), (BOTH_SATURATING, BOTH_SATURATING_BOX)],
    ids=["plane", "ic-saturating", "both-saturating"],
)
def test_noise_free_coarse_points_give_the_exact_answer_with_the_logistic_smoother(surface, grid):
    _check(surface, grid, [0.4, 0.6], noise=0.0, seed=0, smoother="logistic", rate_tol=0.03, end_tol=0.01)


def test_fitted_surface_is_monotone_in_both_computes():
    rng = np.random.default_rng(5)
    x = rng.uniform(18, 22, 30)
    y = rng.uniform(8, 12, 30)
    perf = rng.uniform(0, 1, 30)  # no structure at all: monotonicity must come from the family
    surface = fit_surface(observations(10**x, 10**y, perf)).surface
    gx, gy = np.meshgrid(np.linspace(16, 24, 80), np.linspace(6, 14, 80))
    values = surface.predict(gx, gy)
    assert np.all(np.diff(values, axis=0) >= -1e-12)
    assert np.all(np.diff(values, axis=1) >= -1e-12)
