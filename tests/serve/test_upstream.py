"""`ttscale serve` in front of an upstream OpenAI-compatible server (issue 14): the real one
(llama-cpp-python's own server on loopback, serving SmolLM2-135M), and the fault-injecting fake one.
Every upstream failure reaches the client in the OpenAI envelope as 502/503 with x-should-retry set as a
retry deserves, or as 400 when the upstream read the request itself as bad; a failed request stores
nothing."""

from __future__ import annotations

import httpx
import pytest

openai = pytest.importorskip("openai")
pytest.importorskip("uvicorn")

from live_server import running  # noqa: E402
from fake_openai_server import FakeOpenAIServer  # noqa: E402

from ttscale.cards import installed_path  # noqa: E402
from ttscale.cli.serve_cmd import Upstream, _served_model  # noqa: E402
from ttscale.serve.app import ServeConfig, create_app  # noqa: E402
from ttscale.store import Store  # noqa: E402
from ttscale.types import ModelCard  # noqa: E402

CARD = ModelCard(name="fake-model", params_total=1000, params_non_embedding=800, n_layers=2, d_model=16, n_heads=2,
                 d_ff=64, vocab_size=256, context_length=512, provenance="test card")
QUICK = Upstream(concurrency=2, timeout_s=1.0, attempts=2)


def serve_fake(mode: str, tmp_path, **options):
    fake = FakeOpenAIServer(mode, **options).start()
    served = _served_model(f"openai:{fake.url}/v1#fake-model", threads=None, max_seqs=4, card=CARD, upstream=QUICK)
    served.backend.backoff_base_s = served.backend.backoff_max_s = 0.01  # no long waits between the two tries
    store = Store(tmp_path / "store.sqlite")
    return fake, served, store, create_app(served, ServeConfig(strategy="majority:k=2", max_tokens=5), store)


@pytest.mark.parametrize("mode, options, status, retry", [
    ("500-k-times", {}, 502, "true"),  # the upstream failed on every try
    ("drop-connection", {}, 502, "true"),
    ("truncated", {}, 502, "true"),
    ("malformed-json", {}, 502, "true"),
    ("slow", {"delay_s": 3.0}, 502, "true"),  # each try timed out
    ("503-loading", {"retry_after": "0"}, 503, "true"),  # busy or loading: a retry later may succeed
    ("429-retry-after", {"retry_after": "0"}, 503, "true"),
])
def test_an_upstream_failure_is_a_502_or_503_the_client_can_read_and_nothing_is_stored(mode, options, status, retry,
                                                                                       tmp_path):
    fake, served, store, app = serve_fake(mode, tmp_path, **options)
    try:
        with running(app) as base:
            response = httpx.post(f"{base}/v1/completions", json={"model": "fake-model", "prompt": "2+2=",
                                                                 "max_tokens": 5}, timeout=30)
            assert response.status_code == status
            assert response.headers["x-should-retry"] == retry
            error = response.json()["error"]
            assert error["code"] == "upstream_error" and "upstream server failed" in error["message"]
            assert "Traceback" not in response.text
            assert store.samples("serve") == []
            metrics = httpx.get(f"{base}/metrics").text
            assert f'ttscale_requests_total{{endpoint="/v1/completions",status="{status}"}} 1.0' in metrics
    finally:
        served.close()
        fake.stop()
        store.close()


def test_a_request_the_upstream_reads_as_bad_is_a_400_and_the_official_client_does_not_retry(tmp_path):
    fake, served, store, app = serve_fake("400", tmp_path)
    try:
        with running(app) as base:
            client = openai.OpenAI(base_url=f"{base}/v1", api_key="unused", max_retries=2)
            with pytest.raises(openai.BadRequestError) as refused:
                client.completions.create(model="fake-model", prompt="2+2=", max_tokens=5)
            assert "prompt is too long" in refused.value.body["message"]
            metrics = httpx.get(f"{base}/metrics").text  # the client did not try again
            assert 'ttscale_requests_total{endpoint="/v1/completions",status="400"} 1.0' in metrics
            assert store.samples("serve") == []
    finally:
        served.close()
        fake.stop()
        store.close()


def test_a_transient_upstream_failure_is_retried_and_answered(tmp_path):
    fake, served, store, app = serve_fake("500-k-times", tmp_path, times=1)  # the first try fails, then fine
    try:
        with running(app) as base:
            client = openai.OpenAI(base_url=f"{base}/v1", api_key="unused", max_retries=0)
            reply = client.completions.create(model="fake-model", prompt="2+2=", max_tokens=5, seed=1)
            assert reply.usage.model_extra["ttscale"]["samples"] == 2
            assert len(store.samples("serve")) == 2
    finally:
        served.close()
        fake.stop()
        store.close()


SMOL = "smollm2-135m"


@pytest.mark.skipif(installed_path(SMOL) is None, reason=f"{SMOL} is not installed (scripts/setup.sh pulls it)")
def test_in_front_of_llama_cpp_pythons_own_server(tmp_path):
    pytest.importorskip("llama_cpp.server", reason="llama-cpp-python's server extra is not installed")
    from ttscale.backends.local_server import llama_cpp_server
    from ttscale.cards import load_card

    with llama_cpp_server(installed_path(SMOL), alias="smol") as url:
        served = _served_model(f"openai:{url}/v1#smol", threads=None, max_seqs=4, card=load_card(SMOL).card)
        store = Store(tmp_path / "store.sqlite")
        app = create_app(served, ServeConfig(strategy="majority:k=3", max_tokens=6), store)
        try:
            with running(app) as base:
                client = openai.OpenAI(base_url=f"{base}/v1", api_key="unused", max_retries=0)
                reply = client.completions.create(model=served.name, prompt="The capital of France is",
                                                  max_tokens=6, seed=5)
                extra = reply.usage.model_extra["ttscale"]
                assert extra["samples"] == 3 and sum(extra["answers"].values()) == 3
                assert reply.choices[0].text in {s.completion for s in store.samples("serve")}
                assert extra["flops"]["decode"] > 0 and reply.usage.completion_tokens >= 3
                assert len(store.samples("serve")) == 3
        finally:
            served.close()
            store.close()
