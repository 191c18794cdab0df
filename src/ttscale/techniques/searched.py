"""Tree-search points: live searches on every model, per settings, next to the replayed techniques.

A search is live (strategies/tree_search.py): it runs on each model's backend,
its results kept per problem in the store so a killed run resumes. A learned
value model's training and data FLOPs (``ScorerChoice.extra_train_flops``) are
added to the point's training compute; its scoring FLOPs are in the inference
compute.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence

from ttscale.backends import Backend
from ttscale.store import SearchResults
from ttscale.strategies import STRATEGIES, LiveContext, evaluation_of, summarize
from ttscale.strategies.step_scorers import ScorerChoice
from ttscale.strategies.tree_search import ALGORITHM_NAMES, SearchSettings, answer_of, search_notes
from ttscale.techniques.points import PointDetail, point_detail
from ttscale.types import ModelCard, Problem, SearchOutcome, Task


def technique_name(settings: SearchSettings, scorer_label: str) -> str:
    """E.g. "beam search, log-prob scorer", "MCTS, learned value"."""
    return f"{ALGORITHM_NAMES[settings.algorithm]}, {scorer_label}"


def point_of(technique: str, settings: SearchSettings, card: ModelCard, task_name: str,
             outcomes: Sequence[SearchOutcome], extra_train_flops: float = 0.0, n_boot: int = 500,
             seed: int = 0) -> PointDetail:
    name = f"{settings.algorithm}-{settings.scorer}"
    evaluation = evaluation_of([answer_of(o) for o in outcomes], extra_train_flops, search_notes(outcomes))
    result = summarize(name, settings, evaluation, n_boot=n_boot, seed=seed)
    return point_detail(technique, card.name, float(card.train_flops or 0.0) + extra_train_flops, result,
                        task=task_name, strategy=name,
                        notes={**result.notes, "value_model_train_flops": extra_train_flops},
                        problem_ids=tuple(o.problem_id for o in outcomes), scores=evaluation.performance)


def search_points(
    backends: Sequence[Backend],
    task: Task,
    problems: Sequence[Problem],
    settings_list: Sequence[SearchSettings],
    value_scorers: Mapping[str, ScorerChoice] | None = None,
    results: SearchResults | None = None,
    run_seed: int = 0,
    n_boot: int = 500,
    progress: Callable[[int], None] | None = None,
) -> list[PointDetail]:
    """Points of every backend x settings, models in order of training compute.

    Settings with ``scorer="value"`` are skipped for a model without a value scorer.
    """
    details: list[PointDetail] = []
    value_scorers = dict(value_scorers or {})
    for backend in sorted(backends, key=lambda b: (float(b.card.train_flops or 0.0), b.name)):
        context = LiveContext(task=task, backends=(backend,), run_seed=run_seed, results=results,
                              value_scorers=value_scorers, progress=progress)
        for settings in settings_list:
            if settings.scorer == "value" and backend.name not in value_scorers:
                continue
            search = STRATEGIES.get(settings.algorithm)
            scorer = search.scorer(context, backend, settings)
            extra = value_scorers[backend.name].extra_train_flops if settings.scorer == "value" else 0.0
            outcomes = search.outcomes(context, problems, settings, scorer)
            details.append(point_of(technique_name(settings, scorer.label), settings, backend.card, task.name,
                                    outcomes, extra, n_boot=n_boot, seed=run_seed))
    return details


def searched_techniques(details: Sequence[PointDetail]) -> list[tuple[str, str, str]]:
    """(technique, strategy, what it measures) for each tree-search technique among ``details``."""
    how = {"logprob": "the model's own log-probability of the prefix",
           "value": "a learned value model (trained on the model's calib-split samples; its training and data "
                    "FLOPs in TC)"}
    found: dict[str, tuple[str, str, str]] = {}
    for d in details:
        algorithm, _, scorer = d.strategy.partition("-")
        if algorithm in ALGORITHM_NAMES and scorer in how and d.point.technique not in found:
            what = STRATEGIES.get(algorithm).traits.description
            found[d.point.technique] = (d.point.technique, d.strategy,
                                        f"{what}; scored by {how[scorer]}; run live, not replayed")
    return list(found.values())
