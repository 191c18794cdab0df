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
from dataclasses import dataclass
from pathlib import Path
from typing import Sequence

from pydantic import Field, field_validator

from ttscale.backends import Backend
from ttscale.backends.openai_spec import SPEC_PREFIX as OPENAI_PREFIX
from ttscale.backends.registry import backend_from_spec
from ttscale.backends.threads import ThreadChoice, choose_threads
from ttscale.errors import InputError, TtscaleError
from ttscale.pipeline import Chunking, ModelEntry, Plan, SearchPlan, Split, TaskSampling, analyse_plan, run_plan
from ttscale.pipeline.analysis import Analysis, known_train_flops
from ttscale.pipeline.execute import ChunkHook
from ttscale.progress import steps
from ttscale.sampling.draw import SweepStats, sum_stats
from ttscale.settings import TypedSettings
from ttscale.store import Store
from ttscale.strategies import REPLAY, resolve
from ttscale.strategies.step_search import step_format_for
from ttscale.strategies.tree_search import SearchSettings
from ttscale.sweep_analysis import sweep_techniques
from ttscale.tasks import get_task
from ttscale.techniques import PointDetail, TechniqueSpec
from ttscale.types import ModelCard, Problem, SamplingConfig, Task


class SweepSettings(TypedSettings):
    """What ``ttscale sweep`` runs; validated on construction (``parse`` names the CLI options)."""

    models: tuple[str, ...] = Field(description="model specs, one backend each")
    task: str = Field(description="the task spec")
    n: int = Field(ge=1, le=1_000_000, description="samples per problem")
    limit: int | None = Field(None, ge=1, description="test problems used (None: every one)")
    strategies: tuple[str, ...] = Field((), description="strategy specs besides the default techniques")
    sampling: SamplingConfig = SamplingConfig(temperature=0.8, top_p=0.95, max_new_tokens=256)
    seed: int = Field(0, ge=0)
    threads: int | None = Field(None, ge=1, description="CPU threads per in-process backend")
    cards: tuple[str, ...] = Field((), description='"MODEL=CARD_SPEC": a card for a backend that cannot read one')
    n_boot: int = Field(200, ge=0, description="bootstrap replicates for intervals")
    logprobs: bool = Field(True, description="ask openai: servers for log-probabilities (slow on some servers)")
    timeout_s: float = Field(120.0, gt=0, le=86_400, description="seconds one openai: request may take")
    concurrency: int = Field(4, ge=1, le=1024, description="most openai: requests in flight per model")
    add_run: bool = Field(False, description="store a run with other settings next to the stored one in --out")
    max_chunk_problems: int = Field(64, ge=1, description="most problems per backend call (``pipeline.Chunking``)")
    chunk_seconds: float = Field(20.0, gt=0, description="aimed-at seconds per backend call")

    @field_validator("models")
    @classmethod
    def _distinct(cls, models: tuple[str, ...]) -> tuple[str, ...]:
        if not models:
            raise ValueError("give at least one model spec")
        if len(set(models)) != len(models):
            raise ValueError(f"a spec is given twice ({', '.join(models)})")
        return models

    @classmethod
    def from_options(cls, **raw: object) -> SweepSettings:
        """The settings from the CLI's options; an error names the option (``--n``) and its value."""
        return cls.parse("ttscale sweep", raw, names={"models": "--model", "strategies": "--strategy",
                                                      "cards": "--card", "n_boot": "--n-boot",
                                                      "timeout_s": "--timeout", "add_run": "--add-run"})


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


def run_name(task_name: str, config: SamplingConfig, seed: int) -> str:
    return f"sweep:{task_name}:{config.key}:seed{seed}"


def check_settings(settings: SweepSettings, task: Task) -> None:
    """What the settings cannot check alone (strategies against the task, the models, --n and
    --no-logprobs), before anything is loaded or sampled; errors name the option."""
    for spec in settings.strategies:
        strategy, values = resolved_option(spec)
        traits = strategy.traits
        if traits.uses_logprobs and not settings.logprobs:
            raise InputError(f"--strategy {spec!r}: reads the samples' log-probabilities, which --no-logprobs "
                             "turns off")
        if REPLAY not in traits.modes:
            check_search(spec, values, task)
            continue
        if traits.uses_verifier and not task.has_verifier:
            raise InputError(f"--strategy {spec!r}: needs a verifier, and task {task.name!r} has none")
        for param in traits.pool_params:
            value = getattr(values, param)
            if value > settings.n:
                raise InputError(f"--strategy {spec!r}: {param}={value:g} is more than the --n {settings.n} "
                                 "samples drawn per problem")
        wanted = traits.n_models
        if (wanted is None and len(settings.models) < 2) or (wanted is not None and len(settings.models) < wanted):
            raise InputError(f"--strategy {spec!r}: needs {wanted or 'at least 2'} models, and "
                             f"{len(settings.models)} --model was given")
        if strategy.needs_calibration(values):
            raise InputError(f"--strategy {spec!r}: would choose its threshold on a calibration split, which a "
                             "sweep does not draw; give a fixed one, e.g. cascade:threshold=0.75")


def resolved_option(spec: str):
    """A --strategy spec resolved; an unknown name or a bad value is named with the option."""
    try:
        return resolve(spec)  # unknown names: "did you mean"
    except InputError as exc:
        raise InputError(f"--strategy {spec!r}: {exc}") from None


def check_model_groups(settings: SweepSettings, backends: Sequence[Backend]) -> None:
    """Multi-model strategies need models whose training compute is known (their cards are read on
    loading): refused before anything is sampled, rather than skipped after."""
    known = [b.name for b in backends if known_train_flops(b.card)]
    for spec in settings.strategies:
        wanted = resolve(spec)[0].traits.n_models
        if wanted != 1 and len(known) < (wanted or 2):
            unknown = [b.name for b in backends if b.name not in known]
            raise InputError(f"--strategy {spec!r}: needs {wanted or 'at least 2'} models with a known training "
                             f"compute; {', '.join(unknown)} has none in its card (give one with --card NAME=CARD)")


def check_search(spec: str, settings: SearchSettings, task: Task) -> None:
    """A tree search needs steps (the task's step format) and, in a sweep, the log-probability scorer."""
    if settings.scorer != "logprob":
        raise InputError(f"--strategy {spec!r}: scorer={settings.scorer} needs a learned value model, which only "
                         "the lab trains; a sweep searches with scorer=logprob")
    try:
        step_format_for(task)
    except InputError as exc:
        raise InputError(f"--strategy {spec!r}: {exc}") from None


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


def load_backends(settings: SweepSettings, threads: ThreadChoice) -> list[tuple[str, Backend]]:
    """Every model loaded before sampling starts, so a bad spec fails before any work; in-process
    models run on ``threads`` (servers are not ours to size)."""
    kwargs = {"threads": threads.threads}
    cards = given_cards(settings.cards, settings.models)
    loaded: list[tuple[str, Backend]] = []
    for spec in settings.models:
        card = cards.get(spec)
        remote = {"timeout_s": settings.timeout_s, "max_concurrency": settings.concurrency,
                  "logprobs": settings.logprobs} if spec.startswith(OPENAI_PREFIX) else {}
        try:
            backend = backend_from_spec(spec, **kwargs, **remote, **({"card": card} if card else {}))
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


def server_record(backend: Backend) -> dict | None:
    """What a server backend asked of its server — requests, failures, retries' effect on its concurrency
    limit, whether samples carry log-probabilities — or None for an in-process backend."""
    usage = getattr(backend, "usage", None)
    if usage is None:
        return None
    return {**dataclasses.asdict(usage), "max_concurrency": backend.max_concurrency,
            "concurrency_limit": backend.concurrency_limit, "timeout_s": backend.timeout_s,
            "logprobs": backend.gives_logprobs}


def start_run(store: Store, run: str, plan: dict, add_run: bool) -> None:
    """Register the sweep's run; a store that holds a sweep with other settings is refused unless
    ``add_run`` (the report then shows the new run; the stored one keeps its samples)."""
    others = [r for r in store.runs() if r["run"] != run and r["plan"].get("command") == plan["command"]]
    if others and not add_run:
        stored = others[-1]["plan"]
        changed = ", ".join(_setting_changes(stored, plan)) or "the run name"
        raise InputError(f"--out {str(Path(store.path).parent)!r}: holds a sweep with other settings ({changed}); use "
                         "another --out, the stored settings, or --add-run to store this run next to it")
    try:
        store.start_run(run, plan)
    except InputError:
        changed = ", ".join(_setting_changes(store.get_run(run)["plan"], plan)) or "the plan"
        raise InputError(f"--out {str(Path(store.path).parent)!r}: holds this sweep with other settings ({changed}); use "
                         "another --out, or the stored settings and an unchanged task file") from None


# How each plan entry is given on the command line, for a refusal that says what to change.
_PLAN_OPTIONS = {"task": "--task", "task_fingerprint": "the task file", "sampling.temperature": "--temperature",
                 "sampling.top_p": "--top-p", "sampling.max_new_tokens": "--max-tokens", "seed": "--seed",
                 "n": "--n", "problems": "--limit"}


def _setting_changes(stored: dict, new: dict) -> list[str]:
    """``--temperature 0.8 -> 0.5`` for every plan entry that differs."""
    def value(plan: dict, key: str):
        for part in key.split("."):
            plan = plan.get(part) if isinstance(plan, dict) else None
        return plan

    return [f"{option} {value(stored, key)!r} -> {value(new, key)!r}" if option.startswith("--")
            else f"{option} changed" for key, option in _PLAN_OPTIONS.items() if value(stored, key) != value(new, key)]


def sweep_plan_of(settings: SweepSettings, task: Task, problems: Sequence[Problem],
                  backends: Sequence[tuple[str, Backend]], run: str) -> Plan:
    """The sweep as a plan: every model on the task's test problems; live searches from --strategy."""
    entries = tuple(ModelEntry(backend.name, backend.card, functools.partial(_opened, backend))
                    for _, backend in backends)
    searched, replayed = split_strategies(settings)
    searches = tuple(SearchPlan(task, tuple(problems), (search,)) for search in searched)
    return Plan(
        models=entries,
        splits=(Split(run, "test", (TaskSampling(task, task.name, tuple(problems)),)),),
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
    if out_dir.exists() and not out_dir.is_dir():
        raise InputError(f"--out {str(out_dir)!r}: is a file; give a directory for the report")
    try:
        task = get_task(settings.task)
    except InputError as exc:
        raise InputError(f"--task {settings.task!r}: {exc}") from None
    check_settings(settings, task)
    problems, notes = choose_problems(settings, task)
    threads = choose_threads(settings.threads)
    backends = load_backends(settings, threads)
    check_model_groups(settings, [backend for _, backend in backends])
    out_dir.mkdir(parents=True, exist_ok=True)
    run = run_name(task.name, settings.sampling, settings.seed)
    plan = sweep_plan_of(settings, task, problems, backends, run)
    with Store(out_dir / "store.sqlite") as store:
        start_run(store, run, sweep_plan(settings, task, problems), settings.add_run)
        with steps(console, enabled=show_progress) as add_bar:
            outcomes = run_plan(plan, store, add_bar, on_chunk)
        store.finish_run(run)
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
