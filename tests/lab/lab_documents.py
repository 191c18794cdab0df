"""Training documents for the trainer tests (imported by name: not a conftest)."""

import random


def sums_documents(seed: int = 0):
    """An endless stream of task-like demonstrations."""
    rng = random.Random(seed)
    while True:
        a, b = rng.randrange(10), rng.randrange(10)
        yield f"A{a}+{b}={a + b}\n"
