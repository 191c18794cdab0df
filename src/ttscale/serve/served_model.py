"""A model the server answers with: its backend, how to pose it as chat, and how requests reach it.

Requests never call a model's backend directly. An in-process model (llama.cpp, the lab's tiny
models) is reached through its ``BatchingBackend``, so concurrent requests decode together; a model
behind an upstream OpenAI-compatible server is reached as it is (its own bounded connection pool
carries concurrent requests), with a check before each call that its request is still wanted.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

from ttscale.backends import Backend, Stop
from ttscale.errors import InputError
from ttscale.serve.batching import BatchingBackend, BatchObserver, check_not_cancelled
from ttscale.types import Generation, SamplingConfig


class CheckedBackend:
    """An upstream backend whose calls first check that their request is still wanted."""

    def __init__(self, inner: Backend) -> None:
        self.inner = inner
        self.name, self.card, self.prefill_shared = inner.name, inner.card, inner.prefill_shared

    def count_tokens(self, text: str) -> int:
        return self.inner.count_tokens(text)

    def generate(self, prompts: Sequence[str], seeds: Sequence[Sequence[int]], config: SamplingConfig,
                 stop: Stop) -> list[list[Generation]]:
        check_not_cancelled()
        return self.inner.generate(prompts, seeds, config, stop)

    def close(self) -> None:
        self.inner.close()


@dataclass
class ServedModel:
    """``backend`` poses prompts raw; ``open_chat`` opens the model again posed as chat (None: it has no chat
    template); ``remote``: it is an upstream server, not an in-process engine."""

    name: str
    backend: Backend
    open_chat: Callable[[], Backend] | None = None
    remote: bool = False
    _reached: dict[bool, Backend] = field(default_factory=dict)
    _opening: threading.Lock = field(default_factory=threading.Lock)

    def reached(self, chat: bool, observe: BatchObserver | None = None) -> Backend:
        """What requests call, posed raw or as chat (the chat model is opened on first use)."""
        with self._opening:
            if chat not in self._reached:
                if chat and self.open_chat is None:
                    why = ("is answered through its upstream server's completions endpoint" if self.remote
                           else "has no chat template")
                    raise InputError(f"messages: model {self.name!r} {why}; use /v1/completions")
                inner = self.open_chat() if chat else self.backend
                self._reached[chat] = CheckedBackend(inner) if self.remote else BatchingBackend(inner, observe)
            return self._reached[chat]

    def close(self) -> None:
        with self._opening:
            for backend in self._reached.values():
                backend.close()  # closes the backend it reaches
            if False not in self._reached:
                self.backend.close()
            self._reached.clear()
