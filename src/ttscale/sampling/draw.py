"""Drawing the N samples of every (model, task, problem) into the store, and samples one by one.

Resumable by construction: before generating, the sweep asks the store which
(problem, sample index) keys already hold a finished row and generates only the
rest. Every sample's seed is a pure function of (run seed, model, task,
problem, index), so a resumed sweep draws exactly what an uninterrupted one
would have drawn, and a finished sweep re-run makes zero backend calls.
Rows are written one backend call per transaction, or, for a backend that hands
back each sample as it finishes, one transaction per batch of finished samples:
a kill loses at most the call in flight, never a partial or duplicated row.
"""

from __future__ import annotations

import dataclasses
import time
from dataclasses import dataclass
from typing import Callable, Sequence

from ttscale import flops
from ttscale.backends import Backend, Generation
from ttscale.backends.chat_posing import posed
from ttscale.backends.streaming import FinishedSample, StreamingBackend
from ttscale.store import Store
from ttscale.types import Problem, Sample, SampleKey, SamplingConfig, Task, stable_hash

ProgressFn = Callable[[int], None]  # called with the number of samples just finished


def sample_seed(run_seed: int, model: str, task: str, problem_id: str, index: int) -> int:
    """A distinct, reproducible 31-bit seed per sample."""
    return int(stable_hash([run_seed, model, task, problem_id, index], length=8), 16) & 0x7FFFFFFF


@dataclass(frozen=True)
class SweepStats:
    planned: int
    already_done: int
    generated: int
    backend_calls: int
    backend_seconds: float
    grading_seconds: float
    wall_seconds: float


def sum_stats(parts: Sequence[SweepStats]) -> SweepStats:
    """Field by field totals (of chunks, splits or models)."""
    return SweepStats(**{f.name: sum(getattr(p, f.name) for p in parts) for f in dataclasses.fields(SweepStats)})


def to_sample(
    run: str,
    backend: Backend,
    task: Task,
    problem: Problem,
    config: SamplingConfig,
    index: int,
    generation: Generation,
    prompt_tokens: int,
    seconds_per_sample: float,
) -> Sample:
    card = backend.card
    completion = generation.text
    error = getattr(generation, "error", None)
    if error is not None:
        # An infrastructure failure is not a result: stored as 'error' (never
        # graded, never counted) and generated again on resume.
        return Sample(
            key=SampleKey(run, backend.name, task.name, problem.problem_id, config.key, index),
            seed=generation.seed, completion="", tokens=(), logprob=0.0, answer=None, correct=False,
            verified=None, prompt_tokens=prompt_tokens, prefill_flops=0.0, decode_flops=0.0,
            verifier_flops=0.0, prefill_shared=backend.prefill_shared, wall_seconds=seconds_per_sample,
            status="error", error=str(error),
        )
    return Sample(
        key=SampleKey(run, backend.name, task.name, problem.problem_id, config.key, index),
        seed=generation.seed,
        completion=completion,
        tokens=tuple(int(t) for t in generation.token_ids),
        logprob=float(generation.logprob),
        answer=task.extract_answer(completion),
        correct=bool(task.grade(problem, completion)),
        verified=task.verify(problem, completion),
        prompt_tokens=prompt_tokens,
        prefill_flops=flops.prefill_flops(card, prompt_tokens),
        decode_flops=(flops.decode_flops(card, prompt_tokens, len(generation.token_ids))
                      if generation.decode_flops is None else float(generation.decode_flops)),
        verifier_flops=float(task.verifier_flops(problem, completion)) if task.has_verifier else 0.0,
        prefill_shared=backend.prefill_shared,
        wall_seconds=seconds_per_sample,
    )


@dataclass(frozen=True)
class Work:
    """The sample indices of one problem still to draw."""

    problem: Problem
    indices: tuple[int, ...]


@dataclass(frozen=True)
class Drawn:
    """What one backend call drew and stored."""

    samples: int
    backend_seconds: float
    grading_seconds: float  # grading and storing
    wall_seconds: float


def missing_work(store: Store, run: str, backend: Backend, task: Task, problems: Sequence[Problem], n: int,
                 config: SamplingConfig) -> list[Work]:
    """Each problem's sample indices the store lacks a finished row for (problems with none left out)."""
    done = store.done_keys(run, backend.name, task.name, config.key)
    todo = [Work(p, tuple(i for i in range(n) if (p.problem_id, i) not in done)) for p in problems]
    return [w for w in todo if w.indices]


class _CallWriter:
    """Stores one call's finished samples as they come, each batch in one transaction."""

    def __init__(self, store: Store, run: str, backend: Backend, task: Task, config: SamplingConfig,
                 work: Sequence[Work], progress: ProgressFn | None) -> None:
        self.store, self.run, self.backend, self.task, self.config = store, run, backend, task, config
        self.work, self.progress = work, progress
        self.prompt_tokens: dict[int, int] = {}
        self.stored: set[tuple[int, int]] = set()
        self.last = time.perf_counter()  # the end of the previous store: backend time runs from here
        self.grading_seconds = 0.0

    def __call__(self, finished: Sequence[FinishedSample]) -> None:
        fresh = [f for f in finished if (f.prompt, f.slot) not in self.stored]
        if not fresh:
            return
        now = time.perf_counter()
        # Batched generation has no per-sample clock: the samples stored together share the
        # backend time since the previous store (a call that streams nothing: the whole call).
        per_sample = (now - self.last) / len(fresh)
        samples = [self._sample(f, per_sample) for f in fresh]
        self.store.put_samples(samples)
        self.stored.update((f.prompt, f.slot) for f in fresh)
        self.last = time.perf_counter()
        self.grading_seconds += self.last - now
        if self.progress:
            self.progress(len(fresh))

    def _sample(self, finished: FinishedSample, per_sample: float) -> Sample:
        work = self.work[finished.prompt]
        if finished.prompt not in self.prompt_tokens:
            self.prompt_tokens[finished.prompt] = self.backend.count_tokens(posed(self.backend, work.problem))
        return to_sample(self.run, self.backend, self.task, work.problem, self.config, work.indices[finished.slot],
                         finished.generation, self.prompt_tokens[finished.prompt], per_sample)


def draw_work(store: Store, run: str, backend: Backend, task: Task, work: Sequence[Work], config: SamplingConfig,
              run_seed: int, progress: ProgressFn | None = None) -> Drawn:
    """One backend call for ``work``; its samples are stored as they come.

    A streaming backend (``StreamingBackend``) hands back each sample as it finishes, and each batch
    of finished samples is stored in one transaction at once: a kill loses only the samples still
    decoding. Otherwise the whole call is stored in one transaction when it returns.
    """
    started = time.perf_counter()
    prompts = [posed(backend, w.problem) for w in work]
    seeds = [[sample_seed(run_seed, backend.name, task.name, w.problem.problem_id, i) for i in w.indices]
             for w in work]
    # Tasks with several stop strings (HumanEval) give them all to the backend,
    # so a sample ends at the first one instead of running on to the token limit.
    stops = task.stop_sequences
    writer = _CallWriter(store, run, backend, task, config, work, progress)
    if isinstance(backend, StreamingBackend):
        pools = backend.generate_streaming(prompts, seeds, config, stops, writer)
    else:
        pools = backend.generate(prompts, seeds, config, stops)
    if [len(pool) for pool in pools] != [len(s) for s in seeds]:
        raise RuntimeError(f"backend {backend.name!r} returned {[len(p) for p in pools]} generations for "
                           f"{[len(s) for s in seeds]} seeds")
    writer([FinishedSample(p, slot, g) for p, pool in enumerate(pools) for slot, g in enumerate(pool)])
    wall = time.perf_counter() - started
    return Drawn(sum(len(s) for s in seeds), wall - writer.grading_seconds, writer.grading_seconds, wall)


def outstanding(store: Store, run: str, backend: Backend, task: Task, problems: Sequence[Problem], n: int,
                config: SamplingConfig, progress: ProgressFn | None) -> tuple[list[Work], int, int]:
    """(the work the store lacks, samples planned, samples already stored); the stored ones count as progress."""
    todo = missing_work(store, run, backend, task, problems, n, config)
    planned = n * len(problems)
    already = planned - sum(len(w.indices) for w in todo)
    if progress and already:
        progress(already)
    return todo, planned, already


def drawn_samples(run: str, backend: Backend, task: Task, work: Sequence[Work], config: SamplingConfig,
                  run_seed: int) -> tuple[list[Sample], float]:
    """One backend call for ``work``, its samples graded and returned, stored nowhere: what a worker on
    another machine runs (the driver stores them); with the call's wall seconds. The same seeds, prompts and
    stop strings as ``draw_work``."""
    started = time.perf_counter()
    prompts = [posed(backend, w.problem) for w in work]
    seeds = [[sample_seed(run_seed, backend.name, task.name, w.problem.problem_id, i) for i in w.indices]
             for w in work]
    pools = backend.generate(prompts, seeds, config, task.stop_sequences)
    if [len(pool) for pool in pools] != [len(s) for s in seeds]:
        raise RuntimeError(f"backend {backend.name!r} returned {[len(p) for p in pools]} generations for "
                           f"{[len(s) for s in seeds]} seeds")
    per_sample = (time.perf_counter() - started) / max(1, sum(len(s) for s in seeds))
    samples = []
    for w, prompt, pool in zip(work, prompts, pools):
        prompt_tokens = backend.count_tokens(prompt)
        samples += [to_sample(run, backend, task, w.problem, config, index, generation, prompt_tokens, per_sample)
                    for index, generation in zip(w.indices, pool)]
    return samples, time.perf_counter() - started


def stats_of(planned: int, already: int, calls: Sequence[Drawn], wall_seconds: float) -> SweepStats:
    return SweepStats(planned=planned, already_done=already, generated=sum(c.samples for c in calls),
                      backend_calls=len(calls), backend_seconds=sum(c.backend_seconds for c in calls),
                      grading_seconds=sum(c.grading_seconds for c in calls), wall_seconds=wall_seconds)


def run_sweep(
    store: Store,
    run: str,
    backend: Backend,
    task: Task,
    problems: Sequence[Problem],
    n: int,
    config: SamplingConfig,
    run_seed: int,
    chunk_problems: int = 64,
    progress: ProgressFn | None = None,
) -> SweepStats:
    """Every missing sample of ``problems``, ``chunk_problems`` problems per backend call."""
    started = time.perf_counter()
    todo, planned, already = outstanding(store, run, backend, task, problems, n, config, progress)
    calls = [draw_work(store, run, backend, task, todo[start:start + chunk_problems], config, run_seed, progress)
             for start in range(0, len(todo), chunk_problems)]
    return stats_of(planned, already, calls, time.perf_counter() - started)
