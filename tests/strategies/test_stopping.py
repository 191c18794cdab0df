"""The stopping rules on hand-made answer streams with known stopping points."""

import numpy as np
import pytest

from ttscale.errors import InputError
from ttscale.strategies.stopping import (
    PosteriorRule,
    VoteTally,
    WindowRule,
    leader_is_mode_probability,
    stopping_point,
)


def test_mode_probability_matches_the_binomial_form():
    # P(Beta(a+1, b+1) > 1/2) = P(Bin(a+b+1, 1/2) <= a)
    assert leader_is_mode_probability(1, 0) == pytest.approx(0.75)
    assert leader_is_mode_probability(1, 1) == pytest.approx(0.5)
    assert leader_is_mode_probability(2, 1) == pytest.approx(11 / 16)
    assert leader_is_mode_probability(6, 1) == pytest.approx(247 / 256)
    unanimous = leader_is_mode_probability(np.arange(1, 8), np.zeros(7, int))
    assert unanimous == pytest.approx(1 - 0.5 ** np.arange(2, 9))


@pytest.mark.parametrize("conf, stop", [(0.5, 1), (0.9, 3), (0.95, 4), (0.99, 6)])
def test_posterior_rule_stops_a_unanimous_stream_when_1_minus_2_pow_minus_votes_plus_1_reaches_conf(conf, stop):
    assert stopping_point(["7"] * 20, PosteriorRule(conf), cap=20) == (stop, "7")


def test_posterior_rule_waits_out_a_dissent():
    # (1,0) .75, (1,1) .5, (2,1) .69, (3,1) .81, (4,1) .89, (5,1) .94, (6,1) .96
    stream = ["1", "2"] + ["1"] * 10
    assert stopping_point(stream, PosteriorRule(0.95), cap=12) == (7, "1")


def test_malformed_answers_vote_for_nothing():
    stream = ["x", None, None, "x", "x", "x", "x"]
    assert stopping_point(stream, PosteriorRule(0.95), cap=7) == (6, "x")
    assert stopping_point([None] * 5, PosteriorRule(0.5), cap=5) == (5, None)


def test_window_rule_stops_when_the_last_w_answers_agree():
    assert stopping_point(["a", "b", "b", "a", "a", "a", "c"], WindowRule(3), cap=7) == (6, "a")
    assert stopping_point(["a", "a", None, "a", "a", "a"], WindowRule(3), cap=6) == (6, "a")  # None breaks it
    assert stopping_point(["b", "b"], WindowRule(2), cap=2) == (2, "b")
    assert stopping_point(["q"], WindowRule(1), cap=5) == (1, "q")


def test_cap_and_min_bound_the_draws():
    spread = [str(i) for i in range(30)]
    assert stopping_point(spread, PosteriorRule(0.9), cap=8)[0] == 8
    assert stopping_point(spread, WindowRule(2), cap=5)[0] == 5
    assert stopping_point(["7"] * 20, PosteriorRule(0.9), cap=20, min_draws=9)[0] == 9
    assert stopping_point(["7"] * 20, WindowRule(2), cap=20, min_draws=5)[0] == 5


def test_plurality_tie_goes_to_higher_scores_then_to_the_first_to_reach_the_count():
    assert stopping_point(["a", "b"], PosteriorRule(0.99), cap=2) == (2, "a")
    assert stopping_point(["a", "b"], PosteriorRule(0.99), cap=2, scores=[-2.0, -1.0]) == (2, "b")
    # b overtakes with its second vote; a catches up but its scores are lower
    assert stopping_point(["a", "b", "b", "a"], PosteriorRule(0.99), cap=4, scores=[-3, -1, -1, -3]) == (4, "b")


def test_tally_tracks_leader_and_runner_up_for_many_streams_at_once():
    tally = VoteTally.empty(rows=3, n_classes=3)
    for classes in ([0, 1, 3], [1, 1, 3], [1, 2, 2], [0, 2, 2]):
        tally.add(np.arange(3), np.array(classes))
    # row 0 draws 0,1,1,0: 1 reached two votes first, 0 only ties it
    # row 1 draws 1,1,2,2; row 2 draws none, none, 2, 2 (3 is "no answer")
    assert tally.leader.tolist() == [1, 1, 2]
    assert tally.leader_votes.tolist() == [2, 2, 2]
    assert tally.runner_up_votes.tolist() == [2, 2, 0]
    assert tally.draws.tolist() == [4, 4, 4]
    assert tally.streak.tolist() == [1, 2, 2]
    tally.add(np.array([2]), np.array([0]))  # only row 2 draws
    assert tally.draws.tolist() == [4, 4, 5] and tally.runner_up_votes[2] == 1


def test_a_stream_shorter_than_the_cap_is_an_input_error():
    with pytest.raises(InputError, match="cap=9"):
        stopping_point(["a", "b", "c"], PosteriorRule(0.99), cap=9)
