"""Any OpenAI-compatible server as a backend (vLLM, SGLang, llama-server,
llama-cpp-python's server), named by a spec ``openai:BASE_URL#MODEL``.

What it asks for. ``POST {root}/v1/completions`` with the prompt as text,
``max_tokens`` / ``temperature`` / ``top_p`` / ``stop`` / ``seed`` from the
sampling config, ``stream: false``, and ``logprobs: 1`` when the backend's
``logprobs`` field is True (the default) and while the server takes it (a 4xx
whose message names "logprob" turns it off for this backend). Log-probabilities
can be costly: llama-cpp-python's server computes them over the whole
vocabulary, about 0.3 s more per generated token with Gemma 3's 262k tokens
(BENCHMARKS.md, "cost of asking for log-probabilities"). With
``logprobs=False`` they are never asked for and every sample's ``logprob`` is
NaN; ``gives_logprobs`` says which, so a strategy that needs them can refuse
before anything is sampled. Server knobs outside the OpenAI API (llama.cpp's
default ``top_k=40``, ``min_p``, ``repeat_penalty`` ...) go in ``extra_body``;
e.g. ``{"top_k": 0, "min_p": 0, "repeat_penalty": 1}`` makes llama.cpp sample
from the same distribution as the SamplingConfig says.

``n`` is detected, not configured (docs/RELIABILITY.md: llama-server answers n>1
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
The probe is never retried on a 5xx other than 503 (a deterministic 500 costs
one request, not a retry storm); a 429, a 503 (busy or loading) or a transport
failure is retried. The mode is kept per backend instance; a later request
with more samples than the probe had is split into requests of at most that many.

Reachability: ``check_reachable()``, before sampling (``openai_reachability``).

Reliability (retries, backoff, timeouts, fail-fast 4xx, failed samples, the
concurrency limit that halves when the server is saturated and grows back, the
WARNING line per burst of retries): see ``ttscale.backends.http_retry`` and
``ttscale.backends.adaptive_limit``. ``timeout_s`` bounds one attempt;
``max_concurrency`` is the most requests in flight, ``concurrency_limit`` the
limit now, ``usage.concurrency_cuts`` how often it was halved. A sample whose
request gave up is a ``Generation`` with ``error`` set and no text.

Tokens. ``token_ids`` come from the response when the server gives them
(llama-server's ``logprobs.content[].id``, a choice's ``token_ids`` or
``tokens``); otherwise the completion text is re-tokenized with the server's
tokenize endpoint (llama-cpp-python ``POST /extras/tokenize``, llama-server
``POST /tokenize``, vLLM ``POST /tokenize``; found once and cached, see
``ttscale.backends.openai_tokens``), minus the special tokens that endpoint
adds to an empty text. A server with neither is refused (``BackendError``):
decode FLOPs need the count. ``count_tokens(text)`` answers, in order: the
``usage.prompt_tokens`` the server reported for that exact prompt, the tokenize
endpoint, else an estimate of one token per 4 UTF-8 bytes (OpenAI's rule of
thumb for English BPE), counted in ``usage.estimated_token_counts`` and
flagged by ``token_counts_estimated``. ``usage`` sums the server's
prompt/completion tokens over all requests.

The model card is given (``card=``), or, only when ``params=`` is given
explicitly, an estimated placeholder (``placeholder_card``); nothing is guessed.
"""

from __future__ import annotations

import logging
import math
import threading
from collections.abc import Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor, as_completed
from dataclasses import dataclass, field
from typing import Any

from ttscale.backends import stop_strings
from ttscale.backends.http_retry import (
    BackendError,
    BackendRequestError,
    BackendUnreachable,
    Cancelled,
    Choice,
    GaveUp,
    RetryingClient,
    completion_parser,
)
from ttscale.backends.openai_reachability import REACHABILITY_TIMEOUT_S, check_reachable
from ttscale.backends.openai_spec import (
    SPEC_PREFIX,
    OpenAISpec,
    Usage,
    failed_generation,
    parse_openai_spec,
    placeholder_card,
)
from ttscale.backends.openai_tokens import ServerTokenizer
from ttscale.errors import InputError
from ttscale.types import Generation, ModelCard, SamplingConfig

__all__ = [  # re-exported: the backend's public names, wherever they live
    "SPEC_PREFIX", "BackendError", "BackendRequestError", "BackendUnreachable", "OpenAIBackend", "OpenAISpec",
    "Usage", "parse_openai_spec", "placeholder_card",
]  # fmt: skip

log = logging.getLogger(__name__)

_BYTES_PER_TOKEN_ESTIMATE = 4
_RESERVED_BODY_KEYS = frozenset(
    {"model", "prompt", "n", "seed", "stream", "max_tokens", "temperature", "top_p", "stop", "logprobs"}
)


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
    logprobs: bool = True  # ask for log-probabilities (False: never; samples get logprob NaN)
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
        self._http = RetryingClient(
            self.spec.root_url, max_concurrency=self.max_concurrency, timeout_s=self.timeout_s,
            max_attempts=self.max_attempts, backoff_base_s=self.backoff_base_s, backoff_max_s=self.backoff_max_s,
            max_retry_after_s=self.max_retry_after_s, api_key=self.api_key, trust_env=self.trust_env,
            transport=self.transport, count=self._add,
        )  # fmt: skip
        self._lock = threading.Lock()  # usage
        self._probe_lock = threading.Lock()
        self._n_mode: str | None = None
        self._n_max = 1
        self.n_mode_reason = "not probed yet"
        self._server_takes_logprobs = True
        self._tokens = ServerTokenizer(self._http, self.spec.model, count=self._add)

    def _check_settings(self) -> None:
        for name in ("max_concurrency", "max_attempts"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise InputError(f"{name} must be an int >= 1, got {value!r}")
        for name in ("timeout_s", "backoff_base_s", "backoff_max_s", "max_retry_after_s"):
            value = getattr(self, name)
            if not isinstance(value, (int, float)) or not value >= 0 or (name == "timeout_s" and value == 0):
                raise InputError(f"{name} must be a number {'> 0' if name == 'timeout_s' else '>= 0'}, got {value!r}")
        if not isinstance(self.logprobs, bool):
            raise InputError(f"logprobs must be True or False, got {self.logprobs!r}")
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

    @property
    def gives_logprobs(self) -> bool:
        """Whether samples carry log-probabilities: asked for (``logprobs``) and not refused by the server."""
        return self.logprobs and self._server_takes_logprobs

    @property
    def concurrency_limit(self) -> int:
        """Requests allowed in flight now: ``max_concurrency``, less after the server showed saturation."""
        return self._http.limit.limit

    # ----------------------------------------------------- reachability

    def check_reachable(self) -> None:
        """Raise ``BackendUnreachable`` unless a server answers here and may serve the model."""
        check_reachable(self._http, self.spec, min(self.timeout_s, REACHABILITY_TIMEOUT_S))

    def close(self) -> None:
        self._http.close()

    def __enter__(self) -> OpenAIBackend:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # ------------------------------------------------------------ usage

    def _add(self, **counts: int) -> None:
        with self._lock:
            for name, value in counts.items():
                setattr(self.usage, name, getattr(self.usage, name) + value)

    # ------------------------------------------------------ completions

    def _body(self, prompt: str, seed: int, n: int, config: SamplingConfig, stop: str) -> dict:
        body: dict[str, Any] = dict(self.extra_body)
        body.update(model=self.spec.model, prompt=prompt, max_tokens=config.max_new_tokens,
                    temperature=config.temperature, top_p=config.top_p, seed=int(seed), stream=False)  # fmt: skip
        if n > 1:
            body["n"] = n
        if stop_strings(stop):
            body["stop"] = list(stop_strings(stop))
        if self.gives_logprobs:
            body["logprobs"] = 1
        return body

    def _complete(self, prompt: str, seed: int, n: int, config: SamplingConfig, stop: str, *, probe: bool = False,
                  cancel: threading.Event | None = None) -> list[Choice]:  # fmt: skip
        """One completions request (with retries) → its choices; usage recorded."""
        body = self._body(prompt, seed, n, config, stop)
        parse = completion_parser(n, exact=not probe, where=self.spec.root_url + "/v1/completions")
        try:
            choices, usage = self._http.call("/v1/completions", body, parse, refusal_is_answer=probe, cancel=cancel)
        except BackendRequestError as exc:
            if body.get("logprobs") and exc.status in (400, 422) and "logprob" in exc.message.lower():
                log.warning("%s does not take logprobs (%s); asking without them", self.spec.root_url, exc.message)
                self._server_takes_logprobs = False
                return self._complete(prompt, seed, n, config, stop, probe=probe, cancel=cancel)
            raise
        prompt_tokens = usage.get("prompt_tokens") if usage else None
        completion_tokens = usage.get("completion_tokens") if usage else None
        if isinstance(prompt_tokens, int) and isinstance(completion_tokens, int):
            self._add(prompt_tokens=prompt_tokens, completion_tokens=completion_tokens)
            self._tokens.remember_prompt_tokens(prompt, prompt_tokens)
        else:
            self._add(completions_without_usage=1)
        return choices

    def _samples(self, choices: list[Choice], seeds: Sequence[int],
                 cancel: threading.Event | None) -> list[Generation]:  # fmt: skip
        out = []
        for seed, choice in zip(seeds, choices, strict=True):
            ids = choice.token_ids
            if ids is None:
                try:
                    ids = self._tokens.completion_ids(choice.text, cancel)
                except GaveUp as exc:
                    out.append(failed_generation(seed, f"token ids for the completion: {exc}"))
                    continue
            logprob = choice.logprob if self.logprobs else math.nan  # not asked: not trusted, whatever came
            out.append(Generation(choice.text, ids, logprob, choice.finished, seed))
        return out

    def _request(self, prompt: str, seeds: list[int], config: SamplingConfig, stop: str,
                 cancel: threading.Event) -> list[Generation]:  # fmt: skip
        """One request for ``seeds`` (one seed in fan-out, several in n mode)."""
        if cancel.is_set():
            raise Cancelled()
        try:
            choices = self._complete(prompt, seeds[0], len(seeds), config, stop, cancel=cancel)
        except GaveUp as exc:
            return [failed_generation(seed, str(exc)) for seed in seeds]
        return self._samples(choices, seeds, cancel)

    def _probe(self, prompt: str, seeds: list[int], config: SamplingConfig, stop: str) -> list[Generation] | None:
        """Ask for n = len(seeds) once and settle the mode; the samples when n is honoured."""
        n = len(seeds)
        try:
            choices = self._complete(prompt, seeds[0], n, config, stop, probe=True)
        except BackendRequestError as exc:
            self._settle("fan-out", f"the server refused n={n}: {exc}")
            return None
        except GaveUp as exc:  # says nothing about n: probe again on the next call
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
    ) -> list[list[Generation]]:
        """One list of generations per prompt, one per seed, in seed order; failures have ``error`` set."""
        if len(prompts) != len(seeds):
            raise InputError(f"generate: {len(prompts)} prompts but {len(seeds)} seed lists")
        seed_lists = [[int(s) for s in row] for row in seeds]
        results: list[list[Generation]] = [[] for _ in prompts]
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
                 stop: str) -> list[list[Generation]]:  # fmt: skip
        """Run the requests on at most max_concurrency threads; the first fatal error cancels the rest and is raised."""
        outputs: list[list[Generation]] = [[] for _ in requests]
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
                except Cancelled:
                    pass
                except Exception as exc:  # fail fast: a 4xx, or a server we cannot count tokens on
                    if fatal is None:
                        fatal = exc
                        cancel.set()
        if fatal is not None:
            raise fatal
        return outputs

    # ----------------------------------------------------------- tokens

    def count_tokens(self, text: str) -> int:
        """Tokens the server prefills for ``text``: reported usage, else its tokenizer, else an estimate (flagged)."""
        known = self._tokens.prompt_tokens(text)
        if known is not None:
            return known
        try:
            tokens = self._tokens.tokenize(text, None)
        except (GaveUp, BackendRequestError) as exc:
            log.warning("tokenize failed (%s); estimating", exc)
            tokens = None
        if tokens is not None:
            self._tokens.remember_prompt_tokens(text, len(tokens))
            return len(tokens)
        if not self.token_counts_estimated:
            log.warning("%s: no token count available; estimating 1 token per %d bytes",
                        self.spec.root_url, _BYTES_PER_TOKEN_ESTIMATE)  # fmt: skip
        self.token_counts_estimated = True
        self._add(estimated_token_counts=1)
        return max(1, math.ceil(len(text.encode("utf-8")) / _BYTES_PER_TOKEN_ESTIMATE))

