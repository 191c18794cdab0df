"""The optional capability of handing back each sample as soon as it is finished.

A batched backend decodes many samples in one call; under load one call can take minutes. A backend
that streams hands each finished sample to a sink during the call, so the caller can store it at once
and a killed run loses only the samples still decoding (``sampling.draw``).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Protocol, runtime_checkable

from ttscale.backends import Backend, Stop
from ttscale.types import Generation, SamplingConfig


@dataclass(frozen=True)
class FinishedSample:
    """One finished sample of a call: its prompt's index, its place in that prompt's seeds, its generation."""

    prompt: int
    slot: int
    generation: Generation


# Called during a call with the samples finished since the last call of it (those of one decode step).
SampleSink = Callable[[Sequence[FinishedSample]], None]


@runtime_checkable
class StreamingBackend(Backend, Protocol):
    """A backend whose calls hand each sample to ``finished`` as it finishes (llama.cpp in process)."""

    def generate_streaming(
        self, prompts: Sequence[str], seeds: Sequence[Sequence[int]], config: SamplingConfig, stop: Stop,
        finished: SampleSink,
    ) -> list[list[Generation]]:
        """``generate``, and every generation also given to ``finished`` once, before the call returns."""
        ...
