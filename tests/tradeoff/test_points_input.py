"""Points in: CSV and records are validated, and every error names where the bad value is."""

from __future__ import annotations

from pathlib import Path

import pytest

from ttscale.errors import InputError
from ttscale.tradeoff import analyse, load_points_csv, points_from_records, validate_points
from ttscale.types import Point

HEADER = "technique,model,train_flops,infer_flops,performance,ci_low,ci_high"


def write_csv(tmp_path: Path, *lines: str, header: str = HEADER) -> Path:
    path = tmp_path / "points.csv"
    path.write_text("\n".join([header, *lines]) + "\n", encoding="utf-8")
    return path


def test_valid_csv_reads_with_optional_and_extra_columns(tmp_path):
    path = write_csv(
        tmp_path,
        "sampling,m1,1e20,1e10,0.5,0.45,0.55,factor",
        "sampling,m2,2e20,1e11,0.75,,,factor",
        header=HEADER + ",task",
    )
    points = load_points_csv(path)
    assert points[0] == Point("sampling", "m1", 1e20, 1e10, 0.5, 0.45, 0.55)
    assert points[1].ci_low is None and points[1].ci_high is None


def test_csv_without_ci_columns_reads(tmp_path):
    path = write_csv(tmp_path, "t,m,1e20,1e10,0.5", header="technique,model,train_flops,infer_flops,performance")
    assert load_points_csv(path)[0].performance == 0.5


@pytest.mark.parametrize(
    "lines, header, expected",
    [
        (["t,m,1e20,1e10,0.5"], "technique,model,train_flops,performance", "missing column(s) 'infer_flops'"),
        (["t,m,1e20,1e10,0.5", "t,m,abc,1e10,0.5"], HEADER, "line 3, column 'train_flops': 'abc' is not a number"),
        (["t,m,1e20,-5,0.5"], HEADER, "line 2, column 'infer_flops': -5.0 must be > 0"),
        (["t,m,0,1e10,0.5"], HEADER, "line 2, column 'train_flops': 0.0 must be > 0"),
        (["t,m,1e20,1e10,1.5"], HEADER, "line 2, column 'performance': 1.5 is outside [0, 1]"),
        (["t,m,1e20,1e10,-0.1"], HEADER, "line 2, column 'performance': -0.1 is outside [0, 1]"),
        (["t,m,1e20,1e10,"], HEADER, "line 2, column 'performance': value is missing"),
        (["t,m,1e20,inf,0.5"], HEADER, "line 2, column 'infer_flops': 'inf' is not a finite number"),
        (["t,m,1e20,1e10,0.5,0.6,0.7"], HEADER, "line 2, column 'ci_low': 0.6 is above the performance 0.5"),
        (["t,m,1e20,1e10,0.5,0.4,0.45"], HEADER, "line 2, column 'ci_high': 0.45 is below the performance 0.5"),
        ([",m,1e20,1e10,0.5"], HEADER, "line 2, column 'technique': value is missing"),
        ([], HEADER, "no data rows"),
    ],
)
def test_bad_csv_names_line_column_and_value(tmp_path, lines, header, expected):
    path = write_csv(tmp_path, *lines, header=header)
    with pytest.raises(InputError) as error:
        load_points_csv(path)
    assert expected in str(error.value)


def test_line_numbers_follow_the_file_with_quoted_newlines(tmp_path):
    path = write_csv(tmp_path, 't,"model\nwith newline",1e20,1e10,0.5', "t,m,1e20,1e10,2")
    with pytest.raises(InputError, match="line 4, column 'performance'"):
        load_points_csv(path)


def test_missing_and_empty_files(tmp_path):
    with pytest.raises(InputError, match="does not exist"):
        load_points_csv(tmp_path / "nope.csv")
    empty = tmp_path / "empty.csv"
    empty.write_text("")
    with pytest.raises(InputError, match="empty"):
        load_points_csv(empty)


def test_records_are_validated_with_record_numbers():
    good = {"technique": "t", "model": "m", "train_flops": 1e20, "infer_flops": 1e10, "performance": 0.5}
    assert points_from_records([good])[0].train_flops == 1e20
    with pytest.raises(InputError, match="record 2, column 'performance'"):
        points_from_records([good, {**good, "performance": 3}])
    with pytest.raises(InputError, match="record 1: missing column"):
        points_from_records([{"technique": "t"}])


def test_point_objects_are_validated():
    with pytest.raises(InputError, match="point 2 .*'train_flops'"):
        validate_points([Point("t", "m", 1e20, 1e10, 0.5), Point("t", "m", -1.0, 1e10, 0.5)])
    with pytest.raises(InputError, match="no points"):
        validate_points([])


def _few_points(n: int, technique: str = "x") -> list[Point]:
    return [Point(technique, f"m{i}", 10.0 ** (18 + i), 10.0 ** (8 + i % 2), 0.1 * (i + 1)) for i in range(n)]


def test_a_technique_with_too_little_to_trade_is_reported_not_fatal():
    # One point, and points all at one training compute: a frontier, but nothing to trade along it.
    one = [Point("one", "m", 1e20, 1e10, 0.9)]
    same_tc = [Point("same-tc", "m", 1e20, 10.0 ** (8 + k / 4), 0.1 * (k + 1)) for k in range(8)]
    result = analyse(one + same_tc, levels=[0.5], n_boot=0)
    for name in ("one", "same-tc"):
        level = result["techniques"][name]["levels"]["0.5"]
        assert level["exchange_rate"] is None and level["span_oom_train"] == 0.0
        assert level["exchange_rate_reason"]
    assert "nothing to trade" in result["techniques"]["one"]["levels"]["0.5"]["exchange_rate_reason"]


@pytest.mark.parametrize(
    "kwargs, expected",
    [
        ({"levels": [1.2]}, "levels: 1.2 is outside (0, 1)"),
        ({"levels": [0.0]}, "levels: 0.0 is outside (0, 1)"),
        ({"ratio": 1.0}, "ratio must be > 1"),
        ({"ratio": 0.5}, "got 0.5"),
    ],
)
def test_bad_levels_and_ratio_name_the_parameter(kwargs, expected):
    with pytest.raises(InputError) as error:
        analyse(_few_points(8), n_boot=0, **kwargs)
    assert expected in str(error.value)
