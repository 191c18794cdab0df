"""Where a plan's units of work run: here (``LocalExecutor``), or on a Ray cluster (``ray_executor``).

A unit is a group of pools of one model (the missing samples of up to ``Chunking.max_problems``
problems of one task, one backend call). Both executors draw the same units with the same seeds and
store them the same way (the driver is the only writer; a sample is inserted by its key, so a unit
done twice writes nothing twice): they differ only in where the backend call runs.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator, Sequence
from typing import Protocol, runtime_checkable

from ttscale.backends import Backend
from ttscale.pipeline.plan import Chunking, ModelEntry
from ttscale.sampling.draw import Drawn, SweepStats, Work, draw_work, outstanding, run_sweep, stats_of
from ttscale.store import Store
from ttscale.types import Problem, SamplingConfig, Task


class Executor(Protocol):
    name: str

    def draw(self, store: Store, run: str, entry: ModelEntry, backend: Backend, task: Task,
             problems: Sequence[Problem], n: int, config: SamplingConfig, seed: int, chunking: Chunking,
             progress: Callable[[int], None]) -> SweepStats:
        """Every missing sample of ``problems`` (n each) into ``store``; ``backend`` is the driver's copy."""
        ...

    def done_with(self, entry: ModelEntry) -> None:
        """The model's work is over: free what holds it (workers elsewhere)."""
        ...

    def close(self) -> None: ...


@runtime_checkable
class SpreadingExecutor(Protocol):
    """An executor that also runs other units of work elsewhere (a ladder rung to train)."""

    def spread(self, fn: Callable, calls: Sequence[tuple], cpus: int = 1) -> Iterator[tuple[int, object]]:
        """``fn(*call)`` for every call, yielding (index of the call, its result) as each finishes."""
        ...


class LocalExecutor:
    """Every unit in this process, on the driver's backend (``draw_chunked``)."""

    name = "local"

    def draw(self, store, run, entry, backend, task, problems, n, config, seed, chunking, progress) -> SweepStats:
        return draw_chunked(store, run, backend, task, problems, n, config, seed, chunking, progress)

    def done_with(self, entry: ModelEntry) -> None:
        pass

    def close(self) -> None:
        pass


def draw_chunked(store: Store, run: str, backend: Backend, task: Task, problems: Sequence[Problem], n: int,
                 config: SamplingConfig, seed: int, chunking: Chunking,
                 progress: Callable[[int], None]) -> SweepStats:
    """Every missing sample of ``problems``, in backend calls sized by ``chunking`` (see ``Chunking``).

    Every sample has its own seed, so the chunking does not change what is drawn (for llama.cpp, up to
    the rounding of its kernels, which varies with the batch).
    """
    if chunking.seconds is None:
        return run_sweep(store, run, backend, task, problems, n, config, seed, chunk_problems=chunking.max_problems,
                         progress=progress)
    started = time.perf_counter()
    todo, planned, already = outstanding(store, run, backend, task, problems, n, config, progress)
    calls: list[Drawn] = []
    size = Chunking.FIRST_SAMPLES
    while todo:
        call, todo = take_samples(todo, size)
        drawn = draw_work(store, run, backend, task, call, config, seed, progress)
        calls.append(drawn)
        size = chunking.next_samples(drawn.samples, drawn.wall_seconds / drawn.samples, n)
    return stats_of(planned, already, calls, time.perf_counter() - started)


def take_samples(todo: Sequence[Work], size: int) -> tuple[list[Work], list[Work]]:
    """(about ``size`` samples from the front of ``todo``, the rest): whole problems while they fit, else
    the first problem's first ``size`` samples (its others go back to the front)."""
    taken: list[Work] = []
    count = 0
    for i, work in enumerate(todo):
        if count + len(work.indices) > size:
            if taken:
                return taken, list(todo[i:])
            head, rest = Work(work.problem, work.indices[:size]), Work(work.problem, work.indices[size:])
            return [head], [rest, *todo[i + 1:]]
        taken.append(work)
        count += len(work.indices)
    return taken, []
