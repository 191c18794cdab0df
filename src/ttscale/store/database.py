"""One SQLite file, opened once: the connection, its pragmas and its write transactions.

Every table of a store (samples, models, runs, search results) is written
through one ``Database``, so a file has one writer in a process, and every
write is one ``BEGIN IMMEDIATE`` transaction: all of it is committed, or none
of it. WAL journal and ``synchronous=NORMAL``: a killed writer leaves whole
transactions; other processes may read while one writes (``busy_timeout``
makes writers queue). Local disk only.
"""

from __future__ import annotations

import os
import sqlite3
import threading
from contextlib import contextmanager
from pathlib import Path
from typing import Iterator

from ttscale.errors import InputError


class Database:
    """An open SQLite file (created with its parent directory if missing); thread-safe calls."""

    def __init__(self, path: str | os.PathLike, busy_timeout_s: float = 30.0) -> None:
        self.path = Path(path)
        if self.path.is_dir():
            raise InputError(f"store path {str(self.path)!r} is a directory; give a file such as "
                             f"{str(self.path / 'store.sqlite')!r}")
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._lock = threading.RLock()
        try:
            self._conn = sqlite3.connect(
                str(self.path), timeout=busy_timeout_s, isolation_level=None, check_same_thread=False
            )
            self._conn.row_factory = sqlite3.Row
            self._conn.execute(f"PRAGMA busy_timeout = {int(busy_timeout_s * 1000)}")
        except sqlite3.Error as exc:
            raise InputError(f"cannot open store {str(self.path)!r}: {exc}") from exc

    def tables(self) -> set[str]:
        return {r[0] for r in self.query("SELECT name FROM sqlite_master WHERE type = 'table'")}

    def use_wal(self) -> None:
        with self._lock:
            self._conn.execute("PRAGMA journal_mode = WAL")
            self._conn.execute("PRAGMA synchronous = NORMAL")

    @contextmanager
    def write(self) -> Iterator[Transaction]:
        """One BEGIN IMMEDIATE transaction: all of it is committed, or none of it."""
        with self._lock:
            self._conn.execute("BEGIN IMMEDIATE")
            try:
                yield Transaction(self._conn)
            except BaseException:
                self._conn.execute("ROLLBACK")
                raise
            self._conn.execute("COMMIT")

    def query(self, sql: str, params: tuple = ()) -> list[sqlite3.Row]:
        with self._lock:
            return self._conn.execute(sql, params).fetchall()

    def close(self) -> None:
        with self._lock:
            self._conn.close()


class Transaction:
    """The connection inside one write transaction."""

    def __init__(self, conn: sqlite3.Connection) -> None:
        self._conn = conn

    def execute(self, sql: str, params: tuple = ()) -> sqlite3.Cursor:
        return self._conn.execute(sql, params)

    def executemany(self, sql: str, rows: list[tuple]) -> sqlite3.Cursor:
        return self._conn.executemany(sql, rows)

    def changes(self) -> int:
        """Rows changed on this connection so far (for counting what a write inserted)."""
        return self._conn.total_changes

    def executescript_statements(self, script: str) -> None:
        # executescript() would COMMIT our transaction first; run the statements one by one.
        for statement in script.split(";"):
            if statement.strip():
                self._conn.execute(statement)
