"""Scorers of partial solutions, for tree search.

Every scorer maps (problem, prefix) to a value in [0, 1], higher is better, and
reports the FLOPs it spent on each item (charged to inference compute):

- ``LogProbScorer``: the model's own mean token log-probability of the prefix,
  as exp(mean logprob) (the geometric-mean token probability): monotone in the
  mean, so beam ranking is the same, and in [0, 1] for UCT. Free: the backend
  returns the log-probabilities with the tokens.
- ``ValueScorer``: a learned value model's estimate that a solution starting
  with this prefix ends with the right answer; it costs the value model's
  forward pass over prompt + prefix.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal, Protocol

import numpy as np
from pydantic import Field

from ttscale.settings import TypedSettings
from ttscale.strategies.search_ledger import ComputeLedger
from ttscale.strategies.step_search import Node
from ttscale.types import Problem


class StepScorer(Protocol):
    name: str  # short, for settings and cache keys: "logprob", "value"
    label: str  # for technique names: "log-prob scorer", "learned value"

    def key(self) -> dict:
        """What identifies this scorer's values (part of the result cache key)."""
        ...

    def score(self, problems: Sequence[Problem], nodes: Sequence[Node]) -> tuple[np.ndarray, np.ndarray]:
        """(values in [0, 1], FLOPs spent per item)."""
        ...


class StepSearchSettings(TypedSettings):
    """What every tree search takes besides its budget: the scorer and the steps' temperature."""

    scorer: Literal["logprob", "value"] = Field("logprob", description="the model's own log-probability, or a "
                                                                        "learned value model")
    temperature: float = Field(1.0, ge=0.0, le=10.0, description="sampling temperature of each step")


@dataclass(frozen=True)
class ScorerChoice:
    """A scorer with what it cost before deployment (a learned value model's training and data FLOPs)."""

    scorer: StepScorer
    extra_train_flops: float = 0.0


class ValuePredictor(Protocol):
    """What ``ValueScorer`` needs from a value model (``ttscale.lab.value_model.ValueModel``)."""

    def predict(self, prompts: Sequence[str], prefixes: Sequence[str]) -> np.ndarray: ...

    def scoring_flops(self, prompts: Sequence[str], prefixes: Sequence[str]) -> np.ndarray: ...


@dataclass(frozen=True)
class LogProbScorer:
    name: str = "logprob"
    label: str = "log-prob scorer"

    def key(self) -> dict:
        return {"scorer": self.name}

    def score(self, problems: Sequence[Problem], nodes: Sequence[Node]) -> tuple[np.ndarray, np.ndarray]:
        means = np.array([n.logprob / max(1, n.n_tokens) for n in nodes], dtype=float)
        return np.exp(means), np.zeros(len(nodes))


@dataclass(frozen=True)
class ValueScorer:
    model: ValuePredictor
    identity: str  # a content hash of the value model (its training data and settings)
    name: str = "value"
    label: str = "learned value"

    def key(self) -> dict:
        return {"scorer": self.name, "value_model": self.identity}

    def score(self, problems: Sequence[Problem], nodes: Sequence[Node]) -> tuple[np.ndarray, np.ndarray]:
        prompts, prefixes = [p.prompt for p in problems], [n.prefix for n in nodes]
        if not prompts:
            return np.zeros(0), np.zeros(0)
        values = np.asarray(self.model.predict(prompts, prefixes), dtype=float)
        return values, np.asarray(self.model.scoring_flops(prompts, prefixes), dtype=float)


def score_nodes(scorer: StepScorer, items: Sequence[tuple[int, Problem, Node]], ledger: ComputeLedger) -> None:
    """Score (ledger row, problem, node) items in one batch; sets ``node.value`` and charges the ledger."""
    if not items:
        return
    started = time.perf_counter()
    values, costs = scorer.score([p for _, p, _ in items], [n for _, _, n in items])
    seconds = time.perf_counter() - started
    for (_, _, node), value in zip(items, values):
        node.value = float(value)
    ledger.charge_scorer([owner for owner, _, _ in items], list(costs), seconds)
