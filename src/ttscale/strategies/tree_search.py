"""Tree search over reasoning steps as a technique: live search, stored per problem, turned into points.

The pieces: ``step_search`` (steps, step formats, batched step sampling and
its FLOP ledger), ``step_scorers`` (the model's own log-probability, a learned
value model), ``beam`` and ``mcts`` (the searches), ``store.search_results`` (the
results table that makes a run resumable). This module runs a search over a
list of problems in chunks, skipping problems whose result is stored, and
turns the per-problem outcomes into tradeoff points comparable with the
replayed strategies: performance with a bootstrap CI over problems, inference
compute per problem (generation + scoring), training compute of the model
plus, for a learned value, what training the value model cost (its training
FLOPs and the FLOPs of sampling its calibration data).

Unlike the replayed strategies, a search cannot be replayed from stored pools
(it chooses which prefixes to extend), so it is not in the strategy registry;
``tree_search_points`` is its entry point.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Mapping, Sequence

import numpy as np

from ttscale.backends import Backend
from ttscale.backends.tiny import TinyBackend
from ttscale.errors import InputError
from ttscale.store import SearchResults
from ttscale.strategies.base import Evaluation, parse_spec, summarize
from ttscale.strategies.beam import BeamSettings, beam_search
from ttscale.strategies.mcts import MCTSSettings, mcts_search
from ttscale.types import SearchOutcome
from ttscale.strategies.step_scorers import LogProbScorer, StepScorer, ValueScorer
from ttscale.strategies.step_search import StepSampler, Steps, step_format_for
from ttscale.techniques import PointDetail
from ttscale.types import ModelCard, Point, Problem, stable_hash

SearchSettings = BeamSettings | MCTSSettings
ProgressFn = Callable[[int], None]  # called with the number of problems just finished
ALGORITHM_NAMES = {"beam": "beam search", "mcts": "MCTS"}


SEARCHES = {"beam": BeamSettings, "mcts": MCTSSettings}


def search_from_spec(spec: str) -> SearchSettings | None:
    """``beam:width=2,expansions=4`` or ``mcts:expansions=16,branch=4`` -> settings; None for any other name.

    Errors name the spec, the parameter and the value; ranges are checked by the settings themselves.
    """
    name, raw = parse_spec(spec)
    kind = SEARCHES.get(name)
    if kind is None:
        return None
    defaults = {f.name: f.default for f in dataclasses.fields(kind)}
    values: dict[str, object] = {}
    for key, text in raw.items():
        if key not in defaults:
            raise InputError(f"--strategy {spec!r}: {name} has no parameter {key!r} (known: {', '.join(defaults)})")
        if key == "scorer":
            values[key] = text
            continue
        try:
            number = float(text)
        except ValueError:
            raise InputError(f"--strategy {spec!r}: {key} must be a number, got {text!r}") from None
        if isinstance(defaults[key], int):
            if not number.is_integer():
                raise InputError(f"--strategy {spec!r}: {key} must be an integer, got {text!r}")
            number = int(number)
        values[key] = number
    values.setdefault("scorer", "logprob")
    if values["scorer"] not in ("logprob", "value"):
        raise InputError(f"--strategy {spec!r}: scorer must be 'logprob' or 'value', got {values['scorer']!r}")
    return kind(**values)


def default_search_settings(scorers: tuple[str, ...] = ("logprob", "value")) -> tuple[SearchSettings, ...]:
    """The lab's grid, per scorer: beams of width 1, 2, 4 (x 4 expansions: about 4 to 64 step
    samples per problem over a scratchpad of 3-5 steps), MCTS of 8 and 16 expansions of 4
    steps (32-64 step samples)."""
    grid: list[SearchSettings] = []
    for scorer in scorers:
        grid += [BeamSettings(width=w, expansions=4, scorer=scorer) for w in (1, 2, 4)]
        grid += [MCTSSettings(expansions=e, branch=4, scorer=scorer) for e in (8, 16)]
    return tuple(grid)


def technique_name(settings: SearchSettings, scorer: StepScorer) -> str:
    """E.g. "beam search, log-prob scorer", "MCTS, learned value"."""
    return f"{ALGORITHM_NAMES[settings.algorithm]}, {scorer.label}"


def search_spec(settings: SearchSettings) -> str:
    """E.g. "beam-logprob:expansions=4,temperature=1,width=2" (the point's budget string)."""
    numbers = settings.numbers()
    return f"{settings.algorithm}-{settings.scorer}:" + ",".join(f"{k}={numbers[k]:g}" for k in sorted(numbers))


def result_key(card: ModelCard, task_name: str, problem: Problem, settings: SearchSettings, scorer: StepScorer,
               step_format: Steps, run_seed: int) -> str:
    """Content hash of everything that determines one problem's search result."""
    return stable_hash({
        "model": [card.name, card.params_total, card.train_tokens, card.train_flops],
        "task": task_name, "problem": problem.problem_id, "prompt": problem.prompt,
        "search": search_spec(settings), "scorer": scorer.key(), "format": step_format.key(),
        "run_seed": run_seed, "version": 1,
    }, length=24)


def run_search(
    backend: Backend,
    task,
    problems: Sequence[Problem],
    settings: SearchSettings,
    scorer: StepScorer,
    run_seed: int = 0,
    step_format: Steps | None = None,
    results: SearchResults | None = None,
    chunk_problems: int = 50,
    progress: ProgressFn | None = None,
) -> list[SearchOutcome]:
    """One outcome per problem, in order. Stored outcomes are reused; new ones are stored per chunk."""
    if settings.scorer != scorer.name:
        raise InputError(f"run_search: settings ask for scorer {settings.scorer!r}, got {scorer.name!r}")
    fmt = step_format or step_format_for(task)
    sampler = StepSampler(backend, fmt, temperature=settings.temperature)
    search = beam_search if settings.algorithm == "beam" else mcts_search
    keys = [result_key(backend.card, task.name, p, settings, scorer, fmt, run_seed) for p in problems]
    done = results.get_many(keys) if results is not None else {}
    if progress and done:
        progress(sum(1 for k in keys if k in done))
    todo = [i for i, k in enumerate(keys) if k not in done]
    description = {"spec": search_spec(settings), "scorer": scorer.key(), "run_seed": run_seed}
    for start in range(0, len(todo), chunk_problems):
        chunk = todo[start : start + chunk_problems]
        outcomes = search(task, [problems[i] for i in chunk], sampler, scorer, settings, run_seed)
        fresh = {keys[i]: (backend.name, task.name, description, o) for i, o in zip(chunk, outcomes)}
        if results is not None:
            results.put_many(fresh)
        done.update({k: row[3] for k, row in fresh.items()})
        if progress:
            progress(len(chunk))
    return [done[k] for k in keys]


def evaluation_of(outcomes: Sequence[SearchOutcome], extra_train_flops: float = 0.0) -> Evaluation:
    """The per-problem ledger in the shape the replayed strategies report."""
    return Evaluation(
        performance=np.array([float(o.correct) for o in outcomes]),
        infer_flops=np.array([o.infer_flops for o in outcomes]),
        infer_seconds=np.array([o.seconds for o in outcomes]),
        draws=np.array([float(o.draws) for o in outcomes]),
        extra_train_flops=extra_train_flops,
        notes={
            "mean_step_samples": float(np.mean([o.step_samples for o in outcomes])),
            "mean_regenerations": float(np.mean([o.regenerations for o in outcomes])),
            "mean_expansions": float(np.mean([o.expansions for o in outcomes])),
            "mean_generated_tokens": float(np.mean([o.generated_tokens for o in outcomes])),
            "mean_scorer_flops": float(np.mean([o.scorer_flops for o in outcomes])),
            "prefill_share": float(sum(o.prefill_flops for o in outcomes) / max(1e-300, sum(o.infer_flops for o in outcomes))),
            "complete_rate": float(np.mean([o.complete for o in outcomes])),
        },
    )


def point_of(technique: str, settings: SearchSettings, card: ModelCard, task_name: str,
             outcomes: Sequence[SearchOutcome], extra_train_flops: float = 0.0, n_boot: int = 500,
             seed: int = 0) -> PointDetail:
    name = f"{settings.algorithm}-{settings.scorer}"
    evaluation = evaluation_of(outcomes, extra_train_flops)
    result = summarize(name, settings.numbers(), evaluation, n_boot=n_boot, seed=seed)
    return PointDetail(
        point=Point(
            technique=technique,
            model=card.name,
            train_flops=float(card.train_flops or 0.0) + extra_train_flops,
            infer_flops=result.infer_flops,
            performance=result.performance,
            ci_low=result.ci_low,
            ci_high=result.ci_high,
            budget=result.strategy,
        ),
        task=task_name,
        strategy=name,
        k=int(round(result.mean_draws)),
        infer_seconds=result.infer_seconds,
        mean_draws=result.mean_draws,
        settings=result.settings,
        notes={**result.notes, "value_model_train_flops": extra_train_flops},
        problem_ids=tuple(o.problem_id for o in outcomes),
        problem_scores=tuple(float(v) for v in evaluation.performance),
    )


def tree_search_points(
    models: Mapping[str, object],
    cards: Mapping[str, ModelCard],
    task,
    problems: Sequence[Problem],
    settings_list: Sequence[SearchSettings],
    value_models: Mapping[str, object] | None = None,
    results: SearchResults | None = None,
    run_seed: int = 0,
    n_boot: int = 500,
    progress: ProgressFn | None = None,
) -> list[PointDetail]:
    """Tree-search points for every model x settings.

    ``models``: name -> TinyGPT (the lab's models). ``value_models``: name ->
    ``ttscale.lab.value_model.TrainedValue`` (see ``lab.value_calibration``);
    settings with ``scorer="value"`` are skipped for a model without one. Its
    ``total_train_flops`` (value-model training + calibration sampling) is
    added to the point's training compute; its scoring FLOPs are in the
    inference compute.
    """
    details: list[PointDetail] = []
    ordered = sorted(models, key=lambda m: (float(cards[m].train_flops or 0.0), m))
    for name in ordered:
        backend = TinyBackend(name=name, card=cards[name], model=models[name])
        value = (value_models or {}).get(name)
        for settings in settings_list:
            if settings.scorer == "value":
                if value is None:
                    continue
                scorer: StepScorer = ValueScorer(value.model, value.key, label=value.label)
                extra = float(value.total_train_flops)
            else:
                scorer, extra = LogProbScorer(), 0.0
            outcomes = run_search(backend, task, problems, settings, scorer, run_seed, results=results,
                                  progress=progress)
            details.append(point_of(technique_name(settings, scorer), settings, cards[name], task.name, outcomes,
                                    extra, n_boot=n_boot, seed=run_seed))
    return details


def searched_techniques(details: Sequence[PointDetail]) -> list[tuple[str, str, str]]:
    """(technique, strategy, what it measures) for each tree-search technique among ``details``."""
    what = {
        "beam": "beam search over steps: the best-scored partial solutions kept at each step; "
                "width x expansions steps sampled per level",
        "mcts": "MCTS over steps: UCT selection, expansion by sampled steps, the scorer's value backed up "
                "(no rollouts)",
    }
    how = {"logprob": "the model's own log-probability of the prefix",
           "value": "a learned value model (trained on the model's calib-split samples; its training and data "
                    "FLOPs in TC)"}
    found: dict[str, tuple[str, str, str]] = {}
    for d in details:
        algorithm, _, scorer = d.strategy.partition("-")
        if algorithm in what and scorer in how and d.point.technique not in found:
            found[d.point.technique] = (d.point.technique, d.strategy,
                                        f"{what[algorithm]}; scored by {how[scorer]}; run live, not replayed")
    return list(found.values())
