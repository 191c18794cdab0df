"""Difficulty-aware allocation: exact budget, settled and hopeless problems, no peeking
at correctness, and a better vote than uniform majority on a mix of easy and hard problems."""

import dataclasses
import math

import numpy as np
import pytest

from ttscale import strategies
from ttscale.errors import InputError
from ttscale.strategies.adaptive_vote import random_orders
from ttscale.strategies.allocation import allocate


def evaluate(spec, pools, seed=0):
    strategy, settings = strategies.resolve(spec)
    return strategy.replay([pools], settings, None, seed)


def easy_and_hard(make_mixed_pool, n=64, seed=0):
    """Easy (the right answer has 90%), contested (45% vs a wrong 30%) and noise-only problems."""
    rng = np.random.default_rng(seed)
    easy = [make_mixed_pool(f"easy{i}", n, {"a": 0.9}, rng) for i in range(16)]
    contested = [make_mixed_pool(f"contested{i}", n, {"a": 0.45, "b": 0.3}, rng) for i in range(10)]
    noise = [make_mixed_pool(f"noise{i}", n, {}, rng) for i in range(4)]
    return easy + contested + noise


@pytest.mark.parametrize("budget, probe", [(6, 2), (4.5, 1), (12, 3)])
def test_total_draws_equal_the_budget_on_every_order(make_mixed_pool, budget, probe):
    pools = easy_and_hard(make_mixed_pool)
    orders = random_orders(pools, perms=40, length=64, seed=0)
    replay = allocate(pools, budget, probe, conf=0.95, hopeless=0.1, orders=orders)
    totals = replay.draws.sum(axis=1)
    limit = math.floor(budget * len(pools))
    done = replay.settled | replay.hopeless | replay.exhausted
    assert (totals <= limit).all() and (replay.draws >= probe).all()
    assert ((totals == limit) | done.all(axis=1)).all()
    assert (totals == limit).any()


def test_spending_stops_when_every_problem_is_settled(make_pool):
    pools = [make_pool(f"p{i}", ["7"] * 32, right="7") for i in range(5)]
    orders = random_orders(pools, perms=10, length=32, seed=0)
    replay = allocate(pools, budget=16, probe=2, conf=0.95, hopeless=0.1, orders=orders)
    assert replay.settled.all() and (replay.draws == 4).all()  # 4 unanimous votes reach 0.95


def test_spending_stops_on_hopeless_problems(make_pool):
    # Every answer different: after 13 draws the leader's share is credibly below 0.3.
    pools = [make_pool(f"p{i}", [f"{i}-{j}" for j in range(40)], right="x") for i in range(4)]
    orders = random_orders(pools, perms=10, length=40, seed=0)
    replay = allocate(pools, budget=20, probe=2, conf=0.95, hopeless=0.3, orders=orders)
    assert replay.hopeless.all() and (replay.draws == 13).all()
    never = allocate(pools, budget=20, probe=2, conf=0.95, hopeless=0.0, orders=orders)
    assert not never.hopeless.any() and (never.draws.sum(axis=1) == 80).all()


def test_allocation_beats_uniform_majority_at_equal_mean_draws(make_mixed_pool):
    pools = easy_and_hard(make_mixed_pool)
    for budget in (8, 12):
        allocated = strategies.evaluate(f"allocate:budget={budget},perms=100", [pools], n_boot=50)
        # Uniform majority as a live run would do it (ties to the first answer to
        # reach the count: these pools' scores are all equal) ...
        uniform = strategies.evaluate(f"adaptive-vote:cap={budget},min={budget},perms=100", [pools], n_boot=50)
        # ... and the exact maj@k estimator, whose tie-break uses the whole pool's counts.
        exact = strategies.evaluate(f"majority:k={budget}", [pools], n_boot=50)
        assert allocated.mean_draws <= budget
        assert allocated.performance > uniform.performance + 0.03, (budget, allocated, uniform)
        assert allocated.performance > exact.performance + 0.005, (budget, allocated, exact)
    assert allocated.performance > exact.performance + 0.02  # budget 12: the easy ones are settled


def test_allocation_never_reads_correctness(make_mixed_pool):
    pools = easy_and_hard(make_mixed_pool)
    flipped = [dataclasses.replace(p, correct=~p.correct) for p in pools]
    orders = random_orders(pools, perms=20, length=64, seed=4)
    a = allocate(pools, 6, 2, 0.95, 0.1, orders)
    b = allocate(flipped, 6, 2, 0.95, 0.1, orders)
    assert np.array_equal(a.draws, b.draws) and not np.array_equal(a.correct, b.correct)


def test_with_a_verifier_the_answer_is_the_first_verified_sample(make_pool):
    n = 16
    solved = make_pool("solved", ["5"] * n, right="5", verified=[True] * n)
    # Verified samples are wrong ("9"); the unverified plurality "4" is right, but the verifier wins.
    fooled = make_pool("fooled", ["4"] * 12 + ["9"] * 4, right="4", verified=[False] * 12 + [True] * 4)
    unverifiable = make_pool("none", ["3"] * 10 + ["2"] * 6, right="3", verified=[False] * n)
    pools = [solved, fooled, unverifiable]
    result = evaluate("allocate:budget=8,probe=1,perms=50", pools)
    assert result.draws[0] == 1 and result.performance[0] == 1.0
    assert result.performance[1] < 0.2  # right only when no verified sample was reached
    assert result.performance[2] == 1.0  # no verified sample: plurality vote
    # The verifier is paid for: prefill + draws x (decode 10 + verifier 1).
    assert result.infer_flops[0] == pytest.approx(100 + 11 * 1)


def test_same_seed_gives_the_same_allocation(make_mixed_pool):
    pools = easy_and_hard(make_mixed_pool)
    a = evaluate("allocate:budget=6,perms=30", pools, seed=3)
    b = evaluate("allocate:budget=6,perms=30", pools, seed=3)
    c = evaluate("allocate:budget=6,perms=30", pools, seed=4)
    assert np.array_equal(a.draws, b.draws) and np.array_equal(a.performance, b.performance)
    assert not np.array_equal(a.draws, c.draws)


@pytest.mark.parametrize(
    "spec, words",
    [
        ("allocate", ["'budget'", "required"]),
        ("allocate:budget=2,probe=3", ["'probe'", "3", "budget=2"]),
        ("allocate:budget=100", ["'budget'", "100", "pool size"]),
        ("allocate:budget=0.5", ["'budget'", "0.5"]),
        ("allocate:budget=4,hopeless=2", ["'hopeless'", "2"]),
        ("allocate:budget=4,conf=0.2", ["'conf'", "0.2"]),
        ("allocate:budget=4,probe=1.5", ["'probe'", "1.5"]),
    ],
)
def test_bad_settings_name_the_parameter_and_value(make_pool, spec, words):
    pools = [make_pool("p", ["1"] * 64, right="1")]
    with pytest.raises(InputError) as error:
        evaluate(spec, pools)
    assert all(word in str(error.value) for word in words), str(error.value)
