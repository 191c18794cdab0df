"""Adaptive voting: replay over random orders, its limits and settings, and live runs
on a real TinyGPT that match the replay of the same stored samples."""

import math

import numpy as np
import pytest
import torch

from ttscale import strategies
from ttscale.backends.tiny import TinyBackend
from ttscale.errors import InputError
from ttscale.tiny import tokenizer
from ttscale.tiny.model import TinyConfig, TinyGPT, model_card
from ttscale.sampling.pools import pools_from_samples
from ttscale.store import Store
from ttscale.sampling.sources import BackendSamples
from ttscale.strategies import LiveContext
from ttscale.strategies.adaptive_vote import random_orders, replay_votes
from ttscale.strategies.stopping import PosteriorRule, WindowRule, stopping_point
from ttscale.sampling.draw import run_sweep
from ttscale.tasks import get_task
from ttscale.types import SamplingConfig


def evaluate(spec, pools, seed=0):
    strategy, settings = strategies.resolve(spec)
    return strategy.replay([pools], settings, None, seed)


def test_unanimous_pool_stops_after_four_votes_at_conf_095(make_pool):
    pool = make_pool("p", ["7"] * 16, right="7")
    result = evaluate("adaptive-vote:conf=0.95,cap=16", [pool])
    assert result.draws.tolist() == [4.0] and result.performance.tolist() == [1.0]
    # IC: the prompt's prefill once, then the mean decode per draw
    assert result.infer_flops[0] == pytest.approx(pool.inference_flops(4.0, False)) == pytest.approx(140.0)


def test_cap_is_respected_on_every_order(make_pool):
    spread = make_pool("p", [str(i % 8) for i in range(32)], right="3")
    pools = [spread]
    orders = random_orders(pools, perms=50, length=32, seed=1)
    replay = replay_votes(pools, PosteriorRule(0.99), cap=10, min_draws=1, orders=orders)
    assert replay.draws.max() == 10
    assert evaluate("window-vote:window=4,cap=6", pools).draws.tolist() == [6.0]


def test_replay_of_each_order_equals_the_single_stream_rule(make_mixed_pool):
    rng = np.random.default_rng(0)
    pools = [make_mixed_pool(f"p{i}", 24, {"a": 0.5, "b": 0.3}, rng) for i in range(5)]
    orders = random_orders(pools, perms=20, length=24, seed=3)
    for rule in (PosteriorRule(0.9), WindowRule(3)):
        replay = replay_votes(pools, rule, cap=12, min_draws=2, orders=orders)
        for i, pool in enumerate(pools):
            for j, order in enumerate(orders[i]):
                stream = [pool.answers[k] for k in order]
                expected = stopping_point(stream, rule, cap=12, min_draws=2, scores=pool.scores[order])
                assert (int(replay.draws[i, j]), replay.answer(i, j)) == expected


def test_in_rounds_the_rule_is_read_only_after_a_whole_round(make_mixed_pool):
    rng = np.random.default_rng(2)
    pools = [make_mixed_pool(f"p{i}", 24, {"a": 0.7, "b": 0.2}, rng) for i in range(6)]
    orders = random_orders(pools, perms=30, length=24, seed=4)
    one = replay_votes(pools, PosteriorRule(0.9), cap=14, min_draws=1, orders=orders)
    rounds = replay_votes(pools, PosteriorRule(0.9), cap=14, min_draws=1, orders=orders, step=4)
    assert set(np.unique(rounds.draws)) <= {4, 8, 12, 14}  # whole rounds, or the cap
    # A round stops at the first round end at or after where one-at-a-time stopped (the rule, once settled on a
    # stream, may unsettle later: so "at or after", with equality where the leader stays settled).
    assert (rounds.draws >= np.minimum(np.ceil(one.draws / 4) * 4, 14)).all()
    assert (rounds.draws == np.minimum(np.ceil(one.draws / 4) * 4, 14)).mean() > 0.8


def test_same_seed_same_result_and_a_problem_ignores_its_neighbours(make_mixed_pool):
    rng = np.random.default_rng(1)
    pools = [make_mixed_pool(f"p{i}", 32, {"a": 0.4, "b": 0.35}, rng) for i in range(6)]
    one = evaluate("adaptive-vote:conf=0.9,cap=24,perms=50", pools, seed=5)
    again = evaluate("adaptive-vote:conf=0.9,cap=24,perms=50", pools, seed=5)
    other = evaluate("adaptive-vote:conf=0.9,cap=24,perms=50", pools, seed=6)
    alone = evaluate("adaptive-vote:conf=0.9,cap=24,perms=50", pools[2:3], seed=5)
    assert np.array_equal(one.performance, again.performance) and np.array_equal(one.draws, again.draws)
    assert not np.array_equal(one.draws, other.draws)
    assert alone.draws[0] == one.draws[2] and alone.performance[0] == one.performance[2]


def test_adaptive_vote_saves_draws_on_easy_problems(make_mixed_pool):
    rng = np.random.default_rng(2)
    easy = [make_mixed_pool(f"e{i}", 64, {"a": 0.9}, rng) for i in range(10)]
    result = strategies.evaluate("adaptive-vote:conf=0.95,cap=32", [easy], n_boot=50)
    majority = strategies.evaluate("majority:k=32", [easy], n_boot=50)
    assert result.mean_draws < 8 and result.performance >= majority.performance - 0.02


@pytest.mark.parametrize(
    "spec, words",
    [
        ("adaptive-vote:cap=65", ["'cap'", "65", "pool size"]),
        ("adaptive-vote:cap=8,min=9", ["'min'", "9", "cap=8"]),
        ("adaptive-vote:conf=1.5", ["'conf'", "1.5"]),
        ("adaptive-vote:perms=0", ["'perms'", "0"]),
        ("window-vote:window=0", ["'window'", "0"]),
        ("window-vote:cap=2.5", ["'cap'", "2.5"]),
        ("adaptive-vote:windw=3", ["'windw'"]),
    ],
)
def test_bad_settings_name_the_parameter_and_value(make_pool, spec, words):
    pool = make_pool("p", ["1"] * 64, right="1")
    with pytest.raises(InputError) as error:
        evaluate(spec, [pool])
    assert all(word in str(error.value) for word in words), str(error.value)


# ------------------------------------------------------------------ live = replay


TASK = "arith:digits=1,operands=3,scratchpad=0"
CONFIG = SamplingConfig(temperature=1.0, max_new_tokens=6)
CAP = 8


def nudged_backend():
    """A real, untrained TinyGPT whose embeddings are set so that it answers short
    numbers (mostly "1" or "7", some "11", "17", malformed ones): votes that
    sometimes settle early, sometimes run to the cap, and are right on 1+3+3."""
    torch.manual_seed(0)
    config = TinyConfig(d_model=16, n_layers=1, n_heads=1, d_ff=32, context_length=32, vocab_size=tokenizer.vocab_size)
    model = TinyGPT(config).double().eval()  # float64: samples do not depend on the batch they ran in
    ids = [tokenizer.encode(c)[0] for c in "0123456789\n="]
    with torch.no_grad():
        after_digit, after_equals = torch.linalg.qr(torch.randn(16, 2, dtype=torch.float64))[0].T
        weights = model.wte.weight
        weights[[i for i in range(3, weights.shape[0]) if i not in ids]] = -0.6 * (after_digit + after_equals)
        preference = torch.full((10, 1), 0.4, dtype=torch.float64)
        preference[1], preference[7] = 1.1, 1.1
        weights[ids[:10]] = preference * after_equals + 0.8 * after_digit
        weights[ids[10]] = 2.6 * after_digit  # newline: likely after a digit
        weights[ids[11]] = after_equals  # "=": the prompt's last character
        weights *= 2.0
    card = model_card(config, name="nudged-d16", train_tokens=0, train_flops=1.0)
    return TinyBackend(name="nudged-d16", card=card, model=model)


@pytest.fixture(scope="module")
def live_setup(tmp_path_factory):
    torch.set_num_threads(1)
    backend, task = nudged_backend(), get_task(TASK)
    problems = task.problems(8, seed=0)
    with Store(tmp_path_factory.mktemp("live") / "store.sqlite") as store:
        run_sweep(store, "r", backend, task, problems, CAP, CONFIG, run_seed=11)
        (pools,) = pools_from_samples(store.samples("r")).values()
    by_id = {p.problem_id: p for p in pools}
    return backend, task, problems, [by_id[p.problem_id] for p in problems]


@pytest.mark.parametrize("spec", ["adaptive-vote:conf=0.9", "window-vote:window=3", "adaptive-vote:conf=0.9,step=3"])
def test_live_run_equals_the_replay_of_the_stored_samples_in_index_order(live_setup, spec):
    backend, task, problems, pools = live_setup
    strategy, settings = strategies.resolve(f"{spec},cap={CAP}")
    identity = [np.arange(p.n)[None, :] for p in pools]
    replay = replay_votes(pools, strategy.make_rule(settings), CAP, 1, identity, settings.step)
    context = LiveContext(task=task, samples=BackendSamples([backend], task, CONFIG, run_seed=11, run="r"))
    draws, right = [], []
    for i, (live, pool) in enumerate(zip(strategy.live(context, problems, settings), pools)):
        assert (live.answer, live.correct, live.draws) == (replay.answer(i, 0), bool(replay.correct[i, 0]),
                                                           int(replay.draws[i, 0]))
        assert [s.answer for s in live.samples] == list(pool.answers[: live.draws])
        # One backend call per round, each prefilling the prompt, plus every draw's decode.
        expected = pool.prefill_flops * math.ceil(live.draws / settings.step) + float(
            pool.decode_flops[: live.draws].sum())
        assert live.infer_flops == pytest.approx(expected)
        draws.append(live.draws)
        right.append(live.correct)
    assert min(draws) < CAP and max(draws) == CAP and any(right) and not all(right)  # not a trivial case


def test_live_rejects_bad_settings_before_drawing():
    with pytest.raises(InputError, match="'conf'.*1.2"):
        strategies.resolve("adaptive-vote:conf=1.2")
    with pytest.raises(InputError, match="'min' must be <= cap=4, got 5"):
        strategies.resolve("adaptive-vote:cap=4,min=5")
