"""Points written by the lab or a sweep carry the levels they were analysed at, and `ttscale tradeoff`
re-analyses them at those levels by default: the same levels and the same spans as the report's
tradeoff.json (issue 11, item 8). An explicit --levels wins.

The points and the tradeoff are the pinned smoke lab's (tests/data), written back through the report
writer both front-ends use (report/writer.py)."""

from __future__ import annotations

import gzip
import json
import math
from pathlib import Path

import pandas as pd
import pytest
from typer.testing import CliRunner

import ttscale.cli.tradeoff_cmd  # noqa: F401  (registers the commands)
from ttscale.cli import app
from ttscale.errors import InputError
from ttscale.report.writer import ReportParts, write_report
from ttscale.techniques import PointDetail
from ttscale.tradeoff.points import read_points_file
from ttscale.types import Point

DATA = Path(__file__).resolve().parents[1] / "data"
runner = CliRunner()


def pinned_details() -> list[PointDetail]:
    frame = pd.read_csv(DATA / "smoke_lab_points.csv.gz", keep_default_na=False)
    number = lambda text: None if text == "" else float(text)
    return [
        PointDetail(
            point=Point(row["technique"], row["model"], float(row["train_flops"]), float(row["infer_flops"]),
                        float(row["performance"]), number(row["ci_low"]), number(row["ci_high"])),
            task=row["task"], strategy=row["strategy"], k=int(row["k"]), infer_seconds=0.0,
            mean_draws=float(row["mean_draws"]),
            settings={key: float(value) for key, value in
                      (item.split("=") for item in str(row["settings"]).split(",") if item)},
        )
        for row in frame.to_dict("records")
    ]


@pytest.fixture(scope="module")
def lab_report(tmp_path_factory):
    """A report written the way `ttscale lab` writes it, from the pinned smoke lab's points and tradeoff."""
    with gzip.open(DATA / "smoke_lab_tradeoff.json.gz", "rt") as handle:
        result = json.load(handle)
    details = pinned_details()
    out = tmp_path_factory.mktemp("lab-report")
    write_report(out, ReportParts(
        title="smoke", subtitle="pinned", result=result, tradeoff_details=details, details=details,
        budget_note="", techniques=pd.DataFrame({"technique": []}), models=pd.DataFrame({"model": []}),
        meta={},
    ))
    return out


def words(text: str) -> str:
    """Terminal output with the console's line wrapping undone."""
    return " ".join(text.split())


def spans(result: dict) -> dict:
    return {(name, key): (level["span_oom_train"], level["span_oom_infer"], level["exchange_rate"])
            for name, tech in result["techniques"].items() for key, level in tech["levels"].items()}


def test_points_csv_carries_the_levels_in_one_plain_column(lab_report):
    stored = json.loads((lab_report / "tradeoff.json").read_text())
    frame = pd.read_csv(lab_report / "points.csv")
    assert frame["levels"].nunique() == 1
    assert [float(v) for v in frame["levels"].iloc[0].split(",")] == stored["levels"] == [0.05, 0.1, 0.2, 0.3, 0.5,
                                                                                           0.7, 0.9]
    assert read_points_file(lab_report / "points.csv").levels == tuple(stored["levels"])


def test_reanalysis_uses_the_stored_levels_and_gives_the_report_spans(lab_report, tmp_path):
    stored = json.loads((lab_report / "tradeoff.json").read_text())
    target = tmp_path / "again.json"
    result = runner.invoke(app, ["tradeoff", str(lab_report / "points.csv"), "--n-boot", "0", "--json", str(target)])
    assert result.exit_code == 0, result.output
    again = json.loads(target.read_text())
    assert again["levels"] == stored["levels"]
    assert again["levels_chosen"] == "points file"
    assert "'levels' column" in again["levels_words"]
    assert "levels 0.05, 0.1, 0.2, 0.3, 0.5, 0.7, 0.9: the levels the points file was analysed at" in words(result.output)
    expected, got = spans(stored), spans(again)
    assert expected.keys() == got.keys()
    for key, (train, infer, rate) in expected.items():
        assert got[key][:2] == pytest.approx((train, infer), abs=1e-12), key
        assert (got[key][2] is None) == (rate is None), key
        assert rate is None or math.isclose(got[key][2], rate, rel_tol=1e-9), key


def test_explicit_levels_win_over_the_stored_ones(lab_report, tmp_path):
    target = tmp_path / "given.json"
    result = runner.invoke(app, ["tradeoff", str(lab_report / "points.csv"), "--n-boot", "0", "--levels", "0.2,0.4",
                                 "--json", str(target)])
    assert result.exit_code == 0, result.output
    again = json.loads(target.read_text())
    assert again["levels"] == [0.2, 0.4] and again["levels_chosen"] == "given"
    assert "levels 0.2, 0.4: as given" in words(result.output)


def test_a_file_without_levels_chooses_them_and_says_so(tmp_path):
    path = tmp_path / "points.csv"
    rows = ["technique,model,train_flops,infer_flops,performance"]
    rows += [f"t,m{i},{10 ** (18 + i)},{10 ** (10 + j)},{0.1 + 0.1 * i + 0.1 * j:.2f}" for i in range(3) for j in range(3)]
    path.write_text("\n".join(rows) + "\n")
    result = runner.invoke(app, ["tradeoff", str(path), "--n-boot", "0", "--json", "-"])
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)
    assert data["levels_chosen"] == "automatic" and data["levels"]
    assert f"levels {', '.join(f'{v:g}' for v in data['levels'])}: chosen from the data" in words(result.stderr)


def test_rows_that_disagree_on_their_levels_are_refused_with_the_line(tmp_path):
    path = tmp_path / "points.csv"
    path.write_text('technique,model,train_flops,infer_flops,performance,levels\n'
                    't,m,1e20,1e10,0.5,"0.2,0.5"\n'
                    't,m,1e21,1e10,0.6,"0.2,0.6"\n')
    with pytest.raises(InputError, match=r"line 3, column 'levels': '0.2,0.6' differs from '0.2,0.5' on line 2"):
        read_points_file(path)
