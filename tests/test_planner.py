"""The lifetime planner: matches brute force, sits where the exchange rate equals TC/(N IC),
splits spend evenly at a 1:1 rate, and turns FLOPs into hours, kWh, water and dollars."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest

from ttscale.errors import InputError
from ttscale.hardware import BUILTIN_DEVICES, compute_cost, get_device, load_hardware_table
from ttscale.planner import break_even, plan
from ttscale.types import Point

XS = np.linspace(18, 22, 7)
YS = np.linspace(8, 12, 7)


def sigmoid(z):
    return 1.0 / (1.0 + np.exp(-z))


def plane(a: float, b: float, c: float = 0.0):
    """perf = sigmoid(a (x - 20) + b (y - 10) + c): iso-curves are lines of slope -a/b."""
    return lambda x, y: sigmoid(a * (x - 20) + b * (y - 10) + c)


def ic_saturating(a: float, b: float, s: float, k: float):
    def f(x, y):
        g = s - np.logaddexp(0.0, k * (s - y)) / k
        return sigmoid(a * (x - 20) + b * (g - 10))

    return f


def grid(technique: str, f, xs=XS, ys=YS) -> list[Point]:
    return [Point(technique, f"{technique}-{x:.2f}", 10**x, 10**y, float(f(x, y))) for x in xs for y in ys]


def brute_force(surfaces: dict, inferences: float, target: float, boxes: dict, n: int = 1501):
    """Cheapest (technique, x, y) over a dense grid of each true surface inside its box."""
    best = (math.inf, None, None, None)
    for name, f in surfaces.items():
        (x0, x1), (y0, y1) = boxes[name]
        gx, gy = np.meshgrid(np.linspace(x0, x1, n), np.linspace(y0, y1, n))
        cost = 10**gx + inferences * 10**gy
        cost[f(gx, gy) < target] = np.inf
        i = int(np.argmin(cost))
        if cost.flat[i] < best[0]:
            best = (float(cost.flat[i]), name, float(gx.flat[i]), float(gy.flat[i]))
    return best


@pytest.mark.parametrize("inferences, target", [(1e10, 0.5), (1e8, 0.7), (1e12, 0.4)])
def test_choice_matches_brute_force_over_a_dense_grid(inferences, target):
    surfaces = {"steep": plane(1.5, 0.7), "saturating": ic_saturating(1.0, 2.0, 10.5, 3.0)}
    # The plan reads the frontier of the measured points, so its resolution is the grid's: 13 x 13 here.
    dense = np.linspace(18, 22, 13), np.linspace(8, 12, 13)
    points = grid("steep", surfaces["steep"], *dense) + grid("saturating", surfaces["saturating"], *dense)
    box = ((18, 22), (8, 12))
    cost, name, x, y = brute_force(surfaces, inferences, target, {"steep": box, "saturating": box})
    result = plan(points, inferences=inferences, target=target)
    choice = result["choice"]
    assert choice["technique"] == name
    # Within 2 %: the frontier interpolates between grid points (3.7 % on a 7 x 7 grid, 0.4 % on 25 x 25).
    assert choice["lifetime_flops"] == pytest.approx(cost, rel=0.02)
    assert math.log10(choice["train_flops"]) == pytest.approx(x, abs=0.05)
    assert math.log10(choice["infer_flops"]) == pytest.approx(y, abs=0.05)
    assert choice["performance"] >= target - 1e-9


def test_optimum_sits_where_the_exchange_rate_equals_tc_over_n_ic():
    points = grid("sat", ic_saturating(1.0, 2.0, 10.5, 3.0))
    choice = plan(points, inferences=3e9, target=0.5)["choice"]
    assert choice["source"] == "interpolated"
    assert choice["exchange_rate"] == pytest.approx(choice["train_flops"] / (3e9 * choice["infer_flops"]), rel=0.01)
    assert choice["exchange_rate"] == pytest.approx(choice["optimal_rate_here"], rel=0.01)


def test_a_one_to_one_exchange_splits_spend_evenly():
    choice = plan(grid("even", plane(1.0, 1.0)), inferences=1e10, target=0.5)["choice"]
    assert choice["exchange_rate"] == pytest.approx(1.0, rel=1e-3)
    assert choice["train_flops"] == pytest.approx(1e10 * choice["infer_flops"], rel=0.01)
    assert choice["train_share"] == pytest.approx(0.5, abs=0.005)


def test_more_inferences_move_spend_to_training():
    points = grid("sat", ic_saturating(1.0, 2.0, 10.5, 3.0))
    few = plan(points, inferences=1e8, target=0.5)["choice"]
    many = plan(points, inferences=1e11, target=0.5)["choice"]
    assert many["train_flops"] > few["train_flops"] and many["infer_flops"] < few["infer_flops"]


def test_a_cheap_measured_point_beats_the_surfaces():
    points = grid("even", plane(1.0, 1.0)) + [Point("lucky", "tiny", 1e18, 1e8, 0.9, budget="k=1")]
    result = plan(points, inferences=1e9, target=0.5)
    choice = result["choice"]
    assert (choice["technique"], choice["model"], choice["source"], choice["budget"]) == ("lucky", "tiny", "measured", "k=1")
    assert result["runner_up"]["technique"] == "even"  # the best of another technique


def test_break_even_is_where_the_lifetime_costs_are_equal():
    # Two single measured configurations (too few points to fit: measured points only).
    points = [Point("big-model", "L", 1e21, 1e9, 0.9), Point("sampling", "S", 1e20, 1e10, 0.9)]
    result = plan(points, inferences=1e12, target=0.8)
    choice, runner = result["choice"], result["runner_up"]
    assert (choice["technique"], runner["technique"]) == ("big-model", "sampling")
    n_star = result["break_even_inferences"]
    assert n_star == pytest.approx((1e21 - 1e20) / (1e10 - 1e9))
    assert choice["train_flops"] + n_star * choice["infer_flops"] == pytest.approx(
        runner["train_flops"] + n_star * runner["infer_flops"], rel=1e-12)
    assert "runner-up is cheaper below 1e+11 inferences" in result["break_even_note"]
    # Below the break-even the other one wins.
    assert plan(points, inferences=1e10, target=0.8)["choice"]["technique"] == "sampling"


def test_break_even_formula_and_never():
    from ttscale.planner import Config

    cheap_train = Config("a", 20.0, 10.0, 0.5, "measured")  # 1e20 + N 1e10
    cheap_infer = Config("b", 21.0, 9.0, 0.5, "measured")  # 1e21 + N 1e9
    assert break_even(cheap_train, cheap_infer) == pytest.approx(9e20 / 9e9)
    dominated = Config("c", 21.0, 11.0, 0.5, "measured")
    assert break_even(cheap_train, dominated) is None


def test_unreachable_target_and_bad_arguments():
    points = grid("low", plane(1.0, 1.0, c=-8.0))
    with pytest.raises(InputError, match="target 0.9: no measured or interpolated configuration reaches it"):
        plan(points, inferences=1e6, target=0.9)
    with pytest.raises(InputError, match="inferences must be > 0, got 0"):
        plan(points, inferences=0, target=0.5)
    with pytest.raises(InputError, match="target must be a performance fraction"):
        plan(points, inferences=10, target=0.0)


def test_too_few_points_leave_only_measured_points_with_a_note():
    points = grid("even", plane(1.0, 1.0)) + [Point("few", "x", 1e19, 1e9, 0.99)]
    result = plan(points, inferences=1e6, target=0.5)
    assert any("no frontier curve at 0.5" in note and note.endswith("candidates: 'few'") for note in result["notes"])
    assert result["techniques"]["few"]["frontier_curve"] is False


def test_costs_in_hours_kwh_water_and_dollars_by_hand():
    h100 = BUILTIN_DEVICES["h100"]
    cost = compute_cost(3.6e18, h100, utilization=0.5, water_l_per_kwh=2.0)
    hours = 3.6e18 / (989e12 * 0.5) / 3600
    assert cost["hours"] == pytest.approx(hours)
    assert cost["kwh"] == pytest.approx(hours * 0.7)
    assert cost["water_l"] == pytest.approx(hours * 0.7 * 2.0)
    assert cost["usd"] == pytest.approx(hours * 2.99)
    priced = compute_cost(3e18, h100, flop_price=2.0)  # USD per 1e18 FLOP
    assert priced["usd"] == pytest.approx(6.0) and priced["usd_source"] == "flop price"
    unknown = compute_cost(1e18, None)
    assert unknown["hours"] is None and unknown["usd"] is None


def test_plan_reports_costs_from_the_hardware_table_and_overrides():
    points = grid("even", plane(1.0, 1.0))
    result = plan(points, inferences=1e10, target=0.5, hardware="cpu", water_l_per_kwh=3.0,
                  overrides={"usd_per_hour": 0.5})
    cost = result["choice"]["cost"]
    hours = result["choice"]["lifetime_flops"] / (1.5e12 * 0.4) / 3600
    assert cost["hours"] == pytest.approx(hours)
    assert cost["water_l"] == pytest.approx(hours * 0.15 * 3.0)
    assert cost["usd"] == pytest.approx(hours * 0.5)
    assert result["hardware"]["usd_per_hour"] == 0.5
    no_price = plan(points, inferences=1e10, target=0.5, hardware="h200")["choice"]["cost"]
    assert no_price["hours"] is not None and no_price["usd"] is None  # unknown, not guessed
    json.dumps(result, allow_nan=False)


def test_hardware_file_adds_and_overrides_devices(tmp_path):
    path = tmp_path / "hw.json"
    path.write_text(json.dumps({"devices": {"h100": {"usd_per_hour": 4.0}, "tpu": {"peak_flops": 2e14, "watts": 200}}}))
    table = load_hardware_table(path)
    assert table["h100"].usd_per_hour == 4.0 and table["h100"].peak_flops == 989e12
    assert get_device("TPU", table).peak_flops == 2e14 and table["tpu"].usd_per_hour is None
    yaml_path = tmp_path / "hw.yaml"
    yaml_path.write_text("mygpu:\n  peak_flops: 1.0e14\n  watts: 300\n")
    assert load_hardware_table(yaml_path)["mygpu"].watts == 300
    bad = tmp_path / "bad.json"
    bad.write_text(json.dumps({"x": {"peak_flops": -1}}))
    with pytest.raises(InputError, match="device 'x', field 'peak_flops': -1 must be a positive number"):
        load_hardware_table(bad)
    bad.write_text(json.dumps({"x": {"flops": 1}}))
    with pytest.raises(InputError, match="unknown field"):
        load_hardware_table(bad)
