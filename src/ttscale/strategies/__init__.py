"""Strategies: how a budget of samples is turned into one answer.

Every strategy is replayed from stored pools: uniform ones with exact
estimators (averaged over every k-subset), adaptive ones over many random
orders of each pool, so a whole accuracy-vs-compute curve costs no new
generation. ``evaluate(spec, cells)`` runs one ``NAME[:param=value,...]`` spec.
"""

from __future__ import annotations

from typing import Sequence

from ttscale.pools import Pool
from ttscale.strategies import uniform  # noqa: F401  (registers the uniform strategies)
from ttscale.strategies import adaptive_vote  # noqa: F401  (registers adaptive-vote, window-vote)
from ttscale.strategies import allocation  # noqa: F401  (registers allocate)
from ttscale.strategies import cascade  # noqa: F401  (registers the cascade)
from ttscale.strategies import ensemble  # noqa: F401  (registers the ensemble)
from ttscale.strategies.base import (
    Evaluation,
    Param,
    Strategy,
    StrategyResult,
    format_spec,
    parse_spec,
    resolve_settings,
    summarize,
)
from ttscale.strategies.registry import STRATEGIES


def resolve(spec: str) -> tuple[Strategy, dict[str, float]]:
    """A ``NAME[:param=value,...]`` spec -> (strategy, checked settings)."""
    name, raw = parse_spec(spec)
    strategy = STRATEGIES.get(name)
    return strategy, resolve_settings(strategy, raw)


def evaluate(
    spec: str,
    cells: Sequence[Sequence[Pool]],
    calibration: Sequence[Sequence[Pool]] | None = None,
    n_boot: int = 500,
    seed: int = 0,
) -> StrategyResult:
    strategy, settings = resolve(spec)
    evaluation = strategy.evaluate(cells, settings, calibration, seed)
    return summarize(strategy.name, settings, evaluation, n_boot=n_boot, seed=seed)


def replay(strategy_name: str, pools: list[Pool], k: int, n_boot: int = 500, seed: int = 0) -> StrategyResult:
    """A single-model strategy at budget k (the uniform strategies' shorthand)."""
    strategy = STRATEGIES.get(strategy_name)
    if not pools:
        from ttscale.errors import InputError

        raise InputError(f"strategy {strategy_name!r}: no pools to replay")
    settings = resolve_settings(strategy, {"k": k})
    return summarize(strategy.name, settings, strategy.evaluate([pools], settings, None, seed), n_boot=n_boot, seed=seed)


__all__ = [
    "STRATEGIES",
    "Evaluation",
    "Param",
    "Strategy",
    "StrategyResult",
    "evaluate",
    "format_spec",
    "replay",
    "resolve",
]
