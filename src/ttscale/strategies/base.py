"""What every strategy is: typed settings, and a replay mode, a live mode, or both.

A strategy turns a budget into one answer per problem. It declares:

- ``settings_type``: a frozen, typed settings model (``ttscale.settings``),
  validated on construction; errors name the strategy, the parameter and the value;
- ``modes``: ``replay`` — evaluated from stored pools, exactly or averaged over
  random orders, with no new generation (``replay(cells, settings, calibration,
  seed) -> Evaluation``); ``live`` — run on backends, drawing what it decides to
  draw (``live(context, problems, settings) -> [LiveAnswer]``).

Live strategies never construct a backend: they draw samples through the
context's ``SampleSource`` (sample i of a problem has the sweep's seed i, so a
live answer equals the replay of a stored pool read in the same order), or, for
tree search, extend prefixes on the context's backends. ``summarize`` turns an
``Evaluation`` into a point's numbers with a bootstrap CI over problems.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Protocol

import numpy as np

from ttscale import estimators
from ttscale.backends import Backend
from ttscale.errors import InputError
from ttscale.sampling.pools import Pool
from ttscale.settings import TypedSettings
from ttscale.specs import format_spec, parse_spec
from ttscale.store import SearchResults
from ttscale.strategies.step_scorers import ScorerChoice
from ttscale.types import ModelCard, Problem, Sample, Task, stable_hash

REPLAY, LIVE = "replay", "live"


@dataclass(frozen=True)
class Evaluation:
    """One strategy at one setting over a set of problems, per problem."""

    performance: np.ndarray  # expected score in [0, 1]
    infer_flops: np.ndarray  # expected inference FLOPs: every model, verifier and scorer
    infer_seconds: np.ndarray  # expected measured seconds
    # expected weight bytes read, one sequence at a time (Pool.inference_bytes); NaN where not counted
    infer_bytes: np.ndarray
    draws: np.ndarray  # expected samples drawn (all models together)
    extra_train_flops: float = 0.0  # spent before deployment, e.g. training a learned verifier
    notes: Mapping[str, float] = field(default_factory=dict)  # e.g. chosen threshold, escalation rate


@dataclass(frozen=True)
class LiveAnswer:
    """One problem answered live: the answer, its verdict, what it drew and what that cost."""

    problem_id: str
    answer: str | None
    correct: bool
    draws: float  # samples (or steps) the strategy consumed
    infer_flops: float
    seconds: float
    samples: tuple[Sample, ...] = ()  # every generated sample, as a sweep would store them
    notes: Mapping[str, float] = field(default_factory=dict)


class SampleSource(Protocol):
    """Samples of a problem from one of the strategy's models, by index.

    Sample i carries the sweep's seed for index i, so a source that generates
    and a source that reads a stored pool give the same samples.
    """

    @property
    def n_models(self) -> int: ...

    def model(self, index: int) -> ModelCard: ...

    def draw(self, model: int, problem: Problem, indices: Sequence[int]) -> list[Sample]: ...


@dataclass(frozen=True)
class LiveContext:
    """What a live strategy may use: the task, samples by index, backends, a place to keep results."""

    task: Task
    samples: SampleSource | None = None
    backends: Sequence[Backend] = ()
    run_seed: int = 0
    results: SearchResults | None = None  # tree search: per-problem results, so a killed run resumes
    value_scorers: Mapping[str, ScorerChoice] = field(default_factory=dict)  # model name -> learned value
    progress: Callable[[int], None] | None = None  # called with the number of problems just answered


BOTH_MODES = frozenset({REPLAY, LIVE})


@dataclass(frozen=True)
class StrategyTraits:
    """What a strategy declares about itself: what the registry lists, what callers check
    before running it (how many models, a verifier, which modes) and its settings' type."""

    description: str
    settings_type: type[TypedSettings]
    n_models: int | None = 1  # 1; 2 for (small, large) cascades; None for any number >= 2
    uses_verifier: bool = False
    modes: frozenset[str] = BOTH_MODES
    # Parameters that count samples per problem and model: a replay cannot draw more than the pools hold,
    # so a sweep checks them against --n before anything is sampled.
    pool_params: tuple[str, ...] = ("k",)
    uses_logprobs: bool = False  # reads the samples' log-probabilities (a backend may not give them)


class Strategy(Protocol):
    name: str
    traits: StrategyTraits

    def needs_calibration(self, settings: TypedSettings) -> bool:
        """Whether these settings choose something on calibration pools (so replay needs them)."""
        ...

    def replay(
        self,
        cells: Sequence[Sequence[Pool]],
        settings: TypedSettings,
        calibration: Sequence[Sequence[Pool]] | None,
        seed: int,
    ) -> Evaluation: ...

    def live(self, context: LiveContext, problems: Sequence[Problem], settings: TypedSettings) -> list[LiveAnswer]: ...


@dataclass(frozen=True)
class StrategyResult:
    """An evaluation summarised over problems (means, bootstrap CI)."""

    strategy: str  # canonical spec, e.g. "adaptive-vote:cap=32,conf=0.95"
    settings: Mapping[str, float]
    performance: float
    ci_low: float
    ci_high: float
    infer_flops: float  # mean per problem
    infer_seconds: float  # mean per problem
    infer_bytes: float  # mean per problem; NaN where not counted
    mean_draws: float
    extra_train_flops: float
    notes: Mapping[str, float]

    @property
    def k(self) -> int:
        """The uniform budget, or the cap, or the rounded mean number of draws."""
        for name in ("k", "cap"):
            if name in self.settings:
                return int(self.settings[name])
        return int(round(self.mean_draws))


def spec_of(name: str, settings: TypedSettings) -> str:
    """The canonical ``NAME:param=value,...`` of a strategy at these settings."""
    return format_spec(name, settings.numbers())


def summarize(name: str, settings: TypedSettings, evaluation: Evaluation, n_boot: int = 500,
              seed: int = 0) -> StrategyResult:
    low, high = estimators.bootstrap_ci(evaluation.performance, n_boot=n_boot, seed=seed)
    return StrategyResult(
        strategy=spec_of(name, settings),
        settings=settings.numbers(),
        performance=float(np.mean(evaluation.performance)),
        ci_low=float(low),
        ci_high=float(high),
        infer_flops=float(np.mean(evaluation.infer_flops)),
        infer_seconds=float(np.mean(evaluation.infer_seconds)),
        infer_bytes=float(np.mean(evaluation.infer_bytes)),
        mean_draws=float(np.mean(evaluation.draws)),
        extra_train_flops=float(evaluation.extra_train_flops),
        notes=dict(evaluation.notes),
    )


def evaluation_of(answers: Sequence[LiveAnswer], extra_train_flops: float = 0.0,
                  notes: Mapping[str, float] | None = None) -> Evaluation:
    """Live answers as an evaluation (one row per problem), for points next to the replayed ones."""
    return Evaluation(
        performance=np.array([float(a.correct) for a in answers]),
        infer_flops=np.array([a.infer_flops for a in answers]),
        infer_seconds=np.array([a.seconds for a in answers]),
        # Live strategies count FLOPs and seconds as they go; weight traffic is counted on stored pools only.
        infer_bytes=np.full(len(answers), math.nan),
        draws=np.array([float(a.draws) for a in answers]),
        extra_train_flops=extra_train_flops,
        notes=dict(notes or {}),
    )


def settings_of(strategy: Strategy, raw: Mapping[str, object]) -> TypedSettings:
    """Checked settings of ``strategy`` from raw values (defaults filled in)."""
    return strategy.traits.settings_type.parse(f"strategy {strategy.name!r}", raw)


def parse_strategy_spec(spec: str) -> tuple[str, dict[str, str]]:
    return parse_spec(spec, "--strategy")


def check_mode(strategy: Strategy, mode: str) -> None:
    if mode not in strategy.traits.modes:
        have = " and ".join(sorted(strategy.traits.modes))
        raise InputError(f"strategy {strategy.name!r} has no {mode} mode (it runs {have} only)")


def problem_rng(seed: int, problem_id: str) -> np.random.Generator:
    """A replay's random stream for one problem: the same whatever the other problems evaluated with it."""
    return np.random.default_rng([seed, int(stable_hash(problem_id), 16)])


def random_subsets(n: int, k: int, perms: int, rng: np.random.Generator) -> np.ndarray:
    """(perms, k) indices: each row a uniformly random k-subset of range(n)."""
    # The k smallest of n uniform keys are a uniform k-subset; partitioning is O(n), sorting O(n log n).
    return np.argpartition(rng.random((perms, n)), k - 1, axis=1)[:, :k]


def check_pool_size(name: str, cells: Sequence[Sequence[Pool]], param: str, value: float) -> None:
    """A replay cannot draw more samples per problem than every pool holds."""
    for cell in cells:
        small = min(cell, key=lambda p: p.n)
        if value > small.n:
            raise InputError(f"strategy {name!r}: parameter {param!r} must be <= the pool size of model "
                             f"{small.model!r} on problem {small.problem_id!r} ({small.n} samples), got {value:g}")


def one_model_pools(name: str, cells: Sequence[Sequence[Pool]], param: str, value: float) -> list[Pool]:
    """The pools of a one-model strategy, checked: aligned, and each holding ``value`` samples."""
    check_aligned(name, cells, 1)
    check_pool_size(name, cells, param, value)
    return list(cells[0])


def check_aligned(name: str, cells: Sequence[Sequence[Pool]], n_models: int | None) -> None:
    """Every model's pools must cover the same problems in the same order."""
    if not cells or not cells[0]:
        raise InputError(f"strategy {name!r}: no pools to evaluate")
    if n_models is not None and len(cells) != n_models:
        raise InputError(f"strategy {name!r}: needs {n_models} model(s), got {len(cells)}")
    if n_models is None and len(cells) < 2:
        raise InputError(f"strategy {name!r}: needs at least 2 models, got {len(cells)}")
    ids = [p.problem_id for p in cells[0]]
    for cell in cells[1:]:
        if [p.problem_id for p in cell] != ids:
            raise InputError(
                f"strategy {name!r}: models {cells[0][0].model!r} and {cell[0].model!r} were not sampled on the same problems"
            )


def replayed(pools: Sequence[Pool], performance: np.ndarray, draws: np.ndarray, with_verifier: bool,
             notes: Mapping[str, float] | None = None) -> Evaluation:
    """An evaluation of one model's pools: each problem charged ``draws`` of its pool's mean sample cost."""
    return Evaluation(
        performance=np.asarray(performance, dtype=float),
        infer_flops=np.array([p.inference_flops(d, with_verifier) for p, d in zip(pools, draws)]),
        infer_seconds=np.array([p.inference_seconds(d) for p, d in zip(pools, draws)]),
        infer_bytes=np.array([p.inference_bytes(d) for p, d in zip(pools, draws)]),
        draws=np.asarray(draws, dtype=float),
        notes=dict(notes or {}),
    )


def live_answer(problem: Problem, drawn: Sequence[Sample], answer: str | None, correct: bool, infer_flops: float,
                notes: Mapping[str, float] | None = None) -> LiveAnswer:
    """One problem's live answer, its seconds the drawn samples' own."""
    return LiveAnswer(problem_id=problem.problem_id, answer=answer, correct=bool(correct), draws=len(drawn),
                      infer_flops=infer_flops, seconds=float(sum(s.wall_seconds for s in drawn)),
                      samples=tuple(drawn), notes=dict(notes or {}))


def vote_correct(drawn: Sequence[Sample], answer: str | None) -> bool:
    """A voted answer is correct when any drawn sample with that answer is (``answer_verdicts``' rule)."""
    return answer is not None and any(s.correct for s in drawn if s.answer == answer)


def live_cost(samples: Sequence[Sample], calls: int, with_verifier: bool) -> float:
    """FLOPs of the drawn samples: the prompt prefilled once per backend call when the backend shares
    it (else once per sample), every sample's decode, and the verifier on each when it is used."""
    if not samples:
        return 0.0
    prefills = calls if samples[0].prefill_shared else len(samples)
    verifier = sum(s.verifier_flops for s in samples) if with_verifier else 0.0
    return samples[0].prefill_flops * prefills + sum(s.decode_flops for s in samples) + verifier
