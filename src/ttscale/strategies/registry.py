"""The one registry of strategies (uniform, adaptive, multi-model)."""

from __future__ import annotations

from ttscale.registry import Registry
from ttscale.strategies.base import Strategy

STRATEGIES: Registry[Strategy] = Registry("strategy")
