"""Running a plan: for each model, open its backend, draw every split's samples into the store,
run the live searches, close it.

Resumable by construction: sampling draws only the (problem, index) keys the
store lacks, and searches read stored results before searching. Units of work
are one model at a time (a loaded model is freed before the next one loads);
where each backend call of its sampling runs is the executor's choice (executors.py).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from ttscale.backends import Backend
from ttscale.pipeline.executors import Executor, LocalExecutor
from ttscale.pipeline.plan import ModelEntry, Plan, Split
from ttscale.progress import AddStep
from ttscale.sampling.draw import SweepStats, sum_stats
from ttscale.store import Store
from ttscale.techniques import PointDetail
from ttscale.techniques.searched import search_points

# (model name, samples just stored): for callers that watch progress (tests that kill a run mid-way).
ChunkHook = Callable[[str, int], None]


@dataclass(frozen=True)
class ModelOutcome:
    """What one model's part of a plan did."""

    entry: ModelEntry
    stats: SweepStats
    searched: tuple[PointDetail, ...]
    search_seconds: float  # live searches, value scorers included


def _with_hook(advance: Callable[[int], None], hook: ChunkHook | None, model: str) -> Callable[[int], None]:
    if hook is None:
        return advance

    def both(count: int) -> None:
        advance(count)
        hook(model, count)

    return both


def sample_split(plan: Plan, split: Split, entry: ModelEntry, backend: Backend, store: Store, add_step: AddStep,
                 hook: ChunkHook | None, executor: Executor) -> SweepStats:
    parts = []
    variant = entry.variant
    if variant is not None and split is not plan.scored:
        return sum_stats(parts)
    n = plan.n if variant is None else variant.n
    for sampling in split.tasks:
        if variant is not None and sampling.task.name != variant.task:
            continue
        label = "sample" if split is plan.scored else f"sample {split.split}"
        advance = add_step(f"{label} {entry.name} {sampling.label}", len(sampling.problems) * n)
        parts.append(executor.draw(store, split.run, entry, backend, sampling.task, sampling.problems, n,
                                   plan.sampling, plan.seed, plan.chunking, _with_hook(advance, hook, entry.name)))
    return sum_stats(parts)


def run_plan(plan: Plan, store: Store, add_step: AddStep, hook: ChunkHook | None = None,
             executor: Executor | None = None) -> tuple[ModelOutcome, ...]:
    """Sample and search every model of the plan (see the module docstring); the samples' backend calls run
    where ``executor`` puts them (default: here)."""
    executor = executor if executor is not None else LocalExecutor()
    searched_models = len(plan.own_models)
    search_steps = [add_step(f"tree search {search.task.name}", len(search.problems) * len(search.settings)
                             * searched_models) for search in plan.searches]
    outcomes = []
    for entry in plan.models:
        store.put_model(entry.card)
        backend = entry.open()
        try:
            stats = sum_stats([sample_split(plan, split, entry, backend, store, add_step, hook, executor)
                               for split in plan.splits])
            started = time.perf_counter()
            scorers = {}
            if plan.value_scorers is not None and plan.searches and entry.variant is None:
                found = plan.value_scorers(store, entry, backend)
                scorers = {entry.name: found} if found is not None else {}
            searched: list[PointDetail] = []
            for search, advance in zip(plan.searches if entry.variant is None else (), search_steps):
                searched += search_points([backend], search.task, search.problems, search.settings,
                                          value_scorers=scorers, results=store.search_results, run_seed=plan.seed,
                                          n_boot=plan.n_boot, progress=advance)
            search_seconds = time.perf_counter() - started
        finally:
            executor.done_with(entry)
            backend.close()
        outcomes.append(ModelOutcome(entry, stats, tuple(searched), search_seconds))
    return tuple(outcomes)


def searched_details(outcomes: Sequence[ModelOutcome]) -> list[PointDetail]:
    """Every model's search points, models in order of training compute (then name)."""
    ordered = sorted(outcomes, key=lambda o: (float(o.entry.card.train_flops or 0.0), o.entry.name))
    return [detail for outcome in ordered for detail in outcome.searched]
