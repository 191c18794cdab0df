"""Shared tiny fixtures for the lab tests (kept small: the CPUs are shared)."""

import random

import pytest
import torch

from ttscale.tiny.model import TinyConfig, TinyGPT


def sums_documents(seed: int = 0):
    """An endless stream of task-like demonstrations."""
    rng = random.Random(seed)
    while True:
        a, b = rng.randrange(10), rng.randrange(10)
        yield f"A{a}+{b}={a + b}\n"


@pytest.fixture
def tiny_config():
    return TinyConfig(d_model=16, n_layers=1, n_heads=2, d_ff=32, context_length=32)


@pytest.fixture
def random_model():
    torch.manual_seed(0)
    return TinyGPT(TinyConfig(d_model=32, n_layers=2, n_heads=2, d_ff=64, context_length=48)).eval()
