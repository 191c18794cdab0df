"""Where a plan's units of work run: here (``LocalExecutor``), or on a Ray cluster (``ray_executor``).

A unit is a group of pools of one model (the missing samples of up to ``Chunking.max_problems``
problems of one task, one backend call). Both executors draw the same units with the same seeds and
store them the same way (the driver is the only writer; a sample is inserted by its key, so a unit
done twice writes nothing twice): they differ only in where the backend call runs.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from typing import Protocol

from ttscale.backends import Backend
from ttscale.errors import InputError
from ttscale.pipeline.plan import Chunking, ModelEntry
from ttscale.sampling.draw import Drawn, SweepStats, Work, draw_work, missing_work, run_sweep, stats_of
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


EXECUTORS = ("local", "ray")


def executor_named(name: str, ray_address: str | None = None, max_inflight: int = 8, worker_cpus: int = 1
                   ) -> Executor:
    """The executor ``--executor NAME`` asks for (its options checked, a Ray cluster reached, before any work)."""
    if name not in EXECUTORS:
        raise InputError(f"--executor must be one of {', '.join(EXECUTORS)}, got {name!r}")
    if ray_address is not None and name != "ray":
        raise InputError(f"--ray-address {ray_address!r}: a Ray address is used only with --executor ray")
    if not 1 <= max_inflight <= 100_000:
        raise InputError(f"--max-inflight must be in 1..100000, got {max_inflight}")
    if name == "local":
        return LocalExecutor()
    from ttscale.pipeline.ray_executor import RayExecutor, RaySettings

    return RayExecutor(RaySettings(address=ray_address, max_inflight=max_inflight, worker_cpus=worker_cpus))


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
    todo = missing_work(store, run, backend, task, problems, n, config)
    planned = n * len(problems)
    already = planned - sum(len(w.indices) for w in todo)
    if already:
        progress(already)
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
