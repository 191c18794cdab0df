"""The store: SQLite (WAL), the source of truth. ``Store`` holds samples, model
cards, runs (with their plans) and tree-search results, all written through one
``Database`` per file.

Modules: database.py (connection, transactions), rows.py (schema, sample <-> row),
samples.py (``Store``), search_results.py (the search results table).
"""

from ttscale.store.rows import SCHEMA_VERSION, STATUSES
from ttscale.store.samples import Store
from ttscale.store.search_results import SearchResults

__all__ = ["SCHEMA_VERSION", "STATUSES", "SearchResults", "Store"]
