"""Token ids from an OpenAI-compatible server that does not send them: its
tokenize endpoint (llama-cpp-python ``POST /extras/tokenize``, llama-server
``POST /tokenize``, vLLM ``POST /tokenize``), found once and cached, minus the
special tokens that endpoint adds to an empty text; and the prompt token counts
the server reported, remembered for ``count_tokens``. See ``ttscale.backends.openai``.
"""

from __future__ import annotations

import logging
import threading
from collections import OrderedDict
from collections.abc import Callable

from ttscale.backends.http_retry import (BackendError, BackendRequestError, RetryingClient, GaveUp, int_list,
                                         parse_tokens, WrongShape)
from ttscale.backends.openai_spec import TOKENIZE_DIALECTS

log = logging.getLogger(__name__)

_PROMPT_CACHE_SIZE = 4096


class ServerTokenizer:
    """The tokenize endpoint of one server and model; ``count(tokenize_requests=1)`` per request."""

    def __init__(self, http: RetryingClient, model: str, count: Callable[..., None]) -> None:
        self._http, self._model, self._count = http, model, count
        self._tokenize_lock = threading.Lock()
        self._tokenizer: tuple[str, str, Callable[[str, str], dict]] | None = None
        self.known = False  # True once discovery has an answer (a dialect, or none)
        self._special_prefix: tuple[int, ...] = ()
        self._cache_lock = threading.Lock()
        self._prompt_tokens: OrderedDict[str, int] = OrderedDict()

    # ------------------------------------------------- reported counts

    def remember_prompt_tokens(self, prompt: str, count: int) -> None:
        with self._cache_lock:
            self._prompt_tokens[prompt] = count
            self._prompt_tokens.move_to_end(prompt)
            while len(self._prompt_tokens) > _PROMPT_CACHE_SIZE:
                self._prompt_tokens.popitem(last=False)

    def prompt_tokens(self, prompt: str) -> int | None:
        """The count remembered for exactly ``prompt``, or None."""
        with self._cache_lock:
            return self._prompt_tokens.get(prompt)

    # -------------------------------------------------------- endpoint

    def _find_tokenizer(self, cancel: threading.Event | None) -> tuple[str, str, Callable[[str, str], dict]] | None:
        """The server's tokenize endpoint, found once; None when it has none (or it cannot be reached now)."""
        with self._tokenize_lock:
            if self.known:
                return self._tokenizer

            def shaped(data: dict) -> list[int]:
                tokens = int_list(data.get("tokens"))
                if not tokens:
                    raise WrongShape()
                return list(tokens)

            unreachable = False
            for dialect in TOKENIZE_DIALECTS:
                _, path, make = dialect
                try:
                    self._count(tokenize_requests=1)
                    self._http.call(path, make("Hello", self._model), shaped, refusal_is_answer=True, cancel=cancel)
                except (BackendRequestError, WrongShape):
                    continue
                except GaveUp as exc:
                    log.warning("tokenize endpoint %s unreachable: %s", path, exc)
                    unreachable = True
                    continue
                try:  # the special tokens this endpoint adds (BOS ...), stripped from re-tokenized completions
                    self._count(tokenize_requests=1)
                    empty = self._http.call(path, make("", self._model), parse_tokens, cancel=cancel)
                    self._special_prefix = tuple(empty)
                except (BackendRequestError, GaveUp):
                    self._special_prefix = ()
                self._tokenizer, self.known = dialect, True
                log.info("%s: tokenizing with %s (%s)", self._http.root_url, path, dialect[0])
                return dialect
            self.known = not unreachable
            return None

    def tokenize(self, text: str, cancel: threading.Event | None) -> list[int] | None:
        """``text``'s token ids (special tokens included); None when the server has no tokenize endpoint."""
        dialect = self._find_tokenizer(cancel)
        if dialect is None:
            return None
        _, path, make = dialect
        self._count(tokenize_requests=1)
        return self._http.call(path, make(text, self._model), parse_tokens, cancel=cancel)

    def completion_ids(self, text: str, cancel: threading.Event | None) -> tuple[int, ...]:
        """A completion's token ids, re-tokenized (BackendError: no way to tell; GaveUp: unreachable)."""
        tokens = self.tokenize(text, cancel)
        if tokens is None:
            if self.known:
                raise BackendError(
                    f"{self._http.root_url} returns no token ids and has no tokenize endpoint "
                    f"(tried {', '.join(sorted({p for _, p, _ in TOKENIZE_DIALECTS}))}); "
                    "decode FLOPs need the token count"
                )
            raise GaveUp("the tokenize endpoint could not be reached")
        prefix = self._special_prefix
        if prefix and tuple(tokens[: len(prefix)]) == prefix:
            tokens = tokens[len(prefix) :]
        return tuple(tokens)
