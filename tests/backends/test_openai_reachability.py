"""OpenAIBackend.check_reachable: one short request before any sampling, one line
naming the spec and the reason when no server answers (issue 11, item 1)."""

import socket
import time

import httpx
import pytest

from ttscale.backends.http_retry import no_answer_reason
from ttscale.backends.local_server import free_port
from ttscale.backends.openai import BackendUnreachable
from ttscale.backends.registry import backend_from_spec
from ttscale.errors import TtscaleError


class _At:
    def __init__(self, url):
        self.url = url


def test_nothing_listening_is_one_line_naming_the_spec_within_a_second(make_backend):
    port = free_port()  # bound then closed: nobody listens there
    backend = make_backend(_At(f"http://127.0.0.1:{port}"), timeout_s=120.0, max_attempts=5)
    started = time.monotonic()
    with pytest.raises(BackendUnreachable) as caught:
        backend.check_reachable()
    assert time.monotonic() - started < 1.0  # one attempt, no retries
    assert isinstance(caught.value, TtscaleError)
    assert str(caught.value) == (
        f"openai:http://127.0.0.1:{port}/v1#fake-model: no server answers at http://127.0.0.1:{port} "
        "(connection refused)"
    )
    assert backend.usage.requests == 0  # nothing was sampled


def test_a_server_that_accepts_but_never_answers_is_unreachable_within_the_short_timeout(make_backend):
    with socket.socket() as listener:  # connections are queued by the kernel, never answered
        listener.bind(("127.0.0.1", 0))
        listener.listen(8)
        url = f"http://127.0.0.1:{listener.getsockname()[1]}"
        backend = make_backend(_At(url), timeout_s=0.5)
        started = time.monotonic()
        with pytest.raises(BackendUnreachable, match=r"no server answers at .* \(connected, but no answer within 0.5 s\)"):
            backend.check_reachable()
        assert time.monotonic() - started < 3.0


def test_a_server_that_answers_is_reachable_with_one_request(fake_server, make_backend):
    server = fake_server("ok")
    backend = make_backend(server)
    backend.check_reachable()
    assert server.paths() == ["/v1/models"]


def test_any_http_answer_means_a_server_is_there(fake_server, make_backend):
    server = fake_server("ok")
    backend = make_backend(_At(server.url + "/nowhere"))  # /nowhere/v1/models is a 404: still a server's answer
    backend.check_reachable()
    assert server.paths() == ["/nowhere/v1/models"]


def test_a_model_the_server_says_does_not_exist_is_refused(fake_server, make_backend):
    server = fake_server("ok", models=("served-model", "other"), strict_models=True)
    backend = make_backend(server)  # asks for "fake-model"
    with pytest.raises(BackendUnreachable) as caught:
        backend.check_reachable()
    message = str(caught.value)
    assert message.startswith(f"openai:{server.url}/v1#fake-model: the server at {server.url} has no model")
    assert "it lists other, served-model" in message and "does not exist" in message
    assert "\n" not in message


def test_a_server_that_serves_its_one_model_under_any_name_is_reachable(fake_server, make_backend):
    server = fake_server("ok", models=("gemma-3-270m.gguf",))  # llama-server: any name is served
    backend = make_backend(server)
    backend.check_reachable()
    assert server.paths() == ["/v1/models", "/v1/completions"]
    (asked,) = server.completion_requests()
    assert asked.body["max_tokens"] == 1 and "logprobs" not in asked.body


def test_reasons_for_no_answer():
    refused = httpx.ConnectError("[Errno 111] Connection refused")
    refused.__cause__ = ConnectionRefusedError(111, "Connection refused")
    unknown = httpx.ConnectError("[Errno -2] Name or service not known")
    unknown.__cause__ = socket.gaierror(-2, "Name or service not known")
    assert no_answer_reason(refused, 5) == "connection refused"
    assert no_answer_reason(unknown, 5) == "host not found"
    assert no_answer_reason(httpx.ConnectTimeout("x"), 5) == "no connection within 5 s"
    assert no_answer_reason(httpx.ReadTimeout("x"), 2.5) == "connected, but no answer within 2.5 s"


def test_the_registry_passes_timeout_concurrency_and_logprobs_through():
    backend = backend_from_spec("openai:http://127.0.0.1:9/v1#m", params=1000, timeout_s=7.0, max_concurrency=2,
                                logprobs=False, threads=3)  # fmt: skip
    try:
        assert (backend.timeout_s, backend.max_concurrency, backend.logprobs) == (7.0, 2, False)
        assert backend.concurrency_limit == 2 and not backend.gives_logprobs
    finally:
        backend.close()
