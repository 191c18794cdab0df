"""Strategies: how a budget of samples is turned into one answer.

One registry (``STRATEGIES``); each strategy declares typed settings and its
modes — ``replay`` from stored pools (uniform ones with exact estimators,
averaged over every k-subset; adaptive ones over many random orders of each
pool) and/or ``live`` on backends (beam and MCTS are live only).
``resolve(spec)`` parses one ``NAME[:param=value,...]`` spec; ``evaluate``
replays it on pools.
"""

from __future__ import annotations

from collections.abc import Sequence

from ttscale.sampling.pools import Pool
from ttscale.strategies import uniform  # noqa: F401  (registers the uniform strategies)
from ttscale.strategies import adaptive_vote  # noqa: F401  (registers adaptive-vote, window-vote)
from ttscale.strategies import allocation  # noqa: F401  (registers allocate)
from ttscale.strategies import cascade  # noqa: F401  (registers the cascade)
from ttscale.strategies import ensemble  # noqa: F401  (registers the ensemble)
from ttscale.strategies import tree_search  # noqa: F401  (registers beam and mcts)
from ttscale.strategies.base import (
    LIVE,
    REPLAY,
    Evaluation,
    LiveAnswer,
    LiveContext,
    Strategy,
    StrategyResult,
    check_mode,
    evaluation_of,
    parse_strategy_spec,
    settings_of,
    spec_of,
    summarize,
)
from ttscale.strategies.registry import STRATEGIES
from ttscale.settings import TypedSettings


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
    "check_mode",
    "evaluate",
    "evaluation_of",
    "resolve",
    "settings_of",
    "spec_of",
    "summarize",
]
