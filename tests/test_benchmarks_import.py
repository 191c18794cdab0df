"""Every benchmark script imports: a renamed module breaks the figures' commands
long before anyone reruns them (they take minutes, so the suite only imports them)."""

import importlib
import sys
from pathlib import Path

import pytest

BENCHMARKS = Path(__file__).resolve().parent.parent / "benchmarks"


@pytest.mark.parametrize("script", sorted(p.stem for p in BENCHMARKS.glob("*.py")))
def test_benchmark_script_imports(script, monkeypatch):
    monkeypatch.syspath_prepend(str(BENCHMARKS))  # the scripts import their shared helpers (bench_md) by name
    monkeypatch.setattr(sys, "argv", [script])
    try:
        importlib.import_module(script)
    finally:
        sys.modules.pop(script, None)
