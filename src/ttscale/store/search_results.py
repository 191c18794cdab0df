"""Tree-search results, per (model, problem, search settings), so a killed run resumes.

A table of the store, ``search_results``: one row per problem searched, keyed
by a content hash of everything that determines the result (the model's card,
the task, the problem, the search settings, the scorer's identity, the step
format and the run seed; see ``ttscale.strategies.tree_search.result_key``).
Written through the store's own database (one writer per file); every write
is one transaction of ``INSERT OR IGNORE`` rows, so a kill leaves whole chunks
or nothing, and a re-run of a finished chunk changes nothing.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping

from ttscale.store.database import Database
from ttscale.store.rows import now
from ttscale.types import SearchOutcome

SEARCH_SCHEMA = """
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


class SearchResults:
    """The ``search_results`` table of one store."""

    def __init__(self, database: Database) -> None:
        self._db = database

    def get_many(self, keys: Iterable[str]) -> dict[str, SearchOutcome]:
        keys = list(keys)
        found: dict[str, SearchOutcome] = {}
        for start in range(0, len(keys), 500):
            part = keys[start : start + 500]
            marks = ",".join("?" * len(part))
            for key, text in self._db.query(f"SELECT key, outcome FROM search_results WHERE key IN ({marks})",
                                            tuple(part)):
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
        with self._db.write() as tx:
            before = tx.changes()
            tx.executemany("INSERT OR IGNORE INTO search_results VALUES (?, ?, ?, ?, ?, ?, ?)", values)
            return tx.changes() - before

    def count(self) -> int:
        return int(self._db.query("SELECT COUNT(*) FROM search_results")[0][0])
