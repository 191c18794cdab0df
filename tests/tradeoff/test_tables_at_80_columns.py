"""The terminal tables of `ttscale tradeoff` and `ttscale plan` read at 80 columns (issue 11, item 12):
whole headers, nothing cut off with an ellipsis, the exchange rate itself in the table (a number, or
"none: reason"), and a legend for "rate", "OOM", "span" and "effect of scale"."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from synthetic_surfaces import TrueSurface, grid_points
from test_tradeoff_cli import write_points
from typer.testing import CliRunner

import ttscale.cli.tradeoff_cmd  # noqa: F401  (registers the commands)
from ttscale.cli import app

runner = CliRunner()
NARROW = {"COLUMNS": "80"}


@pytest.fixture(scope="module")
def surfaces_csv(tmp_path_factory) -> Path:
    grid = (np.linspace(18, 22, 5), np.linspace(8, 12, 5))
    points = (grid_points(TrueSurface(a=1.2, b=0.8), "plane", *grid, noise=0.01, seed=1)
              + grid_points(TrueSurface(a=1.0, b=2.0), "flat", *grid)
              + [grid_points(TrueSurface(a=1.0, b=1.0), "a single configuration", [20.0], [10.0])[0]])
    return write_points(tmp_path_factory.mktemp("surfaces") / "points.csv", points)


def assert_fits(output: str) -> list[str]:
    lines = output.splitlines()
    assert max(len(line) for line in lines) <= 80
    assert "…" not in output  # nothing cut off
    return lines


def test_tradeoff_table_shows_whole_headers_the_rate_and_a_legend(surfaces_csv):
    result = runner.invoke(app, ["tradeoff", str(surfaces_csv), "--levels", "0.3,0.5,0.7", "--n-boot", "0"], env=NARROW)
    assert result.exit_code == 0, result.output
    lines = assert_fits(result.output)
    header = next(i for i, line in enumerate(lines) if line.split()[:2] == ["technique", "level"])
    # Two header lines ("span TC" above "(OOM)"), every word whole.
    assert sorted(lines[header - 1].split() + lines[header].split()) == sorted(
        ["technique", "level", "span", "TC", "(OOM)", "span", "IC", "(OOM)", "rate"])
    plane = next(line for line in lines if line.lstrip().startswith("plane"))
    assert "median" in plane.split()  # the rate itself: median value of the measured rate
    single = next(i for i, line in enumerate(lines) if "a single" in line)
    assert "none:" in lines[single]  # no rate: said so, with the reason next to it
    for term in ("rate: exchange rate, OOM of inference compute (IC) paid per OOM of training compute (TC) saved",
                 "OOM: orders of magnitude (factors of 10)", "span: the part of the curve where 1/6 <= rate <= 6",
                 "effect of scale: how the span changes from the lowest level to the highest"):
        assert term in " ".join(result.output.split())


def test_plan_table_keeps_headers_and_long_names_whole(lab_points):
    result = runner.invoke(app, ["plan", "--points", str(lab_points), "--inferences", "1e6", "--target", "0.02"],
                           env=NARROW)
    assert result.exit_code == 0, result.output
    lines = assert_fits(result.output)
    assert next(line for line in lines if "choice" in line).split() == ["choice", "nearest", "measured", "runner-up"]
    # The cascade's two models, each whole, on two lines of its cell.
    model = next(i for i, line in enumerate(lines) if line.split()[:1] == ["model"])
    assert "tiny-d16-l1-90k" in lines[model].split() and "tiny-d48-l2-160k" in lines[model + 1].split()
