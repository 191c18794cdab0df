"""Train the rungs of a ladder side by side: one process per core, one torch thread each.

Each model trains on one thread (``checkpoints.TRAIN_THREADS``: the thread
count is part of what fixes the weights), so a single training leaves the
other cores idle. Rungs not yet in the checkpoint cache are trained in a
process pool instead, the costliest first (so the longest job starts at
once; ``expected_cost``), each worker writing its checkpoint to the cache; the parent then
loads every rung from the cache. Weights are exactly those of a training in
the parent: same arguments, same thread count.

Progress: workers report tokens trained through a queue; the parent advances
the bars. A killed lab loses only the rungs still training (checkpoints are
written atomically), and the re-run trains just those.

On a Ray cluster (``ttscale lab --executor ray``) each missing rung is a Ray task instead, trained on one
thread in a scratch cache of its worker's and returned whole; the parent writes it to its own cache (a
worker on another machine cannot), and the bars move a rung at a time.
"""

from __future__ import annotations

import multiprocessing
import os
import queue as queue_module
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import FIRST_COMPLETED, ProcessPoolExecutor, wait
from pathlib import Path

import torch

from ttscale.flops import train_flops
from ttscale.tiny.checkpoints import TRAIN_THREADS, checkpoint_path, load_or_train, save_result
from ttscale.tiny.model import model_card
from ttscale.tiny.trainer import DEFAULT_HYPER, TrainHyper, TrainResult

AddBar = Callable[[str, int], Callable[[int], None]]


def available_cores() -> int:
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not Linux
        return os.cpu_count() or 1


def is_cached(rung, seed: int, data_key: str, cache_dir: Path, batch_size: int,
              hyper: TrainHyper = DEFAULT_HYPER) -> bool:
    return checkpoint_path(rung.config, rung.train_tokens, seed, data_key, cache_dir, batch_size, hyper).exists()


# Per-token overhead of a training step on one thread, in FLOP-equivalents: at
# these sizes a step costs about (train FLOPs per token + this) / (6e10 FLOP/s)
# per token (measured from d32-l1, 1e5 FLOPs/token at ~2e5 tokens/s, to d128-l3,
# 3.8e6 FLOPs/token at ~1.5e4 tokens/s).
STEP_OVERHEAD_FLOPS_PER_TOKEN = 2e5


def expected_cost(rung) -> float:
    """A rung's training time, up to a constant: its FLOPs plus the per-token overhead."""
    card = model_card(rung.config, name=rung.name, train_tokens=rung.train_tokens, train_flops=None)
    return train_flops(card, rung.train_tokens, rung.config.context_length) + (
        STEP_OVERHEAD_FLOPS_PER_TOKEN * rung.train_tokens)


def _train_in_worker(rung, seed: int, documents_fn, data_key: str, cache_dir: str, batch_size: int, progress_queue,
                     hyper: TrainHyper = DEFAULT_HYPER):
    """Runs in a worker process: train one rung into the cache; returns its name."""
    torch.set_num_threads(TRAIN_THREADS)
    load_or_train(rung.config, rung.train_tokens, seed, documents_fn, data_key, cache_dir, batch_size=batch_size,
                  hyper=hyper, name=rung.name, progress=lambda tokens: progress_queue.put((rung.name, tokens)))
    return rung.name


def _train_in_scratch(rung, seed: int, documents_fn, data_key: str, batch_size: int,
                      hyper: TrainHyper = DEFAULT_HYPER) -> TrainResult:
    """Runs as a Ray task: one rung trained (one thread) in a scratch cache, returned whole."""
    import tempfile

    torch.set_num_threads(TRAIN_THREADS)
    with tempfile.TemporaryDirectory(prefix="ttscale-rung-") as scratch:
        return load_or_train(rung.config, rung.train_tokens, seed, documents_fn, data_key, scratch,
                             batch_size=batch_size, hyper=hyper, name=rung.name)


# Runs ``fn(*call)`` for each call elsewhere, yielding (call index, result) as each finishes (RayExecutor.spread).
Spread = Callable[[Callable, Sequence[tuple]], Iterator[tuple[int, object]]]


def train_rungs(
    rungs: Sequence,
    seed: int,
    documents_fn: Callable[[], object],
    data_key: str,
    cache_dir: Path,
    batch_size: int,
    add_bar: AddBar,
    workers: int | None = None,
    hyper: TrainHyper = DEFAULT_HYPER,
    spread: Spread | None = None,
) -> dict[str, TrainResult]:
    """Every rung's trained model (name -> TrainResult), training the uncached ones in parallel: in local worker
    processes, or, with ``spread``, as tasks on a cluster.

    ``documents_fn`` must be picklable (a module-level function or a ``functools.partial``).
    """
    advance = {rung.name: add_bar(f"train {rung.name}", rung.train_tokens) for rung in rungs}
    missing = [r for r in rungs if not is_cached(r, seed, data_key, cache_dir, batch_size, hyper)]
    workers = min(workers or available_cores(), len(missing))
    if spread is not None and missing:
        costliest_first = sorted(missing, key=lambda r: -expected_cost(r))
        calls = [(r, seed, documents_fn, data_key, batch_size, hyper) for r in costliest_first]
        for index, result in spread(_train_in_scratch, calls):
            rung = costliest_first[index]
            save_result(result, checkpoint_path(rung.config, rung.train_tokens, seed, data_key, cache_dir,
                                                batch_size, hyper))
            advance[rung.name](rung.train_tokens)
        trained_here = {r.name for r in missing}
    elif workers > 1:
        costliest_first = sorted(missing, key=lambda r: -expected_cost(r))
        context = multiprocessing.get_context("spawn")  # no fork of a process holding torch threads
        with context.Manager() as manager, ProcessPoolExecutor(workers, mp_context=context) as pool:
            progress_queue = manager.Queue()
            pending = {pool.submit(_train_in_worker, r, seed, documents_fn, data_key, str(cache_dir), batch_size,
                                   progress_queue, hyper) for r in costliest_first}
            while pending:
                done, pending = wait(pending, timeout=0.2, return_when=FIRST_COMPLETED)
                _drain(progress_queue, advance)
                for future in done:
                    future.result()  # a worker's error stops the lab here
            _drain(progress_queue, advance)
        trained_here = {r.name for r in missing}
    else:
        trained_here = set()
    # A cache hit for the rungs the pool trained (their bars are full already); the rest train here.
    return {
        rung.name: load_or_train(rung.config, rung.train_tokens, seed, documents_fn, data_key, cache_dir,
                                 batch_size=batch_size, hyper=hyper, name=rung.name,
                                 progress=None if rung.name in trained_here else advance[rung.name])
        for rung in rungs
    }


def _drain(progress_queue, advance: dict[str, Callable[[int], None]]) -> None:
    while True:
        try:
            name, tokens = progress_queue.get_nowait()
        except queue_module.Empty:
            return
        advance[name](tokens)
