"""Fixtures for the backend tests: fake OpenAI-compatible servers on loopback,
and backends with short timeouts and backoff so the whole folder stays fast."""

import pytest
from fake_openai_server import FakeOpenAIServer

from ttscale.backends.openai import OpenAIBackend
from ttscale.types import ModelCard

CARD = ModelCard(
    name="fake-model", params_total=1000, params_non_embedding=800, n_layers=2, d_model=16,
    n_heads=2, d_ff=64, vocab_size=256, context_length=512, provenance="test card",
)  # fmt: skip


@pytest.fixture
def fake_server():
    """fake_server(mode, **options) -> a started FakeOpenAIServer, stopped after the test."""
    servers = []

    def start(mode="ok", **options):
        server = FakeOpenAIServer(mode, **options).start()
        servers.append(server)
        return server

    yield start
    for server in servers:
        server.stop()


@pytest.fixture
def make_backend():
    """make_backend(server, **options) -> an OpenAIBackend on it, closed after the test."""
    backends = []

    def make(server, **options):
        settings = dict(card=CARD, timeout_s=5.0, max_attempts=3, backoff_base_s=0.01, backoff_max_s=0.05,
                        max_retry_after_s=5.0, trust_env=False)  # fmt: skip
        settings.update(options)
        backend = OpenAIBackend(base_url=server.url + "/v1", model="fake-model", **settings)
        backends.append(backend)
        return backend

    yield make
    for backend in backends:
        backend.close()
