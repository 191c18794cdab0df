"""Difficulty-aware allocation: one budget of samples for a whole set of problems,
spent where another sample is expected to help most.

``allocate:budget=B,probe=p`` may draw ``floor(B x problems)`` samples in all:

1. Probe: every problem gets ``probe`` samples.
2. Rounds: each round gives one more sample to each of the ``ceil(problems/8)``
   eligible problems with the highest expected gain per FLOP (a batched greedy:
   one backend call per round), until the budget is spent or no problem is
   eligible. The last round takes only what is left, so the total is exact.
3. Answer: the first verified sample when the task has a verifier (and one was
   drawn), else the plurality vote (the tie-break of ``strategies.stopping``).

Only what is known at inference time steers the spending: the answers drawn,
the verifier's verdicts and each sample's compute; never ``correct``.

Expected gain of one more sample, per problem:
- Verifier tasks: the chance the next sample passes, (passes + 1) / (draws + 2)
  (Laplace); a problem with a verified sample is settled.
- Voting tasks: with a votes for the leader and b for the runner-up, the chance
  that the leader is the true mode is V(a, b) = P(Beta(a+1, b+1) > 1/2) (as in
  ``stopping.PosteriorRule``). Drawing m more samples (top-two share
  ~ Beta-Binomial(m, a+1, b+1)) and answering with the then-leader raises it to
  E[max(V, 1-V)]; the gain per sample is the best of (that rise) / m over
  m in 1, 2, 4, 8, 16 (one sample alone rarely flips a leader, so a one-step
  look-ahead would see no gain at all); of m samples, Binomial(m, rho) land
  on the top two, rho = (a+b+2)/(draws+3). It is weighted by the chance that
  the leader beats every other answer drawn (the pairwise V multiplied, as if
  independent): a vote spread thin over many answers has no clear mode, and
  such a mode is rarely right, so settling its top two is worth little.
  A vote is settled when V(a, b) >= ``conf``.
Gain is divided by the problem's marginal cost: the mean decode (+ verifier)
FLOPs of its samples drawn so far (+ the prompt prefill when the backend does
not share it).

Live (a served request's prompts, a live run's problems): the same greedy on samples drawn as it decides,
sample t of a problem carrying the sweep's seed for t, so a live allocation is the replay of the pool
drawn in index order.

Hopeless (no more samples): the 95% upper credible bound of the leader's share
of draws (votes), or of the verifier pass rate (verifier tasks), is below
``hopeless``, from a uniform Beta prior. A problem also stops at its pool size.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from functools import lru_cache
from typing import Protocol, Sequence

import numpy as np
from scipy.special import betainc, betaln, gammaln

from pydantic import Field, model_validator

from ttscale.sampling.pools import Pool
from ttscale.settings import TypedSettings
from ttscale.strategies.adaptive_vote import correct_by_class, pool_classes, random_orders
from ttscale.errors import InputError
from ttscale.strategies.base import (Evaluation, LiveAnswer, LiveContext, SampleSource, StrategyTraits, live_answer,
                                     live_cost, one_model_pools, replayed, vote_correct)
from ttscale.types import Problem, Sample
from ttscale.strategies.registry import STRATEGIES
from ttscale.strategies.stopping import VoteTally, leader_is_mode_probability


class AllocationSettings(TypedSettings):
    budget: float = Field(ge=1, le=1_000_000, description="mean samples per problem; the set may draw budget x problems")
    probe: int = Field(2, ge=1, le=1_000_000, description="samples every problem gets first, to judge its difficulty")
    conf: float = Field(0.95, ge=0.5, le=0.999999, description="a vote is settled when P(leader is the mode) >= conf")
    hopeless: float = Field(0.1, ge=0, le=1, description="give up when the leader share (or pass rate) is credibly "
                                                          "below this")
    perms: int = Field(200, ge=1, le=100_000, description="random orders of each pool averaged by the replay")

    @model_validator(mode="after")
    def _probe_within_budget(self):
        if self.probe > self.budget:
            raise ValueError(f"parameter 'probe' must be <= budget={self.budget:g}, got {self.probe}")
        return self
HORIZONS = (1, 2, 4, 8, 16)
LIVE_POOL_FACTOR = 8  # live, a problem stops at 8 x budget samples: the pool a sweep would draw for it
HOPELESS_CREDIBILITY = 0.95


@lru_cache(maxsize=8)
def _top_two_gain_tables(size: int) -> np.ndarray:
    """table[j, a, b] (a >= b votes): expected rise in P(answer is the mode) after j more top-two votes."""
    a = np.arange(size)[:, None]
    b = np.arange(size)[None, :]
    now = leader_is_mode_probability(np.maximum(a, b), np.minimum(a, b))
    tables = np.zeros((max(HORIZONS) + 1, size, size))
    for j in range(1, max(HORIZONS) + 1):
        for k in range(j + 1):  # k of the j votes go to the leader: Beta-Binomial(j, a+1, b+1)
            pmf = np.exp(gammaln(j + 1) - gammaln(k + 1) - gammaln(j - k + 1)
                         + betaln(a + 1 + k, b + 1 + j - k) - betaln(a + 1, b + 1))
            # Answering with the then-leader: right about the mode with max(V, 1 - V).
            tables[j] += pmf * leader_is_mode_probability(np.maximum(a + k, b + j - k), np.minimum(a + k, b + j - k))
        tables[j] -= now
    tables.setflags(write=False)
    return tables


def vote_gain(leader_votes, runner_up_votes, draws, tables: np.ndarray) -> np.ndarray:
    """Best expected rise in P(answer is the mode) per extra sample, over look-ahead horizons.

    Of m more samples, j ~ Binomial(m, rho) land on the top two answers, with
    rho = (a + b + 2) / (draws + 3) (Laplace): on a problem whose answers are
    spread thin, more samples rarely separate the top two.
    """
    a, b = np.asarray(leader_votes), np.asarray(runner_up_votes)
    rho = (a + b + 2.0) / (np.asarray(draws) + 3.0)
    best = np.zeros(a.shape)
    for m in HORIZONS:
        j = np.arange(m + 1)[:, None]
        choose = np.array([math.comb(m, k) for k in range(m + 1)], dtype=float)[:, None]
        pmf = choose * rho**j * (1.0 - rho) ** (m - j)
        best = np.maximum(best, (pmf * tables[j, a, b]).sum(axis=0) / m)
    return best


@lru_cache(maxsize=8)
def _log_beats_table(size: int) -> np.ndarray:
    """table[a, c] = log P(a votes beat c votes) (pairwise V); 0 for c = 0: an answer never drawn is no rival."""
    a = np.arange(size)
    table = np.log(leader_is_mode_probability(a[:, None], a[None, :]))
    table[:, 0] = 0.0
    table.setflags(write=False)
    return table


@dataclass(frozen=True)
class AllocationReplay:
    """Per (order, problem): draws spent, final correctness, why spending stopped."""

    draws: np.ndarray  # (orders, problems) int
    correct: np.ndarray  # (orders, problems) bool
    settled: np.ndarray  # (orders, problems) bool
    hopeless: np.ndarray  # (orders, problems) bool
    exhausted: np.ndarray  # (orders, problems) bool: drew its whole pool


@dataclass
class _State:
    """What the allocator knows, one row per (order, problem): row = order * problems + problem."""

    tally: VoteTally
    passes: np.ndarray  # verified samples drawn
    cost_sum: np.ndarray  # FLOPs of the samples drawn (decode, verifier, unshared prefill)
    first_verified_correct: np.ndarray  # for scoring only: the allocator never reads it

    def mean_cost(self, rows) -> np.ndarray:
        return np.maximum(self.cost_sum[rows] / np.maximum(self.tally.draws[rows], 1), np.finfo(float).tiny)


def _gather(per_problem: Sequence[np.ndarray], orders: Sequence[np.ndarray], fill) -> np.ndarray:
    """Each problem's per-sample values in each order: (orders x problems, longest pool), padded with ``fill``."""
    longest = max(len(v) for v in per_problem)
    dtype = np.result_type(*[np.asarray(v).dtype for v in per_problem])
    out = np.full((orders[0].shape[0], len(per_problem), longest), fill, dtype=dtype)
    for i, (values, order) in enumerate(zip(per_problem, orders)):
        out[:, i, : len(values)] = np.asarray(values)[order]
    return out.reshape(-1, longest)


def _judge(state: _State, verify: bool, conf: float, hopeless: float, rows) -> tuple[np.ndarray, np.ndarray]:
    """(settled, hopeless) for ``rows``."""
    tally, draws = state.tally, state.tally.draws[rows]
    hits = state.passes[rows] if verify else tally.leader_votes[rows]
    # Upper tail of the Beta(hits+1, misses+1) posterior of the pass rate / leader share at `hopeless`.
    upper_tail = 1.0 - betainc(hits + 1.0, draws - hits + 1.0, hopeless)
    if verify:
        settled = hits > 0
    else:
        mode = leader_is_mode_probability(tally.leader_votes[rows], tally.runner_up_votes[rows])
        settled = (hits > 0) & (mode >= conf)
    return settled, upper_tail < 1.0 - HOPELESS_CREDIBILITY


def _clear_mode_probability(tally: VoteTally, rows: np.ndarray, log_beats: np.ndarray) -> np.ndarray:
    """P(the leader beats every other answer drawn so far): pairwise posteriors, multiplied as if independent."""
    a = tally.leader_votes[rows]
    every_class = log_beats[a[:, None], tally.counts[rows]].sum(axis=1)
    return np.exp(every_class - log_beats[a, a])  # the leader is no rival of itself


def _priority(state: _State, verify: bool, gain_tables: np.ndarray, rows) -> np.ndarray:
    """Expected gain in P(correct answer) of one more sample, per FLOP, for ``rows``."""
    tally, draws = state.tally, state.tally.draws[rows]
    if verify:
        gain = (state.passes[rows] + 1.0) / (draws + 2.0)
    else:
        # A vote spread thin over many answers has no clear mode, and such a
        # mode is rarely right: settling its top two is worth little.
        settle = vote_gain(tally.leader_votes[rows], tally.runner_up_votes[rows], draws, gain_tables)
        gain = settle * _clear_mode_probability(tally, rows, _log_beats_table(len(gain_tables[0])))
    return gain / state.mean_cost(rows)


@dataclass(frozen=True)
class _Next:
    """The next sample of each of some rows: its answer class, score, verdict, correctness (for scoring only)
    and what it cost (decode, verifier, unshared prefill)."""

    classes: np.ndarray
    scores: np.ndarray
    verified: np.ndarray
    right: np.ndarray
    cost: np.ndarray


class _Draws(Protocol):
    def next(self, rows: np.ndarray, t: np.ndarray) -> _Next:
        """Sample ``t[i]`` of row ``rows[i]``."""
        ...


@dataclass(frozen=True)
class _ReplayDraws:
    """Samples read from pools in each order, gathered as (rows, draw position) arrays."""

    seq: np.ndarray
    scores: np.ndarray
    verified: np.ndarray
    right: np.ndarray
    cost: np.ndarray

    def next(self, rows: np.ndarray, t: np.ndarray) -> _Next:
        return _Next(self.seq[rows, t], self.scores[rows, t], self.verified[rows, t], self.right[rows, t],
                     self.cost[rows, t])


@dataclass(frozen=True)
class _Spent:
    state: _State
    settled: np.ndarray
    hopeless: np.ndarray


def _spend(draws: _Draws, n_orders: int, problems: int, limit_of_row: np.ndarray, width: int, verify: bool,
           budget: float, probe: int, conf: float, hopeless: float) -> _Spent:
    """The greedy of the module note over rows = order * problems + problem, each stopping at its limit."""
    all_rows = np.arange(problems * n_orders)
    state = _State(VoteTally.empty(len(all_rows), width), np.zeros(len(all_rows), np.int64),
                   np.zeros(len(all_rows)), np.zeros(len(all_rows), bool))

    def draw(rows: np.ndarray) -> None:
        t = state.tally.draws[rows]
        drawn = draws.next(rows, t)
        first = rows[drawn.verified & (state.passes[rows] == 0)]
        state.first_verified_correct[first] = drawn.right[drawn.verified & (state.passes[rows] == 0)]
        state.passes[rows] += drawn.verified
        state.cost_sum[rows] += drawn.cost
        state.tally.add(rows, drawn.classes, drawn.scores)

    for _ in range(probe):
        draw(all_rows)
    remaining = np.full(n_orders, math.floor(budget * problems + 1e-9) - probe * problems)
    round_size = max(1, math.ceil(problems / 8))
    gain_tables = _top_two_gain_tables(int(limit_of_row.max()) + 1)
    settled, hopeless_now = _judge(state, verify, conf, hopeless, all_rows)
    priority = _priority(state, verify, gain_tables, all_rows)
    while True:
        eligible = (~settled & ~hopeless_now & (state.tally.draws < limit_of_row)).reshape(n_orders, problems)
        take = np.minimum(np.minimum(round_size, remaining), eligible.sum(axis=1))
        if not take.any():
            break
        score = np.where(eligible, priority.reshape(n_orders, problems), -np.inf)
        top = np.argpartition(-score, round_size - 1, axis=1)[:, :round_size] if round_size < problems \
            else np.broadcast_to(np.arange(problems), score.shape)
        # Highest priority first within the round, so a short last round takes the best.
        ranked = np.argsort(-np.take_along_axis(score, top, axis=1), axis=1, kind="stable")
        top = np.take_along_axis(top, ranked, axis=1)
        chosen = np.arange(top.shape[1])[None, :] < take[:, None]
        rows = (np.arange(n_orders)[:, None] * problems + top)[chosen]
        draw(rows)
        remaining -= take
        settled[rows], hopeless_now[rows] = _judge(state, verify, conf, hopeless, rows)
        priority[rows] = _priority(state, verify, gain_tables, rows)
    return _Spent(state, settled, hopeless_now)


def allocate(
    pools: Sequence[Pool], budget: float, probe: int, conf: float, hopeless: float, orders: Sequence[np.ndarray]
) -> AllocationReplay:
    """Replay the allocation under each order: ``orders[i]`` is (orders, n_i), a permutation of pool i per row."""
    problems, n_orders = len(pools), orders[0].shape[0]
    sizes = np.array([p.n for p in pools])
    classes = [pool_classes(p) for p in pools]
    width = max(c.n_classes for c in classes)
    verify = all(p.verified is not None for p in pools)
    # Rows are order-major: row = order * problems + problem; columns are draw positions.
    unshared_prefill = [0.0 if p.prefill_shared else p.prefill_flops for p in pools]
    draws = _ReplayDraws(
        seq=_gather([np.where(c.ids == c.n_classes, width, c.ids) for c in classes], orders, width),
        scores=_gather([p.scores for p in pools], orders, 0.0),
        verified=_gather([p.verified if verify else np.zeros(p.n, bool) for p in pools], orders, False),
        right=_gather([p.correct for p in pools], orders, False),
        cost=_gather([p.decode_flops + (p.verifier_flops if verify else 0.0) + extra
                      for p, extra in zip(pools, unshared_prefill)], orders, 0.0),
    )
    size_of_row = np.tile(sizes, n_orders)
    spent = _spend(draws, n_orders, problems, size_of_row, width, verify, budget, probe, conf, hopeless)
    state = spent.state
    problem_of_row = np.tile(np.arange(problems), n_orders)
    voted = correct_by_class(classes, width)[problem_of_row, state.tally.leader]
    correct = np.where(state.passes > 0, state.first_verified_correct, voted) if verify else voted
    shape = (n_orders, problems)
    return AllocationReplay(
        draws=state.tally.draws.reshape(shape),
        correct=correct.reshape(shape),
        settled=spent.settled.reshape(shape),
        hopeless=spent.hopeless.reshape(shape),
        exhausted=(state.tally.draws >= size_of_row).reshape(shape),
    )


class _LiveDraws:
    """Sample t of a problem drawn from a live source (the sweep's seed for t), its answer numbered by first
    appearance in the problem's draws."""

    def __init__(self, source: SampleSource, problems: Sequence[Problem], verify: bool, width: int) -> None:
        self.source, self.problems, self.verify, self.width = source, problems, verify, width
        self.ids: list[dict[str, int]] = [{} for _ in problems]
        self.drawn: list[list[Sample]] = [[] for _ in problems]

    def next(self, rows: np.ndarray, t: np.ndarray) -> _Next:
        picked = []
        for row, index in zip(rows.tolist(), t.tolist()):
            (sample,) = self.source.draw(0, self.problems[row], [index])
            self.drawn[row].append(sample)
            picked.append((row, sample))
        return _Next(
            classes=np.array([self.width if s.answer is None else self.ids[r].setdefault(s.answer, len(self.ids[r]))
                              for r, s in picked], dtype=np.int64),
            scores=np.array([s.mean_logprob for _, s in picked]),
            verified=np.array([self.verify and bool(s.verified) for _, s in picked]),
            right=np.array([s.correct for _, s in picked]),
            cost=np.array([s.decode_flops + (s.verifier_flops if self.verify else 0.0)
                           + (0.0 if s.prefill_shared else s.prefill_flops) for _, s in picked]),
        )


@dataclass(frozen=True)
class DifficultyAwareAllocation:
    name: str = "allocate"
    # uses_verifier is decided per evaluation: the verifier is used (and paid) when the pools have one.
    traits: StrategyTraits = StrategyTraits(
        "one budget for the whole set: probe each problem, then sample where gain per FLOP is highest",
        AllocationSettings, pool_params=("budget",))

    def needs_calibration(self, settings: AllocationSettings) -> bool:
        return False

    def replay(self, cells: Sequence[Sequence[Pool]], settings: AllocationSettings, calibration=None,
               seed: int = 0) -> Evaluation:
        budget, probe = settings.budget, settings.probe
        pools = one_model_pools(self.name, cells, "budget", budget)
        orders = random_orders(pools, settings.perms, max(p.n for p in pools), seed)
        replay = allocate(pools, budget, probe, settings.conf, settings.hopeless, orders)
        verify = all(p.verified is not None for p in pools)
        return replayed(pools, replay.correct.mean(axis=0), replay.draws.mean(axis=0), verify, {
            "settled_rate": float(replay.settled.mean()),
            "hopeless_rate": float(replay.hopeless.mean()),
            "exhausted_rate": float(replay.exhausted.mean()),
        })


    def live(self, context: LiveContext, problems: Sequence[Problem], settings: AllocationSettings
             ) -> list[LiveAnswer]:
        """The same greedy on samples drawn as it decides (one per call). With no pool to run out of, a problem
        stops at ``LIVE_POOL_FACTOR`` x budget samples, the pool a sweep would draw for it."""
        if context.samples is None:
            raise InputError(f"strategy {self.name!r}: a live run needs a sample source")
        total = math.floor(settings.budget * len(problems) + 1e-9)
        limit = min(total, math.ceil(LIVE_POOL_FACTOR * settings.budget))
        verify = context.task.has_verifier
        draws = _LiveDraws(context.samples, problems, verify, width=limit)
        spent = _spend(draws, 1, len(problems), np.full(len(problems), limit), limit, verify, settings.budget,
                       settings.probe, settings.conf, settings.hopeless)
        answers = []
        for row, problem in enumerate(problems):
            drawn = draws.drawn[row]
            first = next((s for s in drawn if s.verified), None) if verify else None
            names = {i: a for a, i in draws.ids[row].items()}
            answer = first.answer if first is not None else names.get(int(spent.state.tally.leader[row]))
            correct = first.correct if first is not None else vote_correct(drawn, answer)
            answers.append(live_answer(problem, drawn, answer, correct, live_cost(drawn, len(drawn), verify), {
                "settled": float(spent.settled[row]), "hopeless": float(spent.hopeless[row])}))
        return answers


ALLOCATE = STRATEGIES.register("allocate")(DifficultyAwareAllocation())
