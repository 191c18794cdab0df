"""`ttscale plan` names configurations one can deploy (issue 11, item 7): oracle rows (pass@k) are never
candidates, an interpolated optimum comes with the nearest measured configuration and its own cost, and
costs that need a device say so, with the options that supply one."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pytest
from typer.testing import CliRunner

import ttscale.cli.tradeoff_cmd  # noqa: F401  (registers the commands)
from ttscale.cli import app
from ttscale.errors import InputError
from ttscale.report.tradeoff_sections import points_frame, with_levels, write_csv
from ttscale.techniques import PointDetail
from ttscale.types import Point

runner = CliRunner()
TRAIN = {"small": 1e18, "medium": 1e19, "large": 1e20}
BASE = {"small": 0.2, "medium": 0.35, "large": 0.5}
KS = (1, 2, 4, 8, 16)


def words(text: str) -> str:
    """Terminal output with the console's line wrapping undone."""
    return " ".join(text.split())


def sweep_points(path: Path) -> Path:
    """A sweep's points.csv, written as the report writer writes it: pass@k (the oracle) above maj@k."""
    details = []
    for model, train in TRAIN.items():
        for i, k in enumerate(KS):
            for technique, strategy, gain in (("pass@k (oracle)", "pass", 0.09), ("maj@k", "majority", 0.04)):
                perf = min(0.99, BASE[model] + gain * i)
                point = Point(technique, model, train, 1e9 * k, perf, perf - 0.02, min(1.0, perf + 0.02))
                details.append(PointDetail(point, task="arith", strategy=strategy, k=k, infer_seconds=0.1,
                                           mean_draws=float(k), settings={"k": float(k)}))
    return write_csv(with_levels(points_frame(details), [0.4, 0.6]), path)


def plan_json(path: Path, *extra: str, target: str = "0.5") -> tuple[dict, str]:
    result = runner.invoke(app, ["plan", "--points", str(path), "--inferences", "1e6", "--target", target,
                                 "--json", "-", *extra], env={"COLUMNS": "80"})
    assert result.exit_code == 0, result.output
    return json.loads(result.stdout), words(result.stderr)


def test_oracle_rows_are_never_candidates_and_a_note_counts_them(tmp_path):
    data, shown = plan_json(sweep_points(tmp_path / "points.csv"))
    for config in (data["choice"], data["runner_up"]):
        assert config is None or config["technique"] == "maj@k"
    assert data["choice"]["technique"] == "maj@k"
    assert "15 oracle row(s) left out ('pass@k (oracle)')" in shown
    assert "pass@k" not in shown.split("note:")[0]  # not in the table


def test_oracle_rows_are_recognised_by_name_without_a_strategy_column(tmp_path):
    path = tmp_path / "points.csv"
    pd.read_csv(sweep_points(tmp_path / "full.csv")).drop(columns=["strategy"]).to_csv(path, index=False)
    data, shown = plan_json(path)
    assert data["choice"]["technique"] == "maj@k"
    assert "15 oracle row(s) left out" in shown


def test_only_oracle_rows_is_one_line(tmp_path):
    path = tmp_path / "oracle.csv"
    frame = pd.read_csv(sweep_points(tmp_path / "all.csv"))
    frame[frame["strategy"] == "pass"].to_csv(path, index=False)
    result = runner.invoke(app, ["plan", "--points", str(path), "--inferences", "1e6", "--target", "0.5"])
    assert isinstance(result.exception, InputError)
    assert "no deployable points: all 15 rows are oracle bounds ('pass@k (oracle)')" in str(result.exception)


def test_an_interpolated_optimum_names_the_nearest_measured_configuration(lab_points):
    result = runner.invoke(app, ["plan", "--points", str(lab_points), "--inferences", "1e6", "--target", "0.02",
                                 "--json", "-"], env={"COLUMNS": "80"})
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)
    choice = data["choice"]
    assert choice["source"] == "interpolated" and choice["model"] is None
    nearest = choice["nearest_measured"]
    assert nearest["source"] == "measured" and nearest["technique"] == choice["technique"]
    assert nearest["model"] == "tiny-d48-l2-160k" and nearest["budget"] == "majority:k=4"
    assert nearest["performance"] >= 0.02 and nearest["reaches_target"] is True
    assert nearest["lifetime_flops"] == pytest.approx(nearest["train_flops"] + 1e6 * nearest["infer_flops"])
    header = next(line for line in result.stderr.splitlines() if "choice" in line)
    assert header.split() == ["choice", "nearest", "measured", "runner-up"]  # the nearest one next to the choice
    lifetime = next(line for line in result.stderr.splitlines() if line.strip().startswith("lifetime"))
    assert lifetime.split()[2:4] == [f"{choice['lifetime_flops']:.3g}", f"{nearest['lifetime_flops']:.3g}"]
    shown = words(result.stderr)
    assert "tiny-d48-l2-160k" in shown and "majority:k=4" in shown and "interpolated" in shown


def test_costs_without_a_device_say_why_and_which_option_supplies_it(lab_points):
    data, shown = plan_json(lab_points, target="0.02")
    assert set(data["cost_missing"]) == {"hours", "kwh", "water_l", "usd"}
    assert data["choice"]["cost"]["hours"] is None
    assert "hours — see note" in shown and "USD — see note" in shown
    assert ("note: hours, kWh, water not computed: needs a device: give --hardware cpu|a100|h100|h200 or "
            "--peak-flops/--watts/--usd-per-hour; USD not computed: needs a device or a price") in shown


def test_a_device_missing_one_field_names_that_option(lab_points):
    data, shown = plan_json(lab_points, "--peak-flops", "1e12", target="0.02")
    assert set(data["cost_missing"]) == {"kwh", "water_l", "usd"}
    assert data["choice"]["cost"]["hours"] is not None
    assert "kWh, water not computed: device 'custom' has no power draw: give --watts" in shown
    full, shown = plan_json(lab_points, "--hardware", "h100", target="0.02")
    assert full["cost_missing"] == {} and "see note" not in shown and "not computed" not in shown
