"""A full queue refuses at once: 429 in the OpenAI envelope with Retry-After, counted in /metrics, and
nothing stored (issue 14)."""

from __future__ import annotations

import httpx
import pytest

openai = pytest.importorskip("openai")
pytest.importorskip("uvicorn")

from live_server import running  # noqa: E402

from ttscale.cards import installed_path  # noqa: E402

MODEL = "smollm2-135m"
pytestmark = pytest.mark.skipif(installed_path(MODEL) is None,
                                reason=f"{MODEL} is not installed (scripts/setup.sh pulls it)")


def test_no_room_in_the_queue_is_a_429_with_retry_after_and_stores_nothing(tmp_path):
    from ttscale.cli.serve_cmd import _served_model
    from ttscale.serve.app import ServeConfig, create_app
    from ttscale.store import Store

    served = _served_model(MODEL, threads=1, max_seqs=4)
    store = Store(tmp_path / "store.sqlite")
    app = create_app(served, ServeConfig(max_queue=0, max_tokens=4), store)  # no request may wait
    try:
        with running(app) as base:
            client = openai.OpenAI(base_url=f"{base}/v1", api_key="unused", max_retries=0)
            with pytest.raises(openai.RateLimitError) as refused:
                client.completions.create(model=served.name, prompt="Hello", max_tokens=4)
            assert refused.value.response.headers["retry-after"] == "1"
            assert refused.value.body["type"] == "rate_limit_error"
            assert store.samples("serve") == []
            metrics = httpx.get(f"{base}/metrics").text
            assert 'ttscale_requests_total{endpoint="/v1/completions",status="429"} 1.0' in metrics
    finally:
        served.close()
        store.close()
