"""Value models for the lab's ladder: sample a calibration split, train one value model per model.

Per model: ``n_problems`` problems (many problems, few samples each: the
value model must see many digit combinations to learn to check them) of the task's **calib** split (disjoint from
test by content hash; checked again against ``test_problem_ids``), ``n_samples``
samples each, drawn by the ordinary resumable sweep into the given store under
its own run (``calibration_run(run)``), then a value model trained on them
(``ttscale.lab.value_model``). A value model is trained for its *own* policy:
it predicts whether that model's continuation of a prefix ends right.

What it costs, added to the model's training compute at the tree-search
points (``TrainedValue.total_train_flops``): the value model's training FLOPs
and the FLOPs of sampling its calibration data (prefill once per problem when
the backend shares it, plus every sample's decode).

Cached: a trained value model is saved (atomically) in ``cache_dir`` under a
hash of its training data and settings, so a re-run loads it.
"""

from __future__ import annotations

import os
from collections.abc import Collection, Mapping
from dataclasses import asdict
from pathlib import Path

import torch

from ttscale.backends.tiny import TinyBackend
from ttscale.tiny.checkpoints import save_atomically
from ttscale.tiny.model import TinyConfig
from ttscale.lab.value_model import DEFAULT_CONFIG, ValueConfig, ValueModel, value_examples
from ttscale.lab.value_training import TrainedValue, check_split, data_key, train_value_model
from ttscale.sampling.pools import pools_from_samples
from ttscale.store import Store
from ttscale.strategies.step_search import step_format_for
from ttscale.sampling.draw import run_sweep
from ttscale.types import ModelCard, Sample, SamplingConfig

CALIBRATION_SAMPLING = SamplingConfig(temperature=1.0, top_p=1.0, max_new_tokens=40)


def calibration_run(run: str) -> str:
    return f"{run}-value-calib"


def sampling_flops(samples: list[Sample]) -> float:
    """What drawing these samples cost: every pool's compute for all its draws (the sweep's own accounting)."""
    return sum(pool.inference_flops(pool.n, with_verifier=False)
               for cell in pools_from_samples(samples).values() for pool in cell)


def _save(value: TrainedValue, path: Path) -> None:
    payload = {"config": asdict(value.config), "body": value.model.body.config.to_dict(), "state_dict": value.model.state_dict(), "key": value.key,
               "train_flops": value.train_flops, "seconds": value.seconds, "metrics": value.metrics}
    save_atomically(payload, path)


def _load(path: Path) -> TrainedValue | None:
    try:
        payload = torch.load(path, map_location="cpu", weights_only=True)
        config = ValueConfig(**payload["config"])
        model = ValueModel(TinyConfig(**payload["body"]), readout=config.readout)
        model.load_state_dict(payload["state_dict"])
    except (OSError, EOFError, RuntimeError, KeyError, TypeError, ValueError):
        return None  # unreadable: retrain and replace
    model.eval()
    return TrainedValue(model=model, config=config, key=payload["key"], train_flops=float(payload["train_flops"]),
                        seconds=float(payload["seconds"]), metrics=dict(payload["metrics"]))


def train_value_models(
    store: Store,
    run: str,
    models: Mapping[str, torch.nn.Module],
    cards: Mapping[str, ModelCard],
    task,
    test_problem_ids: Collection[str],
    seed: int = 0,
    cache_dir: str | os.PathLike | None = None,
    n_problems: int = 4000,
    n_samples: int = 4,
    config: ValueConfig = DEFAULT_CONFIG,
    sampling: SamplingConfig = CALIBRATION_SAMPLING,
) -> dict[str, TrainedValue]:
    """One trained value model per model (name -> TrainedValue)."""
    fmt = step_format_for(task)
    problems = task.problems(n_problems, seed, "calib")
    by_id = {p.problem_id: p for p in problems}
    calib = calibration_run(run)
    store.start_run(calib, {"purpose": "value-model calibration samples", "task": task.name, "split": "calib",
                            "n_problems": n_problems, "n_samples": n_samples, "sampling": sampling.key, "seed": seed})
    out: dict[str, TrainedValue] = {}
    for name, model in models.items():
        backend = TinyBackend(name=name, card=cards[name], model=model)
        run_sweep(store, calib, backend, task, problems, n_samples, sampling, seed)
        samples = [s for s in store.samples(calib, model=name, task=task.name, config=sampling.key)
                   if s.key.problem_id in by_id]
        examples = value_examples(samples, by_id, fmt)
        check_split(examples, test_problem_ids)
        path = Path(cache_dir) / f"value-{data_key(examples, config, model)}.pt" if cache_dir else None
        value = _load(path) if path is not None and path.exists() else None
        if value is None:
            value = train_value_model(examples, config, test_problem_ids, policy=model)
            if path is not None:
                _save(value, path)
        value.data_flops = sampling_flops(samples)
        out[name] = value
    return out
