"""Stopping rules for adaptive voting: is the leading answer settled yet?

Votes are tallied for many independent answer streams at once (one row per
stream: a problem under one random order of its pool, or one live run), so a
replay over thousands of orders is a handful of numpy operations per draw.
Answers are class ids; each tally has one extra "no answer" class (the last
column) for malformed samples (``None``): such a sample is drawn and paid for
but votes for nothing.

The leader is the answer with the most votes; on a tie, the one whose samples'
scores (mean token log-probabilities, free with generation) sum higher, then
the one that reached that count first. This needs only the stream seen so far,
so a live run and its replay pick the same answer. (The exact maj@k estimator
breaks ties by the whole pool's counts, which no live run can know.)

Rules (each answers "settled?" per row; ``should_stop`` adds ``min``/``cap``):

- ``PosteriorRule(conf)``: leader vs runner-up with a uniform Beta prior. With
  a votes for the leader and b for the runner-up (answers beyond the top two
  are ignored), the leader's share of the top-two votes is x ~ Beta(a+1, b+1),
  and P(leader is the true mode) is taken as P(x > 1/2) = P(Bin(a+b+1, 1/2) <= a)
  (Adaptive-Consistency, Aggarwal et al. 2023). Stop when it is >= conf. With
  b = 0 it is 1 - 2^-(a+1): conf 0.95 stops after 4 unanimous votes.
- ``WindowRule(window)``: stop when the last ``window`` draws all gave the same
  (non-None) answer. Simple and prior-free; a None breaks the streak.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache
from typing import Protocol, Sequence

import numpy as np
from scipy.special import betainc

from ttscale.errors import InputError


@lru_cache(maxsize=16)
def _mode_table(size: int) -> np.ndarray:
    """table[a, b] = P(Beta(a+1, b+1) > 1/2) for a, b < size (read-only)."""
    a = np.arange(size, dtype=float)
    # P(X > 1/2) for X ~ Beta(a+1, b+1) equals I_{1/2}(b+1, a+1) by symmetry.
    table = betainc(a[None, :] + 1.0, a[:, None] + 1.0, 0.5)
    table.setflags(write=False)
    return table


def leader_is_mode_probability(leader_votes, runner_up_votes) -> np.ndarray:
    """P(Beta(a+1, b+1) > 1/2): the posterior chance the leader's share beats the runner-up's."""
    a = np.asarray(leader_votes, dtype=np.int64)
    b = np.asarray(runner_up_votes, dtype=np.int64)
    size = int(max(a.max(initial=0), b.max(initial=0))) + 1
    table = _mode_table(max(64, 1 << (size - 1).bit_length()))  # a few cached sizes, not one per call
    return table[a, b]


@dataclass
class VoteTally:
    """Running vote counts of ``rows`` answer streams over ``n_classes`` answers (+ "no answer")."""

    counts: np.ndarray  # (rows, n_classes + 1) votes per class; the last column stays 0
    score_sums: np.ndarray  # (rows, n_classes + 1) summed scores of each class's votes (the tie-break)
    leader: np.ndarray  # (rows,) leading class; n_classes ("no answer") before the first vote
    leader_votes: np.ndarray  # (rows,)
    runner_up_votes: np.ndarray  # (rows,) most votes of any class other than the leader
    last: np.ndarray  # (rows,) class of the previous draw
    streak: np.ndarray  # (rows,) how many draws in a row gave the last (non-None) answer
    draws: np.ndarray  # (rows,) samples drawn, None answers included

    @classmethod
    def empty(cls, rows: int, n_classes: int) -> "VoteTally":
        def zeros():
            return np.zeros(rows, dtype=np.int64)

        none = np.full(rows, n_classes, dtype=np.int64)
        counts = np.zeros((rows, n_classes + 1), dtype=np.int32)
        return cls(counts, np.zeros(counts.shape), none, zeros(), zeros(), none.copy(), zeros(), zeros())

    @property
    def no_answer(self) -> int:
        return self.counts.shape[1] - 1

    def add(self, rows: np.ndarray, classes: np.ndarray, scores: np.ndarray | None = None) -> None:
        """One more draw for each of ``rows`` (distinct row indices), answering ``classes`` with ``scores``."""
        rows = np.asarray(rows, dtype=np.int64)
        classes = np.asarray(classes, dtype=np.int64)
        answered = classes != self.no_answer
        r, c = rows[answered], classes[answered]
        self.counts[r, c] += 1
        if scores is not None:
            self.score_sums[r, c] += np.asarray(scores, dtype=float)[answered]
        votes = self.counts[r, c].astype(np.int64)
        lead = self.leader[r]
        is_leader = c == lead
        ahead = (votes > self.leader_votes[r]) | (
            (votes == self.leader_votes[r]) & (self.score_sums[r, c] > self.score_sums[r, lead])
        )
        overtakes = ~is_leader & ahead
        # Overtaking: the old leader becomes the runner-up (it had the most
        # votes of the rest). A vote for anyone else can only raise the runner-up.
        new_runner = np.where(overtakes, self.leader_votes[r], np.maximum(self.runner_up_votes[r], votes))
        self.runner_up_votes[r] = np.where(is_leader, self.runner_up_votes[r], new_runner)
        self.leader[r] = np.where(overtakes, c, lead)
        self.leader_votes[r] = np.maximum(self.leader_votes[r], votes)

        same = answered & (classes == self.last[rows])
        self.streak[rows] = np.where(answered, np.where(same, self.streak[rows] + 1, 1), 0)
        self.last[rows] = classes
        self.draws[rows] += 1


class StoppingRule(Protocol):
    def settled(self, tally: VoteTally) -> np.ndarray:
        """Per row: is the leader settled (before the ``min``/``cap`` limits)?"""
        ...


@dataclass(frozen=True)
class PosteriorRule:
    conf: float  # stop when P(leader is the true mode) >= conf

    def settled(self, tally: VoteTally) -> np.ndarray:
        probability = leader_is_mode_probability(tally.leader_votes, tally.runner_up_votes)
        return (tally.leader_votes > 0) & (probability >= self.conf)


@dataclass(frozen=True)
class WindowRule:
    window: int  # stop when the last ``window`` answers agree

    def settled(self, tally: VoteTally) -> np.ndarray:
        return tally.streak >= self.window


def should_stop(tally: VoteTally, rule: StoppingRule, cap: int, min_draws: int, step: int = 1) -> np.ndarray:
    """Per row: stop now? Never before ``min_draws``; only after a whole round of ``step`` draws (the rule is
    read once per round); always at ``cap``."""
    round_done = tally.draws % step == 0
    return (rule.settled(tally) & (tally.draws >= min_draws) & round_done) | (tally.draws >= cap)


def stopping_point(
    answers: Sequence[str | None],
    rule: StoppingRule,
    cap: int,
    min_draws: int = 1,
    scores: Sequence[float] | None = None,
) -> tuple[int, str | None]:
    """Draw ``answers`` in order until the rule stops: (draws, plurality answer).

    The single-stream form of the replay, for reading and for tests. The stream
    must be at least ``cap`` long or stop before it runs out; ``scores`` (one
    per answer) break ties, else the first answer to reach the count leads.
    """
    ids: dict[str, int] = {}
    for answer in answers[:cap]:
        if answer is not None:
            ids.setdefault(answer, len(ids))
    tally = VoteTally.empty(1, len(ids))
    one = np.zeros(1, dtype=np.int64)
    for i, answer in enumerate(answers[:cap]):
        score = None if scores is None else np.array([scores[i]])
        tally.add(one, np.array([tally.no_answer if answer is None else ids[answer]]), score)
        if should_stop(tally, rule, cap, min_draws)[0]:
            break
    else:
        if int(tally.draws[0]) < cap:
            raise InputError(f"answers: the stream ran out after {len(answers)} answers, before cap={cap} or a stop")
    names = {i: a for a, i in ids.items()}
    return int(tally.draws[0]), names.get(int(tally.leader[0]))
