"""Under load (issue 14): more clients than the server will hold get 429s, never a 5xx; every accepted request is
answered, and the store holds exactly the accepted requests' samples (nothing of a refused one)."""

from __future__ import annotations

from collections import Counter
from concurrent.futures import ThreadPoolExecutor

import httpx
import pytest

pytest.importorskip("uvicorn")

from live_server import running  # noqa: E402

from ttscale.cards import installed_path  # noqa: E402

MODEL = "smollm2-135m"
pytestmark = pytest.mark.skipif(installed_path(MODEL) is None,
                                reason=f"{MODEL} is not installed (scripts/setup.sh pulls it)")


def test_a_burst_beyond_the_queue_is_refused_with_429s_only_and_stores_exactly_what_it_answered(tmp_path):
    from ttscale.cli.serve_cmd import _served_model
    from ttscale.serve.app import ServeConfig, create_app
    from ttscale.store import Store

    served = _served_model(MODEL, threads=1, max_seqs=8)
    store = Store(tmp_path / "store.sqlite")
    app = create_app(served, ServeConfig(strategy="majority:k=2", max_tokens=4, max_concurrency=2, max_queue=3),
                     store)
    try:
        with running(app) as base:
            def send(i: int) -> httpx.Response:
                return httpx.post(f"{base}/v1/completions", timeout=120, json={
                    "model": served.name, "prompt": f"Request {i}: the answer is", "seed": i})

            with ThreadPoolExecutor(12) as clients:  # 12 at once against 2 answered + 3 waiting
                replies = list(clients.map(send, range(40)))
            statuses = Counter(r.status_code for r in replies)
            assert set(statuses) <= {200, 429} and statuses[200] >= 5 and statuses[429] >= 1, statuses
            assert all(r.headers["retry-after"] == "1" for r in replies if r.status_code == 429)
            answered = [r.json() for r in replies if r.status_code == 200]
            assert len(store.samples("serve")) == sum(a["usage"]["ttscale"]["samples"] for a in answered)
            kept = {s.key.problem_id for s in store.samples("serve")}
            from ttscale.serve.served_task import ServedTask

            refused = {ServedTask().problem(f"Request {i}: the answer is", seed=i).problem_id
                       for i, r in enumerate(replies) if r.status_code == 429}
            assert not kept & refused
            assert httpx.get(f"{base}/health").status_code == 200
    finally:
        served.close()
        store.close()
