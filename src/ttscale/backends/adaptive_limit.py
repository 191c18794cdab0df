"""How many HTTP requests one backend keeps in flight: a limit that adapts to the server (AIMD).

A server that answers more slowly than it is asked (llama-cpp-python's server
handles one request at a time) makes queued requests time out, and retrying
them at the same concurrency only queues them again. So the limit starts at
``max_concurrency``, halves (not below 1) when the server shows it is
saturated (a timeout, HTTP 429 or 503), and grows back by one after
``successes_to_grow`` answers in a row, never above ``max_concurrency`` —
TCP's additive increase, multiplicative decrease.

Requests sent before a cut say nothing about the new limit: a burst of
timeouts from requests that were in flight together cuts the limit once, not
once per request. Each request holds a ``Slot`` that records the generation
of the limit it was sent under; only a slot of the current generation cuts.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass
from enum import Enum


class Outcome(Enum):
    answered = "answered"  # a response the server meant (a 2xx, or a 4xx refusal)
    saturated = "saturated"  # timed out, 429 or 503: the server cannot keep up
    failed = "failed"  # any other failure (dropped connection, 500, bad body): says nothing about load


@dataclass(frozen=True)
class Slot:
    generation: int  # how many cuts the limit had seen when this request was sent
    limit: int  # the limit it was sent under


class AdaptiveLimit:
    """A counting gate whose limit halves on saturation and grows by one after a run of answers.

    ``on_cut(old, new)`` is called (outside the lock) after every cut, so the
    owner can count and report it.
    """

    def __init__(self, max_concurrency: int, *, successes_to_grow: int = 8,
                 on_cut: Callable[[int, int], None] | None = None) -> None:  # fmt: skip
        self.max_concurrency = max_concurrency
        self._limit = max_concurrency
        self._successes_to_grow = successes_to_grow
        self._on_cut = on_cut
        self._in_flight = 0
        self._streak = 0
        self._generation = 0
        self._cuts = 0
        self._changed = threading.Condition()

    @property
    def limit(self) -> int:
        with self._changed:
            return self._limit

    @property
    def cuts(self) -> int:
        with self._changed:
            return self._cuts

    def acquire(self) -> Slot:
        with self._changed:
            self._changed.wait_for(lambda: self._in_flight < self._limit)
            self._in_flight += 1
            return Slot(self._generation, self._limit)

    def release(self, slot: Slot, outcome: Outcome) -> None:
        cut: tuple[int, int] | None = None
        with self._changed:
            self._in_flight -= 1
            if outcome is Outcome.saturated:
                self._streak = 0
                if slot.generation == self._generation and self._limit > 1:
                    cut = (self._limit, max(1, self._limit // 2))
                    self._limit = cut[1]
                    self._generation += 1
                    self._cuts += 1
            elif outcome is Outcome.answered:
                self._streak += 1
                if self._streak >= self._successes_to_grow and self._limit < self.max_concurrency:
                    self._limit += 1
                    self._streak = 0
            self._changed.notify_all()
        if cut is not None and self._on_cut is not None:
            self._on_cut(*cut)
