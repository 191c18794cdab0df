"""Every live strategy, run on a backend, equals the same strategy run on the samples a sweep stored
with the same seeds (read in index order): one strategy system, two modes that agree."""

from __future__ import annotations

import pytest
import torch
from search_models import scratchpad_model

from ttscale.backends.tiny import TinyBackend
from ttscale.errors import InputError
from ttscale.sampling.draw import run_sweep
from ttscale.sampling.sources import BackendSamples, StoredSamples
from ttscale.store import Store
from ttscale.strategies import LIVE, REPLAY, STRATEGIES, LiveContext, check_mode, resolve
from ttscale.tasks import get_task
from ttscale.types import SamplingConfig

SUMS, FACTOR = "arith:digits=2,operands=2,scratchpad=1", "factor:digits=3"
CONFIG = SamplingConfig(temperature=1.0, max_new_tokens=24)
N, SEED = 8, 5


def backends() -> list[TinyBackend]:
    model, card = scratchpad_model()
    return [TinyBackend(name=name, card=card, model=model) for name in ("small", "large")]


@pytest.fixture(scope="module")
def swept(tmp_path_factory):
    torch.set_num_threads(1)
    path = tmp_path_factory.mktemp("live") / "store.sqlite"
    problems = {}
    with Store(path) as store:
        for spec in (SUMS, FACTOR):
            task = get_task(spec)
            problems[spec] = task.problems(6, seed=0)
            for backend in backends():
                run_sweep(store, "r", backend, task, problems[spec], N, CONFIG, run_seed=SEED)
    return path, problems


@pytest.mark.parametrize("spec, task_spec", [
    ("majority:k=4", SUMS),
    ("best-of-n:k=4", SUMS),
    ("first-verified:k=4", FACTOR),
    ("adaptive-vote:conf=0.9,cap=8", SUMS),
    ("window-vote:window=2,cap=8", SUMS),
    ("cascade:k_small=3,k_large=2,threshold=0.7", SUMS),
    ("ensemble:k=2", SUMS),
    ("allocate:budget=3,probe=2", SUMS),  # one budget across the six problems
    ("allocate:budget=2,probe=1", FACTOR),  # with the verifier: a problem with a verified sample is settled
])
def test_live_on_a_backend_equals_live_on_the_stored_samples(swept, spec, task_spec):
    path, problems = swept
    strategy, settings = resolve(spec)
    task = get_task(task_spec)
    models = backends()[: strategy.traits.n_models or 2]
    fresh = LiveContext(task=task, samples=BackendSamples(models, task, CONFIG, run_seed=SEED))
    with Store(path) as store:
        stored = StoredSamples.from_store(store, "r", [(b.name, b.card) for b in models], task.name, CONFIG.key)
    on_backend = strategy.live(fresh, problems[task_spec], settings)
    on_store = strategy.live(LiveContext(task=task, samples=stored), problems[task_spec], settings)
    assert [(a.answer, a.correct, a.draws) for a in on_backend] == [(a.answer, a.correct, a.draws) for a in on_store]
    assert [a.infer_flops for a in on_backend] == pytest.approx([a.infer_flops for a in on_store])
    assert [[s.tokens for s in a.samples] for a in on_backend] == [[s.tokens for s in a.samples] for a in on_store]
    assert all(a.infer_flops > 0 and a.draws >= 1 for a in on_backend)


def test_modes_are_declared_and_checked():
    assert STRATEGIES.get("pass").traits.modes == {REPLAY}  # an oracle needs the grader: never deployable
    assert STRATEGIES.get("beam").traits.modes == {LIVE} and STRATEGIES.get("mcts").traits.modes == {LIVE}
    for name in ("majority", "best-of-n", "first-verified", "adaptive-vote", "window-vote", "cascade", "ensemble",
                 "allocate"):
        assert STRATEGIES.get(name).traits.modes == {REPLAY, LIVE}, name
    with pytest.raises(InputError, match="strategy 'beam' has no replay mode"):
        check_mode(STRATEGIES.get("beam"), REPLAY)


def test_a_live_cascade_needs_a_fixed_threshold(swept):
    _, problems = swept
    strategy, settings = resolve("cascade:k_small=2")
    task = get_task(SUMS)
    context = LiveContext(task=task, samples=BackendSamples(backends(), task, CONFIG, run_seed=SEED))
    with pytest.raises(InputError, match="a live cascade needs a fixed threshold="):
        strategy.live(context, problems[SUMS], settings)


def test_backend_samples_are_stored_and_never_drawn_twice(tmp_path):
    torch.set_num_threads(1)
    task = get_task(SUMS)
    problem = task.problems(1, seed=0)[0]
    with Store(tmp_path / "store.sqlite") as store:
        source = BackendSamples(backends()[:1], task, CONFIG, run_seed=SEED, run="served", store=store)
        first = source.draw(0, problem, [0, 1, 2])
        again = BackendSamples(backends()[:1], task, CONFIG, run_seed=SEED, run="served", store=store)
        assert again.draw(0, problem, [1, 2]) == first[1:] and again.backend_calls == 0
        assert len(store.samples("served")) == 3
