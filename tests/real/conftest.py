"""Fixtures on the real Gemma 3 270M GGUF: one in-process llama.cpp backend for
the whole folder (loading takes about a second), and llama-cpp-python's own
OpenAI-compatible server started on loopback by the test that needs it.

Kept small: one thread (the CPUs are shared), short generations.
"""

from __future__ import annotations

import pytest

llama_cpp = pytest.importorskip("llama_cpp", reason="llama-cpp-python is installed by scripts/setup.sh")

from ttscale.backends.llama_cpp import LlamaCppBackend  # noqa: E402
from ttscale.backends.local_server import ServerStartError, llama_cpp_server  # noqa: E402
from ttscale.cards import gemma3_270m_path  # noqa: E402


@pytest.fixture(scope="session")
def gemma_path():
    return gemma3_270m_path()


@pytest.fixture(scope="session")
def gemma(gemma_path):
    backend = LlamaCppBackend.gemma3_270m(n_threads=1, max_seqs=8, n_ctx=2048)
    yield backend
    backend.close()


@pytest.fixture(scope="session")
def llama_server(gemma_path):
    """llama-cpp-python's OpenAI-compatible server serving Gemma on 127.0.0.1; yields its base URL."""
    try:
        with llama_cpp_server(gemma_path, "gemma", threads=1) as url:
            yield url
    except ServerStartError as exc:
        pytest.fail(str(exc))
