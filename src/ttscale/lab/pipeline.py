"""``ttscale lab``: train a ladder -> sample pools -> estimate -> tradeoff -> report.

Each step is resumable: checkpoints are cached by config hash, samples live in
the run's SQLite store (only missing keys are generated), and the analysis is
recomputed from the store, so a killed lab re-run picks up where it stopped.

Two splits are sampled: "test" (every task; every point is scored there) and
"calib" (the tasks cascades run on), stored as a run of its own,
``"{run}/calib"``, so a strategy that chooses a threshold chooses it on
problems that are never scored.
"""

from __future__ import annotations

import functools
import itertools
import random
import re
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Iterator, Sequence

import torch

from ttscale.backends import Backend
from ttscale.backends.threads import ThreadChoice, choose_threads
from ttscale.backends.tiny import TinyBackend
from ttscale.lab.ladder import (LEVELS, MIXTURE_WEIGHTS, SHORT_NAMES, SUMS, SUMS_COT, TRAIN_MIXTURE, SUMS_COT as
                                SEARCH_TASK, LabPreset, mixture_key)
from ttscale.errors import InputError
from ttscale.lab.ladder_training import train_rungs
from ttscale.tiny.model import TinyGPT
from ttscale.lab.value_calibration import train_value_models
from ttscale.lab.compression import TECHNIQUES, Making, Variant, make_variants
from ttscale.lab.lab_techniques import compression_techniques
from ttscale.pipeline import (Chunking, ModelEntry, Plan, SearchPlan, Split, TaskSampling, VariantSampling,
                              analyse_plan, run_plan, searched_details)
from ttscale.pipeline.executors import Executor, LocalExecutor, SpreadingExecutor
from ttscale.progress import steps
from ttscale.store import Store
from ttscale.strategies.step_scorers import ScorerChoice, ValueScorer
from ttscale.strategies.tree_search import default_search_settings
from ttscale.tasks import get_task
from ttscale.techniques import PointDetail, TechniqueSpec
from ttscale.types import ModelCard, Problem, Task


@dataclass(frozen=True)
class LabOutcome:
    out_dir: Path
    run: str
    cards: dict[str, ModelCard]
    train_flops_per_second: dict[str, float]  # measured when the model was trained
    details: list[PointDetail]
    result: dict
    wall_seconds: float
    train_seconds: float
    compress_seconds: float  # making the compression variants (training included; cached ones load)
    variants: tuple[Variant, ...]
    techniques: tuple[TechniqueSpec, ...]  # the replayed rows, compression rows included
    sample_seconds: float
    search_seconds: float  # tree search, value models included
    samples_generated: int
    samples_total: int
    threads: ThreadChoice  # torch's threads for sampling and search, and how they were chosen


def mixture_documents(tasks: list[Task], seed: int, chunk: int = 256,
                      weights: tuple[float, ...] | None = None) -> Iterator[str]:
    """An endless, seeded stream of training demonstrations from every task:
    ``chunk · weight`` documents of each task per shuffled block (weights 1 by default)."""
    rng = random.Random(seed)
    counts = [chunk] * len(tasks) if weights is None else [max(1, round(chunk * w)) for w in weights]
    for epoch in itertools.count():
        batch: list[str] = []
        for offset, (task, count) in enumerate(zip(tasks, counts)):
            batch.extend(task.demonstrations(count, seed * 1_000_003 + epoch * 101 + offset))
        rng.shuffle(batch)
        yield from batch


# The tasks whose calibration split is sampled: those cascades run on in the
# lab (answer-only sums and scratchpad sums). Factoring is left out to keep the
# lab's sampling time down (no lab model solves a fifth of it); add it here to
# get verifier cascades there (a strategy needing calibration is skipped on a
# task without calibration pools, even with a fixed threshold).
CALIBRATION_TASKS = (SUMS, SUMS_COT)
# Samples per calibration problem for the value models: many problems, few
# samples each (the value model must see many digit combinations).
VALUE_SAMPLES_PER_PROBLEM = 4
# Activation-aware pruning scores neurons on the ladder's mixture under another seed: text it never trained on.
COMPRESSION_CALIBRATION_SEED = 7_919


def run_name(preset: LabPreset, seed: int) -> str:
    return f"lab-{preset.name}-seed{seed}"


def calibration_run_name(run: str) -> str:
    return f"{run}/calib"


def calibration_plan(preset: LabPreset, seed: int) -> dict:
    """The calibration run's identity: the lab's plan plus what its own samples depend on."""
    return {
        "of": preset.plan(seed),
        "split": "calib",
        "n_problems": preset.n_calibration_problems,
        "tasks": list(CALIBRATION_TASKS),
    }


def ladder_documents(seed: int, mixture: tuple[str, ...] = TRAIN_MIXTURE,
                     weights: tuple[float, ...] = MIXTURE_WEIGHTS) -> Iterator[str]:
    """The ladder's training stream (module-level, so a training worker process can rebuild it)."""
    return mixture_documents([get_task(spec) for spec in mixture], seed, weights=weights)


def train_ladder(preset: LabPreset, seed: int, cache_dir: Path, add_bar, executor: Executor | None = None
                 ) -> tuple[dict, dict, dict, float]:
    """The ladder's rungs, trained (uncached ones: in local processes, or as tasks of a spreading executor)."""
    started = time.perf_counter()
    trained = train_rungs(preset.rungs, seed, functools.partial(ladder_documents, seed), mixture_key(),
                          cache_dir, preset.batch_size, add_bar, hyper=preset.hyper,
                          spread=executor.spread if isinstance(executor, SpreadingExecutor) else None)
    models: dict[str, TinyGPT] = {name: r.model for name, r in trained.items()}
    cards: dict[str, ModelCard] = {name: r.card for name, r in trained.items()}
    rates: dict[str, float] = {name: r.achieved_flops_per_second for name, r in trained.items()}
    return models, cards, rates, time.perf_counter() - started


def _problems(spec: str, count: int, seed: int, split: str) -> tuple[Problem, ...]:
    return tuple(get_task(spec).problems(count, seed, split))


def _value_scorers(preset: LabPreset, seed: int, run: str, cache_dir: Path):
    """The hook that trains each model's value model on its calib samples (presets that ask for one)."""
    task = get_task(SEARCH_TASK)
    test_ids = {p.problem_id for p in task.problems(preset.n_problems, seed, "test")}
    test_ids |= {p.problem_id for p in task.problems(preset.n_search_problems, seed, "test")}

    def train(store: Store, entry: ModelEntry, backend: TinyBackend) -> ScorerChoice | None:
        value = train_value_models(store, run, {entry.name: backend.model}, {entry.name: entry.card}, task, test_ids,
                                   seed=seed, cache_dir=cache_dir / "value-models",
                                   n_problems=preset.value_calibration_problems,
                                   n_samples=VALUE_SAMPLES_PER_PROBLEM)[entry.name]
        return ScorerChoice(ValueScorer(value.model, value.key, label=value.label), float(value.total_train_flops))

    return train


def lab_plan(preset: LabPreset, seed: int, cards: dict[str, ModelCard], open_backend: Callable[[str], Backend],
             cache_dir: Path, variants: Sequence[Variant] = (), reopenable: bool = False) -> Plan:
    """The ladder as a plan: every task form on test, the sums on calib, the scratchpad searched live; the
    compression ``variants`` sampled on the scratchpad sums only, each read by its technique's row.

    ``open_backend(name)`` gives a model's backend (the trained TinyGPT, in the lab); ``reopenable``: it can be
    pickled to a Ray worker, which opens the same model there (``ModelEntry.reopen``).
    """
    run = run_name(preset, seed)
    splits = [Split(run, "test", tuple(TaskSampling(get_task(spec), SHORT_NAMES[spec],
                                                    _problems(spec, preset.n_problems, seed, "test"))
                                       for spec in TRAIN_MIXTURE))]
    if preset.n_calibration_problems > 0:
        splits.append(Split(calibration_run_name(run), "calib", tuple(
            TaskSampling(get_task(spec), SHORT_NAMES[spec],
                         _problems(spec, preset.n_calibration_problems, seed, "calib"))
            for spec in CALIBRATION_TASKS)))
    searches: tuple[SearchPlan, ...] = ()
    values = preset.value_calibration_problems > 0
    if preset.n_search_problems > 0:
        scorers = ("logprob", "value") if values else ("logprob",)
        searches = (SearchPlan(get_task(SEARCH_TASK), _problems(SEARCH_TASK, preset.n_search_problems, seed, "test"),
                               default_search_settings(scorers)),)
    entries = tuple(ModelEntry(name, card, functools.partial(open_backend, name),
                               reopen=functools.partial(open_backend, name) if reopenable else None)
                    for name, card in cards.items())
    techniques = preset.techniques()
    if variants and preset.compression is not None:
        sampled = VariantSampling(get_task(SUMS_COT).name, preset.compression.n_samples)
        entries += tuple(ModelEntry(v.card.name, v.card, v.open, sampled, reopen=v.open if reopenable else None)
                         for v in variants)
        by_technique = {t: tuple(v.card.name for v in variants if v.technique == t) for t in TECHNIQUES}
        techniques += compression_techniques(tuple(cards), by_technique, preset.compression.n_samples)
    return Plan(entries, tuple(splits), preset.n_samples, preset.sampling, seed, searches, techniques,
                LEVELS, preset.n_boot, Chunking(max_problems=64),
                _value_scorers(preset, seed, run, cache_dir) if values and searches else None)


def _ladder_backend(cards: dict[str, ModelCard], models: dict[str, TinyGPT], name: str) -> TinyBackend:
    """A trained rung's backend (module-level: a Ray worker unpickles it with the rung's weights)."""
    return TinyBackend(name=name, card=cards[name], model=models[name])


def start_lab_run(store: Store, out_dir: Path, run: str, plan: dict) -> None:
    """A lab's --out holds one lab run: another preset or seed there would mix two runs in the store and
    overwrite the first one's report, so it is refused (as a changed plan of the same run is)."""
    # Lab runs are named by run_name; their calibration runs carry a suffix and are not counted.
    others = [r["run"] for r in store.runs() if r["run"] != run and re.fullmatch(r"lab-.+-seed\d+", r["run"])]
    if others:
        raise InputError(f"--out {str(out_dir)!r}: holds the lab run {others[0]!r} (another --preset or --seed); "
                         f"use another --out for {run!r}")
    try:
        store.start_run(run, plan)
    except InputError as exc:
        raise InputError(f"--out {str(out_dir)!r}: {exc}; use another --out") from None


def run_lab(
    preset: LabPreset,
    out_dir: Path,
    seed: int,
    cache_dir: Path,
    threads: int | None = None,
    console=None,
    show_progress: bool = True,
    executor: Executor | None = None,
) -> LabOutcome:
    """The whole lab (see the module docstring); ``threads`` None: sized to the free cores (``choose_threads``);
    ``executor``: where the sampling's backend calls run (default: here; the ladder trains here either way)."""
    started = time.perf_counter()
    # Chosen before training starts its worker processes, so they are not counted as others' load.
    choice = choose_threads(threads)
    previous_threads = torch.get_num_threads()
    torch.set_num_threads(choice.threads)
    try:
        outcome = _run_lab(preset, out_dir, seed, cache_dir, choice, console, show_progress, started,
                           executor or LocalExecutor())
    finally:
        torch.set_num_threads(previous_threads)
    return outcome


def _run_lab(preset: LabPreset, out_dir: Path, seed: int, cache_dir: Path, choice: ThreadChoice, console,
             show_progress: bool, started: float, executor: Executor) -> LabOutcome:
    from ttscale.report.lab_report import write_lab_report

    out_dir.mkdir(parents=True, exist_ok=True)
    run = run_name(preset, seed)
    with Store(out_dir / "store.sqlite") as store:
        start_lab_run(store, out_dir, run, preset.plan(seed))
        if preset.n_calibration_problems > 0:
            store.start_run(calibration_run_name(run), calibration_plan(preset, seed))
        with steps(console, enabled=show_progress) as add_bar:
            models, cards, rates, train_s = train_ladder(preset, seed, cache_dir, add_bar, executor)
            variants, compress_s = [], 0.0
            if preset.compression is not None:
                making = Making(models, cards, functools.partial(ladder_documents, seed),
                                functools.partial(ladder_documents, seed + COMPRESSION_CALIBRATION_SEED), seed,
                                cache_dir, preset.batch_size, preset.hyper)
                variants, compress_s = make_variants(making, preset.compression, add_bar)
            plan = lab_plan(preset, seed, cards, functools.partial(_ladder_backend, cards, models), cache_dir,
                            variants, reopenable=executor.name != "local")
            outcomes = run_plan(plan, store, add_bar, executor=executor)
            analysis = analyse_plan(plan, store, searched_details(outcomes), add_bar)
        store.finish_run(run)
        if preset.n_calibration_problems > 0:
            store.finish_run(calibration_run_name(run))
    outcome = LabOutcome(
        out_dir=out_dir,
        run=run,
        cards=cards,
        train_flops_per_second=rates,
        details=list(analysis.details),
        result=analysis.result,
        wall_seconds=time.perf_counter() - started,
        train_seconds=train_s,
        compress_seconds=compress_s,
        variants=tuple(variants),
        techniques=plan.techniques,
        sample_seconds=sum(o.stats.wall_seconds for o in outcomes),
        search_seconds=sum(o.search_seconds for o in outcomes),
        samples_generated=sum(o.stats.generated for o in outcomes),
        samples_total=sum(o.stats.planned for o in outcomes),
        threads=choice,
    )
    with steps(console, enabled=show_progress) as add_step:
        written = add_step("report", 1)
        write_lab_report(outcome, preset, analysis.pools)
        written(1)
    return outcome
