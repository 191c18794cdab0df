"""`ttscale tradeoff` and `ttscale plan` through the typer app; figures render headless."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import numpy as np
import pytest
from synthetic_surfaces import TrueSurface, grid_points
from typer.testing import CliRunner

import ttscale.cli.tradeoff_cmd  # noqa: F401  (registers the commands)
from ttscale.cli import app
from ttscale.errors import InputError
from ttscale.report.tradeoff_plots import plot_exchange_rate, plot_iso_diagram
from ttscale.tradeoff import analyse

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"
runner = CliRunner()


def write_points(path: Path, points) -> Path:
    with path.open("w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["technique", "model", "train_flops", "infer_flops", "performance", "ci_low", "ci_high"])
        for p in points:
            writer.writerow([p.technique, p.model, p.train_flops, p.infer_flops, p.performance,
                             "" if p.ci_low is None else p.ci_low, "" if p.ci_high is None else p.ci_high])
    return path


@pytest.fixture(scope="module")
def points():
    grid = (np.linspace(18, 22, 5), np.linspace(8, 12, 5))
    return (grid_points(TrueSurface(a=1.2, b=0.8), "plane", *grid, noise=0.01, seed=1, ci_halfwidth=0.03)
            + grid_points(TrueSurface(a=1.0, b=2.0, sat_y=(10.5, 3.0)), "saturating", *grid, noise=0.01, seed=2))


@pytest.fixture
def csv_path(tmp_path, points):
    return write_points(tmp_path / "points.csv", points)


def test_json_to_stdout_parses(csv_path):
    result = runner.invoke(app, ["tradeoff", str(csv_path), "--levels", "0.4,0.6", "--json", "-", "--n-boot", "5"])
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)
    assert data["levels"] == [0.4, 0.6]
    assert set(data["techniques"]) == {"plane", "saturating"}
    assert "span of efficient exchange" in result.stderr  # the table went to stderr


def test_out_dir_gets_json_and_figures_and_nothing_else(csv_path, tmp_path):
    out = tmp_path / "report"
    result = runner.invoke(app, ["tradeoff", str(csv_path), "--out", str(out), "--n-boot", "0", "--extrapolate"])
    assert result.exit_code == 0, result.output
    assert sorted(p.name for p in out.iterdir()) == ["exchange_rate.png", "iso_performance.png", "tradeoff.json"]
    assert json.loads((out / "tradeoff.json").read_text())["extrapolate"] is True
    for name in ("exchange_rate.png", "iso_performance.png"):
        assert (out / name).read_bytes()[:8] == PNG_MAGIC
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".report")]  # staging folder removed
    assert "plane" in result.output and "saturating" in result.output


@pytest.mark.parametrize(
    "args, expected",
    [
        (["--levels", "0.5,1.2"], "--levels: 1.2 is outside (0, 1)"),
        (["--levels", "0.5,x"], "--levels: 'x' is not a number"),
        (["--ratio", "1"], "--ratio must be > 1"),
        (["--ratio", "0.5"], "got 0.5"),
        (["--smoother", "spline"], "--smoother: unknown smoother 'spline' (choose one of: logistic, power-law)"),
    ],
)
def test_bad_flags_name_the_flag_and_write_nothing(csv_path, tmp_path, args, expected):
    out, js = tmp_path / "out", tmp_path / "t.json"
    result = runner.invoke(app, ["tradeoff", str(csv_path), "--out", str(out), "--json", str(js), *args])
    assert isinstance(result.exception, InputError)
    assert expected in str(result.exception)
    assert not out.exists() and not js.exists()


@pytest.mark.parametrize(
    "row, expected",
    [
        ("plane,mx,abc,1e10,0.5", "column 'train_flops': 'abc' is not a number"),
        ("plane,mx,1e20,-1,0.5", "column 'infer_flops': -1.0 must be > 0"),
        ("plane,mx,1e20,1e10,1.5", "column 'performance': 1.5 is outside [0, 1]"),
    ],
)
def test_bad_rows_name_line_and_column_and_write_nothing(csv_path, tmp_path, row, expected):
    with csv_path.open("a") as handle:
        handle.write(row + "\n")
    line = len(csv_path.read_text().splitlines())
    out, js = tmp_path / "out", tmp_path / "t.json"
    result = runner.invoke(app, ["tradeoff", str(csv_path), "--out", str(out), "--json", str(js)])
    assert isinstance(result.exception, InputError)
    assert expected in str(result.exception)
    if "column" in expected:
        assert f"line {line}," in str(result.exception)
    assert not out.exists() and not js.exists()


def test_missing_column_is_named(tmp_path):
    path = tmp_path / "p.csv"
    path.write_text("technique,model,train_flops,performance\nt,m,1e20,0.5\n")
    result = runner.invoke(app, ["tradeoff", str(path), "--json", "-"])
    assert isinstance(result.exception, InputError)
    assert "missing column(s) 'infer_flops'" in str(result.exception)
    assert result.stdout == ""


def test_plan_json_to_stdout_parses(csv_path):
    result = runner.invoke(app, ["plan", "--points", str(csv_path), "--inferences", "1e9", "--target", "0.6",
                                 "--hardware", "h100", "--json", "-"])
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)
    assert data["choice"]["technique"] in ("plane", "saturating")
    assert data["choice"]["lifetime_flops"] == pytest.approx(
        data["choice"]["train_flops"] + 1e9 * data["choice"]["infer_flops"])
    assert data["choice"]["cost"]["hours"] is not None


@pytest.mark.parametrize(
    "args, expected",
    [
        (["--inferences", "0", "--target", "0.5"], "--inferences must be > 0, got 0"),
        (["--inferences", "-5", "--target", "0.5"], "--inferences must be > 0"),
        (["--inferences", "10", "--target", "1.5"], "--target must be a performance fraction in (0, 1], got 1.5"),
        (["--inferences", "10", "--target", "0.5", "--hardware", "h10"], "did you mean 'h100'"),
        (["--inferences", "10", "--target", "0.5", "--utilization", "2"], "--utilization must be in (0, 1]"),
    ],
)
def test_plan_bad_flags_name_the_flag(csv_path, tmp_path, args, expected):
    js = tmp_path / "plan.json"
    result = runner.invoke(app, ["plan", "--points", str(csv_path), "--json", str(js), *args])
    assert isinstance(result.exception, InputError)
    assert expected in str(result.exception)
    assert not js.exists()


def test_plots_render_headless_including_unfitted_and_empty_results(points, tmp_path):
    from ttscale.types import Point

    extra = [Point("few", "m", 1e20, 1e10, 0.5)]
    result = analyse(points + extra, levels=[0.3, 0.6], n_boot=0, extrapolate=True)
    iso = plot_iso_diagram(result, points + extra, tmp_path / "iso.png")
    rate = plot_exchange_rate(result, tmp_path / "sub" / "rate.png")
    for path in (iso, rate):
        data = path.read_bytes()
        assert data[:8] == PNG_MAGIC and len(data) > 10_000
    empty = {"ratio": 6.0, "techniques": {}}
    assert plot_iso_diagram(empty, [], tmp_path / "empty.png").read_bytes()[:8] == PNG_MAGIC
    assert not list(tmp_path.glob("**/*.tmp"))
