"""Tree-search results, per (model, problem, search settings), so a killed run resumes.

A small table, ``search_results``, kept in the run's store file (or any SQLite
file): one row per problem searched, keyed by a content hash of everything
that determines the result (the model's card, the task, the problem, the
search settings, the scorer's identity, the step format and the run seed; see
``ttscale.strategies.tree_search.result_key``). ``store.py`` is not touched:
this class opens its own connection to the same file (SQLite in WAL mode takes
several connections; writers queue on ``busy_timeout``). Every write is one
``BEGIN IMMEDIATE`` transaction of ``INSERT OR IGNORE`` rows, so a kill leaves
whole chunks or nothing, and a re-run of a finished chunk changes nothing.

Point it at a ttscale store (``SearchResultStore.for_store(store)``) or at a
file of its own; do not later open a file of its own as a ``Store`` (a store
refuses SQLite files that it did not create).
"""

from __future__ import annotations

import json
import os
import sqlite3
import threading
from collections.abc import Iterable, Mapping
from pathlib import Path

from ttscale.errors import InputError
from ttscale.store_rows import now
from ttscale.strategies.search_ledger import SearchOutcome

SCHEMA = """
CREATE TABLE IF NOT EXISTS search_results (
    key TEXT PRIMARY KEY,
    model TEXT NOT NULL,
    task TEXT NOT NULL,
    problem_id TEXT NOT NULL,
    search TEXT NOT NULL,
    outcome TEXT NOT NULL,
    created_at TEXT NOT NULL
)
"""


class SearchResultStore:
    def __init__(self, path: str | os.PathLike, busy_timeout_s: float = 30.0) -> None:
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._lock = threading.RLock()
        try:
            self._conn = sqlite3.connect(str(self.path), timeout=busy_timeout_s, isolation_level=None,
                                         check_same_thread=False)
            self._conn.execute(f"PRAGMA busy_timeout = {int(busy_timeout_s * 1000)}")
            self._conn.execute("PRAGMA journal_mode = WAL")
            self._conn.execute("PRAGMA synchronous = NORMAL")
            self._conn.execute(SCHEMA)
        except sqlite3.DatabaseError as exc:
            raise InputError(f"cannot keep search results in {str(self.path)!r}: {exc}") from exc

    @classmethod
    def for_store(cls, store) -> SearchResultStore:
        """The results table inside a ``ttscale.store.Store``'s file."""
        return cls(store.path)

    def get_many(self, keys: Iterable[str]) -> dict[str, SearchOutcome]:
        keys = list(keys)
        found: dict[str, SearchOutcome] = {}
        with self._lock:
            for start in range(0, len(keys), 500):
                part = keys[start : start + 500]
                marks = ",".join("?" * len(part))
                for key, text in self._conn.execute(
                    f"SELECT key, outcome FROM search_results WHERE key IN ({marks})", part
                ):
                    found[key] = SearchOutcome.from_dict(json.loads(text))
        return found

    def put_many(self, rows: Mapping[str, tuple[str, str, dict, SearchOutcome]]) -> int:
        """Write {key: (model, task, search description, outcome)} in one transaction; returns rows added."""
        if not rows:
            return 0
        created = now()
        values = [
            (key, model, task, outcome.problem_id, json.dumps(search, sort_keys=True),
             json.dumps(outcome.to_dict(), sort_keys=True), created)
            for key, (model, task, search, outcome) in rows.items()
        ]
        with self._lock:
            self._conn.execute("BEGIN IMMEDIATE")
            try:
                before = self._conn.total_changes
                self._conn.executemany("INSERT OR IGNORE INTO search_results VALUES (?, ?, ?, ?, ?, ?, ?)", values)
                added = self._conn.total_changes - before
            except BaseException:
                self._conn.execute("ROLLBACK")
                raise
            self._conn.execute("COMMIT")
        return added

    def count(self) -> int:
        with self._lock:
            return int(self._conn.execute("SELECT COUNT(*) FROM search_results").fetchone()[0])

    def close(self) -> None:
        with self._lock:
            self._conn.close()

    def __enter__(self) -> SearchResultStore:
        return self

    def __exit__(self, *exc) -> None:
        self.close()
