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
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Iterator

import torch

from ttscale import tradeoff
from ttscale.backends.tiny import TinyBackend
from ttscale.lab.lab_tree_search import search_ladder
from ttscale.lab.ladder import (
    LEVELS,
    MIXTURE_WEIGHTS,
    SHORT_NAMES,
    SUMS,
    SUMS_COT,
    TRAIN_MIXTURE,
    LabPreset,
    mixture_key,
)
from ttscale.lab.ladder_training import train_rungs
from ttscale.lab.model import TinyGPT
from ttscale.sampling.pools import pools_from_samples
from ttscale.progress import steps
from ttscale.store import Store
from ttscale.sampling.draw import run_sweep
from ttscale.tasks import get_task
from ttscale.techniques import PointDetail, technique_points
from ttscale.tradeoff.uncertainty import problem_scores_of
from ttscale.types import ModelCard, Task


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
    sample_seconds: float
    search_seconds: float  # tree search, value models included
    samples_generated: int
    samples_total: int


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


@dataclass(frozen=True)
class SplitSweep:
    """One split to sample: into which run, for which tasks, how many problems."""

    run: str
    split: str
    tasks: tuple[str, ...]
    n_problems: int


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


def split_sweeps(preset: LabPreset, run: str) -> tuple[SplitSweep, ...]:
    sweeps = [SplitSweep(run, "test", TRAIN_MIXTURE, preset.n_problems)]
    if preset.n_calibration_problems > 0:
        sweeps.append(SplitSweep(calibration_run_name(run), "calib", CALIBRATION_TASKS, preset.n_calibration_problems))
    return tuple(sweeps)


def ladder_documents(seed: int, mixture: tuple[str, ...] = TRAIN_MIXTURE,
                     weights: tuple[float, ...] = MIXTURE_WEIGHTS) -> Iterator[str]:
    """The ladder's training stream (module-level, so a training worker process can rebuild it)."""
    return mixture_documents([get_task(spec) for spec in mixture], seed, weights=weights)


def train_ladder(preset: LabPreset, seed: int, cache_dir: Path, add_bar, store: Store) -> tuple[dict, dict, dict, float]:
    started = time.perf_counter()
    trained = train_rungs(preset.rungs, seed, functools.partial(ladder_documents, seed), mixture_key(),
                          cache_dir, preset.batch_size, add_bar, hyper=preset.hyper)
    models: dict[str, TinyGPT] = {name: r.model for name, r in trained.items()}
    cards: dict[str, ModelCard] = {name: r.card for name, r in trained.items()}
    rates: dict[str, float] = {name: r.achieved_flops_per_second for name, r in trained.items()}
    for card in cards.values():
        store.put_model(card)
    return models, cards, rates, time.perf_counter() - started


def sample_ladder(preset: LabPreset, seed: int, run: str, models, cards, add_bar, store: Store) -> tuple[int, int, float]:
    """Sample every split of ``split_sweeps`` (test, then calibration) into the store."""
    started = time.perf_counter()
    generated = total = 0
    for sweep in split_sweeps(preset, run):
        label = "sample" if sweep.split == "test" else f"sample {sweep.split}"
        for name, model in models.items():
            backend = TinyBackend(name=name, card=cards[name], model=model)
            for spec in sweep.tasks:
                task = get_task(spec)
                problems = task.problems(sweep.n_problems, seed, sweep.split)
                advance = add_bar(f"{label} {name} {SHORT_NAMES[spec]}", sweep.n_problems * preset.n_samples)
                stats = run_sweep(
                    store, sweep.run, backend, task, problems, preset.n_samples, preset.sampling, seed, progress=advance
                )
                generated += stats.generated
                total += stats.planned
    return generated, total, time.perf_counter() - started


def analyse_run(preset: LabPreset, run: str, store: Store, cards: dict[str, ModelCard], seed: int,
                searched: list[PointDetail] = ()):
    """Points of every technique, scored on the test run; calibration pools go to
    the strategies that choose a threshold (and only to them). ``searched``:
    the tree-search points (run live, see ``lab_tree_search``)."""
    pools = pools_from_samples(store.samples(run))
    calibration = pools_from_samples(store.samples(calibration_run_name(run)))
    details: list[PointDetail] = list(searched)
    for spec in preset.techniques():
        details.extend(
            technique_points(spec, pools, cards, n_boot=preset.n_boot, seed=seed, calibration=calibration or None)
        )
    result = tradeoff.analyse([d.point for d in details], levels=list(LEVELS), n_boot=preset.n_boot, seed=seed,
                              problem_scores=problem_scores_of(details))
    return pools, details, result


def run_lab(
    preset: LabPreset,
    out_dir: Path,
    seed: int,
    cache_dir: Path,
    threads: int | None = None,
    console=None,
    show_progress: bool = True,
) -> LabOutcome:
    from ttscale.report.lab_report import write_lab_report

    started = time.perf_counter()
    if threads:
        torch.set_num_threads(threads)
    out_dir.mkdir(parents=True, exist_ok=True)
    run = run_name(preset, seed)
    with Store(out_dir / "store.sqlite") as store:
        store.start_run(run, preset.plan(seed))
        if preset.n_calibration_problems > 0:
            store.start_run(calibration_run_name(run), calibration_plan(preset, seed))
        with steps(console, enabled=show_progress) as add_bar:
            models, cards, rates, train_s = train_ladder(preset, seed, cache_dir, add_bar, store)
            generated, total, sample_s = sample_ladder(preset, seed, run, models, cards, add_bar, store)
            started_search = time.perf_counter()
            searched = search_ladder(preset, seed, run, models, cards, store, cache_dir, add_bar)
            search_s = time.perf_counter() - started_search
        pools, details, result = analyse_run(preset, run, store, cards, seed, searched)
        store.finish_run(run)
        if preset.n_calibration_problems > 0:
            store.finish_run(calibration_run_name(run))
    outcome = LabOutcome(
        out_dir=out_dir,
        run=run,
        cards=cards,
        train_flops_per_second=rates,
        details=details,
        result=result,
        wall_seconds=time.perf_counter() - started,
        train_seconds=train_s,
        sample_seconds=sample_s,
        search_seconds=search_s,
        samples_generated=generated,
        samples_total=total,
    )
    write_lab_report(outcome, preset, pools)
    return outcome
