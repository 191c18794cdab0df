"""Pools charge the compute a backend really spends; replayed strategies give
the expected answers on hand-made pools."""


import pytest

from ttscale.errors import InputError
from ttscale.sampling.pools import pools_from_samples
from ttscale.strategies import evaluate
from ttscale.techniques import budgets_up_to
from ttscale.types import Sample, SampleKey


def make_sample(problem, index, answer, correct, verified=None, logprob=-1.0, shared=True, decode=10.0):
    return Sample(
        key=SampleKey("run", "m", "t", problem, "cfg", index),
        seed=index,
        completion=str(answer),
        tokens=(1, 2),
        logprob=logprob,
        answer=answer,
        correct=correct,
        verified=verified,
        prompt_tokens=5,
        prefill_flops=100.0,
        decode_flops=decode,
        verifier_flops=1.0,
        prefill_shared=shared,
        wall_seconds=0.5,
    )


def test_pools_group_by_cell_and_order_by_index():
    rows = [make_sample("p2", 1, "a", True), make_sample("p1", 0, "b", False), make_sample("p2", 0, "c", False)]
    pools = pools_from_samples(rows)
    (cell,) = pools.values()
    assert [p.problem_id for p in cell] == ["p1", "p2"]
    assert cell[1].answers == ("c", "a")
    assert cell[1].verified is None  # no verdicts: the task has no verifier


def test_shared_prefill_is_paid_once_and_unshared_per_draw():
    shared = pools_from_samples([make_sample("p", i, "a", True) for i in range(4)])
    unshared = pools_from_samples([make_sample("p", i, "a", True, shared=False) for i in range(4)])
    pool_s = next(iter(shared.values()))[0]
    pool_u = next(iter(unshared.values()))[0]
    # 3 draws: prefill 100 once + 3 x decode 10 (+ 3 x verifier 1 when verifying)
    assert pool_s.inference_flops(3, with_verifier=False) == pytest.approx(130.0)
    assert pool_s.inference_flops(3, with_verifier=True) == pytest.approx(133.0)
    assert pool_u.inference_flops(3, with_verifier=False) == pytest.approx(330.0)


def test_majority_replay_at_full_budget_picks_the_mode():
    answers = ["7", "7", "7", "3", "3"]
    rows = [make_sample("p", i, a, a == "7") for i, a in enumerate(answers)]
    cell = next(iter(pools_from_samples(rows).values()))
    result = evaluate("majority:k=5", [cell], n_boot=50)
    assert result.performance == pytest.approx(1.0)
    assert result.mean_draws == 5
    assert result.infer_flops == pytest.approx(100 + 5 * 10)


def test_first_verified_stops_at_the_first_verified_sample():
    rows = [make_sample("p", i, "x", True, verified=True) for i in range(4)]
    cell = next(iter(pools_from_samples(rows).values()))
    result = evaluate("first-verified:k=4", [cell], n_boot=50)
    assert result.performance == pytest.approx(1.0)
    assert result.mean_draws == pytest.approx(1.0)  # the first draw is already verified
    assert result.infer_flops == pytest.approx(100 + 10 + 1)


def test_first_verified_needs_a_verifier():
    rows = [make_sample("p", i, "x", True) for i in range(2)]
    cell = next(iter(pools_from_samples(rows).values()))
    with pytest.raises(InputError, match="verifier"):
        evaluate("first-verified:k=1", [cell])


def test_best_of_n_picks_the_highest_score():
    rows = [make_sample("p", 0, "a", False, logprob=-5.0), make_sample("p", 1, "b", True, logprob=-0.5)]
    cell = next(iter(pools_from_samples(rows).values()))
    assert evaluate("best-of-n:k=2", [cell], n_boot=20).performance == pytest.approx(1.0)
    assert evaluate("best-of-n:k=1", [cell], n_boot=20).performance == pytest.approx(0.5)


def test_unknown_strategy_suggests_a_name():
    with pytest.raises(InputError, match="did you mean 'majority'"):
        evaluate("majorty:k=1", [[]])


def test_budgets_are_powers_of_two_up_to_n():
    assert budgets_up_to(1) == (1,)
    assert budgets_up_to(8) == (1, 2, 4, 8)
    assert budgets_up_to(12) == (1, 2, 4, 8, 12)
