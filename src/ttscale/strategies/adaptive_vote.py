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

Live: ``run_live`` draws one sample (or a small batch) at a time with the
sweep's per-sample seeds: the samples a sweep stores at indices 0, 1, 2, ...,
so its answer equals the replay of that pool in identity order.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Callable, Mapping, Sequence

import numpy as np

from ttscale.backends import Backend
from ttscale.errors import InputError
from ttscale.pools import Pool
from ttscale.strategies.base import Evaluation, Param, Settings, check_aligned, resolve_settings
from ttscale.strategies.registry import STRATEGIES
from ttscale.strategies.stopping import PosteriorRule, StoppingRule, VoteTally, WindowRule, should_stop
from ttscale.sweep import _to_sample, sample_seed  # the sweep's own seeds and sample accounting
from ttscale.types import Problem, Sample, SamplingConfig, Task, stable_hash

CAP = Param("cap", int, 1, 1_000_000, 32, "most samples per problem (at most the pool size)")
MIN = Param("min", int, 1, 1_000_000, 1, "fewest samples per problem before the rule may stop")
PERMS = Param("perms", int, 1, 100_000, 200, "random orders of each pool averaged by the replay")
CONF = Param("conf", float, 0.5, 0.999999, 0.95, "stop when P(leader is the true mode) >= conf")
WINDOW = Param("window", int, 1, 1_000_000, 3, "stop when the last `window` answers agree")


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
    index: dict[str, int] = {}
    for answer in pool.answers:
        if answer is not None:
            index.setdefault(answer, len(index))
    ids = np.array([len(index) if a is None else index[a] for a in pool.answers], dtype=np.int64)
    correct = np.zeros(len(index), dtype=bool)
    np.logical_or.at(correct, ids[ids < len(index)], pool.correct[ids < len(index)])
    return PoolClasses(ids, correct, tuple(index))


def random_orders(pools: Sequence[Pool], perms: int, length: int, seed: int) -> list[np.ndarray]:
    """Per problem, ``perms`` random orders of its pool, truncated to ``length``: (perms, length) each."""
    orders = []
    for pool in pools:
        # Seeded per problem, so a problem's orders do not depend on the others evaluated with it.
        rng = np.random.default_rng([seed, int(stable_hash(pool.problem_id), 16)])
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
    pools: Sequence[Pool], rule: StoppingRule, cap: int, min_draws: int, orders: Sequence[np.ndarray]
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
        active &= ~should_stop(tally, rule, cap, min_draws)
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
    description: str
    params: tuple[Param, ...]
    make_rule: Callable[[Settings], StoppingRule]
    n_models: int | None = 1
    uses_verifier: bool = False

    def limits(self, settings: Settings) -> tuple[int, int]:
        """(cap, min), checked against each other."""
        cap, min_draws = int(settings["cap"]), int(settings["min"])
        if min_draws > cap:
            raise InputError(f"strategy {self.name!r}: parameter 'min' must be <= cap={cap}, got {min_draws}")
        return cap, min_draws

    def needs_calibration(self, settings: Settings) -> bool:
        return False

    def evaluate(
        self, cells: Sequence[Sequence[Pool]], settings: Settings, calibration=None, seed: int = 0
    ) -> Evaluation:
        check_aligned(self.name, cells, 1)
        pools = list(cells[0])
        cap, min_draws = self.limits(settings)
        small = min(pools, key=lambda p: p.n)
        if cap > small.n:
            raise InputError(
                f"strategy {self.name!r}: parameter 'cap' must be <= the pool size "
                f"({small.n} for problem {small.problem_id!r}), got {cap}"
            )
        orders = random_orders(pools, int(settings["perms"]), cap, seed)
        replay = replay_votes(pools, self.make_rule(settings), cap, min_draws, orders)
        draws = replay.draws.mean(axis=1)
        return Evaluation(
            performance=replay.correct.mean(axis=1),
            infer_flops=np.array([p.inference_flops(d, False) for p, d in zip(pools, draws)]),
            infer_seconds=np.array([p.inference_seconds(d) for p, d in zip(pools, draws)]),
            draws=draws,
            notes={"capped_rate": float(1.0 - replay.settled.mean())},
        )


ADAPTIVE_VOTE = STRATEGIES.register("adaptive-vote")(
    AdaptiveVote(
        name="adaptive-vote",
        description="vote until P(leader is the mode) >= conf (Beta posterior), at most cap samples",
        params=(CONF, CAP, MIN, PERMS),
        make_rule=lambda s: PosteriorRule(conf=float(s["conf"])),
    )
)
WINDOW_VOTE = STRATEGIES.register("window-vote")(
    AdaptiveVote(
        name="window-vote",
        description="vote until the last `window` answers agree, at most cap samples",
        params=(WINDOW, CAP, MIN, PERMS),
        make_rule=lambda s: WindowRule(window=int(s["window"])),
    )
)


# ---------------------------------------------------------------- live


@dataclass(frozen=True)
class LiveVote:
    """One problem answered live. ``samples`` are every generated sample, as the sweep would store them."""

    answer: str | None
    correct: bool
    draws: int  # samples the stopping rule consumed
    samples: tuple[Sample, ...]  # >= draws when drawing in batches (the tail of the last batch is wasted)
    backend_calls: int
    prefill_flops: float  # per backend call: a call re-reads the prompt unless the server caches it
    decode_flops: float  # every generated sample's decode
    wall_seconds: float

    @property
    def infer_flops(self) -> float:
        return self.prefill_flops + self.decode_flops


def run_live(
    backend: Backend,
    task: Task,
    problem: Problem,
    config: SamplingConfig,
    run_seed: int,
    settings: Mapping[str, object],
    strategy: str = "adaptive-vote",
    batch: int = 1,
    run: str = "live",
) -> LiveVote:
    """Answer ``problem`` by drawing from ``backend`` until ``strategy``'s rule stops.

    Sample i has the sweep's seed ``sample_seed(run_seed, backend.name,
    task.name, problem_id, i)``. ``settings`` are the strategy's (``perms`` is
    ignored). ``batch`` samples are requested per backend call.
    """
    vote = STRATEGIES.get(strategy)
    if not isinstance(vote, AdaptiveVote):
        raise InputError(f"run_live: strategy {strategy!r} is not an adaptive vote (use adaptive-vote or window-vote)")
    if isinstance(batch, bool) or not isinstance(batch, int) or batch < 1:
        raise InputError(f"run_live: batch must be a positive int, got {batch!r}")
    resolved = resolve_settings(vote, settings)
    cap, min_draws = vote.limits(resolved)
    rule = vote.make_rule(resolved)
    prompt_tokens = backend.count_tokens(problem.prompt)
    ids: dict[str, int] = {}
    tally = VoteTally.empty(1, cap)  # cap draws hold at most cap distinct answers
    one = np.zeros(1, dtype=np.int64)
    samples: list[Sample] = []
    calls, stopped, started = 0, False, time.perf_counter()
    while not stopped:
        start = len(samples)
        seeds = [sample_seed(run_seed, backend.name, task.name, problem.problem_id, i)
                 for i in range(start, min(start + batch, cap))]
        t0 = time.perf_counter()
        (generations,) = backend.generate([problem.prompt], [seeds], config, task.stop)
        per_sample = (time.perf_counter() - t0) / len(seeds)
        calls += 1
        for index, generation in enumerate(generations, start=start):
            sample = _to_sample(run, backend, task, problem, config, index, generation, prompt_tokens, per_sample)
            if sample.status != "ok":
                raise RuntimeError(f"run_live: problem {problem.problem_id!r} sample {index} failed: {sample.error}")
            samples.append(sample)
            if stopped:
                continue  # generated in the same batch after the stop: paid for, not counted
            answer_id = cap if sample.answer is None else ids.setdefault(sample.answer, len(ids))
            tally.add(one, np.array([answer_id]), np.array([sample.mean_logprob]))
            stopped = bool(should_stop(tally, rule, cap, min_draws)[0])
    draws = int(tally.draws[0])
    names = {i: a for a, i in ids.items()}
    answer = names.get(int(tally.leader[0]))
    return LiveVote(
        answer=answer,
        correct=any(s.correct for s in samples[:draws] if answer is not None and s.answer == answer),
        draws=draws,
        samples=tuple(samples),
        backend_calls=calls,
        prefill_flops=samples[0].prefill_flops * (calls if backend.prefill_shared else len(samples)),
        decode_flops=float(sum(s.decode_flops for s in samples)),
        wall_seconds=time.perf_counter() - started,
    )
