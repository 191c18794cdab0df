"""Fixtures shared by the tradeoff and plan tests."""

from __future__ import annotations

import gzip
import shutil
from pathlib import Path

import pytest

DATA = Path(__file__).resolve().parents[1] / "data"


@pytest.fixture(scope="module")
def lab_points(tmp_path_factory) -> Path:
    """The pinned smoke lab's points.csv, unpacked."""
    path = tmp_path_factory.mktemp("lab") / "points.csv"
    with gzip.open(DATA / "smoke_lab_points.csv.gz", "rb") as packed, path.open("wb") as plain:
        shutil.copyfileobj(packed, plain)
    return path
