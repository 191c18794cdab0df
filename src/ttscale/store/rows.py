"""The store's rows: schema (DDL), Sample <-> row conversion and validation.

Everything here is pure (no connection held): ``ttscale.store.Store`` runs the
SQL and calls these helpers. Float columns store NaN as NULL; a sample is
validated in full before it becomes a row, so a bad one fails its batch before
anything is written.
"""

from __future__ import annotations

import json
import math
import sqlite3
from datetime import datetime, timezone

from ttscale.errors import InputError
from ttscale.types import Sample, SampleKey

SCHEMA_VERSION = 1
STATUSES = ("ok", "error")

KEY_COLUMNS = ("run", "model", "task", "problem_id", "config", "sample_index")
VALUE_COLUMNS = (
    "seed",
    "completion",
    "tokens",
    "logprob",
    "answer",
    "correct",
    "verified",
    "prompt_tokens",
    "prefill_flops",
    "decode_flops",
    "verifier_flops",
    "prefill_shared",
    "wall_seconds",
    "status",
    "error",
    "created_at",
)
COLUMNS = KEY_COLUMNS + VALUE_COLUMNS
FLOAT_FIELDS = ("logprob", "prefill_flops", "decode_flops", "verifier_flops", "wall_seconds")

SCHEMA = f"""
CREATE TABLE IF NOT EXISTS meta (
    key TEXT PRIMARY KEY,
    value TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS runs (
    run TEXT PRIMARY KEY,
    plan TEXT NOT NULL,            -- canonical JSON (sorted keys)
    created_at TEXT NOT NULL,
    finished_at TEXT               -- NULL while unfinished
);
CREATE TABLE IF NOT EXISTS models (
    name TEXT PRIMARY KEY,
    card TEXT NOT NULL,            -- ModelCard.to_dict() as JSON
    train_flops REAL
);
CREATE TABLE IF NOT EXISTS samples (
    run TEXT NOT NULL,
    model TEXT NOT NULL,
    task TEXT NOT NULL,
    problem_id TEXT NOT NULL,
    config TEXT NOT NULL,
    sample_index INTEGER NOT NULL,
    seed INTEGER NOT NULL,
    completion TEXT NOT NULL,
    tokens TEXT NOT NULL,          -- JSON list of token ids
    logprob REAL,                  -- float columns: NULL stands for NaN
    answer TEXT,                   -- NULL: nothing extracted
    correct INTEGER NOT NULL,
    verified INTEGER,              -- NULL: the task has no verifier
    prompt_tokens INTEGER NOT NULL,
    prefill_flops REAL,
    decode_flops REAL,
    verifier_flops REAL,
    prefill_shared INTEGER NOT NULL,
    wall_seconds REAL,
    status TEXT NOT NULL CHECK (status IN {STATUSES!r}),
    error TEXT,
    created_at TEXT NOT NULL,
    PRIMARY KEY ({", ".join(KEY_COLUMNS)})
) WITHOUT ROWID;
"""

# Idempotent write: insert, or replace a stored row only while it is not 'ok'.
UPSERT = (
    f"INSERT INTO samples ({', '.join(COLUMNS)}) VALUES ({', '.join('?' * len(COLUMNS))}) "
    f"ON CONFLICT ({', '.join(KEY_COLUMNS)}) DO UPDATE SET "
    + ", ".join(f"{c} = excluded.{c}" for c in VALUE_COLUMNS)
    + " WHERE samples.status != 'ok'"
)

ORDER = "ORDER BY model, task, problem_id, config, sample_index"


def now() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="milliseconds")


def canonical(obj: object, what: str) -> str:
    try:
        return json.dumps(obj, sort_keys=True, separators=(",", ":"), allow_nan=False)
    except (TypeError, ValueError) as exc:
        raise InputError(f"{what} must be JSON-serialisable: {exc}") from exc


def float_or_none(x: float) -> float | None:
    return None if math.isnan(x) else x  # SQLite stores NaN as NULL anyway; say so


def sample_to_row(sample: Sample, position: int, created_at: str) -> tuple:
    """A sample as a row, validated first: a bad sample fails the whole batch before it is written."""
    if not isinstance(sample, Sample):
        raise InputError(f"samples[{position}] must be a Sample, got {type(sample).__name__}")
    key = sample.key
    where = f"samples[{position}] ({key.model}/{key.task}/{key.problem_id}/{key.config}#{key.sample_index})"
    if sample.status not in STATUSES:
        raise InputError(f"{where}: status must be one of {STATUSES}, got {sample.status!r}")
    if not isinstance(key.sample_index, int) or key.sample_index < 0:
        raise InputError(f"{where}: sample_index must be an int >= 0, got {key.sample_index!r}")
    for name in ("run", "model", "task", "problem_id", "config"):
        if not isinstance(getattr(key, name), str) or not getattr(key, name):
            raise InputError(f"{where}: key field {name} must be a non-empty string, got {getattr(key, name)!r}")
    try:
        values = (
            int(sample.seed),
            str(sample.completion),
            json.dumps([int(t) for t in sample.tokens], separators=(",", ":")),
            float_or_none(float(sample.logprob)),
            None if sample.answer is None else str(sample.answer),
            int(bool(sample.correct)),
            None if sample.verified is None else int(bool(sample.verified)),
            int(sample.prompt_tokens),
            float_or_none(float(sample.prefill_flops)),
            float_or_none(float(sample.decode_flops)),
            float_or_none(float(sample.verifier_flops)),
            int(bool(sample.prefill_shared)),
            float_or_none(float(sample.wall_seconds)),
            sample.status,
            None if sample.error is None else str(sample.error),
            created_at,
        )
    except (TypeError, ValueError) as exc:
        raise InputError(f"{where}: {exc}") from exc
    return tuple(getattr(key, c) for c in KEY_COLUMNS) + values


def row_to_sample(row: sqlite3.Row) -> Sample:
    floats = {f: math.nan if row[f] is None else float(row[f]) for f in FLOAT_FIELDS}
    return Sample(
        key=SampleKey(*(row[c] for c in KEY_COLUMNS)),
        seed=row["seed"],
        completion=row["completion"],
        tokens=tuple(json.loads(row["tokens"])),
        answer=row["answer"],
        correct=bool(row["correct"]),
        verified=None if row["verified"] is None else bool(row["verified"]),
        prompt_tokens=row["prompt_tokens"],
        prefill_shared=bool(row["prefill_shared"]),
        status=row["status"],
        error=row["error"],
        **floats,
    )


def changed_keys(old: object, new: object, prefix: str = "") -> list[str]:
    """Top-level (and nested dict) keys whose values differ, for a readable refusal."""
    if isinstance(old, dict) and isinstance(new, dict):
        out: list[str] = []
        for key in sorted(set(old) | set(new), key=str):
            if old.get(key) != new.get(key):
                name = f"{prefix}{key}"
                if isinstance(old.get(key), dict) and isinstance(new.get(key), dict):
                    out.extend(changed_keys(old[key], new[key], name + "."))
                else:
                    out.append(name)
        return out
    return [] if old == new else [prefix.rstrip(".") or "plan"]
