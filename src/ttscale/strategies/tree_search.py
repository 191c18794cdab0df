"""Tree search over reasoning steps: ``beam`` and ``mcts``, live strategies of the one registry.

The pieces: ``step_search`` (steps, step formats, batched step sampling and
its FLOP ledger), ``step_scorers`` (the model's own log-probability, a learned
value model), ``beam`` and ``mcts`` (the searches), ``store.search_results`` (the
results table that makes a run resumable). ``run_search`` runs a search over a
list of problems in chunks, skipping problems whose result is stored.

A search cannot be replayed from stored pools (it chooses which prefixes to
extend), so its only mode is live: it extends prefixes on the context's
backend, scored by the model's log-probability or by a learned value model the
context supplies (whose training and data FLOPs the caller adds to training
compute).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np

from ttscale.backends import Backend
from ttscale.errors import InputError
from ttscale.store import SearchResults
from ttscale.strategies.base import LIVE, Evaluation, LiveAnswer, LiveContext, StrategyTraits, spec_of
from ttscale.strategies.beam import BeamSettings, beam_search
from ttscale.strategies.mcts import MCTSSettings, mcts_search
from ttscale.strategies.registry import STRATEGIES
from ttscale.strategies.step_scorers import LogProbScorer, StepScorer
from ttscale.strategies.step_search import StepSampler, Steps, step_format_for
from ttscale.types import ModelCard, Problem, SearchOutcome, stable_hash

SearchSettings = BeamSettings | MCTSSettings
ProgressFn = Callable[[int], None]  # called with the number of problems just finished
ALGORITHM_NAMES = {"beam": "beam search", "mcts": "MCTS"}
SEARCH_FUNCTIONS = {"beam": beam_search, "mcts": mcts_search}


def default_search_settings(scorers: tuple[str, ...] = ("logprob", "value")) -> tuple[SearchSettings, ...]:
    """The lab's grid, per scorer: beams of width 1, 2, 4 (x 4 expansions: about 4 to 64 step
    samples per problem over a scratchpad of 3-5 steps), MCTS of 8 and 16 expansions of 4
    steps (32-64 step samples)."""
    grid: list[SearchSettings] = []
    for scorer in scorers:
        grid += [BeamSettings(width=w, expansions=4, scorer=scorer) for w in (1, 2, 4)]
        grid += [MCTSSettings(expansions=e, branch=4, scorer=scorer) for e in (8, 16)]
    return tuple(grid)


def search_spec(settings: SearchSettings) -> str:
    """E.g. "beam-logprob:expansions=4,temperature=1,width=2" (the point's budget string)."""
    return spec_of(f"{settings.algorithm}-{settings.scorer}", settings)


def result_key(card: ModelCard, task_name: str, problem: Problem, settings: SearchSettings, scorer: StepScorer,
               step_format: Steps, run_seed: int, reuses_cache: bool) -> str:
    """Content hash of everything that determines one problem's search result (its samples, and its
    costs: a search on a cache-reusing backend prefills less)."""
    return stable_hash({
        "model": [card.name, card.params_total, card.train_tokens, card.train_flops],
        "task": task_name, "problem": problem.problem_id, "prompt": problem.prompt,
        "search": search_spec(settings), "scorer": scorer.key(), "format": step_format.key(),
        "run_seed": run_seed, "version": 1,
        # Only a search that kept the cache says so: results stored before it existed keep their keys.
        **({"prefix_cache": True} if reuses_cache else {}),
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
    reuse_cache: bool = True,
) -> list[SearchOutcome]:
    """One outcome per problem, in order. Stored outcomes are reused; new ones are stored per chunk.
    ``reuse_cache``: keep the backend's KV cache between steps where it can (``StepSampler``)."""
    if settings.scorer != scorer.name:
        raise InputError(f"run_search: settings ask for scorer {settings.scorer!r}, got {scorer.name!r}")
    fmt = step_format or step_format_for(task)
    sampler = StepSampler(backend, fmt, temperature=settings.temperature, reuse_cache=reuse_cache)
    # On a cache-reusing backend a call must fit one wave for its contexts to find their parents cached.
    chunk_problems = min(chunk_problems, sampler.problems_per_call(settings.samples_per_call()) or chunk_problems)
    search = SEARCH_FUNCTIONS[settings.algorithm]
    keys = [result_key(backend.card, task.name, p, settings, scorer, fmt, run_seed, sampler.reusing) for p in problems]
    done = results.get_many(keys) if results is not None else {}
    if progress and done:
        progress(sum(1 for k in keys if k in done))
    todo = [i for i, k in enumerate(keys) if k not in done]
    description = {"spec": search_spec(settings), "scorer": scorer.key(), "run_seed": run_seed}
    for start in range(0, len(todo), chunk_problems):
        chunk = todo[start : start + chunk_problems]
        sampler.start_search()
        outcomes = search(task, [problems[i] for i in chunk], sampler, scorer, settings, run_seed)
        fresh = {keys[i]: (backend.name, task.name, description, o) for i, o in zip(chunk, outcomes)}
        if results is not None:
            results.put_many(fresh)
        done.update({k: row[3] for k, row in fresh.items()})
        if progress:
            progress(len(chunk))
    return [done[k] for k in keys]


def search_notes(outcomes: Sequence[SearchOutcome]) -> dict[str, float]:
    """Means over problems of what the searches did (for a point's notes)."""
    return {
        "mean_step_samples": float(np.mean([o.step_samples for o in outcomes])),
        "mean_regenerations": float(np.mean([o.regenerations for o in outcomes])),
        "mean_expansions": float(np.mean([o.expansions for o in outcomes])),
        "mean_generated_tokens": float(np.mean([o.generated_tokens for o in outcomes])),
        "mean_scorer_flops": float(np.mean([o.scorer_flops for o in outcomes])),
        "prefill_share": float(sum(o.prefill_flops for o in outcomes) / max(1e-300, sum(o.infer_flops for o in outcomes))),
        "mean_cached_tokens": float(np.mean([o.cached_tokens for o in outcomes])),
        "complete_rate": float(np.mean([o.complete for o in outcomes])),
    }


def answer_of(outcome: SearchOutcome) -> LiveAnswer:
    return LiveAnswer(problem_id=outcome.problem_id, answer=outcome.answer, correct=outcome.correct,
                      draws=float(outcome.draws), infer_flops=outcome.infer_flops, seconds=outcome.seconds)


@dataclass(frozen=True)
class TreeSearch:
    name: str
    traits: StrategyTraits

    def needs_calibration(self, settings: SearchSettings) -> bool:
        return False

    def replay(self, cells, settings, calibration=None, seed: int = 0) -> Evaluation:
        raise InputError(f"strategy {self.name!r} runs live only: a search chooses which prefixes to extend, "
                         "which stored pools cannot replay")

    def scorer(self, context: LiveContext, backend: Backend, settings: SearchSettings) -> StepScorer:
        if settings.scorer == "logprob":
            return LogProbScorer()
        found = context.value_scorers.get(backend.name)
        if found is None:
            raise InputError(f"strategy {self.name!r}: scorer 'value' needs a learned value model for model "
                             f"{backend.name!r}, and none was given (use scorer=logprob)")
        return found.scorer

    def outcomes(self, context: LiveContext, problems: Sequence[Problem], settings: SearchSettings,
                 scorer: StepScorer | None = None) -> list[SearchOutcome]:
        """The searches' own records (steps, regenerations, prefill share), stored per problem; ``scorer``:
        the one ``scorer()`` gives, when the caller already has it."""
        if not context.backends:
            raise InputError(f"strategy {self.name!r}: a live search needs a backend")
        backend = context.backends[0]
        scorer = scorer if scorer is not None else self.scorer(context, backend, settings)
        return run_search(backend, context.task, problems, settings, scorer, context.run_seed,
                          results=context.results, progress=context.progress)

    def live(self, context: LiveContext, problems: Sequence[Problem], settings: SearchSettings) -> list[LiveAnswer]:
        return [answer_of(o) for o in self.outcomes(context, problems, settings)]


BEAM = STRATEGIES.register("beam")(TreeSearch("beam", StrategyTraits(
    "beam search over steps: the best-scored partial solutions kept at each step; width x expansions steps "
    "sampled per level", BeamSettings,
    modes=frozenset({LIVE}), pool_params=(), uses_logprobs=True)))
MCTS = STRATEGIES.register("mcts")(TreeSearch("mcts", StrategyTraits(
    "MCTS over steps: UCT selection, expansion by sampled steps, the scorer's value backed up (no rollouts)",
    MCTSSettings,
    modes=frozenset({LIVE}), pool_params=(), uses_logprobs=True)))
