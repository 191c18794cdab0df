"""Samples by index, for live strategies: drawn from backends, or read from the store.

Both give sample i of a (model, task, problem) with the sweep's seed for i
(``draw.sample_seed``), so a live strategy run on ``BackendSamples`` and the
same strategy run on ``StoredSamples`` of a pool a sweep drew give the same
answer: the replay of a live strategy, in the order it draws.

``BackendSamples`` keeps what it generates in the store when it has one (same
keys, seeds and costs as a sweep's rows), and reads a stored sample instead of
generating it again.
"""

from __future__ import annotations

import time
from collections.abc import Mapping, Sequence

from ttscale.backends import Backend
from ttscale.backends.chat_posing import posed
from ttscale.errors import InputError, TtscaleError
from ttscale.sampling.draw import sample_seed, to_sample
from ttscale.store import Store
from ttscale.types import ModelCard, Problem, Sample, SamplingConfig, Task


def stored_by_problem(store: Store, run: str, model: str, task: str, config: str) -> dict[str, dict[int, Sample]]:
    """One model's stored samples of a cell, ``{problem_id: {sample_index: sample}}``: one query."""
    found: dict[str, dict[int, Sample]] = {}
    for sample in store.samples(run, model=model, task=task, config=config):
        found.setdefault(sample.key.problem_id, {})[sample.key.sample_index] = sample
    return found


class SampleFailed(TtscaleError):
    """A backend could not produce a sample (an infrastructure failure, after its retries): nothing is kept.
    ``cause`` is the backend's own message (e.g. ``HTTP 503 from URL: ...``)."""

    def __init__(self, message: str, cause: str) -> None:
        super().__init__(message)
        self.cause = cause


class BackendSamples:
    """Sample i of a problem from ``backends[model]``, generated on first use."""

    def __init__(self, backends: Sequence[Backend], task: Task, config: SamplingConfig, run_seed: int,
                 run: str = "live", store: Store | None = None) -> None:
        self.backends = list(backends)
        self.task, self.config, self.run_seed, self.run, self.store = task, config, run_seed, run, store
        self._known: dict[int, dict[str, dict[int, Sample]]] = {}  # model -> problem -> index -> sample
        self.backend_calls = 0

    @property
    def n_models(self) -> int:
        return len(self.backends)

    def model(self, index: int) -> ModelCard:
        return self.backends[index].card

    def _cached(self, model: int, problem: Problem) -> dict[int, Sample]:
        if model not in self._known:
            self._known[model] = {} if self.store is None else stored_by_problem(
                self.store, self.run, self.backends[model].name, self.task.name, self.config.key)
        return self._known[model].setdefault(problem.problem_id, {})

    def draw(self, model: int, problem: Problem, indices: Sequence[int]) -> list[Sample]:
        known = self._cached(model, problem)
        missing = [i for i in indices if i not in known]
        if missing:
            backend = self.backends[model]
            seeds = [sample_seed(self.run_seed, backend.name, self.task.name, problem.problem_id, i) for i in missing]
            stops = self.task.stop_sequences
            started = time.perf_counter()
            (generations,) = backend.generate([posed(backend, problem)], [seeds], self.config, stops)
            per_sample = (time.perf_counter() - started) / len(missing)
            self.backend_calls += 1
            prompt_tokens = backend.count_tokens(posed(backend, problem))
            fresh = [to_sample(self.run, backend, self.task, problem, self.config, i, g, prompt_tokens, per_sample)
                     for i, g in zip(missing, generations, strict=True)]
            failed = [s for s in fresh if s.status != "ok"]
            if failed:
                raise SampleFailed(f"model {backend.name!r}, problem {problem.problem_id!r}: sample "
                                   f"{failed[0].key.sample_index} failed: {failed[0].error}", failed[0].error or "")
            if self.store is not None:
                self.store.put_samples(fresh)
            known.update({s.key.sample_index: s for s in fresh})
        return [known[i] for i in indices]


class StoredSamples:
    """Sample i of a problem read from stored pools (``samples[model][problem_id]`` in index order)."""

    def __init__(self, cards: Sequence[ModelCard], samples: Sequence[Mapping[str, Sequence[Sample]]]) -> None:
        self.cards = list(cards)
        self.samples = list(samples)

    @classmethod
    def from_store(cls, store: Store, run: str, models: Sequence[tuple[str, ModelCard]], task: str,
                   config: str) -> StoredSamples:
        """``models``: (name the samples are stored under, its card), in the strategy's model order."""
        by_model = []
        for name, _card in models:
            by_problem = stored_by_problem(store, run, name, task, config)
            by_model.append({pid: [rows[i] for i in sorted(rows)] for pid, rows in by_problem.items()})
        return cls([card for _name, card in models], by_model)

    @property
    def n_models(self) -> int:
        return len(self.cards)

    def model(self, index: int) -> ModelCard:
        return self.cards[index]

    def draw(self, model: int, problem: Problem, indices: Sequence[int]) -> list[Sample]:
        pool = self.samples[model].get(problem.problem_id, ())
        if indices and max(indices) >= len(pool):
            raise InputError(f"model {self.cards[model].name!r}, problem {problem.problem_id!r}: the stored pool has "
                             f"{len(pool)} samples; the strategy asked for sample {max(indices)}")
        return [pool[i] for i in indices]
