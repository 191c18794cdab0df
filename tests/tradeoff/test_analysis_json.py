"""The JSON: schema, levels, bootstrap intervals (CI-based and over problems), determinism, honest nulls
on messy data, extrapolation kept apart, combinations."""

from __future__ import annotations

import json

import numpy as np
import pytest
from synthetic_surfaces import TrueSurface, grid_points

from ttscale.report.json_out import dumps
from ttscale.tradeoff import SCHEMA_VERSION, analyse
from ttscale.tradeoff.combine import adds_up
from ttscale.tradeoff.technique import RATE_RESOLVED
from ttscale.tradeoff.uncertainty import ProblemScores, problem_replicates
from ttscale.types import Point

PLANE = TrueSurface(a=1.2, b=0.8)
GRID = (np.linspace(18, 22, 6), np.linspace(8, 12, 6))


@pytest.fixture(scope="module")
def plane_result():
    points = grid_points(PLANE, "plane", *GRID, noise=0.02, seed=3, ci_halfwidth=0.04)
    return analyse(points, levels=[0.3, 0.6], n_boot=40, seed=7)


def test_schema_has_the_promised_keys(plane_result):
    r = plane_result
    assert r["schema_version"] == SCHEMA_VERSION == 2
    assert r["levels"] == [0.3, 0.6] and r["ratio"] == 6.0 and r["levels_chosen"] == "given"
    assert r["uncertainty"]["method"] == "ci" and r["smoother"] is None
    tech = r["techniques"]["plane"]
    assert tech["n_points"] == 36 and tech["n_models"] == 6 and tech["series"]["model"] == 6
    assert tech["smoothers"] == [] and tech["smoother_used"] is None
    assert {"max_span_oom_train", "max_span_oom_infer", "effect_of_scale"} <= set(tech["summary"])
    level = tech["levels"]["0.6"]
    for key in ("exchange_rate", "exchange_rate_reason", "exchange_rate_ci", "span_oom_train", "span_oom_infer",
                "span_oom_train_ci", "span_oom_infer_ci", "span_endpoints", "span_truncated", "span_note",
                "frontier", "curve", "exchange_rate_along_curve", "bootstrap"):
        assert key in level, key
    assert "extrapolated" not in level  # only with extrapolate=True
    assert all(len(pair) == 2 and pair[0] > 0 and pair[1] > 0 for pair in level["curve"])
    assert len(level["frontier"]["points"]) == len(level["frontier"]["on_data_edge"]) >= 2


def test_json_is_strict(plane_result):
    text = dumps(plane_result)
    assert json.loads(text)["techniques"]["plane"]["levels"]["0.3"]["curve"]


def test_bootstrap_interval_brackets_the_estimate(plane_result):
    for level in plane_result["techniques"]["plane"]["levels"].values():
        lo, hi = level["exchange_rate_ci"]
        assert lo <= level["exchange_rate"] <= hi
        assert lo < hi  # the points were noisy: the interval has width
        assert hi / lo < 1.6  # ... but 36 points pin a constant rate down well
        assert level["bootstrap"]["rate_defined_fraction"] == 1.0
        assert level["span_oom_train_ci"][0] > 0


def test_same_seed_same_result_and_other_seed_other_interval():
    points = grid_points(PLANE, "plane", *GRID, noise=0.02, seed=3, ci_halfwidth=0.05)
    first = analyse(points, levels=[0.5], n_boot=15, seed=1)
    again = analyse(points, levels=[0.5], n_boot=15, seed=1)
    other = analyse(points, levels=[0.5], n_boot=15, seed=2)
    assert dumps(first) == dumps(again)
    ci = lambda r: r["techniques"]["plane"]["levels"]["0.5"]["exchange_rate_ci"]  # noqa: E731
    assert ci(first) != ci(other)


def test_points_without_a_ci_get_no_interval_and_say_so():
    result = analyse(grid_points(PLANE, "plane", *GRID), levels=[0.5], n_boot=10)
    assert result["uncertainty"]["method"] == "none"
    assert result["techniques"]["plane"]["levels"]["0.5"]["exchange_rate_ci"] is None


def test_bootstrap_over_problems_shares_one_resample_per_task():
    rng = np.random.default_rng(0)
    ids = tuple(f"p{i}" for i in range(50))
    a = rng.uniform(size=50)
    scores = [ProblemScores("sums", ids, a), ProblemScores("sums", ids[::-1], a[::-1]),  # same, other order
              ProblemScores("sums", ids, 1 - a), ProblemScores("factoring", ids, a)]
    replicates = problem_replicates(scores, n_boot=200, seed=3).performance
    assert np.array_equal(replicates[0], replicates[1])  # aligned by problem id, not by position
    np.testing.assert_allclose(replicates[0] + replicates[2], 1.0)  # one resample for the whole task
    assert not np.array_equal(replicates[0], replicates[3])  # another task, another resample
    assert abs(replicates[0].mean() - a.mean()) < 0.01
    assert replicates[0].std() == pytest.approx(a.std() / np.sqrt(50), rel=0.2)


def test_problem_scores_drive_the_intervals():
    points = grid_points(PLANE, "plane", *GRID)
    rng = np.random.default_rng(1)
    ids = tuple(f"p{i}" for i in range(80))
    noise = rng.normal(0, 0.1, 80)
    scores = [ProblemScores("t", ids, np.clip(p.performance + noise, 0, 1)) for p in points]
    result = analyse(points, levels=[0.5], n_boot=30, seed=0, problem_scores=scores)
    assert result["uncertainty"]["method"] == "problems"
    lo, hi = result["techniques"]["plane"]["levels"]["0.5"]["exchange_rate_ci"]
    # A shift common to every point moves the curve, not its slope: the rate's interval stays tight.
    assert lo <= 1.5 * 1.05 and hi >= 1.5 / 1.05 and hi / lo < 1.2


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
        assert all(level["exchange_rate"] is not None for level in tech["levels"].values())


def test_level_outside_the_data_gives_null_rate_with_its_reason_and_zero_span():
    points = grid_points(TrueSurface(a=1.0, b=1.0, c=-6.0), "low", *GRID, ci_halfwidth=0.02)  # perf below ~0.5
    level = analyse(points, levels=[0.95], n_boot=5)["techniques"]["low"]["levels"]["0.95"]
    assert level["exchange_rate"] is None and level["exchange_rate_ci"] is None
    assert level["exchange_rate_reason"].startswith("no measured configuration reaches 0.95")
    assert level["span_oom_train"] == 0 and level["span_oom_infer"] == 0 and level["curve"] == []


def test_extrapolate_adds_a_marked_part_and_leaves_the_measured_numbers_alone():
    points = grid_points(PLANE, "plane", *GRID)
    plain = analyse(points, levels=[0.5], n_boot=0)["techniques"]["plane"]["levels"]["0.5"]
    wide_result = analyse(points, levels=[0.5], n_boot=0, extrapolate=True)
    wide = wide_result["techniques"]["plane"]["levels"]["0.5"]
    assert wide["span_oom_train"] == plain["span_oom_train"] and wide["curve"] == plain["curve"]
    extrapolated = wide["extrapolated"]
    assert extrapolated["smoother"] == "logistic"  # the plane is a logistic surface: accepted
    assert any(extrapolated["outside_data"]) and not all(extrapolated["outside_data"])
    assert extrapolated["span_oom_train"] > plain["span_oom_train"] + 1.0


def test_extrapolation_refused_when_no_smoother_agrees_with_the_frontier():
    # Noise on an 8 x 8 grid: its frontier at 0.5 has enough points to check a smoother against, and
    # neither smoother's curve comes near it.
    rng = np.random.default_rng(5)
    points = [Point("noise", f"m{i}", 10.0 ** (18 + i), 10.0 ** (8 + k), float(rng.uniform()))
              for i in range(8) for k in range(8)]
    level = analyse(points, levels=[0.5], n_boot=0, extrapolate=True)["techniques"]["noise"]["levels"]["0.5"]
    reason = level["extrapolated"]["reason"]
    assert reason.startswith("no smoother agrees with the frontier") and "nothing to extrapolate with" in reason
    assert "logistic: rejected: at level 0.5" in reason and "power-law: rejected: at level 0.5" in reason
    assert "span_oom_train" not in level["extrapolated"]


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
    pass_at_k = result["techniques"]["pass@k"]["levels"]["0.3"]
    assert pass_at_k["exchange_rate"] is not None and pass_at_k["span_oom_infer"] > 0


@pytest.mark.parametrize("seed", range(12))
def test_no_astronomical_rate_is_ever_reported_as_measured(seed):
    """Whatever the points, a rate is either null with a reason or within what log-compute data resolve."""
    rng = np.random.default_rng(seed)
    n_models = int(rng.integers(1, 7))
    points = []
    for m in range(n_models):
        tc = 10 ** rng.uniform(10, 22)
        ic = 10 ** rng.uniform(5, 12)
        base = rng.uniform()
        for k in range(int(rng.integers(1, 6))):
            perf = float(np.clip(base + rng.normal(0, 0.3) * rng.integers(0, 2), 0, 1))
            points.append(Point("random", f"m{m}", tc * (1 + rng.integers(0, 2) * rng.uniform()), ic * 2**k, perf,
                                max(0.0, perf - 0.05), min(1.0, perf + 0.05)))
    result = analyse(points, levels=[0.2, 0.5, 0.8], n_boot=20, seed=seed)
    for level in result["techniques"]["random"]["levels"].values():
        rate = level["exchange_rate"]
        if rate is None:
            assert level["exchange_rate_reason"]
        else:
            assert RATE_RESOLVED[0] <= rate <= RATE_RESOLVED[1]
        for bound in level["exchange_rate_ci"] or []:
            assert RATE_RESOLVED[0] <= bound <= RATE_RESOLVED[1]


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
    low_tc = grid_points(surface, "low-tc", [18, 19, 20], np.linspace(10, 12, 9))
    high_tc = grid_points(surface, "high-tc", [19, 20, 21, 22], np.linspace(8, 10, 9))
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
