"""A sweep's refusals before any work: settings against the task, the models and ``--n``; the models'
training compute before sampling; the store's other runs before the first sample. Each error names
the CLI option and the value."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from ttscale.backends import Backend
from ttscale.backends.chat_posing import PromptStyle
from ttscale.backends.registry import POSING_KINDS, spec_kind
from ttscale.errors import InputError
from ttscale.pipeline.analysis import known_train_flops
from ttscale.store import Store
from ttscale.strategies import REPLAY, resolve
from ttscale.strategies.step_search import step_format_for
from ttscale.strategies.tree_search import SearchSettings
from ttscale.sweep_settings import SweepSettings
from ttscale.tasks.sandbox import CodeTask
from ttscale.types import Task


def check_settings(settings: SweepSettings, task: Task) -> None:
    """What the settings cannot check alone (strategies against the task, the models, --n and
    --no-logprobs), before anything is loaded or sampled; errors name the option."""
    only = getattr(task, "prompt_style", None)  # a task written for one style (humaneval-chat: chat)
    if only is not None and settings.prompt.value != only:
        raise InputError(f"--prompt {settings.prompt.value}: task {task.name!r} is written as a {only} turn; give "
                         f"--prompt {only}")
    if settings.prompt is PromptStyle.chat:
        if isinstance(task, CodeTask) and only is None:
            raise InputError(f"--prompt chat: task {task.name!r} grades a completion as the continuation of its "
                             "prompt (its stop sequences and program assume it); pose it raw, or use "
                             "humaneval-chat")
        for model in settings.models:
            if spec_kind(model) not in POSING_KINDS:
                raise InputError(f"--prompt chat: --model {model!r} cannot pose a chat turn (only in-process GGUF "
                                 "models, whose metadata holds their template, can); give --prompt raw")
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
        if len(settings.models) < (traits.n_models or 2):  # None: any number from 2
            raise InputError(f"--strategy {spec!r}: needs {traits.n_models or 'at least 2'} models, and "
                             f"{len(settings.models)} --model was given")
        if strategy.needs_calibration(values) and not settings.calibration:
            raise InputError(f"--strategy {spec!r}: chooses its threshold on a calibration split; give "
                             "--calibration K (K problems of the task's calibration split are sampled too) or a "
                             "fixed one, e.g. cascade:threshold=0.75")


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
_PLAN_OPTIONS = {"task": "--task", "task_fingerprint": "the task file or stop strings", "sampling.temperature": "--temperature",
                 "sampling.top_p": "--top-p", "sampling.max_new_tokens": "--max-tokens", "seed": "--seed",
                 "n": "--n", "problems": "--limit", "prompt": "--prompt"}
_PLAN_DEFAULTS = {"prompt": "raw"}  # entries a plan leaves out at their default


def _setting_changes(stored: dict, new: dict) -> list[str]:
    """``--temperature 0.8 -> 0.5`` for every plan entry that differs."""
    def value(plan: dict, key: str):
        for part in key.split("."):
            plan = plan.get(part) if isinstance(plan, dict) else None
        return _PLAN_DEFAULTS.get(key) if plan is None else plan

    return [f"{option} {value(stored, key)!r} -> {value(new, key)!r}" if option.startswith("--")
            else f"{option} changed" for key, option in _PLAN_OPTIONS.items() if value(stored, key) != value(new, key)]
