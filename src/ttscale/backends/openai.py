"""Any OpenAI-compatible server as a backend (vLLM, SGLang, llama-server,
llama-cpp-python's server), named by a spec ``openai:BASE_URL#MODEL``.

What it asks for. ``POST {root}/v1/completions`` with the prompt as text,
``max_tokens`` / ``temperature`` / ``top_p`` / ``stop`` / ``seed`` from the
sampling config, ``stream: false``, and ``logprobs: 1`` while the server takes
it (a 4xx whose message names "logprob" turns it off for this backend). Server
knobs outside the OpenAI API (llama.cpp's default ``top_k=40``, ``min_p``,
``repeat_penalty`` ...) go in ``extra_body``; e.g. ``{"top_k": 0, "min_p": 0,
"repeat_penalty": 1}`` makes llama.cpp sample from the same distribution as
the SamplingConfig says.

``n`` is detected, not configured (RELIABILITY.md: llama-server answers n>1
with HTTP 500 "Only one completion choice is allowed", llama-cpp-python
ignores n). The first call that needs several samples of one prompt asks for
them with one n>1 request, the *probe*:
  - n choices back: **n mode**, one request per prompt (the server prefills the
    prompt once; ``prefill_shared`` is True). The request carries the first
    seed of its samples; the server derives the others, so a sample here is
    reproducible from its request, not from its own seed alone.
  - fewer choices, or any 4xx/5xx refusal: **fan-out**, one request per sample
    with that sample's own seed (``prefill_shared`` False: each request is
    counted as prefilling the prompt; a server with prompt caching may do less,
    so this is the conservative count). The probe's answer is dropped; its
    tokens still count in ``usage``.
The probe is never retried on a 5xx (a deterministic 500 costs one request, not
a retry storm); only a 429 or a transport failure is retried. The mode is kept
per backend instance; a later request with more samples than the probe had is
split into requests of at most that many.

Reliability (RELIABILITY.md section 3-5):
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
  - a sample whose request gave up is an ``OpenAIGeneration`` with ``error``
    set and no text: an infrastructure failure, never a result. Only a
    complete 200 response with a "stop"/"length" finish becomes a sample.

Tokens. ``token_ids`` come from the response when the server gives them
(llama-server's ``logprobs.content[].id``, a choice's ``token_ids`` or
``tokens``); otherwise the completion text is re-tokenized with the server's
tokenize endpoint (llama-cpp-python ``POST /extras/tokenize``, llama-server
``POST /tokenize``, vLLM ``POST /tokenize``; found once and cached), minus the
special tokens that endpoint adds to an empty text. A server with neither is
refused (``BackendError``): decode FLOPs need the count. ``count_tokens(text)``
answers, in order: the ``usage.prompt_tokens`` the server reported for that
exact prompt, the tokenize endpoint, else an estimate of one token per 4 UTF-8
bytes (OpenAI's rule of thumb for English BPE), counted in
``usage.estimated_token_counts`` and flagged by ``token_counts_estimated``.
``usage`` sums the server's prompt/completion tokens over all requests.

The model card is given (``card=``), or, only when ``params=`` is given
explicitly, an estimated placeholder (``placeholder_card``); nothing is guessed.
"""

from __future__ import annotations

import json
import logging
import math
import threading
import time
from collections import OrderedDict
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor, as_completed
from dataclasses import dataclass, field
from email.utils import parsedate_to_datetime
from typing import Any
from urllib.parse import urlsplit, urlunsplit

from ttscale.errors import InputError, TtscaleError, require_extra
from ttscale.types import ModelCard, SamplingConfig

httpx = require_extra("httpx", "openai-backend")
tenacity = require_extra("tenacity", "openai-backend")

log = logging.getLogger(__name__)

SPEC_PREFIX = "openai:"
_SPEC_HELP = "expected 'openai:BASE_URL#MODEL', e.g. 'openai:http://127.0.0.1:8080/v1#gemma-3-270m'"
_MAX_RESPONSE_BYTES = 64 * 1024 * 1024
_BYTES_PER_TOKEN_ESTIMATE = 4
_RESERVED_BODY_KEYS = frozenset(
    {"model", "prompt", "n", "seed", "stream", "max_tokens", "temperature", "top_p", "stop", "logprobs"}
)


# ------------------------------------------------------------------ spec


@dataclass(frozen=True)
class OpenAISpec:
    """``root_url``: scheme://host:port[/prefix] without a trailing ``/v1``; ``model``: the server's model name."""

    root_url: str
    model: str


def parse_openai_spec(spec: str) -> OpenAISpec:
    """``openai:BASE_URL#MODEL`` → OpenAISpec. BASE_URL may end in ``/v1`` or not."""
    if not isinstance(spec, str) or not spec.startswith(SPEC_PREFIX):
        raise InputError(f"model spec {spec!r} is not an openai spec; {_SPEC_HELP}")
    base, sep, model = spec[len(SPEC_PREFIX) :].partition("#")

    def bad(why: str) -> InputError:
        return InputError(f"model spec {spec!r}: {why}; {_SPEC_HELP}")

    if not sep or not model.strip():
        raise bad("MODEL is missing after '#'")
    if model != model.strip():
        raise bad(f"MODEL {model!r} has leading or trailing spaces")
    parts = urlsplit(base)
    if parts.scheme not in ("http", "https"):
        raise bad(f"BASE_URL {base!r} must start with http:// or https://")
    if not parts.hostname:
        raise bad(f"BASE_URL {base!r} has no host")
    try:
        _ = parts.port  # urlsplit checks the port only when asked
    except ValueError:
        raise bad(f"BASE_URL {base!r} has a bad port") from None
    if parts.query:
        raise bad(f"BASE_URL {base!r} must not have a query string")
    path = parts.path.rstrip("/").removesuffix("/v1")
    return OpenAISpec(urlunsplit((parts.scheme, parts.netloc, path, "", "")), model)


# ------------------------------------------------------------ generations


@dataclass(frozen=True)
class OpenAIGeneration:
    """One completion (see ``ttscale.backends.Generation``), or a failure.

    ``error`` is None for a sample; otherwise the request behind it gave up
    (after retries) and ``text``/``token_ids`` are empty and ``logprob`` NaN:
    store it with status 'error', never grade it. ``logprob`` is the sum of the
    server's token log-probabilities (NaN when it gives none; servers differ on
    whether temperature / top-p are applied first).
    """

    text: str
    token_ids: tuple[int, ...]
    logprob: float
    finished: bool
    seed: int
    error: str | None = None

    @classmethod
    def failed(cls, seed: int, error: str) -> OpenAIGeneration:
        return cls(text="", token_ids=(), logprob=math.nan, finished=False, seed=seed, error=error)


@dataclass
class Usage:
    """What this backend asked of the server, summed over its lifetime."""

    requests: int = 0  # HTTP attempts sent (completions and tokenize, retries included)
    failed_requests: int = 0  # attempts that ended in a transport error, a bad status or a bad body
    prompt_tokens: int = 0  # from the server's `usage`, over successful completions
    completion_tokens: int = 0
    completions_without_usage: int = 0  # successful completions whose response had no usable `usage`
    tokenize_requests: int = 0
    estimated_token_counts: int = 0  # count_tokens answers that are estimates


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


class _GaveUp(Exception):
    """An infrastructure failure that outlasted the retries: the samples become errors."""


class _Cancelled(Exception):
    """Another request of the same call failed fast; this one was not sent."""


class _WrongShape(Exception):
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
class _Choice:
    text: str
    finished: bool
    logprob: float
    token_ids: tuple[int, ...] | None  # None: the server did not say


def _ints(value: Any) -> tuple[int, ...] | None:
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
        ids = _ints([e.get("id") for e in entries])
    else:
        return math.nan, None
    if not all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in values):
        return math.nan, ids
    return float(sum(values)), ids


def _parse_choice(raw: Any, where: str) -> _Choice:
    if not isinstance(raw, dict) or not isinstance(raw.get("text"), str):
        raise _Retryable(f"malformed response from {where}: a choice has no text")
    reason = raw.get("finish_reason")
    if reason not in ("stop", "length"):
        raise _Retryable(f"incomplete response from {where}: finish_reason {reason!r}")
    logprob, ids = _parse_logprobs(raw.get("logprobs"))
    ids = _ints(raw.get("token_ids")) or _ints(raw.get("tokens")) or ids
    return _Choice(text=raw["text"], finished=reason == "stop", logprob=logprob, token_ids=ids)


def _completion_parser(n: int, exact: bool, where: str) -> Callable[[dict], tuple[list[_Choice], dict | None]]:
    """Check a completions body: 1..n choices (exactly n unless probing), each complete."""

    def parse(data: dict) -> tuple[list[_Choice], dict | None]:
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


def _parse_tokens(data: dict) -> list[int]:
    tokens = _ints(data.get("tokens"))
    if tokens is None:
        raise _Retryable("malformed tokenize response: no list of token ids")
    return list(tokens)


# Tokenize endpoints, tried in this order; each answers {"tokens": [ids]}.
_TOKENIZE_DIALECTS: tuple[tuple[str, str, Callable[[str, str], dict]], ...] = (
    ("llama-cpp-python", "/extras/tokenize", lambda text, model: {"input": text, "model": model}),
    ("llama-server", "/tokenize", lambda text, model: {"content": text, "add_special": True}),
    ("vllm", "/tokenize", lambda text, model: {"model": model, "prompt": text, "add_special_tokens": True}),
)


# ------------------------------------------------------------------ cards


def placeholder_card(name: str, params: int) -> ModelCard:
    """An estimated card from a parameter count alone: 2·params FLOPs per token.

    Layers, width and vocabulary are unknown, so the attention and unembedding
    terms of ``flops`` come out 0 (an undercount, larger for long contexts and
    large vocabularies); ``estimated=True`` says so.
    """
    if isinstance(params, bool) or not isinstance(params, int) or params <= 0:
        raise InputError(f"params must be a positive int, got {params!r}")
    return ModelCard(
        name=name, params_total=params, params_non_embedding=params, n_layers=0, d_model=0, n_heads=1,
        d_ff=0, vocab_size=0, context_length=0, estimated=True,
        provenance="placeholder from params only: 2*params FLOPs per token; attention and unembedding not counted",
    )  # fmt: skip


# ---------------------------------------------------------------- backend


@dataclass(eq=False)
class OpenAIBackend:
    """A backend for one model on one OpenAI-compatible server. See the module docstring."""

    base_url: str
    model: str
    card: ModelCard | None = None
    params: int | None = None
    name: str | None = None
    max_concurrency: int = 4
    timeout_s: float = 120.0
    max_attempts: int = 5
    backoff_base_s: float = 0.5
    backoff_max_s: float = 30.0
    max_retry_after_s: float = 120.0
    api_key: str | None = field(default=None, repr=False)
    extra_body: Mapping[str, Any] = field(default_factory=dict)
    trust_env: bool = True  # httpx: honour HTTP(S)_PROXY / NO_PROXY from the environment
    transport: Any = None  # an httpx transport (tests, custom TLS)
    usage: Usage = field(default_factory=Usage, init=False)
    token_counts_estimated: bool = field(default=False, init=False)

    @classmethod
    def from_spec(cls, spec: str, **kwargs: Any) -> OpenAIBackend:
        parsed = parse_openai_spec(spec)
        return cls(base_url=parsed.root_url, model=parsed.model, **kwargs)

    def __post_init__(self) -> None:
        self.spec = parse_openai_spec(f"{SPEC_PREFIX}{self.base_url}#{self.model}")
        self._check_settings()
        if self.card is None and self.params is None:
            raise InputError(
                f"openai backend {self.model!r}: give card= (a ModelCard) "
                "or params= (for an estimated placeholder card)"
            )
        if self.card is not None and self.params is not None:
            raise InputError(f"openai backend {self.model!r}: give card= or params=, not both")
        if self.card is None:
            self.card = placeholder_card(self.model, self.params)
        if self.name is None:
            self.name = self.card.name
        headers = {"Authorization": f"Bearer {self.api_key}"} if self.api_key else {}
        limits = httpx.Limits(max_connections=self.max_concurrency, max_keepalive_connections=self.max_concurrency)
        self._client = httpx.Client(
            timeout=httpx.Timeout(self.timeout_s), limits=limits, headers=headers, transport=self.transport,
            trust_env=self.trust_env,
        )
        self._in_flight = threading.BoundedSemaphore(self.max_concurrency)
        self._lock = threading.Lock()  # usage, caches
        self._probe_lock = threading.Lock()
        self._tokenize_lock = threading.Lock()
        self._n_mode: str | None = None
        self._n_max = 1
        self.n_mode_reason = "not probed yet"
        self._logprobs = True
        self._tokenizer: tuple[str, str, Callable[[str, str], dict]] | None = None
        self._tokenizer_known = False  # True once discovery has an answer (a dialect, or none)
        self._special_prefix: tuple[int, ...] = ()
        self._prompt_tokens: OrderedDict[str, int] = OrderedDict()
        self._backoff = tenacity.wait_exponential(
            multiplier=self.backoff_base_s, max=self.backoff_max_s
        ) + tenacity.wait_random(0, self.backoff_base_s)

    def _check_settings(self) -> None:
        for name in ("max_concurrency", "max_attempts"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise InputError(f"{name} must be an int >= 1, got {value!r}")
        for name in ("timeout_s", "backoff_base_s", "backoff_max_s", "max_retry_after_s"):
            value = getattr(self, name)
            if not isinstance(value, (int, float)) or not value >= 0 or (name == "timeout_s" and value == 0):
                raise InputError(f"{name} must be a number {'> 0' if name == 'timeout_s' else '>= 0'}, got {value!r}")
        reserved = sorted(_RESERVED_BODY_KEYS & set(self.extra_body))
        if reserved:
            raise InputError(f"extra_body must not set {', '.join(reserved)}: the backend sets them")

    # ----------------------------------------------------- public state

    @property
    def n_mode(self) -> str | None:
        """'n' (the server honours n), 'fan-out' (one request per sample), or None (not probed yet)."""
        return self._n_mode

    @property
    def prefill_shared(self) -> bool:
        """True in n mode: one prefill serves the n samples of a request."""
        return self._n_mode == "n"

    def close(self) -> None:
        self._client.close()

    def __enter__(self) -> OpenAIBackend:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # ------------------------------------------------------------- HTTP

    def _add(self, **counts: int) -> None:
        with self._lock:
            for name, value in counts.items():
                setattr(self.usage, name, getattr(self.usage, name) + value)

    def _attempt(self, path: str, body: dict, parse: Callable[[dict], Any], refusal_is_answer: bool,
                 cancel: threading.Event | None) -> Any:  # fmt: skip
        """One HTTP request: the parsed body, or an exception saying whether to retry."""
        url = self.spec.root_url + path
        with self._in_flight:
            if cancel is not None and cancel.is_set():
                raise _Cancelled()
            self._add(requests=1)
            try:
                return self._send(url, body, parse, refusal_is_answer)
            except BaseException:
                self._add(failed_requests=1)
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

    def _call(self, path: str, body: dict, parse: Callable[[dict], Any], *, refusal_is_answer: bool = False,
              cancel: threading.Event | None = None) -> Any:  # fmt: skip
        """``_attempt`` with retries; raises _GaveUp when they run out."""
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
            raise _GaveUp(f"{exc} (gave up after {attempts} attempt{'s' * (attempts != 1)}{note})") from exc

    # ------------------------------------------------------ completions

    def _body(self, prompt: str, seed: int, n: int, config: SamplingConfig, stop: str) -> dict:
        body: dict[str, Any] = dict(self.extra_body)
        body.update(model=self.spec.model, prompt=prompt, max_tokens=config.max_new_tokens,
                    temperature=config.temperature, top_p=config.top_p, seed=int(seed), stream=False)  # fmt: skip
        if n > 1:
            body["n"] = n
        if stop:
            body["stop"] = [stop]
        if self._logprobs:
            body["logprobs"] = 1
        return body

    def _complete(self, prompt: str, seed: int, n: int, config: SamplingConfig, stop: str, *, probe: bool = False,
                  cancel: threading.Event | None = None) -> list[_Choice]:  # fmt: skip
        """One completions request (with retries) → its choices; usage recorded."""
        body = self._body(prompt, seed, n, config, stop)
        parse = _completion_parser(n, exact=not probe, where=self.spec.root_url + "/v1/completions")
        try:
            choices, usage = self._call("/v1/completions", body, parse, refusal_is_answer=probe, cancel=cancel)
        except BackendRequestError as exc:
            if body.get("logprobs") and exc.status in (400, 422) and "logprob" in exc.message.lower():
                log.warning("%s does not take logprobs (%s); asking without them", self.spec.root_url, exc.message)
                self._logprobs = False
                return self._complete(prompt, seed, n, config, stop, probe=probe, cancel=cancel)
            raise
        prompt_tokens = usage.get("prompt_tokens") if usage else None
        completion_tokens = usage.get("completion_tokens") if usage else None
        if isinstance(prompt_tokens, int) and isinstance(completion_tokens, int):
            self._add(prompt_tokens=prompt_tokens, completion_tokens=completion_tokens)
            self._remember_prompt_tokens(prompt, prompt_tokens)
        else:
            self._add(completions_without_usage=1)
        return choices

    def _samples(self, choices: list[_Choice], seeds: Sequence[int],
                 cancel: threading.Event | None) -> list[OpenAIGeneration]:  # fmt: skip
        out = []
        for seed, choice in zip(seeds, choices, strict=True):
            ids = choice.token_ids
            if ids is None:
                try:
                    ids = self._completion_ids(choice.text, cancel)
                except _GaveUp as exc:
                    out.append(OpenAIGeneration.failed(seed, f"token ids for the completion: {exc}"))
                    continue
            out.append(OpenAIGeneration(choice.text, ids, choice.logprob, choice.finished, seed))
        return out

    def _request(self, prompt: str, seeds: list[int], config: SamplingConfig, stop: str,
                 cancel: threading.Event) -> list[OpenAIGeneration]:  # fmt: skip
        """One request for ``seeds`` (one seed in fan-out, several in n mode)."""
        if cancel.is_set():
            raise _Cancelled()
        try:
            choices = self._complete(prompt, seeds[0], len(seeds), config, stop, cancel=cancel)
        except _GaveUp as exc:
            return [OpenAIGeneration.failed(seed, str(exc)) for seed in seeds]
        return self._samples(choices, seeds, cancel)

    def _probe(self, prompt: str, seeds: list[int], config: SamplingConfig, stop: str) -> list[OpenAIGeneration] | None:
        """Ask for n = len(seeds) once and settle the mode; the samples when n is honoured."""
        n = len(seeds)
        try:
            choices = self._complete(prompt, seeds[0], n, config, stop, probe=True)
        except BackendRequestError as exc:
            self._settle("fan-out", f"the server refused n={n}: {exc}")
            return None
        except _GaveUp as exc:  # says nothing about n: probe again on the next call
            log.warning("n probe failed (%s); fanning out this call", exc)
            return None
        if len(choices) < n:
            self._settle("fan-out", f"asked for n={n}, got {len(choices)} choice(s): the server ignores n")
            return None
        self._settle("n", f"asked for n={n}, got {n} choices")
        self._n_max = n
        return self._samples(choices, seeds, None)

    def _settle(self, mode: str, reason: str) -> None:
        self._n_mode, self.n_mode_reason = mode, reason
        log.info("%s: %s mode (%s)", self.spec.root_url, mode, reason)

    def generate(
        self, prompts: Sequence[str], seeds: Sequence[Sequence[int]], config: SamplingConfig, stop: str
    ) -> list[list[OpenAIGeneration]]:
        """One list of generations per prompt, one per seed, in seed order; failures have ``error`` set."""
        if len(prompts) != len(seeds):
            raise InputError(f"generate: {len(prompts)} prompts but {len(seeds)} seed lists")
        seed_lists = [[int(s) for s in row] for row in seeds]
        results: list[list[OpenAIGeneration]] = [[] for _ in prompts]
        probed: int | None = None
        with self._probe_lock:
            if self._n_mode is None and prompts:
                widest = max(range(len(prompts)), key=lambda i: len(seed_lists[i]))
                if len(seed_lists[widest]) > 1:
                    samples = self._probe(prompts[widest], seed_lists[widest], config, stop)
                    if samples is not None:
                        results[widest], probed = samples, widest
        requests: list[tuple[int, list[int]]] = []  # (prompt index, seeds of one HTTP request), in seed order
        step = self._n_max if self._n_mode == "n" else 1
        for i, row in enumerate(seed_lists):
            if i != probed:
                requests.extend((i, row[start : start + step]) for start in range(0, len(row), step))
        outputs = self._run_all(prompts, requests, config, stop)
        for (i, _), generations in zip(requests, outputs):
            results[i].extend(generations)
        return results

    def _run_all(self, prompts: Sequence[str], requests: list[tuple[int, list[int]]], config: SamplingConfig,
                 stop: str) -> list[list[OpenAIGeneration]]:  # fmt: skip
        """Run the requests on at most max_concurrency threads; the first fatal error cancels the rest and is raised."""
        outputs: list[list[OpenAIGeneration]] = [[] for _ in requests]
        if not requests:
            return outputs
        cancel = threading.Event()
        fatal: BaseException | None = None
        with ThreadPoolExecutor(max_workers=min(self.max_concurrency, len(requests))) as pool:
            futures = {
                pool.submit(self._request, prompts[i], seeds, config, stop, cancel): k
                for k, (i, seeds) in enumerate(requests)
            }
            for future in as_completed(futures):
                try:
                    outputs[futures[future]] = future.result()
                except _Cancelled:
                    pass
                except Exception as exc:  # fail fast: a 4xx, or a server we cannot count tokens on
                    if fatal is None:
                        fatal = exc
                        cancel.set()
        if fatal is not None:
            raise fatal
        return outputs

    # ----------------------------------------------------------- tokens

    def _remember_prompt_tokens(self, prompt: str, count: int) -> None:
        with self._lock:
            self._prompt_tokens[prompt] = count
            self._prompt_tokens.move_to_end(prompt)
            while len(self._prompt_tokens) > 4096:
                self._prompt_tokens.popitem(last=False)

    def _find_tokenizer(self, cancel: threading.Event | None) -> tuple[str, str, Callable[[str, str], dict]] | None:
        """The server's tokenize endpoint, found once; None when it has none (or it cannot be reached now)."""
        with self._tokenize_lock:
            if self._tokenizer_known:
                return self._tokenizer

            def shaped(data: dict) -> list[int]:
                tokens = _ints(data.get("tokens"))
                if not tokens:
                    raise _WrongShape()
                return list(tokens)

            unreachable = False
            for dialect in _TOKENIZE_DIALECTS:
                _, path, make = dialect
                try:
                    self._add(tokenize_requests=1)
                    self._call(path, make("Hello", self.spec.model), shaped, refusal_is_answer=True, cancel=cancel)
                except (BackendRequestError, _WrongShape):
                    continue
                except _GaveUp as exc:
                    log.warning("tokenize endpoint %s unreachable: %s", path, exc)
                    unreachable = True
                    continue
                try:  # the special tokens this endpoint adds (BOS ...), stripped from re-tokenized completions
                    self._add(tokenize_requests=1)
                    empty = self._call(path, make("", self.spec.model), _parse_tokens, cancel=cancel)
                    self._special_prefix = tuple(empty)
                except (BackendRequestError, _GaveUp):
                    self._special_prefix = ()
                self._tokenizer, self._tokenizer_known = dialect, True
                log.info("%s: tokenizing with %s (%s)", self.spec.root_url, path, dialect[0])
                return dialect
            self._tokenizer_known = not unreachable
            return None

    def _tokenize(self, text: str, cancel: threading.Event | None) -> list[int] | None:
        dialect = self._find_tokenizer(cancel)
        if dialect is None:
            return None
        _, path, make = dialect
        self._add(tokenize_requests=1)
        return self._call(path, make(text, self.spec.model), _parse_tokens, cancel=cancel)

    def _completion_ids(self, text: str, cancel: threading.Event | None) -> tuple[int, ...]:
        tokens = self._tokenize(text, cancel)
        if tokens is None:
            if self._tokenizer_known:
                raise BackendError(
                    f"{self.spec.root_url} returns no token ids and has no tokenize endpoint "
                    f"(tried {', '.join(sorted({p for _, p, _ in _TOKENIZE_DIALECTS}))}); "
                    "decode FLOPs need the token count"
                )
            raise _GaveUp("the tokenize endpoint could not be reached")
        prefix = self._special_prefix
        if prefix and tuple(tokens[: len(prefix)]) == prefix:
            tokens = tokens[len(prefix) :]
        return tuple(tokens)

    def count_tokens(self, text: str) -> int:
        """Tokens the server prefills for ``text``: reported usage, else its tokenizer, else an estimate (flagged)."""
        with self._lock:
            known = self._prompt_tokens.get(text)
        if known is not None:
            return known
        try:
            tokens = self._tokenize(text, None)
        except (_GaveUp, BackendRequestError) as exc:
            log.warning("tokenize failed (%s); estimating", exc)
            tokens = None
        if tokens is not None:
            self._remember_prompt_tokens(text, len(tokens))
            return len(tokens)
        if not self.token_counts_estimated:
            log.warning("%s: no token count available; estimating 1 token per %d bytes",
                        self.spec.root_url, _BYTES_PER_TOKEN_ESTIMATE)  # fmt: skip
        self.token_counts_estimated = True
        self._add(estimated_token_counts=1)
        return max(1, math.ceil(len(text.encode("utf-8")) / _BYTES_PER_TOKEN_ESTIMATE))
