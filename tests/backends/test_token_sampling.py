"""Token choice for the llama.cpp backend: exact distributions, per-row seeds, log-probs."""

from concurrent.futures import ThreadPoolExecutor

import numpy as np
import pytest

from ttscale.backends import token_sampling

PROBS = np.array([0.5, 0.2, 0.1, 0.1, 0.05, 0.05] + [0.0] * 4)
LOGITS = np.log(PROBS + 1e-30).astype(np.float32)[None, :]


def _frequencies(temperature, top_p, draws=20_000, logits=LOGITS):
    rng = [np.random.default_rng(0)]
    counts = np.zeros(logits.shape[1])
    for _ in range(draws):
        counts[token_sampling.choose(logits, rng, temperature, top_p)[0][0]] += 1
    return counts / draws


def test_draws_follow_the_softmax():
    assert _frequencies(1.0, 1.0) == pytest.approx(PROBS, abs=0.012)


def test_temperature_sharpens_the_distribution():
    sharpened = PROBS**2 / (PROBS**2).sum()
    assert _frequencies(0.5, 1.0) == pytest.approx(sharpened, abs=0.012)


def test_top_p_keeps_the_smallest_set_holding_the_mass():
    # 0.5 + 0.2 < 0.75 <= 0.5 + 0.2 + 0.1: three tokens kept, renormalised.
    expected = np.array([0.5, 0.2, 0.1] + [0.0] * 7) / 0.8
    assert _frequencies(1.0, 0.75) == pytest.approx(expected, abs=0.012)


def test_greedy_and_logprob_at_temperature_one():
    tokens, logprobs = token_sampling.choose(LOGITS, [np.random.default_rng(1)], 0.0, 1.0)
    assert tokens[0] == 0 and logprobs[0] == pytest.approx(np.log(0.5), abs=1e-5)
    # The log-prob is the temperature-1 score whatever the sampling temperature.
    tokens, logprobs = token_sampling.choose(LOGITS, [np.random.default_rng(1)], 0.3, 0.9)
    assert logprobs[0] == pytest.approx(np.log(PROBS[tokens[0]]), abs=1e-5)


def test_large_vocabulary_blocks_give_the_same_draw_as_a_full_cumulative_sum():
    rng = np.random.default_rng(5)
    weights = rng.random(10_000).astype(np.float32)
    for u in rng.random(50):
        target = u * float(weights.sum(dtype=np.float64))
        full = int(np.searchsorted(np.cumsum(weights, dtype=np.float64), target, side="right"))
        assert token_sampling._inverse_cdf(weights, target) == min(full, weights.size - 1)


def test_rows_are_independent_of_each_other_and_of_the_thread_split():
    logits = np.random.default_rng(2).normal(0, 3, size=(9, 3000)).astype(np.float32)
    seeds = range(9)
    alone = [token_sampling.choose(logits[i : i + 1], [np.random.default_rng(s)], 0.9, 0.95) for i, s in enumerate(seeds)]
    with ThreadPoolExecutor(2) as pool:
        together = token_sampling.choose(logits, [np.random.default_rng(s) for s in seeds], 0.9, 0.95, pool)
    assert list(together[0]) == [int(t[0][0]) for t in alone]
    assert together[1] == pytest.approx([float(t[1][0]) for t in alone])
