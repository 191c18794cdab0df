"""Adaptive voting: draw samples until the leading answer is settled (at most ``cap``).

Two registered strategies, one per stopping rule (see ``strategies.stopping``):

- ``adaptive-vote``: stop when P(leader is the true mode) >= ``conf`` (Beta
  posterior on the leader's share of the top-two votes);
- ``window-vote``: stop when the last ``window`` answers agree.

Both never stop before ``min`` draws and always stop at ``cap``; the answer is
the plurality answer of the draws (``None`` answers vote for nothing).

Replay: the stopping time depends on the order of the draws, so each problem's
pool is replayed under ``perms`` random orders (seeded by the run seed and the
problem id: a problem's orders do not depend on which other problems are
evaluated with it) and correctness and draws are averaged over them. Compute is
``pool.inference_flops(mean draws)``: the shared prompt prefill once, and the
pool's mean per-sample decode cost per draw.

``step`` draws samples in rounds: the rule is read after each round of ``step`` draws (and at ``cap``).
On a batched engine a round costs little more than one sample in wall time, so ``step=4`` trades a
few extra samples for far fewer sequential passes (BENCHMARKS.md, ttscale serve: adaptive vote).

Live: draws a round at a time (sample i has the sweep's seed i; one backend call per round) until
the rule stops, so its answer equals the replay of a stored pool read in index order.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np
from pydantic import Field, model_validator

from ttscale.errors import InputError
from ttscale.estimators.majority import answer_members, answer_verdicts
from ttscale.sampling.pools import Pool
from ttscale.settings import TypedSettings
from ttscale.strategies.base import (Evaluation, LiveAnswer, LiveContext, StrategyTraits, live_answer, live_cost,
                                     one_model_pools, problem_rng, replayed, vote_correct)
from ttscale.strategies.registry import STRATEGIES
from ttscale.strategies.stopping import PosteriorRule, StoppingRule, VoteTally, WindowRule, should_stop
from ttscale.types import Problem


class VoteSettings(TypedSettings):
    cap: int = Field(32, ge=1, le=1_000_000, description="most samples per problem (at most the pool size)")
    min: int = Field(1, ge=1, le=1_000_000, description="fewest samples per problem before the rule may stop")
    step: int = Field(1, ge=1, le=1_000_000, description="samples drawn per round; the rule is read after each "
                                                         "round (a batched engine draws a round for little more "
                                                         "than one sample)")
    perms: int = Field(200, ge=1, le=100_000, description="random orders of each pool averaged by the replay")

    @model_validator(mode="after")
    def _min_within_cap(self):
        if self.min > self.cap:
            raise ValueError(f"parameter 'min' must be <= cap={self.cap}, got {self.min}")
        return self


class AdaptiveVoteSettings(VoteSettings):
    conf: float = Field(0.95, ge=0.5, le=0.999999, description="stop when P(leader is the true mode) >= conf")


class WindowVoteSettings(VoteSettings):
    window: int = Field(3, ge=1, le=1_000_000, description="stop when the last `window` answers agree")


# ---------------------------------------------------------------- replay inputs


@dataclass(frozen=True)
class PoolClasses:
    """A pool's answers as class ids, numbered by first appearance in the pool."""

    ids: np.ndarray  # (n,) class of each sample; n_classes for a None answer
    correct: np.ndarray  # (n_classes,) an answer is correct when any of its samples is
    names: tuple[str, ...]

    @property
    def n_classes(self) -> int:
        return len(self.names)


def pool_classes(pool: Pool) -> PoolClasses:
    members, _ = answer_members(pool.answers)  # first-appearance order
    verdicts = answer_verdicts(members, pool.correct, strict=False)
    index = {answer: i for i, answer in enumerate(members)}
    ids = np.array([len(index) if a is None else index[a] for a in pool.answers], dtype=np.int64)
    correct = np.array([verdicts[a] for a in members], dtype=bool)
    return PoolClasses(ids, correct, tuple(members))


def random_orders(pools: Sequence[Pool], perms: int, length: int, seed: int) -> list[np.ndarray]:
    """Per problem, ``perms`` random orders of its pool, truncated to ``length``: (perms, length) each."""
    orders = []
    for pool in pools:
        # Seeded per problem, so a problem's orders do not depend on the others evaluated with it.
        rng = problem_rng(seed, pool.problem_id)
        orders.append(np.argsort(rng.random((perms, pool.n)), axis=1)[:, :length])
    return orders


def stacked_draws(
    pools: Sequence[Pool], classes: Sequence[PoolClasses], orders: Sequence[np.ndarray], length: int
) -> tuple[np.ndarray, np.ndarray, int]:
    """Class and score of the t-th draw of every (problem, order) row, with one shared "no answer" id.

    Returns (classes (problems x orders, length), scores (same shape), width):
    classes are < width, and ``width`` means "no answer" for every problem.
    """
    width = max(c.n_classes for c in classes)
    ids, scores = [], []
    for pool, c, order in zip(pools, classes, orders):
        ids.append(np.where(c.ids == c.n_classes, width, c.ids)[order[:, :length]])
        scores.append(pool.scores[order[:, :length]])
    return np.vstack(ids), np.vstack(scores), width


def correct_by_class(classes: Sequence[PoolClasses], width: int) -> np.ndarray:
    """(problems, width + 1) correctness of each class; padding and "no answer" are wrong."""
    table = np.zeros((len(classes), width + 1), dtype=bool)
    for i, c in enumerate(classes):
        table[i, : c.n_classes] = c.correct
    return table


# ---------------------------------------------------------------- replay


@dataclass(frozen=True)
class VoteReplay:
    """Per (problem, order): was the final plurality answer correct, and how many draws."""

    correct: np.ndarray  # (problems, orders) bool
    draws: np.ndarray  # (problems, orders) int
    leader: np.ndarray  # (problems, orders) class id of the answer; n_classes of the pool = none
    settled: np.ndarray  # (problems, orders) the rule stopped it (rather than the cap)
    classes: tuple[PoolClasses, ...]

    def answer(self, problem: int, order: int) -> str | None:
        c = self.classes[problem]
        leader = int(self.leader[problem, order])
        return c.names[leader] if leader < c.n_classes else None


def replay_votes(
    pools: Sequence[Pool], rule: StoppingRule, cap: int, min_draws: int, orders: Sequence[np.ndarray], step: int = 1
) -> VoteReplay:
    """Run the stopping rule on every given order of every pool (all rows advance together)."""
    classes = tuple(pool_classes(p) for p in pools)
    n_orders = {len(o) for o in orders}
    if len(n_orders) != 1:
        raise InputError(f"orders: every problem needs the same number of orders, got {sorted(n_orders)}")
    seq, scores, width = stacked_draws(pools, classes, orders, cap)
    tally = VoteTally.empty(len(seq), width)
    active = np.ones(len(seq), dtype=bool)
    for t in range(cap):
        rows = np.flatnonzero(active)
        if rows.size == 0:
            break
        tally.add(rows, seq[rows, t], scores[rows, t])
        active &= ~should_stop(tally, rule, cap, min_draws, step)
    shape = (len(pools), n_orders.pop())
    problem = np.repeat(np.arange(len(pools)), shape[1])
    correct = correct_by_class(classes, width)[problem, tally.leader]
    settled = rule.settled(tally) & (tally.draws >= min_draws)
    leader = np.where(tally.leader == width, np.repeat([c.n_classes for c in classes], shape[1]), tally.leader)
    return VoteReplay(
        correct.reshape(shape), tally.draws.reshape(shape), leader.reshape(shape), settled.reshape(shape), classes
    )


# ---------------------------------------------------------------- the strategies


@dataclass(frozen=True)
class AdaptiveVote:
    name: str
    traits: StrategyTraits
    make_rule: Callable[[VoteSettings], StoppingRule]

    def needs_calibration(self, settings: VoteSettings) -> bool:
        return False

    def replay(self, cells: Sequence[Sequence[Pool]], settings: VoteSettings, calibration=None,
               seed: int = 0) -> Evaluation:
        cap, min_draws = settings.cap, settings.min
        pools = one_model_pools(self.name, cells, "cap", cap)
        orders = random_orders(pools, settings.perms, cap, seed)
        replay = replay_votes(pools, self.make_rule(settings), cap, min_draws, orders, settings.step)
        return replayed(pools, replay.correct.mean(axis=1), replay.draws.mean(axis=1), False,
                        {"capped_rate": float(1.0 - replay.settled.mean())})

    def live(self, context: LiveContext, problems: Sequence[Problem], settings: VoteSettings) -> list[LiveAnswer]:
        """Draw a round of ``step`` samples at a time until the rule stops (``perms`` is the replay's only)."""
        if context.samples is None:
            raise InputError(f"strategy {self.name!r}: a live run needs a sample source")
        rule = self.make_rule(settings)
        answers = []
        for problem in problems:
            ids: dict[str, int] = {}
            tally = VoteTally.empty(1, settings.cap)  # cap draws hold at most cap distinct answers
            one = np.zeros(1, dtype=np.int64)
            drawn: list = []
            calls = 0
            while not drawn or not should_stop(tally, rule, settings.cap, settings.min, settings.step)[0]:
                indices = list(range(len(drawn), min(len(drawn) + settings.step, settings.cap)))
                for sample in context.samples.draw(0, problem, indices):  # a round: one backend call
                    drawn.append(sample)
                    answer_id = settings.cap if sample.answer is None else ids.setdefault(sample.answer, len(ids))
                    tally.add(one, np.array([answer_id]), np.array([sample.mean_logprob]))
                calls += 1
            names = {i: a for a, i in ids.items()}
            answer = names.get(int(tally.leader[0]))
            answers.append(live_answer(problem, drawn, answer, vote_correct(drawn, answer),
                                       live_cost(drawn, calls, with_verifier=False)))
        return answers


ADAPTIVE_VOTE, WINDOW_VOTE = (
    STRATEGIES.register(vote.name)(vote)
    for vote in (
        AdaptiveVote("adaptive-vote", StrategyTraits(
            "vote until P(leader is the mode) >= conf (Beta posterior), at most cap samples", AdaptiveVoteSettings,
            pool_params=("cap",)),
            lambda s: PosteriorRule(conf=s.conf)),
        AdaptiveVote("window-vote", StrategyTraits(
            "vote until the last `window` answers agree, at most cap samples", WindowVoteSettings,
            pool_params=("cap",)),
            lambda s: WindowRule(window=s.window)),
    )
)
