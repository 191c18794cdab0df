"""Cascade (small model first, escalate when unsure): exact replay, exact compute,
and a threshold chosen on calibration problems only."""

import itertools
from collections import Counter

import numpy as np
import pytest

from pool_builders import replay

from ttscale import estimators
from ttscale.errors import InputError
from ttscale.sampling.pools import Pool
from ttscale.strategies import STRATEGIES, cascade, resolve
from ttscale.strategies.cascade import lead_distribution
from ttscale.techniques import Arm, TechniqueSpec, technique_points
from ttscale.types import ModelCard

CASCADE = STRATEGIES.get("cascade")


def make_pool(pid, answers, right="1", model="small", prefill=100.0, decode=10.0, verified=None, shared=True):
    n = len(answers)
    return Pool(
        model=model, task="t", problem_id=pid, config="c", answers=tuple(answers),
        correct=np.array([a is not None and a == right for a in answers], dtype=bool),
        verified=None if verified is None else np.array(verified, dtype=bool),
        scores=np.zeros(n), prefill_flops=prefill, prefill_shared=shared,
        decode_flops=np.full(n, decode), verifier_flops=np.full(n, 1.0),
        wall_seconds=np.full(n, 0.5), n_tokens=np.ones(n),
    )


def large_pool(pid, answers, right="1", **kw):
    return make_pool(pid, answers, right, model="large", prefill=1000.0, decode=100.0, **kw)


def settings(**given):
    return resolve("cascade:" + ",".join(f"{k}={v}" for k, v in given.items()))[1]


def brute_force_lead(answers, correct, k):
    """Enumerate every k-subset: the leading count and whether the plurality answer is right."""
    pool_count = Counter(a for a in answers if a is not None)
    p, p_correct = np.zeros(k + 1), np.zeros(k + 1)
    subsets = list(itertools.combinations(range(len(answers)), k))
    for subset in subsets:
        votes = Counter(answers[i] for i in subset if answers[i] is not None)
        if not votes:
            p[0] += 1
            continue
        lead = max(votes.values())
        winner = min((a for a in votes if votes[a] == lead), key=lambda a: (-pool_count[a], a))
        p[lead] += 1
        p_correct[lead] += correct[answers.index(winner)]
    return p / len(subsets), p_correct / len(subsets)


def test_lead_distribution_is_exact_and_agrees_with_majority_at_k():
    rng = np.random.default_rng(0)
    for _ in range(150):
        n = int(rng.integers(1, 9))
        k = int(rng.integers(1, n + 1))
        answers = [None if rng.random() < 0.2 else str(rng.integers(0, 4)) for _ in range(n)]
        correct = np.array([a == "2" for a in answers])
        p, p_correct = lead_distribution(tuple(answers), correct.tobytes(), k)
        want_p, want_correct = brute_force_lead(answers, correct, k)
        np.testing.assert_allclose(p, want_p, atol=1e-12)
        np.testing.assert_allclose(p_correct, want_correct, atol=1e-12)
        assert p_correct.sum() == pytest.approx(estimators.majority_at_k(answers, correct, k), abs=1e-12)


def test_compute_is_exact_on_hand_made_pools():
    small = [
        make_pool("a", ["1", "1", "1", "1"]),  # unanimous: never escalated
        make_pool("b", ["1", "2", "3", "4"]),  # any pair disagrees: always escalated
        make_pool("c", ["1", "1", "2", "3"]),  # only the pair {1, 1} agrees: escalated 5 times in 6
    ]
    large = [large_pool(pid, ["1", "1", "2", "1"]) for pid in "abc"]
    ev = replay(CASCADE, [small, large], settings(k_small=2, k_large=1, threshold=0.9), None, 0)
    escalate = np.array([0.0, 1.0, 5 / 6])
    small_cost = 100 + 2 * 10  # shared prefill once + two decodes
    large_cost = 1000 + 1 * 100  # paid only when escalated, prefill included
    np.testing.assert_allclose(ev.infer_flops, small_cost + escalate * large_cost)
    np.testing.assert_allclose(ev.draws, 2 + escalate * 1)
    np.testing.assert_allclose(ev.infer_seconds, 0.5 * (2 + escalate))
    # Kept answers: "a" always right; "c" right on the unanimous pair {1, 1} (1 in 6).
    # Escalated: the large model is right 3 times in 4.
    np.testing.assert_allclose(ev.performance, [1.0, 0.75, 1 / 6 + 5 / 6 * 0.75])
    assert ev.notes["threshold"] == 0.9
    assert ev.notes["escalation_rate"] == pytest.approx(escalate.mean())


def test_unshared_prefill_of_the_large_model_is_paid_per_escalated_draw():
    small = [make_pool("b", ["1", "2", "3", "4"])]
    large = [large_pool("b", ["1", "1", "2", "1"], shared=False)]
    ev = replay(CASCADE, [small, large], settings(k_small=2, k_large=3, threshold=0.9), None, 0)
    assert ev.infer_flops[0] == pytest.approx(120 + 3 * (1000 + 100))


@pytest.fixture
def random_cells():
    rng = np.random.default_rng(1)
    small = [make_pool(f"p{i}", [str(rng.integers(0, 3)) for _ in range(8)]) for i in range(12)]
    large = [large_pool(f"p{i}", [str(rng.integers(0, 2)) for _ in range(8)]) for i in range(12)]
    return small, large


def test_never_escalating_is_the_small_model_alone(random_cells):
    small, large = random_cells
    ev = replay(CASCADE, [small, large], settings(k_small=3, k_large=2, threshold=0), None, 0)
    alone = replay(STRATEGIES.get("majority"), [small], {"k": 3}, None, 0)
    np.testing.assert_allclose(ev.performance, alone.performance, atol=1e-12)
    np.testing.assert_allclose(ev.infer_flops, alone.infer_flops)
    assert ev.notes["escalation_rate"] == 0


def test_always_escalating_is_the_large_model_alone_plus_the_small_models_cost(random_cells):
    small, large = random_cells
    ev = replay(CASCADE, [small, large], settings(k_small=3, k_large=2, threshold=2), None, 0)
    big = replay(STRATEGIES.get("majority"), [large], {"k": 2}, None, 0)
    little = replay(STRATEGIES.get("majority"), [small], {"k": 3}, None, 0)
    np.testing.assert_allclose(ev.performance, big.performance, atol=1e-12)
    np.testing.assert_allclose(ev.infer_flops, big.infer_flops + little.infer_flops)
    np.testing.assert_allclose(ev.draws, 5.0)
    assert ev.notes["escalation_rate"] == 1


def test_with_a_verifier_escalates_when_nothing_verified_and_matches_first_verified():
    small = [make_pool("a", ["1", "2", "3", "4"], verified=[True, False, False, False]),
             make_pool("b", ["2", "3", "4", "5"], verified=[False] * 4)]
    large = [large_pool(pid, ["1", "1", "2", "3"], verified=[True, True, False, False]) for pid in "ab"]
    fv = STRATEGIES.get("first-verified")
    never = replay(CASCADE, [small, large], settings(k_small=2, k_large=2, threshold=0), None, 0)
    np.testing.assert_allclose(never.performance, replay(fv, [small], {"k": 2}, None, 0).performance)
    np.testing.assert_allclose(never.infer_flops, replay(fv, [small], {"k": 2}, None, 0).infer_flops)
    ev = replay(CASCADE, [small, large], settings(k_small=2, k_large=2, threshold=1), None, 0)
    escalate = np.array([0.5, 1.0])  # "a": the verified sample is in a random pair half the time
    small_draws = np.array([estimators.expected_draws_until_verified(4, 1, 2), 2.0])
    large_draws = estimators.expected_draws_until_verified(4, 2, 2)
    np.testing.assert_allclose(ev.draws, small_draws + escalate * large_draws)
    # Verifier work is charged too: decode + 1 verifier FLOP per drawn sample.
    np.testing.assert_allclose(ev.infer_flops, 100 + 11 * small_draws + escalate * (1000 + 101 * large_draws))
    large_right = estimators.first_verified_at_k([True, True, False, False], [True, True, False, False], 2)
    np.testing.assert_allclose(ev.performance, [0.5 + 0.5 * large_right, large_right])


def split_cells(test_small_wrong: bool, calib_small_wrong: bool):
    """Small model unanimous on every problem; wrong on half of them where asked.

    Unanimous and wrong cannot be caught by vote agreement: only escalating
    everything recovers the large model's accuracy there.
    """
    def cells(prefix, wrong):
        small = [make_pool(f"{prefix}{i}", ["9"] * 4 if wrong and i % 2 else ["1"] * 4) for i in range(6)]
        large = [large_pool(f"{prefix}{i}", ["1"] * 4) for i in range(6)]
        return [small, large]
    return cells("test", test_small_wrong), cells("calib", calib_small_wrong)


def test_threshold_follows_the_calibration_pools_not_the_test_pools():
    test, calib = split_cells(test_small_wrong=False, calib_small_wrong=True)
    ev = replay(CASCADE, test, settings(k_small=2, k_large=1, tol=0.01), calib, 0)
    # The test pools alone would say "never escalate" (the small model is right there).
    assert ev.notes["threshold"] == cascade.ALWAYS_ESCALATE
    assert ev.notes["escalation_rate"] == 1
    assert ev.notes["calib_target"] == 1.0

    test, calib = split_cells(test_small_wrong=True, calib_small_wrong=False)
    ev = replay(CASCADE, test, settings(k_small=2, k_large=1, tol=0.01), calib, 0)
    # Calibration says the small model suffices, so the test's wrong answers are kept.
    assert ev.notes["threshold"] == 0.0
    assert ev.notes["escalation_rate"] == 0
    assert ev.performance.mean() == pytest.approx(0.5)


def test_tolerance_buys_cheaper_thresholds():
    test, calib = split_cells(test_small_wrong=True, calib_small_wrong=True)
    strict = replay(CASCADE, test, settings(k_small=2, k_large=1, tol=0.0), calib, 0)
    loose = replay(CASCADE, test, settings(k_small=2, k_large=1, tol=0.5), calib, 0)
    assert strict.notes["threshold"] == cascade.ALWAYS_ESCALATE
    assert loose.notes["threshold"] == 0.0  # half wrong is within 0.5 of the large model
    assert loose.infer_flops.mean() < strict.infer_flops.mean()


def test_threshold_selection_only_ever_sees_calibration_pools(monkeypatch):
    test, calib = split_cells(test_small_wrong=False, calib_small_wrong=True)
    seen = []
    real = cascade.choose_threshold

    def spy(small, large, *args):
        seen.append([p.problem_id for p in list(small) + list(large)])
        assert all(any(p is q for q in calib[0] + calib[1]) for p in list(small) + list(large))
        return real(small, large, *args)

    monkeypatch.setattr(cascade, "choose_threshold", spy)
    # Through the techniques layer, as the lab calls it.
    # Two sizes: a cascade pairs models of different size (the default groups).
    cards = {
        m: ModelCard(m, size, size, 1, 8, 1, 32, 16, 64, train_flops=f)
        for m, size, f in (("small", 10, 1e3), ("large", 100, 1e6))
    }
    pools = {("small", "t", "c"): test[0], ("large", "t", "c"): test[1]}
    calibration = {("small", "t", "c"): calib[0], ("large", "t", "c"): calib[1]}
    spec = TechniqueSpec("cascade", (Arm("t", "cascade", ({"k_small": 2, "k_large": 1, "tol": 0.0},)),))
    details = technique_points(spec, pools, cards, n_boot=20, calibration=calibration)
    assert [d.point.model for d in details] == ["small+large"]
    assert seen and all(pid.startswith("calib") for ids in seen for pid in ids)
    # And no calibration, no cascade point (the technique skips it).
    assert technique_points(spec, pools, cards, n_boot=20) == []


def test_refuses_missing_or_overlapping_calibration():
    test, _ = split_cells(False, False)
    with pytest.raises(InputError, match="calibration"):
        replay(CASCADE, test, settings(), None, 0)
    with pytest.raises(InputError, match="share 6 problem"):
        replay(CASCADE, test, settings(), test, 0)
    with pytest.raises(InputError, match="pool size"):
        replay(CASCADE, test, settings(k_small=5, threshold=0.5), None, 0)
    with pytest.raises(InputError, match="2 model"):
        replay(CASCADE, test[:1], settings(threshold=0.5), None, 0)


def test_spec_parsing_names_the_parameter():
    strategy, parsed = resolve("cascade:k_small=8,k_large=2,tol=0.02")
    assert strategy.traits.n_models == 2 and strategy.needs_calibration(parsed)
    assert not strategy.needs_calibration(settings(threshold=0.5))  # a fixed threshold needs none
    # No sentinel: an unset threshold means "choose it on calibration".
    assert parsed.model_dump() == {"k_small": 8, "k_large": 2, "tol": 0.02, "threshold": None}
    with pytest.raises(InputError, match="strategy 'cascade': parameter 'threshold' must be less than or equal to 2"):
        resolve("cascade:threshold=3")
    with pytest.raises(InputError, match="parameter 'threshold' must be greater than or equal to 0, got '-1'"):
        resolve("cascade:threshold=-1")
