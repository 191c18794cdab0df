"""Fixtures over the hand-made pools of ``pool_builders``."""

import pytest

from pool_builders import build_pool, mixed_pool


@pytest.fixture
def make_pool():
    return build_pool


@pytest.fixture
def make_mixed_pool():
    return mixed_pool
