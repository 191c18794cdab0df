"""The compute ledger of a tree search, per problem, and what a search returns.

Searches run many problems in lockstep so each backend call is one large
batch. A batched call has no per-problem clock, so its wall time is split
among the problems in it by their share of its counted FLOPs (the same rule as
the sweep, which splits a call's time evenly among equal-cost samples).

FLOPs counted (see ``StepSampler._call`` and the scorers):
- generation: per call, the prefill of every prompt's context (prompt + prefix)
  once per prompt when the backend shares the prefill, else once per seed, of
  the tokens past what the backend found in its cache (``prefix_reuse``: on
  llama.cpp the parent's cells; without a cache the whole context, anew every
  call); plus ``decode_flops`` of every generated token;
- scoring: what the scorer reports (0 for the model's own log-probability,
  a prefill of the context through the value model for the learned value).
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from ttscale.types import SearchOutcome


class ComputeLedger:
    """Running totals for ``n`` problems (rows)."""

    def __init__(self, n: int) -> None:
        self.generation_flops = np.zeros(n)  # prefill + decode
        self.prefill_flops = np.zeros(n)  # the prefill part: context tokens not found cached
        self.scorer_flops = np.zeros(n)
        self.seconds = np.zeros(n)
        self.step_samples = np.zeros(n, dtype=np.int64)  # steps the search asked for
        self.regenerations = np.zeros(n, dtype=np.int64)  # re-draws of a step cut at the other boundary
        self.generated_tokens = np.zeros(n, dtype=np.int64)
        self.prefill_tokens = np.zeros(n, dtype=np.int64)
        self.cached_tokens = np.zeros(n, dtype=np.int64)  # context tokens found in the backend's cache
        self.calls = np.zeros(n, dtype=np.int64)  # backend calls (prompts) this problem took part in
        self.expansions = np.zeros(n, dtype=np.int64)  # nodes expanded

    def _split_seconds(self, owners: Sequence[int], costs: Sequence[float], seconds: float) -> None:
        total = float(sum(costs))
        for owner, cost in zip(owners, costs):
            share = cost / total if total > 0 else 1.0 / len(owners)
            self.seconds[owner] += seconds * share

    def charge_generation(self, owners: Sequence[int], costs: Sequence[float], seconds: float) -> None:
        for owner, cost in zip(owners, costs):
            self.generation_flops[owner] += cost
        if owners:
            self._split_seconds(owners, costs, seconds)

    def charge_scorer(self, owners: Sequence[int], costs: Sequence[float], seconds: float) -> None:
        for owner, cost in zip(owners, costs):
            self.scorer_flops[owner] += cost
        if owners:
            self._split_seconds(owners, costs, seconds)


def outcome(task, problem, node, ledger: ComputeLedger, row: int) -> SearchOutcome:
    """The outcome of ``problem`` (ledger row ``row``) answered with ``node``'s solution."""
    completion = node.completion
    return SearchOutcome(
        problem_id=problem.problem_id,
        completion=completion,
        answer=task.extract_answer(completion),
        correct=bool(task.grade(problem, completion)),
        value=float(node.value),
        complete=node.complete,
        generation_flops=float(ledger.generation_flops[row]),
        prefill_flops=float(ledger.prefill_flops[row]),
        scorer_flops=float(ledger.scorer_flops[row]),
        seconds=float(ledger.seconds[row]),
        step_samples=int(ledger.step_samples[row]),
        regenerations=int(ledger.regenerations[row]),
        generated_tokens=int(ledger.generated_tokens[row]),
        prefill_tokens=int(ledger.prefill_tokens[row]),
        cached_tokens=int(ledger.cached_tokens[row]),
        calls=int(ledger.calls[row]),
        expansions=int(ledger.expansions[row]),
    )
