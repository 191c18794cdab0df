"""A saturated server (issue 11, item 3): the concurrency limit halves after
timeouts, 429 or 503 and grows back after a run of answers; retries are never
silent, one WARNING line per burst; a server that handles one request at a time
still gets every sample when the timeout allows one request."""

import logging
import logging.handlers
import queue
import threading
import time

import pytest

from ttscale.backends.adaptive_limit import AdaptiveLimit, Outcome
from ttscale.backends.http_retry import _Retryable
from ttscale.backends.retry_lines import RetryLines
from ttscale.types import SamplingConfig

CONFIG = SamplingConfig(temperature=1.0, top_p=0.9, max_new_tokens=6)
STOP = "\n"


@pytest.fixture
def retry_lines():
    """The WARNING lines of the retry logger, caught on the logger itself (ttscale's loggers may not propagate)."""
    logger = logging.getLogger("ttscale.backends.retry_lines")
    caught: queue.SimpleQueue = queue.SimpleQueue()
    handler = logging.handlers.QueueHandler(caught)
    handler.setLevel(logging.WARNING)
    logger.addHandler(handler)
    previous = logger.level
    logger.setLevel(logging.WARNING)
    lines: list[str] = []

    def read() -> list[str]:
        while not caught.empty():
            lines.append(caught.get().getMessage())
        return list(lines)

    yield read
    logger.removeHandler(handler)
    logger.setLevel(previous)


def test_a_one_at_a_time_server_gets_every_sample_with_the_limit_cut_and_one_line(fake_server, make_backend,
                                                                                   retry_lines):  # fmt: skip
    server = fake_server("one-at-a-time", delay_s=0.25)
    # The timeout allows one request (0.25 s), not two: four sent at once, three time out.
    backend = make_backend(server, timeout_s=0.45, max_concurrency=4, max_attempts=6)
    pools = backend.generate([f"p{i}" for i in range(4)], [[i] for i in range(4)], CONFIG, STOP)
    assert all(g.error is None for pool in pools for g in pool), [g.error for pool in pools for g in pool]
    assert server.served >= 4  # (a request abandoned just as it was answered counts too)
    assert backend.usage.concurrency_cuts >= 1 and backend.concurrency_limit <= 2
    (line,) = retry_lines()  # one burst, one line
    assert line.startswith(f"openai {server.url}: ") and "timed out in the last" in line
    assert "timed out after 0.45 s" in line and "retrying with backoff, concurrency 4 \u2192 2" in line


def test_a_burst_of_timeouts_cuts_the_limit_once(fake_server, make_backend):
    server = fake_server("one-at-a-time", delay_s=0.3)
    backend = make_backend(server, timeout_s=0.45, max_concurrency=8, max_attempts=1)
    pools = backend.generate([f"p{i}" for i in range(8)], [[i] for i in range(8)], CONFIG, STOP)
    assert sum(g.error is not None for pool in pools for g in pool) >= 6  # (about) one answer; the rest time out
    assert backend.usage.concurrency_cuts == 1 and backend.concurrency_limit == 4


def test_429_halves_the_limit_and_answers_grow_it_back_to_the_cap(fake_server, make_backend, retry_lines):
    server = fake_server("429-retry-after", times=1, retry_after="0", logprobs="llama-server")  # ids: no tokenize
    backend = make_backend(server, max_concurrency=4)
    [[first]] = backend.generate(["p"], [[1]], CONFIG, STOP)
    assert first.error is None
    assert (backend.concurrency_limit, backend.usage.concurrency_cuts) == (2, 1)
    (line,) = retry_lines()
    assert "1 request failed" in line and "HTTP 429" in line and "concurrency 4 \u2192 2" in line
    limits = []
    for batch in range(4):  # 8 answers in a row grow the limit by one, never past max_concurrency
        backend.generate([f"q{batch}-{i}" for i in range(8)], [[i] for i in range(8)], CONFIG, STOP)
        limits.append(backend.concurrency_limit)
    assert limits == [3, 4, 4, 4]


def test_a_503_is_retried_even_for_the_n_probe_and_cuts_the_limit(fake_server, make_backend, retry_lines):
    server = fake_server("503-loading", times=1)
    backend = make_backend(server, max_concurrency=2)
    pool = backend.generate(["p"], [[1, 2]], CONFIG, STOP)[0]
    assert backend.n_mode == "n"  # "busy" is not "n refused"
    assert all(g.error is None for g in pool)
    assert [r.body["n"] for r in server.completion_requests()] == [2, 2]
    assert (backend.concurrency_limit, backend.usage.concurrency_cuts) == (1, 1)
    (line,) = retry_lines()
    assert "HTTP 503" in line and "Loading model" in line and "concurrency 2 \u2192 1" in line


def test_retry_lines_one_per_burst_and_a_line_per_window_during_an_outage(retry_lines):
    limit = AdaptiveLimit(4)
    lines = RetryLines("http://127.0.0.1:1", limit, every_s=0.3)
    timeout = _Retryable("timed out after 1 s (x)", timed_out=True)
    for _ in range(3):
        lines.failed(timeout, 4)
    lines.retrying()
    lines.retrying()  # the other requests of the burst retry too: no new line
    assert len(retry_lines()) == 1 and "3 requests timed out" in retry_lines()[0]
    lines.failed(_Retryable("HTTP 500 from x: boom"), 4)
    lines.retrying()  # within the window: summed into the next line
    time.sleep(0.35)
    lines.failed(timeout, 4)
    lines.retrying()
    assert len(retry_lines()) == 2
    assert "2 requests failed" in retry_lines()[1] and "concurrency 4" in retry_lines()[1]
    lines.retrying()  # nothing pending: nothing said
    assert lines.lines == 2


def test_the_limit_gates_threads_and_never_grows_past_the_cap():
    limit = AdaptiveLimit(2, successes_to_grow=1)
    inside, most = 0, 0
    guard = threading.Lock()

    def work():
        nonlocal inside, most
        slot = limit.acquire()
        with guard:
            inside += 1
            most = max(most, inside)
        time.sleep(0.01)
        with guard:
            inside -= 1
        limit.release(slot, Outcome.answered)

    threads = [threading.Thread(target=work) for _ in range(12)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=10)
    assert most == 2 and limit.limit == 2
    stale = limit.acquire()
    fresh_cut = limit.acquire()
    limit.release(fresh_cut, Outcome.saturated)
    limit.release(stale, Outcome.saturated)  # sent before the cut: says nothing about the new limit
    assert (limit.limit, limit.cuts) == (1, 1)
    slot = limit.acquire()
    limit.release(slot, Outcome.saturated)
    assert limit.limit == 1  # never below 1
