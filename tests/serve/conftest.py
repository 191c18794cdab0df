"""The serve tests' fake upstream: the fault-injecting OpenAI-compatible server of tests/backends."""

import sys
from pathlib import Path

import pytest

pytest.importorskip("uvicorn")

sys.path.insert(0, str(Path(__file__).parents[1] / "backends"))
