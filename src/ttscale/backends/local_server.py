"""llama-cpp-python's OpenAI-compatible server, started on loopback for a GGUF file.

What the tests against a real server and the benchmarks use (and what a user may use to put a
local model behind an ``openai:`` spec): a child process (``python -m llama_cpp.server``) on a
free port of 127.0.0.1, ready once ``GET /v1/models`` answers 200, stopped (terminate, then
kill) when the ``with`` block ends. Its log goes to a file, whose tail is in the error when it
exits early or never answers.
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from ttscale.errors import TtscaleError, require_extra


class ServerStartError(TtscaleError):
    """The server exited before answering, or did not answer in time; the message ends with its log."""


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@contextmanager
def llama_cpp_server(model: Path, alias: str, threads: int = 1, n_ctx: int = 2048,
                     ready_timeout_s: float = 120.0) -> Iterator[str]:
    """Serve ``model`` as ``alias`` on 127.0.0.1; yields the root URL (``http://127.0.0.1:PORT``)."""
    httpx = require_extra("httpx", "openai-backend")
    require_extra("llama_cpp", "lab")
    port = free_port()
    with tempfile.TemporaryDirectory(prefix="ttscale-server-") as folder:
        log = Path(folder) / "server.log"
        command = [sys.executable, "-m", "llama_cpp.server", "--model", str(model), "--model_alias", alias,
                   "--host", "127.0.0.1", "--port", str(port), "--n_threads", str(threads), "--n_ctx", str(n_ctx)]
        with log.open("wb") as out:
            # Its own session, so stopping it never signals ours; loopback never through a proxy.
            process = subprocess.Popen(command, stdout=out, stderr=subprocess.STDOUT, start_new_session=True,
                                       env={**os.environ, "NO_PROXY": "127.0.0.1"})
        url = f"http://127.0.0.1:{port}"
        try:
            deadline = time.monotonic() + ready_timeout_s
            while True:
                if process.poll() is not None:
                    raise ServerStartError(f"llama_cpp.server exited with {process.returncode}:\n"
                                           f"{log.read_text(errors='replace')[-3000:]}")
                try:
                    if httpx.get(url + "/v1/models", timeout=2, trust_env=False).status_code == 200:
                        break
                except httpx.HTTPError:
                    pass
                if time.monotonic() > deadline:
                    raise ServerStartError(f"llama_cpp.server did not answer within {ready_timeout_s:g} s:\n"
                                           f"{log.read_text(errors='replace')[-3000:]}")
                time.sleep(0.3)
            yield url
        finally:
            process.terminate()
            try:
                process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
