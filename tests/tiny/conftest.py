"""Fixtures for the tiny-model tests: one torch thread (the CPUs are shared) and a small random model."""

import pytest
import torch

from ttscale.tiny.model import TinyConfig, TinyGPT


@pytest.fixture(autouse=True)
def one_torch_thread():
    previous = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(previous)


@pytest.fixture
def small_model():
    """Three blocks, every dimension small; widths chosen so a group size can exceed d_model but not d_ff."""
    torch.manual_seed(0)
    return TinyGPT(TinyConfig(d_model=32, n_layers=3, n_heads=2, d_ff=48, context_length=24)).eval()


@pytest.fixture
def tokens():
    """Random calibration / test token ids (B=4, T=24)."""
    generator = torch.Generator().manual_seed(1)
    return torch.randint(3, 81, (4, 24), generator=generator)
