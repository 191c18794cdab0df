"""A plan: which models, what to sample on which splits, what to search live, what to replay.

The lab and the sweep are front-ends that build a plan (the lab from a trained
ladder, the sweep from model specs) and hand it to the same executor
(execute.py) and the same analysis (analysis.py). The plan is what determines
the stored samples and results; where a unit of work runs is the executor's
business.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from ttscale.backends import Backend
from ttscale.store import Store
from ttscale.strategies.step_scorers import ScorerChoice
from ttscale.strategies.tree_search import SearchSettings
from ttscale.techniques import TechniqueSpec
from ttscale.types import ModelCard, Problem, SamplingConfig, Task


@dataclass(frozen=True)
class ModelEntry:
    """One model: its name in the store, its card, and how to open its backend (closed after its work)."""

    name: str
    card: ModelCard
    open: Callable[[], Backend]


@dataclass(frozen=True)
class TaskSampling:
    """One task's problems to sample on a split; ``label`` names it in progress lines."""

    task: Task
    label: str
    problems: tuple[Problem, ...]


@dataclass(frozen=True)
class Split:
    """One split sampled into a run of its own: the first split of a plan is scored, the others calibrate."""

    run: str
    split: str
    tasks: tuple[TaskSampling, ...]


@dataclass(frozen=True)
class Chunking:
    """How many problems one backend call draws.

    ``seconds`` unset: always ``max_problems`` (fast models; also keeps the batches, and so the rounding, of
    earlier runs). Set: the first call draws one problem (or what fills a batched backend) and each next
    call is sized from the measured seconds per problem to take about ``seconds``, at most ``max_problems``:
    a kill loses at most that much work, and progress moves at least that often.
    """

    max_problems: int = 64
    seconds: float | None = None


@dataclass(frozen=True)
class SearchPlan:
    """Live tree searches on one task's problems, with every model."""

    task: Task
    problems: tuple[Problem, ...]
    settings: tuple[SearchSettings, ...]


# A hook that gives a model's learned value scorer (trained on its own calibration samples), or None.
ValueScorers = Callable[[Store, ModelEntry, Backend], ScorerChoice | None]


@dataclass(frozen=True)
class Plan:
    models: tuple[ModelEntry, ...]
    splits: tuple[Split, ...]
    n: int  # samples per problem
    sampling: SamplingConfig
    seed: int
    searches: tuple[SearchPlan, ...] = ()
    techniques: tuple[TechniqueSpec, ...] = ()
    levels: tuple[float, ...] | None = None  # None: chosen from the data
    n_boot: int = 200
    chunking: Chunking = Chunking()
    value_scorers: ValueScorers | None = None

    @property
    def scored(self) -> Split:
        return self.splits[0]

    @property
    def calibration(self) -> tuple[Split, ...]:
        return self.splits[1:]
