"""Backends generate completions. The sweep needs only this protocol, so a
strategy is never tied to one backend class."""

from __future__ import annotations

from typing import Protocol, Sequence, Union

from ttscale.types import ModelCard, SamplingConfig


class Generation(Protocol):
    text: str  # the completion, without the stop string
    token_ids: tuple[int, ...]
    logprob: float  # sum of the model's token log-probabilities (temperature 1)
    finished: bool  # stopped on the stop string rather than the token limit
    seed: int
    error: str | None  # set when the backend failed to produce this sample (not a result)


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
