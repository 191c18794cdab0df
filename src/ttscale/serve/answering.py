"""One request answered: a strategy's live mode on the served model, and what it spent.

The strategy draws its samples through ``BackendSamples`` exactly as an offline live run does (sample
i of a prompt carries the seed for i), so a served answer and its cost equal the offline strategy's
for the same seed. ``choices[0]`` is the chosen answer's first sample (its full text); the usage
counts every generated token of every sample, and the FLOPs by kind.
"""

from __future__ import annotations

import time
from collections import Counter
from dataclasses import dataclass

from ttscale.backends import Backend
from ttscale.errors import InputError
from ttscale.sampling.sources import BackendSamples
from ttscale.store import Store
from ttscale.strategies import resolve
from ttscale.strategies.base import LIVE, LiveContext, spec_of
from ttscale.serve.served_task import ServedTask
from ttscale.types import Sample, SamplingConfig

SERVED_RUN = "serve"  # the run served samples are stored under


@dataclass(frozen=True)
class Answered:
    text: str  # the chosen sample's completion
    finish_reason: str  # "stop" when a stop string ended it, "length" at the token limit
    strategy: str  # the effective strategy, as a canonical spec
    samples: tuple[Sample, ...]
    prompt_tokens: int
    completion_tokens: int  # every generated token of every sample drawn
    prefill_flops: float
    decode_flops: float
    verifier_flops: float
    infer_flops: float  # what the strategy charges (a shared prompt's prefill once)
    seconds: float
    answers: dict[str, int]  # how many samples gave each answer


def check_served_strategy(spec: str, task: ServedTask) -> str:
    """The canonical spec of a strategy the server can run on a request, else one line naming it: a live
    strategy that answers from drawn samples on one model (tree searches build their answer from steps, and
    multi-model strategies need a second served model: not served yet)."""
    try:
        strategy, settings = resolve(spec)
    except InputError as exc:
        raise InputError(f"ttscale.strategy: {exc}") from None
    if LIVE not in strategy.traits.modes:
        raise InputError(f"ttscale.strategy: {strategy.name!r} has no live mode (it replays stored pools only)")
    if strategy.traits.n_models != 1:
        raise InputError(f"ttscale.strategy: {strategy.name!r} needs more than one model; this server serves one")
    if strategy.name in ("beam", "mcts"):
        raise InputError(f"ttscale.strategy: {strategy.name!r} (tree search) is not served yet")
    if strategy.traits.uses_verifier and not task.has_verifier:
        raise InputError(f"ttscale.strategy: {strategy.name!r} needs a verifier, and a served free-text request "
                         "has none")
    return spec_of(strategy.name, settings)


def answer(backend: Backend, task: ServedTask, prompt: str, spec: str, config: SamplingConfig, seed: int,
           store: Store | None = None) -> Answered:
    """``prompt`` answered by the strategy ``spec`` on ``backend`` (see the module docstring)."""
    canonical = check_served_strategy(spec, task)
    strategy, settings = resolve(canonical)
    problem = task.problem(prompt)
    source = BackendSamples([backend], task, config, run_seed=seed, run=SERVED_RUN, store=store)
    started = time.perf_counter()
    (live,) = strategy.live(LiveContext(task, samples=source, backends=[backend], run_seed=seed), [problem],
                            settings)
    seconds = time.perf_counter() - started
    drawn = live.samples
    chosen = next((s for s in drawn if s.answer == live.answer), drawn[0])
    finished = len(chosen.tokens) < config.max_new_tokens
    return Answered(
        text=chosen.completion,
        finish_reason="stop" if finished else "length",
        strategy=canonical,
        samples=tuple(drawn),
        prompt_tokens=drawn[0].prompt_tokens,
        completion_tokens=sum(len(s.tokens) for s in drawn),
        prefill_flops=drawn[0].prefill_flops if drawn[0].prefill_shared else sum(s.prefill_flops for s in drawn),
        decode_flops=sum(s.decode_flops for s in drawn),
        verifier_flops=sum(s.verifier_flops for s in drawn),
        infer_flops=live.infer_flops,
        seconds=seconds,
        answers=dict(Counter(s.answer or "" for s in drawn)),
    )
