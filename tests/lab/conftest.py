"""Shared tiny fixtures for the lab tests (kept small: the CPUs are shared)."""

import pytest
import torch

from ttscale.tiny.model import TinyConfig, TinyGPT


@pytest.fixture
def tiny_config():
    return TinyConfig(d_model=16, n_layers=1, n_heads=2, d_ff=32, context_length=32)


@pytest.fixture
def random_model():
    torch.manual_seed(0)
    return TinyGPT(TinyConfig(d_model=32, n_layers=2, n_heads=2, d_ff=64, context_length=48)).eval()
