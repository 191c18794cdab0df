"""Backends generate completions. Callers need only the ``Backend`` protocol, so a
strategy is never tied to one backend class; ``backends.streaming.StreamingBackend``
is the optional capability of handing back each sample as it finishes."""

from __future__ import annotations

from typing import Protocol, Sequence, Union

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
