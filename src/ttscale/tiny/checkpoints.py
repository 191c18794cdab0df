"""Checkpoint cache: train a model once, load it every later time.

A checkpoint is keyed by a hash of everything that determines its weights:
the model config, train_tokens, seed, the data (``data_key``, which the caller
must change whenever the document stream changes), batch size, optimiser
hyperparameters and ``CODE_VERSION`` (bump it when the model or trainer
changes what a given key produces). The thread count is not in the key.

Writes are atomic: the checkpoint goes to a temporary file in the cache
directory, is flushed to disk, then renamed over the final name, so a training
killed at any moment leaves either no checkpoint or a whole one. An unreadable
checkpoint (from outside tampering or a disk fault) is retrained and replaced.
"""

from __future__ import annotations

import dataclasses
import os
import pickle
import tempfile
import warnings
from collections.abc import Callable, Iterable
from pathlib import Path

import torch

from ttscale.tiny.model import TinyConfig, TinyGPT
from ttscale.tiny.trainer import DEFAULT_BATCH_SIZE, DEFAULT_HYPER, ProgressFn, TrainHyper, TrainResult, train
from ttscale.types import ModelCard, stable_hash

CODE_VERSION = "tinygpt-rotary-tied-v1"
FORMAT = 1


# Torch threads for training. The thread count sets how float reductions are
# split, so it is part of what determines the weights: over millions of tokens
# the difference grows, and a model near a learning transition can land on
# either side (d32-l2 at 8M tokens: 97% greedy on the scratchpad sums trained
# on one thread, 8% on two). One fixed count makes the same seed the same model
# on every machine of this kind; one thread is also the fastest here for
# models this small (per-step thread hand-offs cost more than they split).
TRAIN_THREADS = 1


def checkpoint_key(
    config: TinyConfig, train_tokens: int, seed: int, data_key: str, batch_size: int, hyper: TrainHyper,
    threads: int = TRAIN_THREADS,
) -> str:
    """The cache key: a hash of everything that determines the trained weights."""
    return stable_hash(
        {
            "config": config.to_dict(),
            "train_tokens": train_tokens,
            "seed": seed,
            "data_key": data_key,
            "batch_size": batch_size,
            "hyper": hyper.to_dict(),
            "threads": threads,
            "code": CODE_VERSION,
        },
        length=16,
    )


def checkpoint_path(config: TinyConfig, train_tokens: int, seed: int, data_key: str, cache_dir: str | Path,
                    batch_size: int = DEFAULT_BATCH_SIZE, hyper: TrainHyper = DEFAULT_HYPER,
                    threads: int = TRAIN_THREADS) -> Path:
    """Where ``load_or_train`` keeps the model for these arguments."""
    key = checkpoint_key(config, train_tokens, seed, data_key, batch_size, hyper, threads)
    return Path(cache_dir) / f"tinygpt-{key}.pt"


def save_result(result: TrainResult, path: Path) -> None:
    """Write ``result`` to ``path`` atomically (temporary file, fsync, rename)."""
    payload = {
        "format": FORMAT,
        "config": result.config.to_dict(),
        "state_dict": result.model.state_dict(),
        "card": result.card.to_dict(),
        "seed": result.seed,
        "batch_size": result.batch_size,
        "steps": result.steps,
        "wall_seconds": result.wall_seconds,
        "achieved_flops_per_second": result.achieved_flops_per_second,
        "final_loss": result.final_loss,
        "loss_curve": [list(point) for point in result.loss_curve],
    }
    save_atomically(payload, path)


def save_atomically(payload: dict, path: Path) -> None:
    """``torch.save`` to a temporary file beside ``path``, fsync, rename: a kill leaves the old file or the new."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as f:
            torch.save(payload, f)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def load_result(path: Path, name: str | None = None) -> TrainResult:
    """Read a checkpoint written by ``save_result``; ``name`` renames its card."""
    payload = torch.load(path, map_location="cpu", weights_only=True)
    if payload.get("format") != FORMAT:
        raise ValueError(f"{path}: unknown checkpoint format {payload.get('format')!r}")
    config = TinyConfig(**payload["config"])
    model = TinyGPT(config)
    model.load_state_dict(payload["state_dict"])
    model.eval()
    card = ModelCard(**payload["card"])
    if card.bits_per_weight is None:
        # Checkpoints written before cards carried it: the stored tensors say what a pass reads.
        card = dataclasses.replace(card, bits_per_weight=float(model.wte.weight.element_size() * 8))
    if name:
        card = dataclasses.replace(card, name=name)
    return TrainResult(
        model=model,
        card=card,
        config=config,
        seed=payload["seed"],
        batch_size=payload["batch_size"],
        steps=payload["steps"],
        wall_seconds=payload["wall_seconds"],
        achieved_flops_per_second=payload["achieved_flops_per_second"],
        final_loss=payload["final_loss"],
        loss_curve=tuple((int(t), float(l)) for t, l in payload["loss_curve"]),
        cached=True,
    )


def load_or_train(
    config: TinyConfig,
    train_tokens: int,
    seed: int,
    documents_fn: Callable[[], Iterable[str]],
    data_key: str,
    cache_dir: str | Path,
    progress: ProgressFn | None = None,
    batch_size: int = DEFAULT_BATCH_SIZE,
    hyper: TrainHyper = DEFAULT_HYPER,
    name: str | None = None,
    threads: int = TRAIN_THREADS,
) -> TrainResult:
    """The cached model for these arguments, training (and caching) it if needed.

    ``documents_fn()`` is called only when training. ``progress`` receives
    token counts (all of ``card.train_tokens`` at once on a cache hit).
    """
    path = checkpoint_path(config, train_tokens, seed, data_key, cache_dir, batch_size, hyper, threads)
    if path.exists():
        try:
            result = load_result(path, name)
        except (OSError, EOFError, RuntimeError, ValueError, KeyError, TypeError, pickle.UnpicklingError) as exc:
            warnings.warn(f"checkpoint {path} is unreadable ({exc}); retraining", stacklevel=2)
        else:
            if progress:
                progress(result.card.train_tokens or 0)
            return result
    result = train(
        config, documents_fn, train_tokens, seed,
        batch_size=batch_size, hyper=hyper, progress=progress, threads=threads, name=name,
    )
    provenance = f"{result.card.provenance}; trained by ttscale.tiny.trainer, seed {seed}, data {data_key!r}"
    result = dataclasses.replace(result, card=dataclasses.replace(result.card, provenance=provenance))
    save_result(result, path)
    return result
