"""The worked example of docs/ARCHITECTURE.md: a strategy added as one module, checked by this test."""

from __future__ import annotations

import pytest
from pool_builders import build_pool

from ttscale.errors import InputError
from ttscale.strategies import LIVE, REPLAY, STRATEGIES, resolve
from ttscale.strategies.verified_vote import verified_plurality


def test_it_is_registered_with_both_modes_by_its_module_alone():
    assert STRATEGIES.get("verified-vote").traits.modes == {REPLAY, LIVE}
    _, settings = resolve("verified-vote:k=3")
    assert settings.k == 3 and settings.perms == 200


def test_the_verified_answers_outvote_the_unverified_ones():
    # Two unverified "7"s against one verified "5": the verifier's answer wins; none verified: the plurality.
    assert verified_plurality(["7", "7", "5"], [False, False, True]) == "5"
    assert verified_plurality(["7", "7", "5"], [False, False, False]) == "7"
    assert verified_plurality([None, None], [True, False]) is None


def test_replay_at_full_budget_is_exact_and_charges_the_verifier():
    # k = n: every subset is the whole pool, so the Monte-Carlo replay is exact.
    pool = build_pool("p", ["5", "7", "7", "5"], right="5", verified=[True, False, False, True], decode=10.0)
    strategy, settings = resolve("verified-vote:k=4,perms=20")
    evaluation = strategy.replay([[pool]], settings, None, 0)
    assert evaluation.performance[0] == 1.0  # two "5"s, both verified, against two unverified "7"s
    assert evaluation.draws[0] == 4.0
    # One shared prefill (100), four decodes (10 each) and four verifier calls (1 each), counted by hand.
    assert evaluation.infer_flops[0] == pytest.approx(100 + 4 * (10 + 1))


def test_it_refuses_a_task_without_a_verifier():
    pool = build_pool("p", ["5", "7"], right="5")
    strategy, settings = resolve("verified-vote:k=2")
    with pytest.raises(InputError, match="'verified-vote' needs a verifier"):
        strategy.replay([[pool]], settings, None, 0)
