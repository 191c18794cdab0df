"""Choosing the next token for many sequences from a (rows x vocab) logits block.

Used by the in-process llama.cpp backend, where llama.cpp computes logits and
we choose tokens, so that every sequence has its own seed and its own
log-probability whatever batch it ran in.

- Each sequence owns a ``numpy.random.Generator`` seeded from its sample seed
  and draws exactly one uniform per token: the choice depends on (logits,
  seed, step) only, never on the other rows of the batch.
- Temperature 0 is greedy. Otherwise the token is drawn by inverse CDF from
  softmax(logits / T), restricted to the nucleus when top_p < 1.
- ``logprob`` is the model's own log-probability of the chosen token at
  temperature 1 over the full vocabulary (the free scorer), whatever the
  sampling settings, as in the lab's sampler.

Cost matters: Gemma's vocabulary is 262k, and this runs once per decode step
for every live row, between llama.cpp calls. So each row gets one or two exp
passes and a few reductions: the inverse CDF finds its block from block sums
(``np.add.reduceat``) and runs a cumulative sum over one block only, and the
nucleus is searched among the tokens above a probability threshold (lowered
until they hold the top-p mass), never by sorting the vocabulary.
"""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor

import numpy as np

BLOCK = 4096
THRESHOLDS = (1e-2, 1e-3, 1e-4, 1e-5, 0.0)  # candidate floors tried for the nucleus, coarse to fine


def _inverse_cdf(weights: np.ndarray, target: float) -> int:
    """The index i where the running sum of ``weights`` first exceeds ``target``."""
    starts = np.arange(0, weights.size, BLOCK)
    block_sums = np.add.reduceat(weights, starts)
    cum = np.cumsum(block_sums, dtype=np.float64)
    b = min(int(np.searchsorted(cum, target, side="right")), starts.size - 1)
    within = target - (cum[b - 1] if b else 0.0)
    block = weights[starts[b] : starts[b] + BLOCK]
    i = int(np.searchsorted(np.cumsum(block, dtype=np.float64), within, side="right"))
    return int(starts[b] + min(i, block.size - 1))


def _nucleus(probs: np.ndarray, top_p: float) -> np.ndarray:
    """Token ids of the nucleus (the most probable tokens holding ``top_p`` of the mass), most probable first."""
    for floor in THRESHOLDS:
        candidates = np.flatnonzero(probs >= floor)
        # Every token above the floor outranks every token below it, so once the
        # tokens above hold top_p of the mass the nucleus lies among them.
        if probs[candidates].sum() >= top_p or floor == 0.0:
            break
    order = candidates[np.argsort(-probs[candidates], kind="stable")]
    mass = np.cumsum(probs[order], dtype=np.float64)
    keep = min(int(np.searchsorted(mass, top_p)) + 1, order.size)
    return order[:keep]


def choose(
    logits: np.ndarray,
    rngs: list[np.random.Generator],
    temperature: float,
    top_p: float,
    pool: ThreadPoolExecutor | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """Token ids and their temperature-1 log-probabilities, one per row.

    With a thread ``pool`` the rows are split between its threads (numpy
    releases the GIL in its array loops; llama.cpp's own threads are idle
    while tokens are chosen). The result does not depend on the split.
    """
    logits = np.asarray(logits, dtype=np.float32)
    uniforms = [rng.random() for rng in rngs]  # one draw per row and step, always
    workers = getattr(pool, "_max_workers", 1) if pool is not None else 1
    if workers < 2 or logits.shape[0] < 4:
        return _choose_rows(logits, uniforms, temperature, top_p)
    bounds = np.linspace(0, logits.shape[0], workers + 1).astype(int)
    parts = list(pool.map(lambda ab: _choose_rows(logits[ab[0] : ab[1]], uniforms[ab[0] : ab[1]], temperature, top_p),
                          zip(bounds[:-1], bounds[1:])))  # fmt: skip
    return np.concatenate([t for t, _ in parts]), np.concatenate([lp for _, lp in parts])


_workspace = threading.local()


def _buffers(rows: int, vocab: int) -> tuple[np.ndarray, np.ndarray]:
    """Two (rows x vocab) float32 scratch arrays, kept per thread: allocating
    16 MB afresh at every decode step costs page faults comparable to the math."""
    held = getattr(_workspace, "arrays", None)
    if held is None or held[0].shape[0] < rows or held[0].shape[1] != vocab:
        held = (np.empty((rows, vocab), np.float32), np.empty((rows, vocab), np.float32))
        _workspace.arrays = held
    return held[0][:rows], held[1][:rows]


def _choose_rows(
    logits: np.ndarray, uniforms: list[float], temperature: float, top_p: float
) -> tuple[np.ndarray, np.ndarray]:
    rows = logits.shape[0]
    shifted, weights = _buffers(rows, logits.shape[1])
    peak = logits.max(axis=1, keepdims=True)
    np.subtract(logits, peak, out=shifted)
    np.exp(shifted, out=weights)  # temperature 1, unnormalised
    sums = weights.sum(axis=1).astype(np.float64)  # float32 pairwise sums: accurate to ~1e-7
    log_z = peak[:, 0].astype(np.float64) + np.log(sums)
    if temperature == 0.0:
        tokens = logits.argmax(axis=1)
    else:
        totals = sums
        if temperature != 1.0:
            np.multiply(shifted, np.float32(1.0 / temperature), out=shifted)
            np.exp(shifted, out=weights)
            totals = weights.sum(axis=1).astype(np.float64)
        tokens = np.empty(rows, dtype=np.int64)
        for r in range(rows):
            if top_p >= 1.0:
                tokens[r] = _inverse_cdf(weights[r], uniforms[r] * totals[r])
            else:
                kept = _nucleus(weights[r] / np.float32(totals[r]), top_p)
                kept_weights = weights[r, kept]
                tokens[r] = kept[_inverse_cdf(kept_weights, uniforms[r] * float(kept_weights.sum(dtype=np.float64)))]
    chosen = logits[np.arange(rows), tokens].astype(np.float64)
    return tokens.astype(np.int64), chosen - log_z
