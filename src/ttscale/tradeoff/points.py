"""Points in, validated: from a CSV file, from dict records, or as ``Point``s.

CSV columns (header on line 1; extra columns are ignored, so the lab's own
``points.csv`` reads back as it is):

- required: ``technique, model, train_flops, infer_flops, performance``
- optional: ``ci_low, ci_high`` (the performance CI; empty or ``nan`` means
  "not given"), ``budget`` (informational, e.g. ``k=8``)

Rules: FLOP counts are finite and > 0 (the analysis works in log10 space, so
zero compute has no place on the diagram); performance is a fraction in
[0, 1]; a CI, when given, lies in [0, 1] and brackets the performance.

Every error names where the bad value is: ``line N, column 'c'`` for a CSV
(lines numbered as in the file, header = line 1), ``record N`` for records
(numbered from 1), ``point N`` for ``Point`` lists.
"""

from __future__ import annotations

import csv
import math
from collections.abc import Iterable, Mapping
from pathlib import Path

from ttscale.errors import InputError
from ttscale.types import Point

REQUIRED_COLUMNS = ("technique", "model", "train_flops", "infer_flops", "performance")
OPTIONAL_COLUMNS = ("ci_low", "ci_high", "budget")
MISSING_WORDS = frozenset({"", "nan", "none", "null", "na"})

# A CI may miss the point estimate by rounding in a CSV written with few digits.
CI_TOLERANCE = 1e-6

def _number(text: object, where: str, column: str, required: bool) -> float | None:
    if text is None or (isinstance(text, str) and text.strip().lower() in MISSING_WORDS):
        if required:
            raise InputError(f"{where}, column {column!r}: value is missing")
        return None
    if isinstance(text, float) and math.isnan(text):
        if required:
            raise InputError(f"{where}, column {column!r}: value is missing (nan)")
        return None
    if isinstance(text, bool):
        raise InputError(f"{where}, column {column!r}: {text!r} is not a number")
    try:
        value = float(text.strip() if isinstance(text, str) else text)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        raise InputError(f"{where}, column {column!r}: {text!r} is not a number") from None
    if not math.isfinite(value):
        raise InputError(f"{where}, column {column!r}: {text!r} is not a finite number")
    return value


def _text(value: object, where: str, column: str) -> str:
    text = "" if value is None else str(value).strip()
    if not text or text.lower() == "nan":
        raise InputError(f"{where}, column {column!r}: value is missing")
    return text


def _check_ranges(where: str, point: Point) -> None:
    for column in ("train_flops", "infer_flops"):
        value = getattr(point, column)
        if not (isinstance(value, (int, float)) and math.isfinite(value)):
            raise InputError(f"{where}, column {column!r}: {value!r} is not a finite number")
        if value <= 0:
            raise InputError(f"{where}, column {column!r}: {value!r} must be > 0 (FLOPs are analysed in log10)")
    perf = point.performance
    if not (isinstance(perf, (int, float)) and math.isfinite(perf)) or not 0.0 <= perf <= 1.0:
        raise InputError(f"{where}, column 'performance': {perf!r} is outside [0, 1] (a fraction is expected)")
    for column in ("ci_low", "ci_high"):
        value = getattr(point, column)
        if value is not None and not (math.isfinite(value) and 0.0 <= value <= 1.0):
            raise InputError(f"{where}, column {column!r}: {value!r} is outside [0, 1]")
    if point.ci_low is not None and point.ci_low > perf + CI_TOLERANCE:
        raise InputError(f"{where}, column 'ci_low': {point.ci_low!r} is above the performance {perf!r}")
    if point.ci_high is not None and point.ci_high < perf - CI_TOLERANCE:
        raise InputError(f"{where}, column 'ci_high': {point.ci_high!r} is below the performance {perf!r}")


def _point_from_mapping(row: Mapping[str, object], where: str) -> Point:
    point = Point(
        technique=_text(row.get("technique"), where, "technique"),
        model=_text(row.get("model"), where, "model"),
        train_flops=_number(row.get("train_flops"), where, "train_flops", required=True),  # type: ignore[arg-type]
        infer_flops=_number(row.get("infer_flops"), where, "infer_flops", required=True),  # type: ignore[arg-type]
        performance=_number(row.get("performance"), where, "performance", required=True),  # type: ignore[arg-type]
        ci_low=_number(row.get("ci_low"), where, "ci_low", required=False),
        ci_high=_number(row.get("ci_high"), where, "ci_high", required=False),
        budget="" if row.get("budget") is None else str(row.get("budget")).strip(),
    )
    _check_ranges(where, point)
    return point


def _missing_columns(columns: Iterable[str], where: str) -> None:
    present = set(columns)
    missing = [c for c in REQUIRED_COLUMNS if c not in present]
    if missing:
        found = ", ".join(sorted(present)) or "none"
        raise InputError(f"{where}: missing column(s) {', '.join(repr(c) for c in missing)} (found: {found})")


def load_points_csv(path: str | Path) -> list[Point]:
    """Read and validate a points CSV (see the module docstring for columns and rules)."""
    path = Path(path)
    if not path.is_file():
        raise InputError(f"points file {str(path)!r} does not exist")
    points: list[Point] = []
    with path.open(newline="", encoding="utf-8-sig") as handle:
        reader = csv.DictReader(handle)
        if reader.fieldnames is None:
            raise InputError(f"{path}: the file is empty (expected a header line with {', '.join(REQUIRED_COLUMNS)})")
        header = [name.strip() for name in reader.fieldnames]
        reader.fieldnames = header
        _missing_columns(header, str(path))
        for row in reader:
            if all(value in (None, "") for value in row.values()):
                continue  # blank line
            points.append(_point_from_mapping(row, f"{path}: line {reader.line_num}"))
    if not points:
        raise InputError(f"{path}: no data rows after the header")
    return points


def points_from_records(records: list[dict]) -> list[Point]:
    """Validate dict records (same keys as the CSV columns) into ``Point``s."""
    if not records:
        raise InputError("no points given (the record list is empty)")
    points = []
    for index, record in enumerate(records, start=1):
        if not isinstance(record, Mapping):
            raise InputError(f"record {index}: expected a mapping of column -> value, got {type(record).__name__}")
        _missing_columns(record.keys(), f"record {index}")
        points.append(_point_from_mapping(record, f"record {index}"))
    return points


def validate_points(points: list[Point]) -> list[Point]:
    """Check ``Point``s built elsewhere (the store, the lab); returns them unchanged."""
    if not points:
        raise InputError("no points given (the list is empty)")
    for index, point in enumerate(points, start=1):
        where = f"point {index} (technique {point.technique!r}, model {point.model!r})"
        if not str(point.technique).strip():
            raise InputError(f"point {index}, column 'technique': value is missing")
        _check_ranges(where, point)
    return points


def by_technique(points: list[Point]) -> dict[str, list[Point]]:
    """Points grouped by technique, techniques in first-seen order."""
    groups: dict[str, list[Point]] = {}
    for point in points:
        groups.setdefault(point.technique, []).append(point)
    return groups

