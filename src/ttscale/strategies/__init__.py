"""Strategies: how a budget of samples is turned into one answer.

One registry (``STRATEGIES``); each strategy declares typed settings and its
modes — ``replay`` from stored pools (uniform ones with exact estimators,
averaged over every k-subset; adaptive ones over many random orders of each
pool) and/or ``live`` on backends (beam and MCTS are live only).
``resolve(spec)`` parses one ``NAME[:param=value,...]`` spec; ``evaluate``
replays it on pools.
"""

from __future__ import annotations

import importlib
import pkgutil
from collections.abc import Sequence

from ttscale.sampling.pools import Pool
from ttscale.strategies.base import (LIVE, REPLAY, Evaluation, LiveAnswer, LiveContext, Strategy, StrategyResult,
                                     StrategyTraits, check_mode, evaluation_of, parse_strategy_spec, settings_of,
                                     spec_of, summarize)
from ttscale.settings import TypedSettings
from ttscale.strategies.registry import STRATEGIES

# Every module of this package that registers a strategy is imported here, so adding a strategy is
# adding a module (docs/ARCHITECTURE.md, "How to add a strategy"); the others are its building blocks.
_PARTS = {"base", "registry", "stopping", "step_search", "step_scorers", "search_ledger", "beam", "mcts"}
for _module in pkgutil.iter_modules(__path__):
    if _module.name not in _PARTS:
        importlib.import_module(f"{__name__}.{_module.name}")


def resolve(spec: str) -> tuple[Strategy, TypedSettings]:
    """A ``NAME[:param=value,...]`` spec -> (strategy, checked settings)."""
    name, raw = parse_strategy_spec(spec)
    strategy = STRATEGIES.get(name)
    return strategy, settings_of(strategy, raw)


def evaluate(
    spec: str,
    cells: Sequence[Sequence[Pool]],
    calibration: Sequence[Sequence[Pool]] | None = None,
    n_boot: int = 500,
    seed: int = 0,
) -> StrategyResult:
    """Replay one spec on pools (one list per model, aligned by problem)."""
    strategy, settings = resolve(spec)
    check_mode(strategy, REPLAY)
    return summarize(strategy.name, settings, strategy.replay(cells, settings, calibration, seed), n_boot=n_boot,
                     seed=seed)


__all__ = [
    "LIVE",
    "REPLAY",
    "STRATEGIES",
    "Evaluation",
    "LiveAnswer",
    "LiveContext",
    "Strategy",
    "StrategyResult",
    "StrategyTraits",
    "check_mode",
    "evaluate",
    "evaluation_of",
    "resolve",
    "settings_of",
    "spec_of",
    "summarize",
]
