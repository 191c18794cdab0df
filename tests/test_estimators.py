"""Estimator maths (RELIABILITY 8): every closed form equals brute-force
enumeration over all k-subsets of small pools; majority tie-breaking does not
depend on sample order; k > n is refused; a whole curve is cheap."""

import itertools
import math
import random
import time
from fractions import Fraction

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ttscale import estimators as E
from ttscale.estimators import majority
from ttscale.errors import InputError

# ------------------------------------------------------------ brute force


def brute_pass(n, c, k):
    correct = [i < c for i in range(n)]
    subsets = list(itertools.combinations(range(n), k))
    return Fraction(sum(any(correct[i] for i in s) for s in subsets), len(subsets))


def class_order(answers, scores):
    """The documented tie-break: pool count, then score sum, then the string."""
    members = {}
    for i, a in enumerate(answers):
        if a is not None:
            members.setdefault(a, []).append(i)

    def key(a):
        score = 0.0 if scores is None else math.fsum(scores[i] for i in members[a])
        return (-len(members[a]), -score, a)

    return {a: r for r, a in enumerate(sorted(members, key=key))}


def brute_majority(answers, correct, k, scores=None):
    rank = class_order(answers, scores)
    right = {a: any(correct[i] for i, b in enumerate(answers) if b == a) for a in rank}
    subsets = list(itertools.combinations(range(len(answers)), k))
    wins = 0
    for subset in subsets:
        votes = {}
        for i in subset:
            if answers[i] is not None:
                votes[answers[i]] = votes.get(answers[i], 0) + 1
        if votes:  # a subset of only None answers is wrong
            winner = min(votes, key=lambda a: (-votes[a], rank[a]))
            wins += right[winner]
    return Fraction(wins, len(subsets))


def brute_best(scores, correct, k):
    subsets = list(itertools.combinations(range(len(scores)), k))
    # highest score, ties to the lower sample index
    wins = sum(correct[min(s, key=lambda i: (-scores[i], i))] for s in subsets)
    return Fraction(wins, len(subsets))


def brute_first_verified(verified, correct, k):
    """Over every ordered draw of k samples: the first verified one is correct."""
    draws = list(itertools.permutations(range(len(verified)), k))
    wins = draws_total = 0
    for order in draws:
        hit = next((i for i in order if verified[i]), None)
        wins += hit is not None and correct[hit]
        draws_total += next((pos + 1 for pos, i in enumerate(order) if verified[i]), k)
    return Fraction(wins, len(draws)), Fraction(draws_total, len(draws))


# ------------------------------------------------------------------ pass@k


def test_pass_at_k_equals_enumeration_for_all_small_pools():
    for n in range(1, 9):
        for c in range(n + 1):
            for k in range(1, n + 1):
                assert E.pass_at_k(n, c, k) == pytest.approx(float(brute_pass(n, c, k)), abs=1e-12)


def test_pass_at_k_is_stable_for_large_pools():
    # 1 - C(n-c, k)/C(n, k) computed with exact integers
    n, c, k = 10_000, 3, 5
    exact = 1 - Fraction(math.comb(n - c, k), math.comb(n, k))
    assert E.pass_at_k(n, c, k) == pytest.approx(float(exact), rel=1e-12)
    assert E.pass_at_ks(n, c, [1, 5, 9998]).tolist()[-1] == 1.0


@pytest.mark.parametrize(
    "args, message",
    [
        ((4, 1, 5), "k=5 exceeds the pool size n=4"),
        ((4, 1, 0), "k must be >= 1"),
        ((4, 5, 1), "c=5"),
        ((4, -1, 1), "c=-1"),
        ((0, 0, 1), "n=0"),
        ((4, 1, 2.5), "k must be an integer"),
    ],
)
def test_pass_at_k_refuses_bad_arguments(args, message):
    with pytest.raises(InputError, match=message):
        E.pass_at_k(*args)


# --------------------------------------------------------------- majority@k


def random_pool(rng, n):
    alphabet = rng.choice(["ab", "abc", "abcd", "abcdefg"])
    answers = [rng.choice(list(alphabet) + [None]) for _ in range(n)]
    right = set(rng.sample(alphabet, rng.randint(0, 2)))
    correct = [a in right for a in answers]
    scores = [rng.choice([-0.5, -1.0, -2.0]) for _ in range(n)] if rng.random() < 0.4 else None
    return answers, correct, scores


def test_majority_equals_enumeration_on_random_pools_with_ties_and_none():
    rng = random.Random(0)
    for _ in range(250):
        answers, correct, scores = random_pool(rng, rng.randint(1, 8))
        n = len(answers)
        curve = E.majority_at_ks(answers, correct, range(1, n + 1), scores=scores)
        for k in range(1, n + 1):
            expected = float(brute_majority(answers, correct, k, scores))
            assert E.majority_at_k(answers, correct, k, scores=scores) == pytest.approx(expected, abs=1e-12)
            assert curve[k - 1] == pytest.approx(expected, abs=1e-12)


@settings(max_examples=150, deadline=None, derandomize=True)
@given(
    answers=st.lists(st.sampled_from(["1", "2", "3", "10", None]), min_size=1, max_size=8),
    right=st.sets(st.sampled_from(["1", "2", "3", "10"]), max_size=2),
    data=st.data(),
)
def test_majority_equals_enumeration_hypothesis(answers, right, data):
    correct = [a in right for a in answers]
    k = data.draw(st.integers(1, len(answers)))
    assert E.majority_at_k(answers, correct, k) == pytest.approx(float(brute_majority(answers, correct, k)), abs=1e-12)


def test_majority_exact_integer_path_matches_float_path():
    rng = random.Random(1)
    for _ in range(20):
        answers, correct, _ = random_pool(rng, 40)
        classes = majority.answer_classes(answers, correct, None, strict=True)
        ks = tuple(range(1, 41))
        floats = majority.majority_values(classes, ks, False)
        exact = majority.majority_values(classes, ks, True)
        assert floats == pytest.approx(exact, abs=1e-13)


def test_majority_picks_the_mode():
    answers = ["7", "7", "7", "3", "3", None]
    assert E.majority_at_k(answers, [a == "7" for a in answers], 6) == 1.0
    assert E.majority_at_k(answers, [a == "3" for a in answers], 6) == 0.0
    # more votes make the mode more likely to win
    curve = E.majority_at_ks(answers, [a == "7" for a in answers], [1, 3, 5])
    assert curve[0] == pytest.approx(0.5) and curve[0] < curve[1] < curve[2]


def test_majority_tie_break_is_independent_of_sample_order():
    rng = random.Random(2)
    for _ in range(40):
        answers, correct, scores = random_pool(rng, 8)
        base = E.majority_at_ks(answers, correct, range(1, 9), scores=scores)
        order = list(range(8))
        for _ in range(3):
            rng.shuffle(order)
            shuffled = E.majority_at_ks(
                [answers[i] for i in order],
                [correct[i] for i in order],
                range(1, 9),
                scores=None if scores is None else [scores[i] for i in order],
            )
            np.testing.assert_allclose(shuffled, base, atol=1e-12)


def test_majority_tie_break_rule():
    # equal counts in the pool: the lexicographically smaller answer wins a tie ...
    assert E.majority_at_k(["b", "a"], [False, True], 2) == 1.0
    assert E.majority_at_k(["b", "a"], [True, False], 2) == 0.0
    # ... unless scores are given: the larger score sum wins
    assert E.majority_at_k(["b", "a"], [True, False], 2, scores=[-0.1, -3.0]) == 1.0
    # a larger pool count beats the string order inside a tied subset
    answers = ["b", "b", "b", "a", "a"]
    correct = [True, True, True, False, False]
    assert E.majority_at_k(answers, correct, 2) == pytest.approx(float(brute_majority(answers, correct, 2)))


def test_none_answers_never_win_but_take_slots():
    answers = ["x", None, None]
    assert E.majority_at_k(answers, [True, False, False], 3) == 1.0
    assert E.majority_at_k(answers, [True, False, False], 1) == pytest.approx(1 / 3)
    assert E.majority_at_k([None, None], [True, True], 2) == 0.0  # only None: wrong


def test_majority_needs_one_verdict_per_answer_unless_told_otherwise():
    answers, correct = ["5", "5", "6"], [True, False, False]
    with pytest.raises(InputError, match="answer '5' is graded correct for 1 of its 2 samples"):
        E.majority_at_k(answers, correct, 2)
    # strict=False: an answer is correct when any of its samples is
    assert E.majority_at_k(answers, correct, 3, strict=False) == 1.0


def test_majority_refuses_bad_input():
    with pytest.raises(InputError, match="k=4 exceeds the pool size n=3"):
        E.majority_at_k(["a", "b", "c"], [True, False, False], 4)
    with pytest.raises(InputError, match="is_correct has 2 entries"):
        E.majority_at_k(["a", "b", "c"], [True, False], 1)
    with pytest.raises(InputError, match=r"answers\[1\]"):
        E.majority_at_k(["a", 3, "c"], [True, False, False], 1)
    with pytest.raises(InputError, match="pool is empty"):
        E.majority_at_k([], [], 1)


# ------------------------------------------------------------------- best@k


def test_best_at_k_equals_enumeration_including_score_ties():
    rng = random.Random(3)
    for _ in range(200):
        n = rng.randint(1, 8)
        scores = [rng.choice([-1.0, -2.0, -3.0, 0.5]) for _ in range(n)]
        correct = [rng.random() < 0.4 for _ in range(n)]
        curve = E.best_at_ks(scores, correct, range(1, n + 1))
        for k in range(1, n + 1):
            expected = float(brute_best(scores, correct, k))
            assert E.best_at_k(scores, correct, k) == pytest.approx(expected, abs=1e-12)
            assert curve[k - 1] == pytest.approx(expected, abs=1e-12)


def test_best_at_k_refuses_nan_and_large_k():
    with pytest.raises(InputError, match=r"scores\[1\] is NaN"):
        E.best_at_k([0.0, float("nan")], [True, False], 1)
    with pytest.raises(InputError, match="k=3 exceeds the pool size n=2"):
        E.best_at_k([0.0, 1.0], [True, False], 3)


# --------------------------------------------------------- first-verified


def test_first_verified_and_expected_draws_equal_enumeration():
    rng = random.Random(4)
    for _ in range(80):
        n = rng.randint(1, 6)
        verified = [rng.random() < 0.5 for _ in range(n)]
        correct = [rng.random() < 0.5 for _ in range(n)]
        for k in range(1, n + 1):
            chance, draws = brute_first_verified(verified, correct, k)
            assert E.first_verified_at_k(verified, correct, k) == pytest.approx(float(chance), abs=1e-12)
            assert E.expected_draws_until_verified(n, sum(verified), k) == pytest.approx(float(draws), abs=1e-12)


def test_first_verified_with_a_perfect_verifier_is_pass_at_k():
    correct = [True, False, False, True, False, False, False]
    for k in range(1, 8):
        assert E.first_verified_at_k(correct, correct, k) == pytest.approx(E.pass_at_k(7, 2, k))


def test_expected_draws_edge_cases():
    assert E.expected_draws_until_verified(10, 0, 7) == pytest.approx(7.0)  # never stops early
    assert E.expected_draws_until_verified(4, 4, 4) == pytest.approx(1.0)
    # the closed form equals the tail sum sum_{t<k} C(n-v, t)/C(n, t)
    n, v, k = 50, 3, 20
    tail_sum = sum(Fraction(math.comb(n - v, t), math.comb(n, t)) for t in range(k))
    assert E.expected_draws_until_verified(n, v, k) == pytest.approx(float(tail_sum), rel=1e-12)
    with pytest.raises(InputError, match="v=5"):
        E.expected_draws_until_verified(4, 5, 1)


# ------------------------------------------------------------------ curves


def make_pools(count, n, seed=0):
    rng = np.random.default_rng(seed)
    pools = []
    for _ in range(count):
        draws = rng.zipf(1.6, n)
        answers = tuple(None if d > 12 else str(d) for d in draws)
        correct = np.array([a == "1" for a in answers])
        pools.append(
            E.PoolView(answers=answers, correct=correct, verified=correct | (rng.random(n) < 0.1), scores=rng.normal(size=n))
        )
    return pools


def test_curves_average_the_per_problem_values():
    pools = make_pools(5, 8)
    ks = [1, 2, 8]
    for fn, one in [
        (E.pass_curve, lambda p, k: E.pass_at_k(p.n, int(p.correct.sum()), k)),
        (E.majority_curve, lambda p, k: E.majority_at_k(p.answers, p.correct, k)),
        (E.best_curve, lambda p, k: E.best_at_k(p.scores, p.correct, k)),
        (E.first_verified_curve, lambda p, k: E.first_verified_at_k(p.verified, p.correct, k)),
    ]:
        c = fn(pools, ks)
        assert c.per_problem.shape == (5, 3)
        expected = np.array([[one(p, k) for k in ks] for p in pools])
        np.testing.assert_allclose(c.per_problem, expected, atol=1e-12)
        np.testing.assert_allclose(c.mean, expected.mean(axis=0), atol=1e-12)


def test_curve_names_the_problem_whose_pool_is_too_small():
    pools = make_pools(2, 8) + [E.PoolView(answers=("1",), correct=np.array([True]))]
    with pytest.raises(InputError, match="problem 2: k=2 exceeds the pool size n=1"):
        E.pass_curve(pools, [1, 2])
    with pytest.raises(InputError, match="needs scores"):
        E.best_curve([E.PoolView(answers=("1",), correct=np.array([True]))], [1])


def test_bootstrap_ci_is_deterministic_and_brackets_the_mean():
    values = np.random.default_rng(0).random(200)
    lo, hi = E.bootstrap_ci(values, n_boot=500, seed=1)
    assert (lo, hi) == E.bootstrap_ci(values, n_boot=500, seed=1)
    assert lo < values.mean() < hi
    assert E.bootstrap_ci(np.full(10, 0.25)) == (0.25, 0.25)
    curve = E.majority_curve(make_pools(30, 16), [1, 4, 16])
    lo, hi = curve.ci(n_boot=200)
    assert lo.shape == hi.shape == (3,) and np.all(lo <= curve.mean) and np.all(curve.mean <= hi)
    with pytest.raises(InputError, match="alpha"):
        E.bootstrap_ci(values, alpha=1.5)
    with pytest.raises(InputError, match="non-empty"):
        E.bootstrap_ci(np.array([]))


def test_whole_majority_curve_for_100_problems_is_fast():
    pools = make_pools(100, 64, seed=5)
    majority.majority_values.cache_clear()
    majority.full_majority_curve.cache_clear()
    started = time.perf_counter()
    curve = E.majority_curve(pools, range(1, 65))
    elapsed = time.perf_counter() - started
    assert curve.mean.shape == (64,)
    assert elapsed < 2.0, f"k=1..64 maj@k curve on 100 problems took {elapsed:.2f}s"
    # the per-k entry point reuses one cached product per pool
    started = time.perf_counter()
    for pool in pools:
        for k in range(1, 65):
            E.majority_at_k(pool.answers, pool.correct, k)
    assert time.perf_counter() - started < 2.0
