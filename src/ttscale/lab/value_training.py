"""Training a value model (``ttscale.lab.value_model``) on examples of a calibration split.

The split check: ``train_value_model`` refuses any example whose problem is
among ``test_problem_ids``. A share of the training problems
(``holdout_fraction``, chosen by a hash of the problem id) is held out and
scored after training: accuracy, AUC, Brier score, base rate.

Loss: binary cross-entropy of the value against the sample's correctness,
plus ``lm_weight`` x next-token cross-entropy on the same texts (see
``ValueConfig.lm_weight``). Optimiser: AdamW, short warmup, cosine decay to a
tenth. Batches are drawn from one token length at a time, so there is no
padding and every example is drawn equally often.

Compute: per batch of B rows of T tokens, ``flops.train_flops(card, B·T, T)``
(3 x the forward pass over every position, unembedding included) plus 3 x
the head's FLOPs: what ``flops.train_flops`` counts for the lab's models.
"""

from __future__ import annotations

import hashlib
import math
import time
from collections.abc import Collection, Sequence
from dataclasses import asdict, dataclass, field

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from ttscale import flops
from ttscale.errors import InputError
from ttscale.tiny.model import TinyGPT
from ttscale.lab.value_model import CODE_VERSION, DEFAULT_CONFIG, ValueConfig, ValueExample, ValueModel, length_groups
from ttscale.types import stable_hash


@dataclass
class TrainedValue:
    model: ValueModel
    config: ValueConfig
    key: str  # content hash of the training data and settings
    train_flops: float  # training the value model
    data_flops: float = 0.0  # sampling its calibration data (set by the caller that sampled it)
    seconds: float = 0.0
    metrics: dict = field(default_factory=dict)  # held-out accuracy, AUC, base rate ...

    @property
    def label(self) -> str:
        return self.config.label

    @property
    def total_train_flops(self) -> float:
        return self.train_flops + self.data_flops


def check_split(examples: Sequence[ValueExample], test_problem_ids: Collection[str]) -> None:
    leaked = sorted({e.problem_id for e in examples} & set(test_problem_ids))
    if leaked:
        raise InputError(f"value model: {len(leaked)} training problem(s) are test problems (e.g. {leaked[0]!r}); "
                         "train it on a calibration or train split only")


def weights_fingerprint(model: nn.Module) -> str:
    digest = hashlib.sha256()
    for name, tensor in sorted(model.state_dict().items()):
        digest.update(name.encode())
        digest.update(tensor.detach().cpu().contiguous().numpy().tobytes())
    return digest.hexdigest()[:16]


def data_key(examples: Sequence[ValueExample], config: ValueConfig, policy: TinyGPT | None = None) -> str:
    """Content hash of what determines a value model: data, settings, and the policy it starts from."""
    rows = sorted((e.problem_id, e.prompt, e.prefix, e.label) for e in examples)
    policy = weights_fingerprint(policy) if config.init == "policy" and policy is not None else None
    return stable_hash({"data": stable_hash(rows, 24), "config": asdict(config), "policy": policy,
                        "code": CODE_VERSION}, length=16)


def _auc(scores: np.ndarray, labels: np.ndarray) -> float:
    pos, neg = scores[labels], scores[~labels]
    if not len(pos) or not len(neg):
        return float("nan")
    ranks = np.argsort(np.argsort(np.concatenate([neg, pos]), kind="stable"), kind="stable")
    return float((ranks[len(neg):].sum() - len(pos) * (len(pos) - 1) / 2) / (len(pos) * len(neg)))


def _metrics(model: ValueModel, examples: Sequence[ValueExample]) -> dict:
    if not examples:
        return {}
    labels = np.array([e.label for e in examples])
    p = model.predict([e.prompt for e in examples], [e.prefix for e in examples])
    return {"holdout_examples": len(examples), "holdout_base_rate": float(labels.mean()),
            "holdout_accuracy": float(((p > 0.5) == labels).mean()), "holdout_auc": _auc(p, labels),
            "holdout_brier": float(((p - labels) ** 2).mean())}


def train_value_model(examples: Sequence[ValueExample], config: ValueConfig = DEFAULT_CONFIG,
                      test_problem_ids: Collection[str] = (), policy: TinyGPT | None = None) -> TrainedValue:
    """Train on ``examples`` (a held-out share of their problems measures the fit).

    ``policy``: the sampling model, needed when ``config.init == "policy"``.
    """
    if not examples:
        raise InputError("value model: no training examples")
    if config.init == "fresh" and config.context_length < max(len(e.prompt + e.prefix) + 1 for e in examples):
        raise InputError(f"value model: context_length {config.context_length} is shorter than the longest example")
    if config.init not in ("fresh", "policy") or (config.init == "policy" and policy is None):
        raise InputError(f"value model: init {config.init!r} needs 'fresh', or 'policy' with the policy model")
    check_split(examples, test_problem_ids)
    held = {e.problem_id for e in examples
            if int(stable_hash(["holdout", e.problem_id], 8), 16) % 1000 < config.holdout_fraction * 1000}
    train = [e for e in examples if e.problem_id not in held]
    holdout = [e for e in examples if e.problem_id in held]
    if not train:  # too few problems to hold any out
        train, holdout = list(examples), []
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(config.seed)
        if config.init == "policy":
            model = ValueModel(policy.config, init_from=policy, readout=config.readout)
        else:
            model = ValueModel(config.body(), readout=config.readout)
    body_trains = config.lr > 0
    model.body.requires_grad_(body_trains)
    encoded, starts = model.encode([e.prompt for e in train], [e.prefix for e in train])
    starts = torch.tensor(starts)
    labels = torch.tensor([float(e.label) for e in train])
    buckets = [np.array(rows) for rows in length_groups(encoded, len(encoded))]  # one per token length
    sizes = np.array([len(b) for b in buckets], dtype=float)
    rng = np.random.default_rng(config.seed)
    # The head starts from nothing and has a handful of weights: it learns at
    # head_lr; the body (fresh, or the policy's own weights) at lr.
    groups = [{"params": list(model.head.parameters()), "weight_decay": 0.0, "peak": config.head_lr}]
    if body_trains:
        groups += [
            {"params": [p for p in model.body.parameters() if p.dim() >= 2], "weight_decay": config.weight_decay,
             "peak": config.lr},
            {"params": [p for p in model.body.parameters() if p.dim() < 2], "weight_decay": 0.0, "peak": config.lr},
        ]
    optimizer = torch.optim.AdamW(groups, lr=config.head_lr, betas=(0.9, 0.95))
    train_flops, losses = 0.0, []
    started = time.perf_counter()
    model.train()
    for step in range(config.steps):
        bucket = buckets[rng.choice(len(buckets), p=sizes / sizes.sum())]  # every example equally often
        rows = rng.choice(bucket, size=min(config.batch_size, len(bucket)), replace=False).tolist()
        idx = torch.tensor([encoded[i] for i in rows], dtype=torch.int64)
        for group in optimizer.param_groups:  # cosine decay to a tenth, after a short warmup
            warm = min(1.0, (step + 1) / max(1, config.steps // 20))
            group["lr"] = group["peak"] * warm * (0.1 + 0.45 * (1 + math.cos(math.pi * step / config.steps)))
        value_logits, token_logprobs, in_solution = model.outputs(idx, starts[rows])
        loss = F.binary_cross_entropy_with_logits(value_logits, labels[rows])
        losses.append(float(loss.detach()))
        if config.lm_weight and body_trains:  # next-token loss on the solution's tokens
            loss = loss - config.lm_weight * token_logprobs[in_solution].mean()
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        optimizer.step()
        # A trained body costs forward + backward (flops.train_flops: 3 x forward);
        # a frozen one only its forward pass (the backward reaches the head alone).
        forward = len(rows) * flops.prefill_flops(model.card, idx.shape[1])
        train_flops += (3 * forward if body_trains else forward) + 3 * len(rows) * model.head_flops(idx.shape[1])
    model.eval()
    model.body.requires_grad_(True)
    return TrainedValue(model=model, config=config, key=data_key(examples, config, policy), train_flops=train_flops,
                        seconds=time.perf_counter() - started,
                        metrics={"train_examples": len(train), "final_value_loss": float(np.mean(losses[-50:])),
                                 **_metrics(model, holdout)})
