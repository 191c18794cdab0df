"""HTTP for the openai backend: one JSON POST to the server with retries, backoff
and an adaptive concurrency limit, the checks a response must pass to count as
an answer, and one unretried request for the reachability check.

Reliability (docs/RELIABILITY.md, 3-5):
  - at most ``limit`` HTTP requests are in flight per backend, over all threads
    and calls; the limit starts at ``max_concurrency`` and adapts to the server
    (``ttscale.backends.adaptive_limit``: halved after a timeout, 429 or 503,
    grown back by one after a run of answers);
  - retries come from tenacity: 408/429 wait what ``Retry-After`` says (a wait
    longer than ``max_retry_after_s`` is not waited for: the request gives up at
    once), 5xx, transport failures, timeouts and malformed or truncated
    responses are retried with capped exponential backoff plus jitter, at most
    ``max_attempts`` attempts; a 503 is retried even for the n probe (it says
    the server is busy or loading, not that it refuses n);
  - retries are never silent: the first retry after failures logs one WARNING
    on this module's logger naming how many requests failed, why, and the
    concurrency limit before and after; further failures are summed into at
    most one line every ``retry_lines.RETRY_LINE_EVERY_S`` seconds;
  - other 4xx fail fast: ``BackendRequestError`` with the server's message,
    raised out of ``generate``;
  - one attempt lasts about ``timeout_s`` at most (httpx times every connect
    and read; a body still arriving at the deadline is cut);
  - a sample whose request gave up is a ``Generation`` with ``error``
    set and no text: an infrastructure failure, never a result. Only a
    complete 200 response with a "stop"/"length" finish becomes a sample.
"""

from __future__ import annotations

import errno
import json
import math
import socket
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from email.utils import parsedate_to_datetime
from typing import Any

from ttscale.backends.adaptive_limit import AdaptiveLimit, Outcome
from ttscale.backends.retry_lines import RetryLines
from ttscale.errors import TtscaleError, require_extra

httpx = require_extra("httpx", "openai-backend")
tenacity = require_extra("tenacity", "openai-backend")

_MAX_RESPONSE_BYTES = 64 * 1024 * 1024



# ----------------------------------------------------------------- errors


class BackendError(TtscaleError):
    """A failure that retrying cannot fix; raised out of ``generate``."""


class BackendRequestError(BackendError):
    """The server refused a request (4xx, or a refused probe); its message is kept."""

    def __init__(self, status: int, url: str, message: str) -> None:
        self.status, self.url, self.message = status, url, message
        super().__init__(f"HTTP {status} from {url}: {message}")


class BackendUnreachable(BackendError):
    """No server answers at the backend's address (or it says the model does not exist): nothing was sampled."""


class NoAnswer(Exception):
    """One request got no HTTP answer at all; ``reason`` says why in a few words."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


class _Retryable(Exception):
    """A failure worth another attempt; ``saturated`` when it says the server cannot keep up."""

    def __init__(self, message: str, retry_after: float | None = None, *, saturated: bool = False,
                 timed_out: bool = False) -> None:  # fmt: skip
        super().__init__(message)
        self.retry_after, self.saturated, self.timed_out = retry_after, saturated or timed_out, timed_out


class GaveUp(Exception):
    """An infrastructure failure that outlasted the retries: the samples become errors."""


class Cancelled(Exception):
    """Another request of the same call failed fast; this one was not sent."""


class WrongShape(Exception):
    """A 200 whose body is not what this endpoint dialect answers (tokenize discovery)."""


def error_message(raw: bytes) -> str:
    """The server's error message: the OpenAI envelope, FastAPI's ``detail``, or the text."""
    text = raw.decode("utf-8", "replace").strip()
    try:
        data = json.loads(text)
    except ValueError:
        return text[:500] or "(empty body)"
    if isinstance(data, dict):
        inner = data.get("error", data.get("detail", data.get("message")))
        if isinstance(inner, dict) and "message" in inner:
            inner = inner["message"]
        if inner is not None:
            return str(inner)[:500]
    return text[:500]


def _retry_after(value: str | None) -> float | None:
    """``Retry-After`` in seconds (delta-seconds or an HTTP date), None when absent or unreadable."""
    if value is None:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        return max(0.0, parsedate_to_datetime(value).timestamp() - time.time())
    except (TypeError, ValueError):
        return None


def no_answer_reason(exc: BaseException, timeout_s: float) -> str:
    """A few words on why a request got no HTTP answer: refused, host not found, timed out ..."""
    if isinstance(exc, httpx.ConnectTimeout):
        return f"no connection within {timeout_s:g} s"
    if isinstance(exc, httpx.TimeoutException):
        return f"connected, but no answer within {timeout_s:g} s"
    cause: BaseException | None = exc
    while cause is not None:  # httpx wraps httpcore's error, which wraps the socket's
        if isinstance(cause, socket.gaierror):
            return "host not found"
        if isinstance(cause, OSError) and cause.errno is not None:
            if cause.errno == errno.ECONNREFUSED:
                return "connection refused"
            return (cause.strerror or str(cause)).lower()
        cause = cause.__cause__ or cause.__context__
    return f"{type(exc).__name__}: {exc}"


# --------------------------------------------------------------- responses


@dataclass(frozen=True)
class Choice:
    text: str
    finished: bool
    logprob: float
    token_ids: tuple[int, ...] | None  # None: the server did not say


def int_list(value: Any) -> tuple[int, ...] | None:
    if isinstance(value, list) and all(isinstance(t, int) and not isinstance(t, bool) for t in value):
        return tuple(value)
    return None


def _parse_logprobs(raw: Any) -> tuple[float, tuple[int, ...] | None]:
    """(sum of token logprobs, token ids) from either logprobs shape; (NaN, None) when absent."""
    if isinstance(raw, dict) and isinstance(raw.get("token_logprobs"), list):  # OpenAI legacy, vLLM, llama-cpp-python
        values = raw["token_logprobs"]
        ids = None
    elif isinstance(raw, dict) and isinstance(raw.get("content"), list):  # llama-server
        entries = [e if isinstance(e, dict) else {} for e in raw["content"]]
        values = [e.get("logprob") for e in entries]
        ids = int_list([e.get("id") for e in entries])
    else:
        return math.nan, None
    if not all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in values):
        return math.nan, ids
    return float(sum(values)), ids


def _parse_choice(raw: Any, where: str) -> Choice:
    if not isinstance(raw, dict) or not isinstance(raw.get("text"), str):
        raise _Retryable(f"malformed response from {where}: a choice has no text")
    reason = raw.get("finish_reason")
    if reason not in ("stop", "length"):
        raise _Retryable(f"incomplete response from {where}: finish_reason {reason!r}")
    logprob, ids = _parse_logprobs(raw.get("logprobs"))
    ids = int_list(raw.get("token_ids")) or int_list(raw.get("tokens")) or ids
    return Choice(text=raw["text"], finished=reason == "stop", logprob=logprob, token_ids=ids)


def completion_parser(n: int, exact: bool, where: str) -> Callable[[dict], tuple[list[Choice], dict | None]]:
    """Check a completions body: 1..n choices (exactly n unless probing), each complete."""

    def parse(data: dict) -> tuple[list[Choice], dict | None]:
        choices = data.get("choices")
        if not isinstance(choices, list) or not choices:
            raise _Retryable(f"malformed response from {where}: no choices")
        if len(choices) > n or (exact and len(choices) != n):
            raise _Retryable(f"malformed response from {where}: {len(choices)} choices for n={n}")
        if all(isinstance(c, dict) and isinstance(c.get("index"), int) for c in choices):
            choices = sorted(choices, key=lambda c: c["index"])
        usage = data.get("usage")
        return [_parse_choice(c, where) for c in choices], usage if isinstance(usage, dict) else None

    return parse


def parse_tokens(data: dict) -> list[int]:
    tokens = int_list(data.get("tokens"))
    if tokens is None:
        raise _Retryable("malformed tokenize response: no list of token ids")
    return list(tokens)


# ------------------------------------------------------------------ client


class RetryingClient:
    """POSTs JSON to one server (``root_url`` + path), retrying as the module docstring says.

    ``count(requests=1)`` / ``count(failed_requests=1)`` is called for every
    attempt sent / failed, so the owner can keep its usage.
    """

    def __init__(self, root_url: str, *, max_concurrency: int, timeout_s: float, max_attempts: int,
                 backoff_base_s: float, backoff_max_s: float, max_retry_after_s: float, api_key: str | None,
                 trust_env: bool, transport: Any, count: Callable[..., None]) -> None:  # fmt: skip
        self.root_url = root_url
        self.timeout_s, self.max_attempts, self.max_retry_after_s = timeout_s, max_attempts, max_retry_after_s
        self._count = count
        headers = {"Authorization": f"Bearer {api_key}"} if api_key else {}
        limits = httpx.Limits(max_connections=max_concurrency, max_keepalive_connections=max_concurrency)
        self._client = httpx.Client(
            timeout=httpx.Timeout(timeout_s), limits=limits, headers=headers, transport=transport,
            trust_env=trust_env,
        )
        self.limit = AdaptiveLimit(max_concurrency, on_cut=lambda old, new: count(concurrency_cuts=1))
        self.retry_lines = RetryLines(root_url, self.limit)
        self._backoff = tenacity.wait_exponential(
            multiplier=backoff_base_s, max=backoff_max_s
        ) + tenacity.wait_random(0, backoff_base_s)

    def close(self) -> None:
        self._client.close()

    def _attempt(self, path: str, body: dict, parse: Callable[[dict], Any], refusal_is_answer: bool,
                 cancel: threading.Event | None) -> Any:  # fmt: skip
        """One HTTP request: the parsed body, or an exception saying whether to retry."""
        url = self.root_url + path
        slot = self.limit.acquire()
        outcome = Outcome.failed
        try:
            if cancel is not None and cancel.is_set():
                raise Cancelled()
            self._count(requests=1)
            try:
                answer = self._send(url, body, parse, refusal_is_answer)
            except BaseException as exc:
                self._count(failed_requests=1)
                if isinstance(exc, (BackendRequestError, WrongShape)):
                    outcome = Outcome.answered  # a refusal is an answer: the server keeps up
                elif isinstance(exc, _Retryable):
                    outcome = Outcome.saturated if exc.saturated else Outcome.failed
                    self.retry_lines.failed(exc, slot.limit)
                raise
            outcome = Outcome.answered
            return answer
        finally:
            self.limit.release(slot, outcome)

    def _send(self, url: str, body: dict, parse: Callable[[dict], Any], refusal_is_answer: bool) -> Any:
        deadline = time.monotonic() + self.timeout_s
        raw = bytearray()
        try:
            with self._client.stream("POST", url, json=body) as response:
                for chunk in response.iter_bytes():
                    raw += chunk
                    if time.monotonic() > deadline:
                        raise _Retryable(f"timed out after {self.timeout_s:g} s ({url}, response still arriving)",
                                         timed_out=True)
                    if len(raw) > _MAX_RESPONSE_BYTES:
                        raise _Retryable(f"response from {url} exceeds {_MAX_RESPONSE_BYTES} bytes")
                status, headers = response.status_code, response.headers
        except httpx.TimeoutException as exc:
            raise _Retryable(f"timed out after {self.timeout_s:g} s ({url}: {type(exc).__name__})",
                             timed_out=True) from exc
        except httpx.RequestError as exc:  # refused, reset, dropped, truncated or undecodable body
            raise _Retryable(f"{type(exc).__name__} ({url}): {exc}") from exc
        if 200 <= status < 300:
            try:
                data = json.loads(raw)
            except ValueError:
                raise _Retryable(f"malformed response from {url}: not JSON ({bytes(raw[:60])!r})") from None
            if not isinstance(data, dict):
                raise _Retryable(f"malformed response from {url}: not a JSON object")
            return parse(data)
        message = error_message(bytes(raw))
        if status in (408, 429, 503) or (status >= 500 and not refusal_is_answer):
            raise _Retryable(f"HTTP {status} from {url}: {message}", _retry_after(headers.get("retry-after")),
                             saturated=status in (429, 503))
        raise BackendRequestError(status, url, message)

    def call(self, path: str, body: dict, parse: Callable[[dict], Any], *, refusal_is_answer: bool = False,
             cancel: threading.Event | None = None) -> Any:  # fmt: skip
        """``_attempt`` with retries; raises GaveUp when they run out."""
        attempts = 0

        def attempt() -> Any:
            nonlocal attempts
            attempts += 1
            if attempts > 1:
                self.retry_lines.retrying()
            return self._attempt(path, body, parse, refusal_is_answer, cancel)

        def stop(state: Any) -> bool:
            retry_after = getattr(state.outcome.exception(), "retry_after", None)
            too_long = retry_after is not None and retry_after > self.max_retry_after_s
            return state.attempt_number >= self.max_attempts or too_long or (cancel is not None and cancel.is_set())

        def wait(state: Any) -> float:
            retry_after = getattr(state.outcome.exception(), "retry_after", None)
            return retry_after if retry_after is not None else self._backoff(state)

        retrying = tenacity.Retrying(
            stop=stop, wait=wait, retry=tenacity.retry_if_exception_type(_Retryable), reraise=True,
            sleep=cancel.wait if cancel is not None else time.sleep,
        )  # fmt: skip
        try:
            return retrying(attempt)
        except _Retryable as exc:
            note = ""
            if exc.retry_after is not None and exc.retry_after > self.max_retry_after_s:
                note = f"; Retry-After {exc.retry_after:g} s exceeds max_retry_after_s={self.max_retry_after_s:g}"
            raise GaveUp(f"{exc} (gave up after {attempts} attempt{'s' * (attempts != 1)}{note})") from exc

    def answer_once(self, path: str, timeout_s: float, body: dict | None = None) -> tuple[int, bytes]:
        """One request, no retry, outside the concurrency limit: GET (POST with ``body``) → (status, body).

        Raises ``NoAnswer`` when no HTTP answer came at all (refused, host not
        found, timed out); any status, error or not, is an answer.
        """
        url = self.root_url + path
        try:
            if body is None:
                response = self._client.get(url, timeout=timeout_s)
            else:
                response = self._client.post(url, json=body, timeout=timeout_s)
        except httpx.RequestError as exc:
            raise NoAnswer(no_answer_reason(exc, timeout_s)) from exc
        return response.status_code, response.content
