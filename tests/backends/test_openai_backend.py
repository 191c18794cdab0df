"""OpenAIBackend against a real HTTP server on loopback (the fake in
fake_openai_server.py): n detection, backoff, errors that are not results, the
concurrency cap, determinism, token counts (docs/RELIABILITY.md 1, 3, 4, 5)."""

import json
import math
import socket
import threading
import time

import pytest
from fake_openai_server import completion_text

from ttscale import flops
from ttscale.backends.openai import BackendError, BackendRequestError, OpenAIBackend
from ttscale.errors import InputError
from ttscale.types import SamplingConfig

CONFIG = SamplingConfig(temperature=1.0, top_p=0.9, max_new_tokens=6)
STOP = "\n"
SEEDS = [11, 22, 33, 44]


def probes(server):
    return [r for r in server.completion_requests() if r.body.get("n", 1) > 1]


def expected_text(prompt, seed, index=0):
    return completion_text(prompt, seed, index)[: CONFIG.max_new_tokens]


def assert_sample(generation, prompt, request_seed, seed, index=0):
    text = expected_text(prompt, request_seed, index)
    assert generation.error is None
    assert generation.seed == seed
    assert generation.text == text
    assert generation.token_ids == tuple(ord(c) for c in text)  # re-tokenized, BOS stripped
    assert generation.logprob == pytest.approx(-0.5 * len(text))
    assert generation.finished == (len(completion_text(prompt, request_seed, index)) <= CONFIG.max_new_tokens)


def assert_error(generation, seed, *fragments):
    assert generation.error, "an infrastructure failure must carry an error"
    assert (generation.text, generation.token_ids, generation.finished) == ("", (), False)
    assert math.isnan(generation.logprob)
    assert generation.seed == seed
    for fragment in fragments:
        assert fragment in generation.error


# ----------------------------------------------------------------- n detection


def test_n_honoured_one_request_per_prompt(fake_server, make_backend):
    server = fake_server("ok")
    backend = make_backend(server)
    assert backend.n_mode is None and backend.prefill_shared is False
    pools = backend.generate(["p1", "p2"], [SEEDS, SEEDS], CONFIG, STOP)
    assert backend.n_mode == "n" and backend.prefill_shared is True
    for prompt, pool in zip(["p1", "p2"], pools):
        assert [g.seed for g in pool] == SEEDS
        for i, generation in enumerate(pool):
            assert_sample(generation, prompt, SEEDS[0], SEEDS[i], index=i)
    requests = server.completion_requests()
    assert len(requests) == 2 and all(r.body["n"] == 4 and r.body["seed"] == SEEDS[0] for r in requests)


def test_n_mode_splits_requests_wider_than_the_probe(fake_server, make_backend):
    server = fake_server("ok")
    backend = make_backend(server)
    backend.generate(["p"], [[1, 2]], CONFIG, STOP)  # probe with n=2
    pool = backend.generate(["q"], [[5, 6, 7, 8]], CONFIG, STOP)[0]
    later = server.completion_requests()[1:]
    # The two requests run concurrently: the server may see them in either order.
    assert sorted((r.body["n"], r.body["seed"]) for r in later) == [(2, 5), (2, 7)]
    assert [g.seed for g in pool] == [5, 6, 7, 8]
    assert [g.text for g in pool] == [expected_text("q", s, i) for s, i in ((5, 0), (5, 1), (7, 0), (7, 1))]


@pytest.mark.parametrize("mode, reason", [("ignore-n", "ignores n"), ("reject-n-500", "refused n=4")])
def test_n_ignored_or_rejected_fans_out_with_distinct_seeds(fake_server, make_backend, mode, reason):
    server = fake_server(mode)
    backend = make_backend(server, max_attempts=5)
    first = backend.generate(["p1", "p2"], [SEEDS, SEEDS[:2]], CONFIG, STOP)
    second = backend.generate(["p3"], [[55, 66, 77]], CONFIG, STOP)
    assert backend.n_mode == "fan-out" and backend.prefill_shared is False
    assert reason in backend.n_mode_reason
    assert len(probes(server)) == 1, "exactly one n>1 request, never retried"
    fanned = [r.body for r in server.completion_requests() if "n" not in r.body]
    assert sorted((b["prompt"], b["seed"]) for b in fanned) == sorted(
        [("p1", s) for s in SEEDS] + [("p2", s) for s in SEEDS[:2]] + [("p3", s) for s in (55, 66, 77)]
    )
    for prompt, pool, seeds in [("p1", first[0], SEEDS), ("p2", first[1], SEEDS[:2]), ("p3", second[0], [55, 66, 77])]:
        assert [g.seed for g in pool] == seeds
        for generation, seed in zip(pool, seeds):
            assert_sample(generation, prompt, seed, seed)
    assert len({g.text for g in first[0]}) > 1


def test_probe_lost_to_transport_failures_decides_nothing(fake_server, make_backend):
    server = fake_server("drop-connection", times=3)
    backend = make_backend(server, max_attempts=3)
    pool = backend.generate(["p"], [[1, 2]], CONFIG, STOP)[0]
    assert backend.n_mode is None  # a dropped connection says nothing about n
    for generation, seed in zip(pool, [1, 2]):
        assert_sample(generation, "p", seed, seed)  # this call fanned out
    backend.generate(["q"], [[3, 4]], CONFIG, STOP)
    assert backend.n_mode == "n"


# --------------------------------------------------------------------- backoff


def test_429_waits_at_least_retry_after(fake_server, make_backend):
    server = fake_server("429-retry-after", times=1, retry_after="1")
    backend = make_backend(server)
    [[generation]] = backend.generate(["p"], [[5]], CONFIG, STOP)
    assert_sample(generation, "p", 5, 5)
    first, second = server.completion_requests()
    assert second.started - first.started >= 1.0


def test_retry_after_beyond_the_cap_gives_up_without_waiting(fake_server, make_backend):
    server = fake_server("429-retry-after", retry_after="30")
    backend = make_backend(server, max_retry_after_s=5.0)
    started = time.monotonic()
    [[generation]] = backend.generate(["p"], [[5]], CONFIG, STOP)
    assert time.monotonic() - started < 3.0
    assert_error(generation, 5, "HTTP 429", "rate limited", "Retry-After 30 s exceeds")
    assert len(server.completion_requests()) == 1


def test_500_k_times_then_ok_is_retried(fake_server, make_backend):
    server = fake_server("500-k-times", times=2)
    backend = make_backend(server, max_attempts=3)
    [[generation]] = backend.generate(["p"], [[5]], CONFIG, STOP)
    assert_sample(generation, "p", 5, 5)
    assert len(server.completion_requests()) == 3
    assert backend.usage.failed_requests == 2


def test_capped_retries_give_an_error_never_a_result(fake_server, make_backend):
    server = fake_server("500-k-times")  # forever
    backend = make_backend(server, max_attempts=3)
    [[generation]] = backend.generate(["p"], [[5]], CONFIG, STOP)
    assert_error(generation, 5, "HTTP 500", "transient failure", "gave up after 3 attempts")
    assert len(server.completion_requests()) == 3


def test_4xx_fails_fast_with_the_server_message(fake_server, make_backend):
    server = fake_server("400")
    backend = make_backend(server, max_attempts=5)
    started = time.monotonic()
    with pytest.raises(BackendRequestError, match="prompt is too long for this model") as caught:
        backend.generate([f"p{i}" for i in range(8)], [[i] for i in range(8)], CONFIG, STOP)
    assert caught.value.status == 400
    assert time.monotonic() - started < 3.0
    assert len(server.completion_requests()) <= 8  # nothing retried


def test_timeout_bounds_wall_time(fake_server, make_backend):
    server = fake_server("slow", delay_s=5.0)
    backend = make_backend(server, timeout_s=0.3, max_attempts=2)
    started = time.monotonic()
    [[generation]] = backend.generate(["p"], [[5]], CONFIG, STOP)
    assert time.monotonic() - started < 2.0  # 2 attempts x 0.3 s + backoff, far below the server's 5 s
    assert_error(generation, 5, "timed out")
    assert len(server.completion_requests()) == 2


BROKEN = ["drop-connection", "truncated", "truncated-stream", "malformed-json", "no-finish"]


@pytest.mark.parametrize("mode", BROKEN)
def test_broken_responses_are_errors_not_samples(fake_server, make_backend, mode):
    server = fake_server(mode)
    backend = make_backend(server, max_attempts=2)
    [[generation]] = backend.generate(["p"], [[5]], CONFIG, STOP)
    assert_error(generation, 5, "gave up after 2 attempts")
    assert len(server.completion_requests()) == 2


@pytest.mark.parametrize("mode", BROKEN)
def test_broken_response_once_is_retried(fake_server, make_backend, mode):
    server = fake_server(mode, times=1)
    backend = make_backend(server, max_attempts=2)
    [[generation]] = backend.generate(["p"], [[5]], CONFIG, STOP)
    assert_sample(generation, "p", 5, 5)


def test_server_down_is_an_error_not_a_crash(make_backend):
    with socket.socket() as s:  # a port nobody listens on
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]

    class Down:
        url = f"http://127.0.0.1:{port}"

    backend = make_backend(Down(), max_attempts=2)
    [[generation]] = backend.generate(["p"], [[5]], CONFIG, STOP)
    assert_error(generation, 5, "ConnectError")


# ----------------------------------------------------------------- concurrency


def test_concurrency_cap_holds_under_a_burst_of_50(fake_server, make_backend):
    server = fake_server("ok", delay_s=0.1)
    backend = make_backend(server, max_concurrency=4)
    pools = backend.generate([f"p{i}" for i in range(50)], [[i] for i in range(50)], CONFIG, STOP)
    assert all(g.error is None for pool in pools for g in pool)
    assert len(server.completion_requests()) == 50
    assert server.max_in_flight == 4  # never above the cap, and the burst did reach it


def test_concurrency_cap_is_shared_by_concurrent_calls(fake_server, make_backend):
    server = fake_server("ignore-n", delay_s=0.05)
    backend = make_backend(server, max_concurrency=3)
    backend.generate(["warm"], [[1, 2]], CONFIG, STOP)  # settle the mode first
    calls = [([f"t{t}-{i}" for i in range(10)], [[i, i + 100] for i in range(10)]) for t in range(3)]
    threads = [threading.Thread(target=backend.generate, args=(prompts, seeds, CONFIG, STOP)) for prompts, seeds in calls]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)
    assert len(server.completion_requests()) == 1 + 2 + 3 * 10 * 2
    assert server.max_in_flight <= 3


# ---------------------------------------------------------------- determinism


@pytest.mark.parametrize("mode", ["ok", "ignore-n"])
def test_same_seeds_same_requests_and_samples(fake_server, make_backend, mode):
    server = fake_server(mode)
    prompts, seeds = ["a", "b", "c"], [[1, 2, 3], [4, 5, 6], [7, 8, 9]]
    runs = []
    for _ in range(2):
        before = len(server.completion_requests())
        backend = make_backend(server)
        pools = backend.generate(prompts, seeds, CONFIG, STOP)
        bodies = sorted(json.dumps(r.body, sort_keys=True) for r in server.completion_requests()[before:])
        runs.append((bodies, pools))
    assert runs[0] == runs[1]


# ---------------------------------------------------------------- token counts


def test_usage_is_summed_and_count_tokens_uses_it(fake_server, make_backend):
    server = fake_server("ignore-n")
    backend = make_backend(server)
    pools = backend.generate(["hello", "hi"], [[1, 2], [3, 4]], CONFIG, STOP)
    requests = server.completion_requests()
    assert backend.usage.prompt_tokens == sum(1 + len(r.body["prompt"]) for r in requests)
    texts = [expected_text(r.body["prompt"], r.body["seed"]) for r in requests]
    assert backend.usage.completion_tokens == sum(len(t) for t in texts)
    assert sum(len(g.token_ids) for pool in pools for g in pool) + len(texts[0]) == backend.usage.completion_tokens
    seen = len(server.requests)
    assert backend.count_tokens("hello") == 1 + len("hello")  # the server's usage, no request
    assert len(server.requests) == seen
    assert backend.count_tokens("unseen text") == 1 + len("unseen text")  # /extras/tokenize (BOS included)
    assert server.paths()[-1] == "/extras/tokenize" and not backend.token_counts_estimated


def test_llama_server_dialect(fake_server, make_backend):
    server = fake_server("reject-n-500", logprobs="llama-server", tokenize="llama-server")
    backend = make_backend(server)
    pool = backend.generate(["p"], [[1, 2]], CONFIG, STOP)[0]
    for generation, seed in zip(pool, [1, 2]):
        assert_sample(generation, "p", seed, seed)  # ids straight from logprobs.content[].id
    assert "/tokenize" not in server.paths()
    assert backend.count_tokens("abc def") == 1 + len("abc def")  # POST /tokenize with add_special
    assert "/tokenize" in server.paths()


def test_estimated_token_count_is_marked(fake_server, make_backend):
    server = fake_server("ok", logprobs="llama-server", tokenize=None)
    backend = make_backend(server)
    assert backend.count_tokens("x" * 10) == 3  # ceil(10 bytes / 4)
    assert backend.token_counts_estimated and backend.usage.estimated_token_counts == 1


def test_no_token_ids_and_no_tokenizer_is_refused(fake_server, make_backend):
    server = fake_server("ok", logprobs="openai", tokenize=None)
    backend = make_backend(server)
    with pytest.raises(BackendError, match="no tokenize endpoint"):
        backend.generate(["p"], [[1]], CONFIG, STOP)


def test_logprobs_refused_are_dropped_once(fake_server, make_backend):
    server = fake_server("400", times=1, error_message="logprobs is not supported")
    backend = make_backend(server)
    [[generation]] = backend.generate(["p"], [[5]], CONFIG, STOP)
    assert generation.error is None and math.isnan(generation.logprob)
    assert generation.text == expected_text("p", 5)
    first, second = server.completion_requests()
    assert first.body["logprobs"] == 1 and "logprobs" not in second.body


# ----------------------------------------------------------------------- cards


def test_card_is_given_or_explicitly_estimated(fake_server, make_backend):
    server = fake_server("ok")
    with pytest.raises(InputError, match="card= .* or params="):
        OpenAIBackend(base_url=server.url, model="m")
    with pytest.raises(InputError, match="not both"):
        make_backend(server, params=1000)
    backend = OpenAIBackend(base_url=server.url, model="m", params=1000)
    assert backend.card.estimated and backend.card.params_total == 1000 and backend.name == "m"
    assert flops.prefill_flops(backend.card, 10) == 10 * 2 * 1000
    backend.close()
    with pytest.raises(InputError, match="max_concurrency"):
        make_backend(server, max_concurrency=0)
    with pytest.raises(InputError, match="extra_body must not set seed"):
        make_backend(server, extra_body={"seed": 1, "top_k": 0})


# ------------------------------------------------------------ the fake itself


def test_fake_server_speaks_what_the_official_client_reads(fake_server):
    """The fixture is only as good as its likeness: the official client must parse it."""
    openai = pytest.importorskip("openai")
    server = fake_server("ok")
    client = openai.OpenAI(base_url=server.url + "/v1", api_key="unused", max_retries=0, timeout=5)
    answer = client.completions.create(
        model="fake-model", prompt="p", n=2, seed=3, max_tokens=6, logprobs=1, stop=["\n"]
    )
    assert [c.text for c in answer.choices] == [expected_text("p", 3, i) for i in range(2)]
    assert answer.choices[0].logprobs.token_logprobs == [-0.5] * len(answer.choices[0].text)
    assert answer.usage.prompt_tokens == 2
    bad = fake_server("400")
    client = openai.OpenAI(base_url=bad.url + "/v1", api_key="unused", max_retries=0, timeout=5)
    with pytest.raises(openai.BadRequestError, match="prompt is too long"):
        client.completions.create(model="fake-model", prompt="p", max_tokens=6)
