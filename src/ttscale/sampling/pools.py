"""Pools: the N stored samples of one (model, task, problem, config), gathered
into arrays so estimators and strategies can replay them many times.

A pool also carries the compute its samples cost, so a strategy that draws k
of them can be charged what a backend would really spend: the shared prompt
prefill once (or once per draw when the backend does not share it), and each
drawn sample's decode and verifier work.
"""

from __future__ import annotations

import dataclasses
import math
from collections import defaultdict
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Iterable

import numpy as np

from ttscale import flops
from ttscale.types import ModelCard, Sample


@dataclass(frozen=True)
class Pool:
    model: str
    task: str
    problem_id: str
    config: str
    answers: tuple[str | None, ...]
    correct: np.ndarray  # bool, one per sample
    verified: np.ndarray | None  # bool, or None when the task has no verifier
    scores: np.ndarray  # mean token log-probability: the free scorer
    prefill_flops: float
    prefill_shared: bool
    decode_flops: np.ndarray
    verifier_flops: np.ndarray
    wall_seconds: np.ndarray
    n_tokens: np.ndarray
    prompt_tokens: int = 0
    # Bytes of weights one full forward pass reads (parameters x bits per weight / 8, from the model's
    # card: ``with_weight_bytes``); NaN where the card gives no bits per weight.
    weight_bytes: float = math.nan
    # Per sample: the share of a full pass its decoded tokens ran (1 for every ordinary model; an early
    # exit's samples ran fewer layers: their counted decode FLOPs over the full model's).
    depth: np.ndarray | None = None

    @property
    def n(self) -> int:
        return len(self.answers)

    def inference_flops(self, draws: float, with_verifier: bool) -> float:
        """Expected FLOPs to draw ``draws`` samples from this pool.

        Uses the pool's mean per-sample cost: the samples a strategy draws are
        a uniformly random subset, so the expectation is exact.
        """
        prefill = self.prefill_flops if self.prefill_shared else self.prefill_flops * draws
        per_sample = float(self.decode_flops.mean())
        if with_verifier:
            per_sample += float(self.verifier_flops.mean())
        return prefill + draws * per_sample

    def inference_seconds(self, draws: float) -> float:
        return draws * float(self.wall_seconds.mean())

    def inference_bytes(self, draws: float) -> float:
        """Expected weight bytes read to draw ``draws`` samples, one sequence at a time: the whole weights once
        per prefill and once per decoded token (scaled by the share of the layers the token ran).

        Batch-1 decoding is memory-bound, so this is the cost that sets latency on a GPU or a CPU; a batch
        of B sequences reads the weights once per step for all B, which this figure does not credit.
        """
        prefill_passes = 1.0 if self.prefill_shared else draws
        tokens = self.n_tokens if self.depth is None else self.n_tokens * self.depth
        return self.weight_bytes * (prefill_passes + draws * float(tokens.mean()))


def pools_from_samples(samples: Iterable[Sample]) -> dict[tuple[str, str, str], list[Pool]]:
    """Group samples into pools, keyed by (model, task, config); pools sorted by problem id."""
    grouped: dict[tuple[str, str, str, str], list[Sample]] = defaultdict(list)
    for sample in samples:
        k = sample.key
        grouped[(k.model, k.task, k.config, k.problem_id)].append(sample)

    by_cell: dict[tuple[str, str, str], list[Pool]] = defaultdict(list)
    for (model, task, config, problem_id), rows in sorted(grouped.items()):
        rows.sort(key=lambda s: s.key.sample_index)
        verified = [s.verified for s in rows]
        by_cell[(model, task, config)].append(
            Pool(
                model=model,
                task=task,
                problem_id=problem_id,
                config=config,
                answers=tuple(s.answer for s in rows),
                correct=np.array([s.correct for s in rows], dtype=bool),
                verified=None if any(v is None for v in verified) else np.array(verified, dtype=bool),
                scores=np.array([s.mean_logprob for s in rows], dtype=float),
                prefill_flops=float(rows[0].prefill_flops),
                prefill_shared=bool(rows[0].prefill_shared),
                decode_flops=np.array([s.decode_flops for s in rows], dtype=float),
                verifier_flops=np.array([s.verifier_flops for s in rows], dtype=float),
                wall_seconds=np.array([s.wall_seconds for s in rows], dtype=float),
                n_tokens=np.array([s.n_tokens for s in rows], dtype=float),
                prompt_tokens=int(rows[0].prompt_tokens),
            )
        )
    return dict(by_cell)


def weight_bytes_of(card: ModelCard) -> float:
    """Bytes of weights one full forward pass reads: every parameter at the card's bits per weight (the tied
    unembedding is read whole; the embedding lookup reads one row, which this ignores); NaN when unknown."""
    if card.bits_per_weight is None:
        return math.nan
    return card.params_total * card.bits_per_weight / 8


def with_weight_bytes(pools: Mapping[tuple[str, str, str], list[Pool]],
                      cards: Mapping[str, ModelCard]) -> dict[tuple[str, str, str], list[Pool]]:
    """Pools given their model's weight bytes per pass and each sample's depth share (decode FLOPs stored over
    the card's full-depth count for the same tokens: 1 unless the backend counted fewer layers)."""
    out: dict[tuple[str, str, str], list[Pool]] = {}
    for cell, cell_pools in pools.items():
        card = cards.get(cell[0])
        if card is None:
            out[cell] = list(cell_pools)
            continue
        per_pass = weight_bytes_of(card)
        fixed = []
        for pool in cell_pools:
            full = np.array([flops.decode_flops(card, pool.prompt_tokens, int(t)) for t in pool.n_tokens])
            depth = np.divide(pool.decode_flops, full, out=np.ones_like(full), where=full > 0)
            fixed.append(dataclasses.replace(pool, weight_bytes=per_pass, depth=np.minimum(depth, 1.0)))
        out[cell] = fixed
    return out


def common_pool_size(pools: list[Pool]) -> int:
    """Smallest pool size in a cell: the largest k every problem supports."""
    return min(p.n for p in pools)
