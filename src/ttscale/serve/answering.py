"""One request answered: a strategy's live mode on the served models, and what it spent.

The strategy draws its samples through ``BackendSamples`` exactly as an offline live run does (sample
i of a prompt carries the seed for i), so a served answer and its cost equal the offline strategy's
for the same seed. A request's prompts (a completions request may send a list) are the strategy's
problems, answered together: an allocation spends one budget across them. Each prompt's text is the
chosen answer's sample (a verified one first); a tree search's is its chosen solution. The usage counts
every generated token of every sample, and the FLOPs by kind.
"""

from __future__ import annotations

import time
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field

from ttscale.backends import Backend
from ttscale.backends.chat_posing import posed
from ttscale.errors import InputError
from ttscale.sampling.sources import BackendSamples
from ttscale.serve.served_task import ServedTask
from ttscale.store import Store
from ttscale.strategies import resolve
from ttscale.strategies.base import LIVE, LiveAnswer, LiveContext, spec_of
from ttscale.strategies.tree_search import TreeSearch
from ttscale.types import Problem, Sample, SamplingConfig, SearchOutcome

SERVED_RUN = "serve"  # the run served samples are stored under


@dataclass(frozen=True)
class Answered:
    """One prompt's answer and everything drawn for it."""

    text: str  # the chosen sample's completion (a search's chosen solution)
    finish_reason: str  # "stop" when a stop string ended it, "length" at the token limit
    samples: tuple[Sample, ...]  # every sample drawn, as a sweep stores them (a search stores none)
    draws: int  # samples (a search: steps) drawn
    prompt_tokens: int
    completion_tokens: int  # every generated token of every sample drawn
    prefill_flops: float
    decode_flops: float
    verifier_flops: float  # the task's verifier, or a search's step scorer
    infer_flops: float  # what the strategy charges (a shared prompt's prefill once)
    flops_by_model: dict[str, float]  # prefill + decode per served model
    early_stop: bool  # the strategy stopped before its budget (an adaptive vote settled, a verified sample)
    answers: dict[str, int]  # how many samples gave each answer
    notes: dict[str, float] = field(default_factory=dict)  # the strategy's own (a cascade: escalated)


@dataclass(frozen=True)
class Request:
    """A request's prompts answered: one ``Answered`` per prompt, the effective strategy, the wall time."""

    strategy: str  # the effective strategy, as a canonical spec
    answers: tuple[Answered, ...]
    seconds: float


def check_served_strategy(spec: str, task: ServedTask, n_served: int = 1) -> str:
    """The canonical spec of a strategy the server can run on a request, else one line naming it: a live
    strategy whose models are served (a cascade: exactly two, small then large as given; an ensemble: every
    served model) and whose verifier the served task has."""
    try:
        strategy, settings = resolve(spec)
    except InputError as exc:
        raise InputError(f"ttscale.strategy: {exc}") from None
    if LIVE not in strategy.traits.modes:
        raise InputError(f"ttscale.strategy: {strategy.name!r} has no live mode (it replays stored pools only)")
    wanted = strategy.traits.n_models
    if wanted is None and n_served < 2:
        raise InputError(f"ttscale.strategy: {strategy.name!r} answers with every served model and needs two or "
                         f"more; this server serves {n_served} (give --model more than once)")
    if wanted is not None and wanted > 1 and wanted != n_served:
        raise InputError(f"ttscale.strategy: {strategy.name!r} needs {wanted} served models (small, then large); "
                         f"this server serves {n_served}")
    if strategy.traits.uses_verifier and not task.has_verifier:
        raise InputError(f"ttscale.strategy: {strategy.name!r} needs a verifier, and this server's task has none "
                         "(serve with --task NAME, a task with a verifier, e.g. humaneval)")
    if isinstance(strategy, TreeSearch):
        task.steps_task()  # refuses, naming --task, when the requests have no steps
    if "threshold" in type(settings).model_fields and settings.threshold is None:
        raise InputError(f"ttscale.strategy: {strategy.name!r} needs a fixed threshold= when served (a calibrated "
                         "one is chosen on stored calibration pools)")
    return spec_of(strategy.name, settings)


def models_needed(spec: str) -> int | None:
    """How many served models a strategy answers with: 1, 2 (a cascade: small then large), None (all)."""
    strategy, _settings = resolve(spec)
    return strategy.traits.n_models


def answer(backends: Sequence[Backend], task: ServedTask, prompts: Sequence[str], spec: str, config: SamplingConfig,
           seed: int, store: Store | None = None) -> Request:
    """``prompts`` answered by the strategy ``spec`` on ``backends`` (see the module docstring)."""
    canonical = check_served_strategy(spec, task, len(backends))
    strategy, settings = resolve(canonical)
    problems = [task.problem(p, seed) for p in prompts]
    context = LiveContext(task, samples=BackendSamples(list(backends), task, config, run_seed=seed, run=SERVED_RUN,
                                                       store=store), backends=list(backends), run_seed=seed)
    started = time.perf_counter()
    if isinstance(strategy, TreeSearch):
        outcomes = strategy.outcomes(context, problems, settings)
        answered = [_searched(o, backends[0], p) for o, p in zip(outcomes, problems)]
    else:
        budget = getattr(settings, "cap", None) or getattr(settings, "k", None)  # samples it may draw per prompt
        answered = [_drawn(live, config, budget) for live in strategy.live(context, problems, settings)]
    return Request(canonical, tuple(answered), time.perf_counter() - started)


def _drawn(live: LiveAnswer, config: SamplingConfig, budget: int | None) -> Answered:
    drawn = live.samples
    # The answer's text: a verified sample with the chosen answer first, then any sample with it.
    chosen = next((s for s in drawn if s.answer == live.answer and s.verified), None) or next(
        (s for s in drawn if s.answer == live.answer), drawn[-1])
    decode = sum(s.decode_flops for s in drawn)
    verifier = sum(s.verifier_flops for s in drawn)
    prefill = live.infer_flops - decode - verifier  # what the strategy charged for prompts (once per shared call)
    # Per model: its decode, and the prefill shared out in proportion to its prompt's prefill.
    once = {s.key.model: s.prefill_flops for s in drawn}
    by_model: Counter[str] = Counter()
    for s in drawn:
        by_model[s.key.model] += s.decode_flops
    for model, flops in once.items():
        by_model[model] += prefill * flops / sum(once.values()) if sum(once.values()) else 0.0
    return Answered(
        text=chosen.completion,
        finish_reason="stop" if len(chosen.tokens) < config.max_new_tokens else "length",
        samples=tuple(drawn),
        draws=len(drawn),
        prompt_tokens=drawn[0].prompt_tokens,
        completion_tokens=sum(len(s.tokens) for s in drawn),
        prefill_flops=prefill,
        decode_flops=decode,
        verifier_flops=verifier,
        infer_flops=live.infer_flops,
        flops_by_model=dict(by_model),
        early_stop=budget is not None and len(drawn) < budget,
        answers=dict(Counter(s.answer or "" for s in drawn)),
        notes=dict(live.notes),
    )


def _searched(outcome: SearchOutcome, backend: Backend, problem: Problem) -> Answered:
    return Answered(
        text=outcome.completion,
        finish_reason="stop" if outcome.complete else "length",
        samples=(),
        draws=outcome.draws,
        prompt_tokens=backend.count_tokens(posed(backend, problem)),
        completion_tokens=outcome.generated_tokens,
        prefill_flops=outcome.prefill_flops,
        decode_flops=outcome.generation_flops - outcome.prefill_flops,
        verifier_flops=outcome.scorer_flops,
        infer_flops=outcome.infer_flops,
        flops_by_model={backend.name: outcome.generation_flops},
        early_stop=False,
        answers={outcome.answer or "": 1},
    )
