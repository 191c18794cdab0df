"""Tiny models for the tree-search tests: trained once per session, in about two seconds."""

from functools import cache

import torch

from ttscale.backends.tiny import TinyBackend
from ttscale.tiny.model import TinyConfig
from ttscale.tiny.trainer import train
from ttscale.tasks import get_task

TASK = "arith:digits=2,operands=2,scratchpad=1"  # completions like "3+6+0=09;5+4+0=09;#99"


def task():
    return get_task(TASK)


@cache
def scratchpad_model():
    """A d32 one-layer TinyGPT that has learned the scratchpad's format (not its sums), in float64.

    float64 makes sampling exactly independent of batch composition (see tiny/sampler.py),
    so equalities below are exact rather than "up to a near tie".
    """
    sums = task()

    def documents():
        seed = 0
        while True:
            yield from sums.demonstrations(256, seed)
            seed += 1

    previous = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        result = train(TinyConfig(32, 1, 2, 64, 48), documents, 200_000, seed=0, batch_size=16)
    finally:
        torch.set_num_threads(previous)
    return result.model.double().eval(), result.card


def backend(name: str = "tiny-sums") -> TinyBackend:
    model, card = scratchpad_model()
    return TinyBackend(name=name, card=card, model=model)


class RecordingBackend:
    """A backend wrapper that records every generate call (contexts, seeds, stop, generations)."""

    def __init__(self, inner):
        self.inner = inner
        self.name, self.card, self.prefill_shared = inner.name, inner.card, inner.prefill_shared
        self.calls: list[tuple[list[str], list[list[int]], str, list]] = []

    def count_tokens(self, text: str) -> int:
        return self.inner.count_tokens(text)

    def generate(self, prompts, seeds, config, stop):
        out = self.inner.generate(prompts, seeds, config, stop)
        self.calls.append((list(prompts), [list(s) for s in seeds], stop, out))
        return out
