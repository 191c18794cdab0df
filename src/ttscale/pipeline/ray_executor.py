"""The plan's sampling on a Ray cluster (``--executor ray``): the same units as here, run by workers.

- **Workers**: per in-process model, one Ray actor per node (``SPREAD``), each holding the model opened
  once by the entry's ``reopen`` (a llama.cpp engine, a tiny checkpoint), with its threads set
  explicitly. A model behind an HTTP server holds nothing worth keeping: each of its units is a plain
  Ray task that opens a client, draws and closes it, at most ``max_inflight`` at once (each with the
  backend's own bounded concurrency). A unit (the missing samples of up to ``Chunking.max_problems`` problems of one task) is
  one call of an actor: one backend call, its samples graded there and returned as rows. Workers never
  open the store.
- **Driver**: submits units round-robin, keeps at most ``max_inflight`` in flight (``ray.wait``), and
  writes each unit's rows as it finishes, one transaction each, inserting by the sample's key: a unit
  done twice (a retry after a worker died) writes nothing twice. Progress moves per unit.
- **Identical samples**: a unit's seeds derive from its samples' keys and its problems are grouped as the
  local executor groups them for a fixed ``Chunking`` (``seconds`` unset), so a Ray run stores the rows a
  local run stores. (With ``seconds`` set the local executor sizes calls by measured time; Ray keeps
  whole units of ``max_problems``, so the batches, and with them llama.cpp's rounding, may differ.)
- **Failures**: a worker process that dies is restarted by Ray and its unit retried (``max_restarts``,
  ``max_task_retries``); an application error (an exception raised by the backend) is not retried: it
  stops the run, as it does locally, and samples a backend reports as failed are stored as errors.
- **Resume**: only what the store lacks is submitted, as locally.
- A model that can be opened only here (an entry without ``reopen``) is sampled here, by the local
  executor's path.
"""

from __future__ import annotations

import itertools
import os
import socket
import time
from collections import deque
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass

from ttscale.backends import Backend
from ttscale.errors import InputError, require_extra
from ttscale.pipeline.executors import draw_chunked
from ttscale.pipeline.plan import Chunking, ModelEntry
from ttscale.sampling.draw import Drawn, SweepStats, Work, drawn_samples, outstanding, stats_of
from ttscale.store import Store
from ttscale.types import Problem, Sample, SamplingConfig, Task

WORKER_RESTARTS = 3  # a worker that keeps dying is a bug to report, not to retry for ever


@dataclass(frozen=True)
class RaySettings:
    """``address``: None starts a local cluster for the run (stopped after it); ``"auto"`` or ``HOST:PORT``
    joins a running one. ``max_inflight``: units submitted and not yet written. ``worker_cpus``: the CPUs
    (and threads) each model worker takes."""

    address: str | None = None
    max_inflight: int = 8
    worker_cpus: int = 1


def _check_answers(address: str) -> None:
    """A HOST:PORT where nothing listens fails in seconds, not after Ray's long reconnection attempts."""
    if address == "auto":
        return
    host, sep, port = address.rpartition(":")
    if not sep or not port.isdigit():
        raise InputError(f"--ray-address {address!r}: expected auto or HOST:PORT (the head's GCS port, 6379 by "
                         "default)")
    try:
        socket.create_connection((host or "127.0.0.1", int(port)), timeout=5).close()
    except OSError as exc:
        raise InputError(f"--ray-address {address!r}: no Ray cluster answers there ({exc.strerror or exc})") from None


def _draw_once(reopen: Callable[[], Backend], run: str, task: Task, work: Sequence[Work], config: SamplingConfig,
               run_seed: int) -> tuple[list[Sample], float]:
    """A plain Ray task: an HTTP model's unit, on a client opened for it."""
    backend = reopen()
    try:
        return drawn_samples(run, backend, task, work, config, run_seed)
    finally:
        backend.close()


def _over_http(backend: Backend) -> bool:
    try:
        from ttscale.backends.openai import OpenAIBackend
    except ImportError:  # without the openai-backend extra no backend speaks HTTP
        return False
    return isinstance(backend, OpenAIBackend)


class _ModelWorker:
    """One model opened on a Ray worker (made a Ray actor in ``RayExecutor``)."""

    def __init__(self, reopen: Callable[[], Backend]) -> None:
        self.backend = reopen()

    def draw(self, run: str, task: Task, work: Sequence[Work], config: SamplingConfig,
             run_seed: int) -> tuple[list[Sample], float]:
        return drawn_samples(run, self.backend, task, work, config, run_seed)

    def node(self) -> str:
        """The Ray node this worker runs on."""
        import ray

        return ray.get_runtime_context().get_node_id()


class RayExecutor:
    name = "ray"

    def __init__(self, settings: RaySettings = RaySettings()) -> None:
        self.ray = ray = require_extra("ray", "ray")
        self.settings = settings
        self._started_here = False
        if not ray.is_initialized():
            options = dict(include_dashboard=False, log_to_driver=False, configure_logging=False)
            if settings.address is None:
                ray.init(num_cpus=os.cpu_count() or 1, **options)
                self._started_here = True
            else:
                _check_answers(settings.address)
                try:
                    ray.init(address=settings.address, **options)
                except (ConnectionError, RuntimeError, ValueError) as exc:
                    raise InputError(f"--ray-address {settings.address!r}: no Ray cluster answers there ({exc})") \
                        from None
        self._actor_class = ray.remote(max_restarts=WORKER_RESTARTS, max_task_retries=WORKER_RESTARTS)(_ModelWorker)
        self._workers: dict[str, list] = {}

    def _workers_of(self, entry: ModelEntry) -> list:
        if entry.name not in self._workers:
            nodes = sum(1 for node in self.ray.nodes() if node.get("Alive"))
            self._workers[entry.name] = [
                self._actor_class.options(num_cpus=self.settings.worker_cpus, scheduling_strategy="SPREAD")
                .remote(entry.reopen) for _ in range(max(1, nodes))]
        return self._workers[entry.name]

    def draw(self, store: Store, run: str, entry: ModelEntry, backend: Backend, task: Task,
             problems: Sequence[Problem], n: int, config: SamplingConfig, seed: int, chunking: Chunking,
             progress: Callable[[int], None]) -> SweepStats:
        if entry.reopen is None:
            return draw_chunked(store, run, backend, task, problems, n, config, seed, chunking, progress)
        started = time.perf_counter()
        todo, planned, already = outstanding(store, run, backend, task, problems, n, config, progress)
        units = deque(todo[start:start + chunking.max_problems] for start in range(0, len(todo), chunking.max_problems))
        if not units:
            return stats_of(planned, already, [], time.perf_counter() - started)
        submit = self._submitter(entry, backend)
        pending: dict = {}
        calls: list[Drawn] = []
        while units or pending:
            while units and len(pending) < self.settings.max_inflight:
                unit = units.popleft()
                pending[submit(run, task, unit, config, seed)] = unit
            ready, _ = self.ray.wait(list(pending), num_returns=1)
            for ref in ready:
                del pending[ref]
                samples, seconds = self.ray.get(ref)  # an application error is raised here, as locally
                written = time.perf_counter()
                store.put_samples(samples)
                grading = time.perf_counter() - written
                calls.append(Drawn(len(samples), seconds, grading, seconds + grading))
                progress(len(samples))
        return stats_of(planned, already, calls, time.perf_counter() - started)

    def _submitter(self, entry: ModelEntry, backend: Backend) -> Callable:
        """How a unit of ``entry`` is submitted: to its workers in turn, or as a plain task (an HTTP model)."""
        if _over_http(backend):
            task = self.ray.remote(max_retries=WORKER_RESTARTS)(_draw_once)
            return lambda *unit: task.remote(entry.reopen, *unit)
        workers = self._workers_of(entry)
        turns = itertools.count()
        return lambda *unit: workers[next(turns) % len(workers)].draw.remote(*unit)

    def spread(self, fn: Callable, calls: Sequence[tuple], cpus: int = 1) -> Iterator[tuple[int, object]]:
        """``fn(*call)`` for every call as Ray tasks (``cpus`` each, at most ``max_inflight`` at once), yielding
        (index of the call, its result) as each finishes: units of work that are not a model's samples (a ladder
        rung to train). A task whose worker dies is retried by Ray; an exception it raises is raised here."""
        remote = self.ray.remote(max_retries=WORKER_RESTARTS)(fn).options(num_cpus=cpus)
        waiting = deque(enumerate(calls))
        pending: dict = {}
        while waiting or pending:
            while waiting and len(pending) < self.settings.max_inflight:
                index, call = waiting.popleft()
                pending[remote.remote(*call)] = index
            ready, _ = self.ray.wait(list(pending), num_returns=1)
            for ref in ready:
                yield pending.pop(ref), self.ray.get(ref)

    def worker_count(self) -> int:
        """Model workers (actors) alive now."""
        return sum(len(workers) for workers in self._workers.values())

    def worker_nodes(self, entry: ModelEntry) -> list[str]:
        """The nodes the model's workers run on (one worker per node)."""
        return self.ray.get([worker.node.remote() for worker in self._workers_of(entry)])

    def done_with(self, entry: ModelEntry) -> None:
        for worker in self._workers.pop(entry.name, []):
            self.ray.kill(worker)

    def close(self) -> None:
        for name in list(self._workers):
            for worker in self._workers.pop(name):
                self.ray.kill(worker)
        if self._started_here:
            self.ray.shutdown()
