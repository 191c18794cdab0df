"""Backends generate completions. Callers need only the ``Backend`` protocol, so a
strategy is never tied to one backend class; ``BatchedBackend`` is the optional
capability of decoding many sequences together."""

from __future__ import annotations

from typing import Protocol, Sequence, Union, runtime_checkable

from ttscale.types import Generation, ModelCard, SamplingConfig


Stop = Union[str, Sequence[str]]  # one stop string, or several (the first one produced ends the sample)


def stop_strings(stop: Stop) -> tuple[str, ...]:
    """The stop strings as a tuple, empty ones dropped."""
    return tuple(s for s in ((stop,) if isinstance(stop, str) else tuple(stop)) if s)


class Backend(Protocol):
    name: str
    card: ModelCard
    prefill_shared: bool  # one prefill serves all samples of a prompt

    def count_tokens(self, text: str) -> int: ...

    def generate(
        self, prompts: Sequence[str], seeds: Sequence[Sequence[int]], config: SamplingConfig, stop: Stop
    ) -> list[list[Generation]]:
        """One list of generations per prompt, one generation per seed."""
        ...

    def close(self) -> None:
        """Free what the backend holds (a loaded model, connections); it is not used afterwards."""
        ...


@runtime_checkable
class BatchedBackend(Backend, Protocol):
    """A backend that decodes up to ``max_seqs`` sequences in one batch (llama.cpp in process)."""

    max_seqs: int
