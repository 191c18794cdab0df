"""Fixtures on the real Gemma 3 270M GGUF: one in-process llama.cpp backend for
the whole folder (loading takes about a second), and llama-cpp-python's own
OpenAI-compatible server started on loopback by the test that needs it.

Kept small: one thread (the CPUs are shared), short generations.
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time

import httpx
import pytest

llama_cpp = pytest.importorskip("llama_cpp", reason="llama-cpp-python is installed by scripts/setup.sh")

from ttscale.backends.llama_cpp import LlamaCppBackend  # noqa: E402
from ttscale.cards import gemma3_270m_path  # noqa: E402


@pytest.fixture(scope="session")
def gemma_path():
    return gemma3_270m_path()


@pytest.fixture(scope="session")
def gemma(gemma_path):
    backend = LlamaCppBackend.gemma3_270m(n_threads=1, max_seqs=8, n_ctx=2048)
    yield backend
    backend.close()


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="session")
def llama_server(gemma_path, tmp_path_factory):
    """llama-cpp-python's OpenAI-compatible server serving Gemma on 127.0.0.1; yields its base URL."""
    port = _free_port()
    log = tmp_path_factory.mktemp("server") / "server.log"
    command = [sys.executable, "-m", "llama_cpp.server", "--model", str(gemma_path), "--model_alias", "gemma",
               "--host", "127.0.0.1", "--port", str(port), "--n_threads", "1", "--n_ctx", "2048"]  # fmt: skip
    with log.open("wb") as out:
        process = subprocess.Popen(command, stdout=out, stderr=subprocess.STDOUT, start_new_session=True,
                                   env={**os.environ, "NO_PROXY": "127.0.0.1"})  # fmt: skip
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 120
        while True:
            if process.poll() is not None:
                pytest.fail(f"llama_cpp.server exited with {process.returncode}:\n{log.read_text()[-3000:]}")
            try:
                if httpx.get(url + "/v1/models", timeout=2, trust_env=False).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            if time.monotonic() > deadline:
                pytest.fail(f"llama_cpp.server did not answer within 120 s:\n{log.read_text()[-3000:]}")
            time.sleep(0.3)
        yield url
    finally:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
