"""Drawing the N samples of every (model, task, problem) into the store, and samples one by one.

Resumable by construction: before generating, the sweep asks the store which
(problem, sample index) keys already hold a finished row and generates only the
rest. Every sample's seed is a pure function of (run seed, model, task,
problem, index), so a resumed sweep draws exactly what an uninterrupted one
would have drawn, and a finished sweep re-run makes zero backend calls.
Rows are written one chunk of problems per transaction: a kill loses at most
the chunk in flight, never a partial or duplicated row.
"""

from __future__ import annotations

import dataclasses
import time
from dataclasses import dataclass
from typing import Callable, Sequence

from ttscale import flops
from ttscale.backends import Backend, Generation
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
        decode_flops=flops.decode_flops(card, prompt_tokens, len(generation.token_ids)),
        verifier_flops=float(task.verifier_flops(problem, completion)) if task.has_verifier else 0.0,
        prefill_shared=backend.prefill_shared,
        wall_seconds=seconds_per_sample,
    )


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
    started = time.perf_counter()
    done = store.done_keys(run, backend.name, task.name, config.key)
    todo: list[tuple[Problem, list[int]]] = []
    for problem in problems:
        missing = [i for i in range(n) if (problem.problem_id, i) not in done]
        if missing:
            todo.append((problem, missing))
    planned = n * len(problems)
    already = planned - sum(len(m) for _, m in todo)
    if progress and already:
        progress(already)

    # Tasks with several stop strings (HumanEval) give them all to the backend,
    # so a sample ends at the first one instead of running on to the token limit.
    stops = task.stop_sequences
    calls = generated = 0
    backend_seconds = grading_seconds = 0.0
    for start in range(0, len(todo), chunk_problems):
        chunk = todo[start : start + chunk_problems]
        prompts = [p.prompt for p, _ in chunk]
        seeds = [[sample_seed(run_seed, backend.name, task.name, p.problem_id, i) for i in missing] for p, missing in chunk]
        t0 = time.perf_counter()
        pools = backend.generate(prompts, seeds, config, stops)
        t1 = time.perf_counter()
        calls += 1
        rows = sum(len(m) for _, m in chunk)
        # Batched generation has no per-sample clock: each sample is charged
        # its share of the chunk's wall time.
        per_sample = (t1 - t0) / rows
        samples: list[Sample] = []
        for (problem, missing), pool in zip(chunk, pools):
            prompt_tokens = backend.count_tokens(problem.prompt)
            for index, generation in zip(missing, pool, strict=True):
                samples.append(
                    to_sample(run, backend, task, problem, config, index, generation, prompt_tokens, per_sample)
                )
        store.put_samples(samples)
        t2 = time.perf_counter()
        backend_seconds += t1 - t0
        grading_seconds += t2 - t1
        generated += rows
        if progress:
            progress(rows)
    return SweepStats(planned=planned, already_done=already, generated=generated, backend_calls=calls,
                      backend_seconds=backend_seconds, grading_seconds=grading_seconds,
                      wall_seconds=time.perf_counter() - started)
