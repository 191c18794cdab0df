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
from typing import ClassVar

from ttscale.backends import Backend
from ttscale.store import Store
from ttscale.strategies.step_scorers import ScorerChoice
from ttscale.strategies.tree_search import SearchSettings
from ttscale.techniques import TechniqueSpec
from ttscale.types import ModelCard, Problem, SamplingConfig, Task


@dataclass(frozen=True)
class VariantSampling:
    """Where a derived model (quantized, pruned, distilled, with an early exit) is sampled: only the scored
    split's ``task``, ``n`` samples per problem, never searched. Its technique rows read it there; the
    plan's other techniques never see it."""

    task: str
    n: int


@dataclass(frozen=True)
class ModelEntry:
    """One model: its name in the store, its card, and how to open its backend (closed after its work).

    ``variant`` None: a model of the plan in full (every split, every task, every search). ``reopen``: how a
    worker in another process or on another machine opens the same model (picklable, e.g. a
    ``functools.partial`` of ``backend_from_spec``); None: it can be opened only here."""

    name: str
    card: ModelCard
    open: Callable[[], Backend]
    variant: VariantSampling | None = None
    reopen: Callable[[], Backend] | None = None


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
    """How much one backend call draws.

    ``seconds`` unset: always ``max_problems`` whole problems (fast models; also keeps the batches, and so
    the rounding, of earlier runs). Set: calls are sized in samples so that each takes about ``seconds``
    of wall time, whatever the machine's speed: the first call draws one sample (nothing is measured
    yet; a first call that filled llama.cpp's batch took 6 minutes on a loaded machine), and each next
    call as many as the last call's seconds per sample allow, at most ``GROWTH`` times the last call's
    samples (a sample that stopped at once says little about the next ones) and at most
    ``max_problems`` problems' worth. Whole problems are kept together while they fit. So a kill loses
    about ``seconds`` of work at most, and progress moves that often; a streaming backend's samples are
    stored as each finishes, so only when one sample alone takes longer than ``seconds`` is more lost.
    """

    max_problems: int = 64
    seconds: float | None = None

    GROWTH: ClassVar[int] = 2
    FIRST_SAMPLES: ClassVar[int] = 1

    def next_samples(self, drawn: int, seconds_per_sample: float, n: int) -> int:
        """Samples of the next call, after one that drew ``drawn`` at ``seconds_per_sample`` (n per problem)."""
        ceiling = min(self.max_problems * n, self.GROWTH * max(1, drawn))
        if self.seconds is None or seconds_per_sample <= 0:
            return ceiling
        return max(1, min(ceiling, int(self.seconds / seconds_per_sample)))


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
    def own_models(self) -> tuple[str, ...]:
        """The models read by techniques that name none: every model that is not a variant."""
        return tuple(entry.name for entry in self.models if entry.variant is None)

    @property
    def scored(self) -> Split:
        return self.splits[0]

    @property
    def calibration(self) -> tuple[Split, ...]:
        return self.splits[1:]
