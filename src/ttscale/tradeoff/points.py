"""Points in, validated: from a CSV file, from dict records, or as ``Point``s.

CSV columns (header on line 1; extra columns are ignored, so the lab's own
``points.csv`` reads back as it is):

- required: ``technique, model, train_flops, infer_flops, performance``
- optional: ``ci_low, ci_high`` (the performance CI; empty or ``nan`` means
  "not given"), ``budget`` (informational, e.g. ``k=8``; when absent it is
  the ``strategy`` and ``settings`` columns the lab and the sweep write, as
  ``majority:k=4``),
  ``strategy`` (the strategy that produced the row, e.g. ``pass``: the planner
  leaves oracle strategies out), ``levels`` (the performance levels the row
  was analysed at, written as for ``--levels``: ``0.05,0.1,0.2``; the lab and
  the sweep write the same value on every row, and ``ttscale tradeoff``
  re-analyses at these levels unless ``--levels`` is given)

A pandas user reads the file as it is: ``levels`` is one text column, split
it with ``frame["levels"].str.split(",")``.

The file is UTF-8 text (a byte-order mark is allowed); a directory, a binary
file or another encoding is refused in one line naming the argument and the path.

Rules: FLOP counts are finite and > 0 (the analysis works in log10 space, so
zero compute has no place on the diagram); performance is a fraction in
[0, 1]; a CI, when given, lies in [0, 1] and brackets the performance.

Every error names where the bad value is: ``line N, column 'c'`` for a CSV
(lines numbered as in the file, header = line 1), ``record N`` for records
(numbered from 1), ``point N`` for ``Point`` lists.
"""

from __future__ import annotations

import csv
import io
import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from ttscale.errors import InputError
from ttscale.tradeoff.costs import COST_COLUMNS, check_cost
from ttscale.tradeoff.levels import parse_levels
from ttscale.types import Point

REQUIRED_COLUMNS = ("technique", "model", "train_flops", "infer_flops", "performance")
OPTIONAL_COLUMNS = ("ci_low", "ci_high", "budget", "strategy", "levels")
LEVELS_COLUMN = "levels"
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


def _check_ranges(where: str, point: Point, ic_column: str = "infer_flops") -> None:
    for column, value in (("train_flops", point.train_flops), (ic_column, point.infer_flops)):
        if not (isinstance(value, (int, float)) and math.isfinite(value)):
            raise InputError(f"{where}, column {column!r}: {value!r} is not a finite number")
        if value <= 0:
            raise InputError(f"{where}, column {column!r}: {value!r} must be > 0 (compute is analysed in log10)")
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


def _point_from_mapping(row: Mapping[str, object], where: str, ic_column: str = "infer_flops") -> Point:
    point = Point(
        technique=_text(row.get("technique"), where, "technique"),
        model=_text(row.get("model"), where, "model"),
        train_flops=_number(row.get("train_flops"), where, "train_flops", required=True),  # type: ignore[arg-type]
        infer_flops=_number(row.get(ic_column), where, ic_column, required=True),  # type: ignore[arg-type]
        performance=_number(row.get("performance"), where, "performance", required=True),  # type: ignore[arg-type]
        ci_low=_number(row.get("ci_low"), where, "ci_low", required=False),
        ci_high=_number(row.get("ci_high"), where, "ci_high", required=False),
        budget=_budget(row),
    )
    _check_ranges(where, point, ic_column)
    return point


def _missing_columns(columns: Iterable[str], where: str) -> None:
    present = set(columns)
    missing = [c for c in REQUIRED_COLUMNS if c not in present]
    if missing:
        found = ", ".join(sorted(present)) or "none"
        raise InputError(f"{where}: missing column(s) {', '.join(repr(c) for c in missing)} (found: {found})")


@dataclass(frozen=True)
class PointsFile:
    """A points CSV read back: its points, what produced each row, and the levels it was analysed at."""

    points: list[Point]
    strategies: tuple[str | None, ...]  # the ``strategy`` column, aligned with ``points``; None where not given
    levels: tuple[float, ...] | None  # the ``levels`` column; None when the file does not carry one
    # Rows left out because their cost was not counted (``--cost bytes``: live searches), by technique.
    uncounted: Mapping[str, int] = field(default_factory=dict)


def format_levels(levels: Sequence[float]) -> str:
    """The ``levels`` column's value: the levels as ``--levels`` takes them."""
    return ",".join(f"{level:g}" for level in levels)


def _file_text(path: Path, flag: str) -> str:
    # One line for every way a path can fail to be a text CSV, naming the argument that gave it.
    if path.is_dir():
        raise InputError(f"{flag}: {str(path)!r} is a directory, not a points CSV file")
    if not path.is_file():
        raise InputError(f"{flag}: points file {str(path)!r} does not exist")
    try:
        raw = path.read_bytes()
    except OSError as error:
        raise InputError(f"{flag}: cannot read {str(path)!r} ({error.strerror or error})") from None
    if b"\x00" in raw:
        raise InputError(f"{flag}: {str(path)!r} is a binary file, not a points CSV (it contains NUL bytes)")
    try:
        return raw.decode("utf-8-sig")
    except UnicodeDecodeError as error:
        raise InputError(f"{flag}: {str(path)!r} is not UTF-8 text (byte 0x{raw[error.start]:02x} at offset "
                         f"{error.start}); save the CSV as UTF-8") from None


def _cell(row: Mapping[str, object], column: str) -> str:
    text = str(row.get(column) or "").strip()
    return "" if text.lower() in MISSING_WORDS else text


def _budget(row: Mapping[str, object]) -> str:
    """The ``budget`` column, else what the lab and the sweep write: ``strategy:settings`` (the strategy's
    spec, as ``--strategy`` takes it), or ``k=K``."""
    given, strategy, settings, k = (_cell(row, column) for column in ("budget", "strategy", "settings", "k"))
    if given:
        return given
    if settings:
        return f"{strategy}:{settings}" if strategy else settings
    if not k:
        return ""
    try:
        return f"k={float(k):g}"
    except ValueError:
        return f"k={k}"


def _row_levels(text: str | None, where: str) -> tuple[float, ...] | None:
    if text is None or text.strip().lower() in MISSING_WORDS:
        return None
    return tuple(parse_levels(text, f"{where}, column {LEVELS_COLUMN!r}"))


def read_points_file(path: str | Path, flag: str = "points file", cost: str = "flops") -> PointsFile:
    """Read and validate a points CSV (see the module docstring); errors name ``flag`` or the line and column.

    ``cost`` (tradeoff/costs.py) picks the column read as IC: ``infer_flops``, ``infer_bytes`` or
    ``infer_seconds``. With bytes or seconds a row whose cell is empty (a cost not counted for it, e.g. the
    bytes of a live search) is left out and counted in ``uncounted``; an empty FLOPs cell is an error.
    """
    path = Path(path)
    ic_column = COST_COLUMNS[check_cost(cost, "cost")]
    uncounted: dict[str, int] = {}
    text = _file_text(path, flag)
    points: list[Point] = []
    strategies: list[str | None] = []
    levels: tuple[float, ...] | None = None
    levels_line = 0
    reader = csv.DictReader(io.StringIO(text, newline=""))
    try:
        if reader.fieldnames is None:
            raise InputError(f"{path}: the file is empty (expected a header line with {', '.join(REQUIRED_COLUMNS)})")
        header = [name.strip() for name in reader.fieldnames]
        reader.fieldnames = header
        _missing_columns(header, str(path))
        if ic_column not in header:
            raise InputError(f"--cost {cost}: {path} has no {ic_column!r} column (the lab and the sweep write it; "
                             f"found: {', '.join(header)})")
        for row in reader:
            if all(value in (None, "") for value in row.values()):
                continue  # blank line
            where = f"{path}: line {reader.line_num}"
            if ic_column != "infer_flops" and not _cell(row, ic_column):
                technique = _cell(row, "technique") or "?"
                uncounted[technique] = uncounted.get(technique, 0) + 1
                continue
            points.append(_point_from_mapping(row, where, ic_column))
            strategy = (row.get("strategy") or "").strip()
            strategies.append(strategy or None)
            row_levels = _row_levels(row.get(LEVELS_COLUMN), where)
            if row_levels is not None and levels is not None and row_levels != levels:
                raise InputError(f"{where}, column {LEVELS_COLUMN!r}: {format_levels(row_levels)!r} differs from "
                                 f"{format_levels(levels)!r} on line {levels_line} (one file is analysed at one "
                                 "set of levels)")
            if row_levels is not None and levels is None:
                levels, levels_line = row_levels, reader.line_num
    except csv.Error as error:
        raise InputError(f"{path}: line {reader.line_num}: not a readable CSV ({error})") from None
    if not points:
        raise InputError(f"{path}: no data rows after the header" if not uncounted else
                         f"--cost {cost}: no row of {path} has its {ic_column!r} counted")
    return PointsFile(points, tuple(strategies), levels, uncounted)


def load_points_csv(path: str | Path, flag: str = "points file") -> list[Point]:
    """Read and validate a points CSV (see the module docstring for columns and rules)."""
    return read_points_file(path, flag).points


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

