"""``ttscale sweep``: several models x one task -> pools in a store -> curves and the tradeoff.

For each model spec (``backend_from_spec``), ``n`` samples for each of the
task's first ``limit`` test problems are drawn with ``run_sweep`` into
``OUT/store.sqlite``, under one run whose name comes from the task, the
sampling config and the seed. The run's plan (task and its file fingerprint,
sampling, seed, n, problem count) is checked by ``Store.start_run``, so a
re-run with other settings into the same directory is refused rather than
mixed in. Models are *not* part of the plan: a sweep may grow by models. A
killed sweep re-run continues where it stopped; a finished one makes no
backend call and only re-writes the report.

Every setting is checked before anything is loaded or sampled, so a typo in a
strategy or a bad ``--n`` fails at once with the option's name.
"""

from __future__ import annotations

import dataclasses
import functools
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from ttscale.backends import Backend
from ttscale.backends.chat_posing import PromptStyle
from ttscale.backends.openai_spec import SPEC_PREFIX as OPENAI_PREFIX
from ttscale.backends.registry import backend_from_spec
from ttscale.backends.threads import MAX_AUTO_THREADS, ThreadChoice, choose_threads
from ttscale.errors import InputError, TtscaleError
from ttscale.pipeline import (
    Chunking,
    ModelEntry,
    Plan,
    SearchPlan,
    Split,
    TaskSampling,
    analyse_plan,
    run_plan,
)
from ttscale.pipeline.analysis import Analysis
from ttscale.pipeline.execute import ChunkHook
from ttscale.pipeline.executor_choice import executor_named
from ttscale.pipeline.executors import Executor
from ttscale.progress import steps
from ttscale.report.json_out import check_folder_target
from ttscale.sampling.draw import SweepStats, sum_stats
from ttscale.store import Store
from ttscale.strategies import REPLAY, resolve
from ttscale.strategies.tree_search import SearchSettings
from ttscale.sweep_analysis import sweep_techniques
from ttscale.sweep_checks import check_model_groups, check_settings, start_run
from ttscale.sweep_settings import SweepSettings
from ttscale.tasks import get_task
from ttscale.techniques import PointDetail, TechniqueSpec
from ttscale.types import ModelCard, Problem, SamplingConfig, Task


@dataclass(frozen=True)
class ModelRun:
    spec: str
    name: str
    card: ModelCard
    stats: SweepStats
    searched: tuple[PointDetail, ...] = ()  # tree-search points (live, not replayed from the pools)
    server: dict | None = None  # an openai: backend's requests, failures and concurrency (``server_record``)


@dataclass(frozen=True)
class SweepRun:
    out_dir: Path
    run: str
    task: Task
    problems: tuple[Problem, ...]
    settings: SweepSettings
    models: tuple[ModelRun, ...]
    notes: tuple[str, ...]
    wall_seconds: float
    plan: Plan
    threads: ThreadChoice  # CPU threads of the in-process models, and how they were chosen

    @property
    def techniques(self) -> tuple[TechniqueSpec, ...]:
        return self.plan.techniques

    @property
    def stats(self) -> dict:
        """Totals over models; ``overhead_share``: sampling wall time spent neither in the
        backend nor in grading (which includes sandbox runs and the store writes)."""
        total = dataclasses.asdict(sum_stats([m.stats for m in self.models]))
        busy = total["backend_seconds"] + total["grading_seconds"]
        wall = total["wall_seconds"]
        # A finished sweep re-run only reads the store: its "overhead" says nothing.
        total["overhead_share"] = max(0.0, 1.0 - busy / wall) if total["generated"] and wall > 0 else None
        return total


def run_name(task_name: str, config: SamplingConfig, seed: int, prompt: PromptStyle = PromptStyle.raw) -> str:
    """The run's name in the store; chat-posed samples are a run of their own."""
    base = f"sweep:{task_name}:{config.key}:seed{seed}"
    return base if prompt is PromptStyle.raw else f"{base}:{prompt.value}"


def split_strategies(settings: SweepSettings) -> tuple[list[SearchSettings], list[str]]:
    """The ``--strategy`` specs split: the live-only ones (tree searches, parsed) and the ones
    replayed from the stored pools (as given)."""
    searches, replayed = [], []
    for spec in settings.strategies:
        strategy, values = resolve(spec)
        if REPLAY in strategy.traits.modes:
            replayed.append(spec)
        else:
            searches.append(values)
    return searches, replayed


def choose_problems(settings: SweepSettings, task: Task) -> tuple[list[Problem], list[str]]:
    notes: list[str] = []
    available = task.split_size("test")
    count = settings.limit or available
    if count > available:
        notes.append(f"--limit {count} is more than the {available} test problems of the task; all {available} used")
        count = available
    try:
        return task.problems(count, settings.seed, "test"), notes
    except InputError as exc:
        if settings.limit is not None:
            raise InputError(f"--limit {settings.limit}: {exc}") from None
        # A generated task's split can be far larger than one run can draw: ask for a number.
        raise InputError(f"--limit: task {task.name!r} has {available} test problems, more than a sweep draws at "
                         f"once; give --limit K (e.g. --limit 100)") from None


def choose_calibration(settings: SweepSettings, task: Task) -> list[Problem]:
    """``--calibration K``: K problems of the task's calibration split (hash-disjoint from test), chosen by --seed."""
    if not settings.calibration:
        return []
    try:
        available = task.split_size("calib")
    except InputError as exc:
        raise InputError(f"--calibration {settings.calibration}: {exc}") from None
    if available < settings.calibration:
        raise InputError(f"--calibration {settings.calibration}: task {task.name!r} has {available} calibration "
                         "problems")
    try:
        return task.problems(settings.calibration, settings.seed, "calib")
    except InputError as exc:
        raise InputError(f"--calibration {settings.calibration}: {exc}") from None


def calibration_run(run: str) -> str:
    return f"{run}/calib"


def start_calibration_run(store: Store, run: str, plan: dict) -> None:
    """The calibration problems as a run of their own: the same settings on other problems, under a command of
    its own, so never taken for another sweep. Another --calibration K than the stored one is refused by name."""
    stored = store.get_run(run)
    if stored is not None and stored["plan"].get("problems") != plan["problems"]:
        raise InputError(f"--calibration {plan['problems']}: --out {str(Path(store.path).parent)!r} holds this "
                         f"sweep with --calibration {stored['plan'].get('problems')}; give that, or another --out")
    store.start_run(run, plan)


def sweep_plan(settings: SweepSettings, task: Task, problems: Sequence[Problem]) -> dict:
    """What determines the stored samples, besides the model: the run's identity."""
    config = settings.sampling
    return {
        "command": "ttscale sweep",
        "task": task.name,
        "task_fingerprint": task.fingerprint,
        "sampling": {"temperature": config.temperature, "top_p": config.top_p,
                     "max_new_tokens": config.max_new_tokens},
        "seed": settings.seed,
        "n": settings.n,
        "problems": len(problems),
        # Only a chat-posed run names its style, so stores written before the option still resume.
        **({} if settings.prompt is PromptStyle.raw else {"prompt": settings.prompt.value}),
    }


def given_cards(entries: Sequence[str], models: Sequence[str]) -> dict[str, ModelCard]:
    """``--card MODEL=CARD``: MODEL is a --model spec, or the model name after its '#';
    CARD anything ``ttscale card`` reads (a GGUF, an HF config.json, a YAML card, gemma3-270m)."""
    from ttscale.cards import load_card

    cards: dict[str, ModelCard] = {}
    for entry in entries:
        key, eq, spec = entry.partition("=")
        if not eq or not key or not spec:
            raise InputError(f"--card {entry!r}: expected MODEL=CARD, e.g. gemma=gemma3-270m or gemma=card.yaml")
        matches = [m for m in models if key in (m, m.rpartition("#")[2])]
        if not matches:
            raise InputError(f"--card {entry!r}: {key!r} names none of the --model specs ({', '.join(models)})")
        card = load_card(spec).card
        for model in matches:
            cards[model] = card
    return cards


def open_options(settings: SweepSettings, spec: str, cards: dict[str, ModelCard], threads: ThreadChoice) -> dict:
    """The keywords ``backend_from_spec`` opens ``spec`` with, here or on a Ray worker."""
    options: dict = {"threads": threads.threads}
    if spec.startswith(OPENAI_PREFIX):
        options.update(timeout_s=settings.timeout_s, max_concurrency=settings.concurrency, logprobs=settings.logprobs)
    if settings.prompt is not PromptStyle.raw:  # checked: a kind that poses (sweep_checks)
        options["prompt_style"] = settings.prompt
    if spec in cards:
        options["card"] = cards[spec]
    return options


def load_backends(settings: SweepSettings, threads: ThreadChoice) -> list[tuple[str, Backend]]:
    """Every model loaded before sampling starts, so a bad spec fails before any work; in-process
    models run on ``threads`` (servers are not ours to size)."""
    cards = given_cards(settings.cards, settings.models)
    loaded: list[tuple[str, Backend]] = []
    for spec in settings.models:
        try:
            backend = backend_from_spec(spec, **open_options(settings, spec, cards, threads))
        except InputError as exc:
            raise InputError(f"--model {spec!r}: {str(exc).removeprefix(f'model spec {spec!r}: ')}") from None
        reach = getattr(backend, "check_reachable", None)  # a server: asked once, in seconds, before any work
        if reach is not None:
            try:
                reach()
            except TtscaleError as exc:
                backend.close()
                raise InputError(f"--model {spec!r}: {str(exc).removeprefix(spec + ': ')}") from None
        clash = [s for s, b in loaded if b.name == backend.name]
        if clash:
            raise InputError(f"--model {spec!r} and --model {clash[0]!r} are both named {backend.name!r}; "
                             "give one a distinct name (e.g. tiny:PATH#NAME)")
        loaded.append((spec, backend))
    return loaded


def executor_of(settings: SweepSettings) -> Executor:
    """Where the sweep's backend calls run: here, or on Ray workers (``--executor ray``)."""
    return executor_named(settings.executor, settings.ray_address, settings.max_inflight, settings.threads or 1)


def server_record(backend: Backend) -> dict | None:
    """What a server backend asked of its server — requests, failures, retries' effect on its concurrency
    limit, whether samples carry log-probabilities — or None for an in-process backend."""
    usage = getattr(backend, "usage", None)
    if usage is None:
        return None
    return {**dataclasses.asdict(usage), "max_concurrency": backend.max_concurrency,
            "concurrency_limit": backend.concurrency_limit, "timeout_s": backend.timeout_s,
            "logprobs": backend.gives_logprobs}


def sweep_plan_of(settings: SweepSettings, task: Task, problems: Sequence[Problem],
                  backends: Sequence[tuple[str, Backend]], run: str,
                  calibration: Sequence[Problem] = (), threads: ThreadChoice | None = None) -> Plan:
    """The sweep as a plan: every model on the task's test problems (and on ``calibration`` problems, a run
    of their own that only threshold-choosing strategies read); live searches from --strategy. With
    ``threads``, each model can be reopened on a Ray worker (the spec and the keywords it was opened with)."""
    cards = given_cards(settings.cards, settings.models)
    entries = tuple(ModelEntry(backend.name, backend.card, functools.partial(_opened, backend), reopen=(
        None if threads is None else functools.partial(backend_from_spec, spec, **open_options(settings, spec, cards,
                                                                                               threads))))
        for spec, backend in backends)
    searched, replayed = split_strategies(settings)
    searches = tuple(SearchPlan(task, tuple(problems), (search,)) for search in searched)
    return Plan(
        models=entries,
        splits=(Split(run, "test", (TaskSampling(task, task.name, tuple(problems)),)),) + (
            (Split(calibration_run(run), "calib", (TaskSampling(task, task.name, tuple(calibration)),)),)
            if calibration else ()),
        n=settings.n,
        sampling=settings.sampling,
        seed=settings.seed,
        searches=searches,
        techniques=tuple(sweep_techniques(task.name, settings.n, bool(task.has_verifier), replayed,
                                          logprobs=settings.logprobs)),
        n_boot=settings.n_boot,
        chunking=Chunking(max_problems=settings.max_chunk_problems, seconds=settings.chunk_seconds),
    )


def _opened(backend: Backend) -> Backend:
    return backend  # loaded up front, so a bad spec fails before any work


def run_model_sweep(settings: SweepSettings, out_dir: Path, console=None, show_progress: bool = True,
                    on_chunk: ChunkHook | None = None) -> SweepRun:
    """Sample every model into ``out_dir/store.sqlite`` (resumable); the report is written separately."""
    started = time.perf_counter()
    check_folder_target(out_dir, "--out")
    try:
        task = get_task(settings.task)
    except InputError as exc:
        raise InputError(f"--task {settings.task!r}: {exc}") from None
    check_settings(settings, task)
    problems, notes = choose_problems(settings, task)
    calibration = choose_calibration(settings, task)
    # Automatic: the free cores, at most llama.cpp's own cap (it collapses when oversubscribed).
    threads = choose_threads(settings.threads, cap=MAX_AUTO_THREADS)
    executor = executor_of(settings)  # a Ray cluster that does not answer fails before any model loads
    try:
        backends = load_backends(settings, threads)
        check_model_groups(settings, [backend for _, backend in backends])
        out_dir.mkdir(parents=True, exist_ok=True)
        run = run_name(task.name, settings.sampling, settings.seed, settings.prompt)
        plan = sweep_plan_of(settings, task, problems, backends, run, calibration, threads)
        with Store(out_dir / "store.sqlite") as store:
            start_run(store, run, sweep_plan(settings, task, problems), settings.add_run)
            if calibration:
                start_calibration_run(store, calibration_run(run), {**sweep_plan(settings, task, calibration),
                                                                    "command": "ttscale sweep (calibration)"})
            with steps(console, enabled=show_progress) as add_bar:
                outcomes = run_plan(plan, store, add_bar, on_chunk, executor)
            store.finish_run(run)
            if calibration:
                store.finish_run(calibration_run(run))
    finally:
        executor.close()
    models = tuple(ModelRun(spec, o.entry.name, o.entry.card, o.stats, o.searched, server_record(backend))
                   for (spec, backend), o in zip(backends, outcomes))
    return SweepRun(out_dir, run, task, tuple(problems), settings, models, tuple(notes),
                    time.perf_counter() - started, plan, threads)


def sweep_and_report(settings: SweepSettings, out_dir: Path, console=None, show_progress: bool = True,
                     on_chunk: ChunkHook | None = None) -> tuple[SweepRun, Analysis, dict]:
    """Sample (resumably), analyse, write the report; returns (run, analysis, tradeoff.json content)."""
    from ttscale.report.sweep_report import write_sweep_report

    started = time.perf_counter()
    run = run_model_sweep(settings, out_dir, console, show_progress, on_chunk)
    with steps(console, enabled=show_progress) as add_step, Store(out_dir / "store.sqlite") as store:
        analysis = analyse_plan(run.plan, store, [d for m in run.models for d in m.searched], add_step)
        run = dataclasses.replace(run, wall_seconds=time.perf_counter() - started)
        written = add_step("report", 1)
        result = write_sweep_report(run, analysis)
        written(1)
    return run, analysis, result
