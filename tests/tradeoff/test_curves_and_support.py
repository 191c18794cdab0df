"""Span measurement on curves with known rates; the convex-hull support; the effect-of-scale phrase."""

from __future__ import annotations

import numpy as np
import pytest

from ttscale.tradeoff.curves import IsoCurve, efficient_span, trace_iso_curve
from ttscale.tradeoff.scale import LevelSpan, effect_of_scale
from ttscale.tradeoff.support import support_of
from ttscale.tradeoff.surface import Surface, Variant


def _curve(x, y, rate) -> IsoCurve:
    x, y, rate = (np.asarray(v, dtype=float) for v in (x, y, rate))
    return IsoCurve(x, y, rate, np.zeros(len(x), bool))


def test_span_ends_are_interpolated_where_log_rate_crosses_the_bounds():
    # Along x in [0, 10] the log-rate falls linearly from log 100 to log 0.01: it is in [1/6, 6]
    # for log(rate) in [-log 6, log 6], i.e. x in [5 - 5 log6/log100, 5 + 5 log6/log100].
    x = np.linspace(0, 10, 41)
    rate = np.exp(np.log(100) - x / 10 * np.log(1e4))
    y = -0.5 * x
    span = efficient_span(_curve(x, y, rate), 6.0)
    half = 5 * np.log(6) / np.log(100)
    assert span.oom_train == pytest.approx(2 * half, abs=1e-9)
    assert span.oom_infer == pytest.approx(half, abs=1e-9)
    ends = span.endpoints()
    assert np.log10(ends["train_flops"]) == pytest.approx([5 - half, 5 + half])


def test_no_efficient_part_gives_an_empty_span():
    span = efficient_span(_curve([0, 1, 2], [2, 1, 0], [10, 20, 30]), 6.0)
    assert span.oom_train == 0.0 and span.oom_infer == 0.0 and span.endpoints() is None
    assert efficient_span(None, 6.0).oom_train == 0.0


def test_infinite_rates_are_outside_the_span():
    span = efficient_span(_curve([0, 1, 2, 3], [3, 2, 1, 1], [1, 1, np.inf, np.inf]), 6.0)
    assert span.oom_train == pytest.approx(1.0, abs=0.05)


def test_hull_excludes_the_unmeasured_corner_of_a_sheared_grid():
    # IC grows with model size: the corner "big model, tiny IC" was never measured.
    xs, ys = [], []
    for model in range(5):
        for k in range(5):
            xs.append(18 + model)
            ys.append(8 + 0.5 * model + k)
    support = support_of(xs, ys)
    assert bool(support.contains(20, 10)) is True
    assert bool(support.contains(22, 8.2)) is False  # inside the bounding box, outside the hull
    assert support.x_range == (18, 22) and support.y_range == (8, 14)


def test_collinear_points_support_no_curve():
    x = np.linspace(18, 22, 6)
    support = support_of(x, x - 10)
    assert support.degenerate
    surface = Surface(Variant(False, False, False), 1.0, 1.0, 0.0, 20.0, 10.0, None, None, 0.0, 1.0)
    curve = trace_iso_curve(surface, 0.5, support)
    # The level-0.5 curve crosses the line of points at one point only: no curve to speak of.
    assert curve is None
    assert trace_iso_curve(surface, 0.5, support, extrapolate=True).extrapolated.mean() > 0.9


def test_curve_outside_fitted_range_is_none():
    surface = Surface(Variant(False, False, True), 1.0, 1.0, 0.0, 20.0, 10.0, None, None, 0.2, 0.7)
    support = support_of([18, 22, 18, 22], [8, 8, 12, 12])
    assert trace_iso_curve(surface, 0.8, support) is None
    assert trace_iso_curve(surface, 0.5, support) is not None


def test_extrapolated_points_are_flagged_and_the_supported_part_is_not():
    surface = Surface(Variant(False, False, False), 1.0, 1.0, 0.0, 20.0, 10.0, None, None, 0.0, 1.0)
    support = support_of([19, 21, 19, 21], [9, 9, 11, 11])
    inside = trace_iso_curve(surface, 0.5, support)
    wide = trace_iso_curve(surface, 0.5, support, extrapolate=True)
    assert not inside.extrapolated.any()
    assert wide.extrapolated.any() and (~wide.extrapolated).any()
    assert wide.x.min() < 19 - 0.5 and wide.x.max() > 21 + 0.5


@pytest.mark.parametrize(
    "spans, phrase",
    [
        ([(0.5, 20, 0.5, 0.5), (0.7, 21, 1.0, 1.0), (0.9, 22, 1.5, 1.5)], "increasing span"),
        ([(0.5, 20, 1.5, 1.5), (0.7, 21, 1.0, 1.0), (0.9, 22, 0.0, 0.0)], "decreasing span (vanishes at the highest level)"),
        ([(0.5, 20, 1.0, 1.0), (0.7, 21, 1.02, 1.0), (0.9, 22, 1.0, 1.01)], "none"),
        ([(0.5, 20, 0.0, 0.0), (0.7, 21, 0.0, 0.0)], "no efficient span"),
        ([(0.5, 20, 1.0, 1.0), (0.7, None, 0.0, 0.0)], "unknown (fewer than 2 levels with a curve)"),
    ],
)
def test_effect_of_scale_phrase(spans, phrase):
    summary = effect_of_scale([LevelSpan(*s) for s in spans])
    assert summary["effect_of_scale"] == phrase


def test_effect_of_scale_slope_per_oom_of_training_compute():
    summary = effect_of_scale([LevelSpan(0.5, 20.0, 1.0, 0.5), LevelSpan(0.8, 22.0, 2.0, 0.66)])
    assert summary["span_slope_train_per_oom_tc"] == pytest.approx(0.5)
    assert summary["span_slope_infer_per_oom_tc"] == pytest.approx(0.08)
    assert summary["max_span_oom_train"] == 2.0
