"""HTTP for the openai backend: one JSON POST to the server with retries, backoff
and a concurrency cap, and the checks a response must pass to count as an answer.

Reliability (docs/RELIABILITY.md, 3-5):
  - at most ``max_concurrency`` HTTP requests are in flight per backend, over
    all threads and calls (a semaphore around every attempt);
  - retries come from tenacity: 408/429 wait what ``Retry-After`` says (a wait
    longer than ``max_retry_after_s`` is not waited for: the request gives up at
    once), 5xx, transport failures, timeouts and malformed or truncated
    responses are retried with capped exponential backoff plus jitter, at most
    ``max_attempts`` attempts;
  - other 4xx fail fast: ``BackendRequestError`` with the server's message,
    raised out of ``generate``;
  - one attempt lasts about ``timeout_s`` at most (httpx times every connect
    and read; a body still arriving at the deadline is cut);
  - a sample whose request gave up is a ``Generation`` with ``error``
    set and no text: an infrastructure failure, never a result. Only a
    complete 200 response with a "stop"/"length" finish becomes a sample.
"""

from __future__ import annotations

import json
import math
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from email.utils import parsedate_to_datetime
from typing import Any

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


class _Retryable(Exception):
    def __init__(self, message: str, retry_after: float | None = None) -> None:
        super().__init__(message)
        self.retry_after = retry_after


class GaveUp(Exception):
    """An infrastructure failure that outlasted the retries: the samples become errors."""


class Cancelled(Exception):
    """Another request of the same call failed fast; this one was not sent."""


class WrongShape(Exception):
    """A 200 whose body is not what this endpoint dialect answers (tokenize discovery)."""


def _error_message(raw: bytes) -> str:
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
        self._in_flight = threading.BoundedSemaphore(max_concurrency)
        self._backoff = tenacity.wait_exponential(
            multiplier=backoff_base_s, max=backoff_max_s
        ) + tenacity.wait_random(0, backoff_base_s)

    def close(self) -> None:
        self._client.close()

    def _attempt(self, path: str, body: dict, parse: Callable[[dict], Any], refusal_is_answer: bool,
                 cancel: threading.Event | None) -> Any:  # fmt: skip
        """One HTTP request: the parsed body, or an exception saying whether to retry."""
        url = self.root_url + path
        with self._in_flight:
            if cancel is not None and cancel.is_set():
                raise Cancelled()
            self._count(requests=1)
            try:
                return self._send(url, body, parse, refusal_is_answer)
            except BaseException:
                self._count(failed_requests=1)
                raise

    def _send(self, url: str, body: dict, parse: Callable[[dict], Any], refusal_is_answer: bool) -> Any:
        deadline = time.monotonic() + self.timeout_s
        raw = bytearray()
        try:
            with self._client.stream("POST", url, json=body) as response:
                for chunk in response.iter_bytes():
                    raw += chunk
                    if time.monotonic() > deadline:
                        raise _Retryable(f"timed out after {self.timeout_s:g} s ({url}, response still arriving)")
                    if len(raw) > _MAX_RESPONSE_BYTES:
                        raise _Retryable(f"response from {url} exceeds {_MAX_RESPONSE_BYTES} bytes")
                status, headers = response.status_code, response.headers
        except httpx.TimeoutException as exc:
            raise _Retryable(f"timed out after {self.timeout_s:g} s ({url}: {type(exc).__name__})") from exc
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
        message = _error_message(bytes(raw))
        if status in (408, 429) or (status >= 500 and not refusal_is_answer):
            raise _Retryable(f"HTTP {status} from {url}: {message}", _retry_after(headers.get("retry-after")))
        raise BackendRequestError(status, url, message)

    def call(self, path: str, body: dict, parse: Callable[[dict], Any], *, refusal_is_answer: bool = False,
             cancel: threading.Event | None = None) -> Any:  # fmt: skip
        """``_attempt`` with retries; raises GaveUp when they run out."""
        attempts = 0

        def attempt() -> Any:
            nonlocal attempts
            attempts += 1
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
