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

Cost: a few passes over each row (Gemma's vocabulary is 262k), vectorised
over rows; the nucleus sorts only a candidate slice found by argpartition.
"""

from __future__ import annotations

import numpy as np

NUCLEUS_CANDIDATES = 2048  # a slice this wide nearly always holds the top-p mass


def logsumexp_rows(logits: np.ndarray) -> np.ndarray:
    peak = logits.max(axis=1, keepdims=True)
    return (peak + np.log(np.exp(logits - peak).sum(axis=1, keepdims=True)))[:, 0]


def _nucleus_draw(probs: np.ndarray, top_p: float, u: float) -> int:
    """Inverse-CDF draw from the smallest set of tokens whose mass reaches top_p."""
    width = min(NUCLEUS_CANDIDATES, probs.size)
    candidates = np.argpartition(probs, probs.size - width)[probs.size - width :]
    if probs[candidates].sum() < top_p:  # a very flat row: fall back to a full sort
        candidates = np.arange(probs.size)
    order = candidates[np.argsort(-probs[candidates], kind="stable")]
    mass = np.cumsum(probs[order])
    keep = min(int(np.searchsorted(mass, top_p)) + 1, mass.size)  # rows sum to 1
    kept = mass[:keep]
    return int(order[min(int(np.searchsorted(kept, u * kept[-1], side="right")), keep - 1)])


def choose(
    logits: np.ndarray, rngs: list[np.random.Generator], temperature: float, top_p: float
) -> tuple[np.ndarray, np.ndarray]:
    """Token ids and their temperature-1 log-probabilities, one per row."""
    logits = np.asarray(logits, dtype=np.float32)
    rows = logits.shape[0]
    log_z = logsumexp_rows(logits)
    uniforms = np.array([rng.random() for rng in rngs])  # one draw per row and step, always
    if temperature == 0.0:
        tokens = logits.argmax(axis=1)
    else:
        scaled = logits / np.float32(temperature)
        probs = np.exp(scaled - scaled.max(axis=1, keepdims=True))
        probs /= probs.sum(axis=1, keepdims=True)
        if top_p >= 1.0:
            cdf = np.cumsum(probs, axis=1)
            tokens = np.array(
                [min(int(np.searchsorted(cdf[r], uniforms[r] * cdf[r, -1], side="right")), cdf.shape[1] - 1) for r in range(rows)]
            )
        else:
            tokens = np.array([_nucleus_draw(probs[r], top_p, uniforms[r]) for r in range(rows)])
    chosen = logits[np.arange(rows), tokens]
    return tokens.astype(np.int64), (chosen - log_z).astype(np.float64)
