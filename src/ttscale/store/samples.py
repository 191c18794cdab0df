"""The store: one SQLite file, the source of truth for a sweep.

One row per sample, keyed by (run, model, task, problem_id, config,
sample_index), plus the model cards and the runs (their plans). Built to
survive (docs/RELIABILITY.md):

- **kill -9**: WAL journal, ``synchronous=NORMAL``, and every write is one
  ``BEGIN IMMEDIATE`` transaction, so a killed writer leaves either the whole
  batch or none of it (an fsync may lose the last batches on power loss, never
  corrupt the file).
- **retries** (Ray re-runs a task; a sweep is resumed): writes are idempotent.
  A finished (``status='ok'``) row is never overwritten; an ``'error'`` row (an
  infrastructure failure, not a result) is replaced by the next write of the
  same key, and ``done_keys`` leaves it out so a resume retries it.
- **bad input**: a file that is not a ttscale store, a run restarted with a
  different plan, or a malformed sample is refused with an ``InputError`` that
  names the path / run / field, and nothing stored is touched.

One writer at a time (``busy_timeout`` makes others wait); local disk only.
"""

from __future__ import annotations

import json
import os
import sqlite3
from pathlib import Path
from typing import Iterable

from ttscale.errors import InputError
from ttscale.store.database import Database
from ttscale.store.rows import (COLUMNS, FLOAT_FIELDS, ORDER, SCHEMA, SCHEMA_VERSION, STATUSES, UPSERT, canonical,
                                changed_keys, now, row_to_sample, sample_to_row)
from ttscale.store.search_results import SEARCH_SCHEMA, SearchResults
from ttscale.types import ModelCard, Sample

class Store:
    """A ttscale store at ``path`` (created with its parent directory if missing).

    Use as a context manager, or call ``close()``. Safe to share between the
    threads of one process (calls are serialised); other processes may read
    while one writes.
    """

    def __init__(self, path: str | os.PathLike, busy_timeout_s: float = 30.0) -> None:
        self.database = Database(path, busy_timeout_s)
        self.path = self.database.path
        try:
            self._open()
        except sqlite3.DatabaseError as exc:
            self.database.close()
            raise InputError(f"{str(self.path)!r} is not a ttscale store (SQLite says: {exc})") from exc
        except InputError:
            self.database.close()
            raise
        self.search_results = SearchResults(self.database)

    def _open(self) -> None:
        tables = self.database.tables()
        if tables and "meta" not in tables:
            raise InputError(
                f"{str(self.path)!r} is an SQLite database but not a ttscale store (tables: {', '.join(sorted(tables))})"
            )
        self.database.use_wal()
        with self.database.write() as tx:
            tx.executescript_statements(SCHEMA)
            tx.execute("INSERT OR IGNORE INTO meta (key, value) VALUES ('schema_version', ?)", (str(SCHEMA_VERSION),))
            version = tx.execute("SELECT value FROM meta WHERE key = 'schema_version'").fetchone()[0]
            tx.executescript_statements(SEARCH_SCHEMA)
        if version != str(SCHEMA_VERSION):
            raise InputError(
                f"store {str(self.path)!r} has schema_version {version}; this ttscale reads version {SCHEMA_VERSION}"
            )

    def _write(self):
        return self.database.write()

    def _query(self, sql: str, params: tuple = ()) -> list[sqlite3.Row]:
        return self.database.query(sql, params)

    def close(self) -> None:
        self.database.close()

    def __enter__(self) -> "Store":
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def integrity_ok(self) -> bool:
        """``PRAGMA integrity_check`` says ok."""
        return [tuple(r) for r in self._query("PRAGMA integrity_check")] == [("ok",)]

    # -------------------------------------------------------------- models

    def put_model(self, card: ModelCard) -> None:
        """Store (or update) a model card; the latest card for a name wins."""
        if not isinstance(card, ModelCard):
            raise InputError(f"put_model needs a ModelCard, got {type(card).__name__}")
        text = canonical(card.to_dict(), f"model card {card.name!r}")
        with self._write() as tx:
            tx.execute(
                "INSERT INTO models (name, card, train_flops) VALUES (?, ?, ?) "
                "ON CONFLICT (name) DO UPDATE SET card = excluded.card, train_flops = excluded.train_flops",
                (card.name, text, card.train_flops),
            )

    def get_model(self, name: str) -> ModelCard | None:
        rows = self._query("SELECT card FROM models WHERE name = ?", (name,))
        return ModelCard(**json.loads(rows[0]["card"])) if rows else None

    def models(self) -> list[ModelCard]:
        return [ModelCard(**json.loads(r["card"])) for r in self._query("SELECT card FROM models ORDER BY name")]

    # ---------------------------------------------------------------- runs

    def start_run(self, run: str, plan: dict) -> None:
        """Register a run and its plan; resuming with the same plan is a no-op.

        A run that exists with a different plan is refused (InputError): its
        samples belong to that plan, and nothing stored is changed.
        """
        if not isinstance(run, str) or not run:
            raise InputError(f"run must be a non-empty string, got {run!r}")
        text = canonical(plan, f"the plan of run {run!r}")
        with self._write() as tx:
            row = tx.execute("SELECT plan FROM runs WHERE run = ?", (run,)).fetchone()
            if row is None:
                tx.execute("INSERT INTO runs (run, plan, created_at) VALUES (?, ?, ?)", (run, text, now()))
                return
        if row["plan"] != text:
            stored = json.loads(row["plan"])
            changed = changed_keys(stored, json.loads(text))
            raise InputError(
                f"run {run!r} already exists in {str(self.path)!r} with a different plan "
                f"(differs in: {', '.join(changed) or 'structure'}); its samples belong to the stored plan, "
                "and nothing stored was changed"
            )

    def finish_run(self, run: str) -> None:
        """Mark a run finished (the first finish time is kept)."""
        with self._write() as tx:
            cursor = tx.execute(
                "UPDATE runs SET finished_at = COALESCE(finished_at, ?) WHERE run = ?", (now(), run)
            )
            if cursor.rowcount == 0:
                raise InputError(f"run {run!r} was never started in {str(self.path)!r}")

    def runs(self) -> list[dict]:
        """Every run, oldest first: ``{"run", "plan", "created_at", "finished_at"}``."""
        rows = self._query("SELECT run, plan, created_at, finished_at FROM runs ORDER BY created_at, run")
        return [dict(row, plan=json.loads(row["plan"])) for row in rows]

    def get_run(self, run: str) -> dict | None:
        """``{"run", "plan", "created_at", "finished_at"}`` or None."""
        rows = self._query("SELECT run, plan, created_at, finished_at FROM runs WHERE run = ?", (run,))
        if not rows:
            return None
        row = dict(rows[0])
        row["plan"] = json.loads(row["plan"])
        return row

    # ------------------------------------------------------------- samples

    def put_samples(self, samples: Iterable[Sample]) -> int:
        """Write samples in one transaction; returns how many rows were inserted or replaced.

        Idempotent: an ``'ok'`` row is never overwritten (a retried write of a
        finished sample changes nothing); an ``'error'`` row is replaced by the
        next write of its key. Every sample is validated before anything is
        written, so a bad one leaves the store as it was.
        """
        created_at = now()
        rows = [sample_to_row(sample, i, created_at) for i, sample in enumerate(samples)]
        if not rows:
            return 0
        with self._write() as tx:
            before = tx.changes()
            tx.executemany(UPSERT, rows)
            return tx.changes() - before

    def done_keys(self, run: str, model: str, task: str, config: str) -> set[tuple[str, int]]:
        """(problem_id, sample_index) of the finished rows of one cell; error rows are left out."""
        rows = self._query(
            "SELECT problem_id, sample_index FROM samples "
            "WHERE run = ? AND model = ? AND task = ? AND config = ? AND status = 'ok'",
            (run, model, task, config),
        )
        return {(r[0], r[1]) for r in rows}

    def _select(self, run, model, task, config, status) -> tuple[str, tuple]:
        if status is not None and status not in STATUSES:
            raise InputError(f"status must be one of {STATUSES} or None (all), got {status!r}")
        where, params = ["run = ?"], [run]
        for column, value in (("model", model), ("task", task), ("config", config), ("status", status)):
            if value is not None:
                where.append(f"{column} = ?")
                params.append(value)
        return f"SELECT * FROM samples WHERE {' AND '.join(where)} {ORDER}", tuple(params)

    def samples(self, run: str, model: str | None = None, task: str | None = None, config: str | None = None,
                status: str | None = "ok") -> list[Sample]:
        """Stored samples, ordered by (model, task, problem_id, config, sample_index).

        ``status='ok'`` (default) gives results only; ``'error'`` the failures;
        None everything.
        """
        return [row_to_sample(r) for r in self._query(*self._select(run, model, task, config, status))]

    def samples_frame(self, run: str, model: str | None = None, task: str | None = None, config: str | None = None,
                      status: str | None = "ok"):
        """``samples(...)`` as a pandas DataFrame: one column per stored column, plus n_tokens and mean_logprob."""
        import pandas as pd

        rows = self._query(*self._select(run, model, task, config, status))
        frame = pd.DataFrame([dict(r) for r in rows], columns=list(COLUMNS))
        frame["tokens"] = [tuple(json.loads(t)) for t in frame["tokens"]]
        frame["n_tokens"] = [len(t) for t in frame["tokens"]]
        for column in FLOAT_FIELDS:
            frame[column] = frame[column].astype(float)
        frame["mean_logprob"] = frame["logprob"] / frame["n_tokens"].clip(lower=1)
        for column in ("correct", "prefill_shared"):
            frame[column] = frame[column].astype(bool)
        frame["verified"] = frame["verified"].astype("boolean")
        return frame

    def counts(self, run: str) -> dict:
        """Rows of a run by status, overall and per (model, task, config) cell."""
        rows = self._query(
            "SELECT model, task, config, "
            "SUM(status = 'ok') AS ok, SUM(status = 'error') AS error, COUNT(DISTINCT problem_id) AS problems "
            "FROM samples WHERE run = ? GROUP BY model, task, config ORDER BY model, task, config",
            (run,),
        )
        cells = [dict(r) for r in rows]
        return {
            "run": run,
            "ok": sum(c["ok"] for c in cells),
            "error": sum(c["error"] for c in cells),
            "cells": cells,
        }

    def export_jsonl(self, path: str | os.PathLike, run: str, status: str | None = "ok") -> int:
        """Write a run's samples as JSON lines (one flat object per row); returns the row count.

        Written to a temporary file and renamed, so a crash never leaves half a file.
        """
        path = Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_name(path.name + ".tmp")
        rows = self._query(*self._select(run, None, None, None, status))
        with open(tmp, "w", encoding="utf-8") as handle:
            for row in rows:
                record = dict(row)
                record["tokens"] = json.loads(record["tokens"])
                for column in ("correct", "prefill_shared"):
                    record[column] = bool(record[column])
                if record["verified"] is not None:
                    record["verified"] = bool(record["verified"])
                handle.write(json.dumps(record, sort_keys=True) + "\n")
        os.replace(tmp, path)
        return len(rows)

