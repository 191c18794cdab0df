"""Documents and small trained models for the distillation and early-exit tests (imported by name: not a
conftest, which belongs to the other tiny tests)."""

import random

from ttscale.tiny.model import TinyConfig
from ttscale.tiny.trainer import TrainHyper, batches, train

HYPER = TrainHyper(lr=1e-2)


def sums(seed: int = 0):
    """An endless stream of sum demonstrations, like the lab's tasks write."""
    rng = random.Random(seed)
    while True:
        a, b = rng.randrange(10), rng.randrange(10)
        yield f"A{a}+{b}={a + b}\n"


def documents():
    return sums(0)


def held_out(seq_len: int):
    """One (x, y) batch of 8 windows from a stream the models never trained on."""
    return next(batches(sums(99), 8, seq_len))


def trained(d_model: int, n_layers: int, context_length: int, seed: int, tokens: int = 6144, batch_size: int = 8):
    """A TrainResult: a small model trained on ``tokens`` tokens of sums."""
    config = TinyConfig(d_model=d_model, n_layers=n_layers, n_heads=2, d_ff=2 * d_model,
                        context_length=context_length)
    return train(config, documents, tokens, seed=seed, batch_size=batch_size, hyper=HYPER)
