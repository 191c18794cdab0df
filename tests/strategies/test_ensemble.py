"""Ensemble (one plurality vote over k samples of every model): the Monte-Carlo
replay agrees with brute force, ties follow the majority tie-break, compute is
the sum of the models' work."""

import itertools
from collections import Counter

import numpy as np
import pytest

from pool_builders import replay

from ttscale.errors import InputError
from ttscale.sampling.pools import Pool
from ttscale.strategies import STRATEGIES, resolve

ENSEMBLE = STRATEGIES.get("ensemble")


def make_pool(pid, answers, right="1", model="a", prefill=100.0, decode=10.0, shared=True):
    n = len(answers)
    return Pool(
        model=model, task="t", problem_id=pid, config="c", answers=tuple(answers),
        correct=np.array([a is not None and a == right for a in answers], dtype=bool),
        verified=None, scores=np.zeros(n), prefill_flops=prefill, prefill_shared=shared,
        decode_flops=np.full(n, decode), verifier_flops=np.zeros(n),
        wall_seconds=np.full(n, 0.25), n_tokens=np.ones(n),
    )


def brute_force(pools, k, right):
    """Every combination of one k-subset per model, plurality over the union."""
    total = Counter(a for p in pools for a in p.answers if a is not None)
    wins = cases = 0
    for subsets in itertools.product(*(itertools.combinations(p.answers, k) for p in pools)):
        votes = Counter(a for s in subsets for a in s if a is not None)
        cases += 1
        if votes:
            lead = max(votes.values())
            winner = min((a for a in votes if votes[a] == lead), key=lambda a: (-total[a], a))
            wins += winner == right
    return wins / cases


def test_monte_carlo_agrees_with_brute_force():
    rng = np.random.default_rng(3)
    for trial in range(6):
        pools = [
            make_pool("p", [None if rng.random() < 0.15 else str(rng.integers(0, 3)) for _ in range(5)], model=m)
            for m in ("a", "b", "c")[: 2 + trial % 2]
        ]
        ev = replay(ENSEMBLE, [[p] for p in pools], {"k": 2, "perms": 20000}, None, trial)
        want = brute_force(pools, 2, "1")
        # 20000 draws: standard error <= 0.0036; 5 of them is a loose but safe band.
        assert ev.performance[0] == pytest.approx(want, abs=0.018)
        assert ev.notes["mc_standard_error"] < 0.004


def test_ties_follow_the_majority_tie_break():
    a = make_pool("p", ["1", "1", "1", "1"], model="a")
    b = make_pool("p", ["2", "2", "2", "2"], model="b")
    # One vote each, equal pool counts: the smaller answer string wins.
    assert replay(ENSEMBLE, [[a], [b]], {"k": 1, "perms": 50}, None, 0).performance[0] == 1.0
    b2 = make_pool("p", ["2", "2", "2", "2"], right="2", model="b")
    a2 = make_pool("p", ["1", "1", "1", "1"], right="2", model="a")
    assert replay(ENSEMBLE, [[a2], [b2]], {"k": 1, "perms": 50}, None, 0).performance[0] == 0.0
    # A larger pool count beats the string order.
    c = make_pool("p", ["2", "2", "2", "1"], model="c", right="2")
    d = make_pool("p", ["2", "1", "3", "3"], model="d", right="2")
    # Any draw of 3 + 3 holds at least two "2"s, so "2" leads or ties with "1"/"3", and wins ties (count 5).
    assert replay(ENSEMBLE, [[c], [d]], {"k": 3, "perms": 200}, None, 0).performance[0] == 1.0


def test_none_answers_never_win():
    a = make_pool("p", [None, None], model="a")
    b = make_pool("p", [None, "1"], model="b")
    ev = replay(ENSEMBLE, [[a], [b]], {"k": 1, "perms": 4000}, None, 0)
    assert ev.performance[0] == pytest.approx(0.5, abs=0.05)
    assert replay(ENSEMBLE, [[a], [a]], {"k": 2, "perms": 10}, None, 0).performance[0] == 0.0


def test_compute_is_the_sum_of_each_models_work():
    a = [make_pool(f"p{i}", ["1", "2", "1"], model="a", prefill=100, decode=10) for i in range(3)]
    b = [make_pool(f"p{i}", ["1", "1", "3"], model="b", prefill=1000, decode=100, shared=False) for i in range(3)]
    ev = replay(ENSEMBLE, [a, b], {"k": 2, "perms": 100}, None, 0)
    np.testing.assert_allclose(ev.infer_flops, (100 + 2 * 10) + 2 * (1000 + 100))
    np.testing.assert_allclose(ev.draws, 4.0)
    np.testing.assert_allclose(ev.infer_seconds, 4 * 0.25)


def test_draws_are_seeded_per_problem():
    rng = np.random.default_rng(5)
    a = [make_pool(f"p{i}", [str(rng.integers(0, 3)) for _ in range(6)], model="a") for i in range(5)]
    b = [make_pool(f"p{i}", [str(rng.integers(0, 3)) for _ in range(6)], model="b") for i in range(5)]
    first = replay(ENSEMBLE, [a, b], {"k": 2, "perms": 300}, None, 7).performance
    again = replay(ENSEMBLE, [a, b], {"k": 2, "perms": 300}, None, 7).performance
    reversed_order = replay(ENSEMBLE, [a[::-1], b[::-1]], {"k": 2, "perms": 300}, None, 7).performance
    np.testing.assert_array_equal(first, again)
    np.testing.assert_array_equal(first, reversed_order[::-1])


def test_bad_input_is_named():
    a = [make_pool("p", ["1", "2"], model="a")]
    b = [make_pool("p", ["1", "2"], model="b")]
    with pytest.raises(InputError, match="at least 2 models"):
        replay(ENSEMBLE, [a], {"k": 1, "perms": 10}, None, 0)
    with pytest.raises(InputError, match="pool size of model 'a'"):
        replay(ENSEMBLE, [a, b], {"k": 3, "perms": 10}, None, 0)
    disagree = [make_pool("p", ["1", "2"], right="2", model="b")]
    with pytest.raises(InputError, match="graded correct for 1 of its 2 samples and wrong for the others"):
        replay(ENSEMBLE, [a, disagree], {"k": 1, "perms": 10}, None, 0)
    strategy, settings = resolve("ensemble:k=4")
    assert strategy.traits.n_models is None and settings.model_dump() == {"k": 4, "perms": 1000}
