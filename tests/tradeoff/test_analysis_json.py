"""The JSON: schema, automatic levels, bootstrap intervals, determinism, messy data, combinations."""

from __future__ import annotations

import json

import numpy as np
import pytest
from synthetic_surfaces import TrueSurface, grid_points

from ttscale.report.json_out import dumps
from ttscale.tradeoff import SCHEMA_VERSION, analyse
from ttscale.tradeoff.combine import adds_up
from ttscale.types import Point

PLANE = TrueSurface(a=1.2, b=0.8)
GRID = (np.linspace(18, 22, 6), np.linspace(8, 12, 6))


@pytest.fixture(scope="module")
def plane_result():
    points = grid_points(PLANE, "plane", *GRID, noise=0.02, seed=3, ci_halfwidth=0.04)
    return analyse(points, levels=[0.3, 0.6], n_boot=40, seed=7)


def test_schema_has_the_promised_keys(plane_result):
    r = plane_result
    assert r["schema_version"] == SCHEMA_VERSION
    assert r["levels"] == [0.3, 0.6] and r["ratio"] == 6.0 and r["levels_chosen"] == "given"
    tech = r["techniques"]["plane"]
    assert set(tech["fit"]) >= {"method", "parameters", "r2", "rmse", "n_points"}
    assert tech["fit"]["n_points"] == 36 and tech["fit"]["weighted_by_ci"] is True
    assert {"max_span_oom_train", "max_span_oom_infer", "effect_of_scale", "span_slope_train_per_oom_tc"} <= set(tech["summary"])
    level = tech["levels"]["0.6"]
    for key in ("exchange_rate_median", "exchange_rate_ci", "span_oom_train", "span_oom_infer", "curve", "extrapolated"):
        assert key in level
    assert all(len(pair) == 2 and pair[0] > 0 and pair[1] > 0 for pair in level["curve"])
    assert level["extrapolated"] is False
    assert isinstance(r["combinations"], list)


def test_json_is_strict(plane_result):
    text = dumps(plane_result)
    assert json.loads(text)["techniques"]["plane"]["levels"]["0.3"]["curve"]


def test_bootstrap_interval_brackets_the_estimate(plane_result):
    for level in plane_result["techniques"]["plane"]["levels"].values():
        lo, hi = level["exchange_rate_ci"]
        assert lo <= level["exchange_rate_median"] <= hi
        assert lo < hi  # the points were noisy: the interval has width
        assert hi / lo < 1.5  # ... but 36 points pin a constant rate down well
        assert level["bootstrap"]["curve_defined_fraction"] == 1.0


def test_same_seed_same_result_and_other_seed_other_interval():
    points = grid_points(PLANE, "plane", *GRID, noise=0.02, seed=3)
    first = analyse(points, levels=[0.5], n_boot=15, seed=1)
    again = analyse(points, levels=[0.5], n_boot=15, seed=1)
    other = analyse(points, levels=[0.5], n_boot=15, seed=2)
    assert dumps(first) == dumps(again)
    ci = lambda r: r["techniques"]["plane"]["levels"]["0.5"]["exchange_rate_ci"]
    assert ci(first) != ci(other)


def test_automatic_levels_lie_in_every_techniques_range():
    low = grid_points(PLANE, "a", *GRID)
    shifted = grid_points(TrueSurface(a=1.0, b=1.0, c=1.0), "b", *GRID)
    result = analyse(low + shifted, n_boot=0)
    assert result["levels_chosen"] == "automatic"
    floor = max(min(p.performance for p in low), min(p.performance for p in shifted))
    ceiling = min(max(p.performance for p in low), max(p.performance for p in shifted))
    assert len(result["levels"]) == 3
    assert all(floor < level < ceiling for level in result["levels"])
    for tech in result["techniques"].values():
        assert all(level["exchange_rate_median"] is not None for level in tech["levels"].values())


def test_level_outside_the_data_gives_null_rate_and_zero_span():
    points = grid_points(TrueSurface(a=1.0, b=1.0, c=-6.0), "low", *GRID)  # perf stays below ~0.5
    level = analyse(points, levels=[0.95], n_boot=5)["techniques"]["low"]["levels"]["0.95"]
    assert level["exchange_rate_median"] is None and level["exchange_rate_ci"] is None
    assert level["span_oom_train"] == 0 and level["span_oom_infer"] == 0 and level["curve"] == []
    assert level["note"]


def test_extrapolate_adds_a_marked_part_and_leaves_the_supported_numbers_alone():
    points = grid_points(PLANE, "plane", *GRID)
    plain = analyse(points, levels=[0.5], n_boot=0)["techniques"]["plane"]["levels"]["0.5"]
    wide = analyse(points, levels=[0.5], n_boot=0, extrapolate=True)["techniques"]["plane"]["levels"]["0.5"]
    assert wide["extrapolated"] is True
    assert any(wide["extrapolated_curve"]["extrapolated"]) and not all(wide["extrapolated_curve"]["extrapolated"])
    assert wide["span_oom_train"] == plain["span_oom_train"] and wide["curve"] == plain["curve"]
    assert wide["extrapolated_curve"]["span_oom_train"] > plain["span_oom_train"]


def _lab_like_points(rng) -> list[Point]:
    """Messy data: few models, IC tied to model size, performance stuck at 0 or 1, a 1-D technique."""
    models = [("s", 1e13, 2e6, 0.0), ("m", 5e13, 8e6, 0.1), ("l", 4e14, 4e7, 0.4), ("xl", 2e15, 1e8, 1.0)]
    points = []
    for name, tc, ic, p in models:
        for k in (1, 2, 4, 8, 16):
            perf = 1 - (1 - p) ** k
            points.append(Point("pass@k", name, tc, ic * k, float(np.clip(perf + rng.normal(0, 0.02), 0, 1))))
        for step in (0.0, 0.5):  # IC = sqrt(TC) exactly: the points lie on one line in log-log
            x = np.log10(tc) + step
            points.append(Point("one-dimensional", f"{name}{step}", 10**x, 10 ** (x / 2), min(1.0, p + step / 10)))
        points.append(Point("noise", name, tc, ic, float(rng.uniform())))
        points.append(Point("noise", name, tc, ic * 10, float(rng.uniform())))
    return points


def test_messy_data_never_crashes_and_reports_honestly():
    result = analyse(_lab_like_points(np.random.default_rng(0)), levels=[0.3, 0.6], n_boot=10)
    dumps(result)  # strict JSON
    one_d = result["techniques"]["one-dimensional"]
    assert one_d["support"]["degenerate"] is True
    assert all(level["exchange_rate_median"] is None and level["note"] for level in one_d["levels"].values())
    noise = result["techniques"]["noise"]["fit"]
    assert noise["quality"] in ("poor", "fair") or noise["r2"] < 0.9
    assert result["techniques"]["pass@k"]["fit"]["r2"] > 0.8


def test_adds_up_rule():
    assert adds_up(1.0, 1.0, 2.0) is True
    assert adds_up(1.0, 1.0, 1.85) is True  # within 10 % / 0.1 OOM
    assert adds_up(1.0, 1.0, 1.2) is False
    assert adds_up(0.0, 0.0, 0.5) is None


def test_techniques_on_different_parts_of_the_curve_add_up_and_overlapping_ones_do_not():
    # One true surface (rate 1, efficient everywhere; the level-0.5 curve is x + y = 30). "low-tc" is
    # measured at low TC and high IC, "high-tc" at high TC and low IC, on two shared models: each
    # supports 2 OOM of the curve, their union 4. "same" repeats "low-tc": their union adds nothing.
    surface = TrueSurface(a=1.0, b=1.0)
    low_tc = grid_points(surface, "low-tc", [18, 19, 20], np.linspace(10, 12, 4))
    high_tc = grid_points(surface, "high-tc", [19, 20, 21, 22], np.linspace(8, 10, 4))
    same = [Point("same", p.model, p.train_flops, p.infer_flops, p.performance) for p in low_tc]
    result = analyse(low_tc + high_tc + same, levels=[0.5], n_boot=0)
    pairs = {tuple(c["techniques"]): c for c in result["combinations"]}
    apart = pairs[("low-tc", "high-tc")]
    assert apart["shared_models"] == ["model-19.00", "model-20.00"]
    assert apart["levels"]["0.5"]["adds_up"] is True
    spans = apart["levels"]["0.5"]["span_oom_train"]
    assert spans["low-tc"] == pytest.approx(2.0, abs=0.05) and spans["high-tc"] == pytest.approx(2.0, abs=0.05)
    assert spans["combined"] == pytest.approx(4.0, abs=0.1)
    overlapping = pairs[("low-tc", "same")]
    assert overlapping["levels"]["0.5"]["adds_up"] is False
    assert overlapping["levels"]["0.5"]["span_oom_train"]["combined"] == pytest.approx(2.0, abs=0.05)
