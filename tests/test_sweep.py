"""The sweep is deterministic and resumable (RELIABILITY 1 and 2), on a real
(untrained, seeded) tiny model, a real task and a real SQLite store."""

import os
import signal
import subprocess
import sys
import textwrap
import time

import pytest
import torch

from ttscale.backends.tiny import TinyBackend
from ttscale.errors import InputError
from ttscale.tiny.model import TinyConfig, TinyGPT, model_card
from ttscale.tiny.tokenizer import vocab_size
from ttscale.store import Store
from ttscale.sampling.draw import run_sweep, sample_seed
from ttscale.tasks import get_task
from ttscale.types import SamplingConfig

TASK = "arith:digits=2,operands=3,scratchpad=0"
CONFIG = SamplingConfig(temperature=1.0, max_new_tokens=8)


def make_backend(seed=0):
    torch.manual_seed(seed)
    config = TinyConfig(d_model=16, n_layers=1, n_heads=1, d_ff=32, context_length=48, vocab_size=vocab_size)
    model = TinyGPT(config).eval()
    card = model_card(config, name="rand-d16", train_tokens=0, train_flops=1.0)
    return TinyBackend(name="rand-d16", card=card, model=model)


class CountingBackend:
    """Wraps a real backend and counts calls (to prove a finished sweep calls nothing)."""

    def __init__(self, inner):
        self.inner, self.calls = inner, 0
        self.name, self.card, self.prefill_shared = inner.name, inner.card, inner.prefill_shared

    def count_tokens(self, text):
        return self.inner.count_tokens(text)

    def generate(self, prompts, seeds, config, stop):
        self.calls += 1
        return self.inner.generate(prompts, seeds, config, stop)


def rows(store, run):
    return [
        (s.key, s.seed, s.completion, s.tokens, round(s.logprob, 4), s.answer, s.correct, s.decode_flops)
        for s in store.samples(run)
    ]


def test_sample_seeds_are_distinct_and_reproducible():
    seeds = {sample_seed(0, "m", "t", "p", i) for i in range(1000)}
    assert len(seeds) == 1000
    assert sample_seed(0, "m", "t", "p", 3) == sample_seed(0, "m", "t", "p", 3)
    assert sample_seed(1, "m", "t", "p", 3) != sample_seed(0, "m", "t", "p", 3)


def test_same_seed_gives_identical_rows(tmp_path):
    task = get_task(TASK)
    problems = task.problems(6, seed=0, split="test")
    stored = []
    for name in ("a", "b"):
        with Store(tmp_path / f"{name}.sqlite") as store:
            run_sweep(store, "r", make_backend(), task, problems, 4, CONFIG, run_seed=7)
            stored.append(rows(store, "r"))
    assert stored[0] == stored[1]
    assert len(stored[0]) == 24


def test_resume_generates_only_missing_samples_and_matches_a_clean_run(tmp_path):
    task = get_task(TASK)
    problems = task.problems(6, seed=0, split="test")
    with Store(tmp_path / "clean.sqlite") as store:
        run_sweep(store, "r", make_backend(), task, problems, 4, CONFIG, run_seed=7)
        clean = rows(store, "r")
    with Store(tmp_path / "resumed.sqlite") as store:
        # First a partial sweep: half the problems, 2 samples each.
        run_sweep(store, "r", make_backend(), task, problems[:3], 2, CONFIG, run_seed=7)
        backend = CountingBackend(make_backend())
        stats = run_sweep(store, "r", backend, task, problems, 4, CONFIG, run_seed=7)
        assert stats.already_done == 6 and stats.generated == 18
        assert rows(store, "r") == clean
        again = CountingBackend(make_backend())
        stats = run_sweep(store, "r", again, task, problems, 4, CONFIG, run_seed=7)
        assert again.calls == 0 and stats.generated == 0


def test_compute_is_recorded_per_sample(tmp_path):
    from ttscale import flops

    task = get_task(TASK)
    backend = make_backend()
    problem = task.problems(1, seed=0, split="test")[0]
    with Store(tmp_path / "s.sqlite") as store:
        run_sweep(store, "r", backend, task, [problem], 3, CONFIG, run_seed=1)
        samples = store.samples("r")
    prompt_tokens = backend.count_tokens(problem.prompt)
    for s in samples:
        assert s.prompt_tokens == prompt_tokens
        assert s.prefill_shared
        assert s.prefill_flops == pytest.approx(flops.prefill_flops(backend.card, prompt_tokens))
        assert s.decode_flops == pytest.approx(flops.decode_flops(backend.card, prompt_tokens, len(s.tokens)))
        assert s.wall_seconds > 0


KILL_SCRIPT = textwrap.dedent(
    """
    import sys, time
    sys.path.insert(0, {tests!r})
    from test_sweep import make_backend, TASK, CONFIG
    from ttscale.store import Store
    from ttscale.sampling.draw import run_sweep
    from ttscale.tasks import get_task

    task = get_task(TASK)
    problems = task.problems(40, seed=0, split="test")
    with Store({db!r}) as store:
        def slow(n):
            print("progress", n, flush=True)
            time.sleep(0.05)
        run_sweep(store, "r", make_backend(), task, problems, 4, CONFIG, run_seed=3, chunk_problems=1, progress=slow)
    print("finished", flush=True)
    """
)


def test_kill_nine_mid_sweep_then_resume(tmp_path):
    db = str(tmp_path / "killed.sqlite")
    script = KILL_SCRIPT.format(tests=os.path.dirname(__file__), db=db)
    proc = subprocess.Popen([sys.executable, "-c", script], stdout=subprocess.PIPE, text=True)
    seen = 0
    deadline = time.monotonic() + 60
    while seen < 5 and time.monotonic() < deadline:
        line = proc.stdout.readline()
        if not line:
            break
        seen += line.startswith("progress")
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    assert seen >= 5, "the sweep never got going"

    task = get_task(TASK)
    problems = task.problems(40, seed=0, split="test")
    with Store(db) as store:
        assert store.integrity_ok()
        partial = len(store.samples("r"))
        assert 0 < partial < 160
        backend = CountingBackend(make_backend())
        stats = run_sweep(store, "r", backend, task, problems, 4, CONFIG, run_seed=3)
        assert stats.generated == 160 - partial
        keys = [s.key for s in store.samples("r")]
        assert len(keys) == 160 == len(set(keys))
        assert store.integrity_ok()
    with Store(tmp_path / "clean.sqlite") as store:
        run_sweep(store, "r", make_backend(), task, problems, 4, CONFIG, run_seed=3)
        clean = rows(store, "r")
    with Store(db) as store:
        assert rows(store, "r") == clean


class FlakyBackend(CountingBackend):
    """A real backend whose first call fails for every other seed (an infrastructure error)."""

    def generate(self, prompts, seeds, config, stop):
        pools = super().generate(prompts, seeds, config, stop)
        if self.calls > 1:
            return pools
        from dataclasses import replace

        return [[replace(g, error="connection reset") if i % 2 else g for i, g in enumerate(pool)] for pool in pools]


def test_errors_are_not_results_and_are_retried_on_resume(tmp_path):
    task = get_task(TASK)
    problems = task.problems(3, seed=0, split="test")
    with Store(tmp_path / "s.sqlite") as store:
        flaky = FlakyBackend(make_backend())
        run_sweep(store, "r", flaky, task, problems, 4, CONFIG, run_seed=5, chunk_problems=10)
        assert len(store.samples("r")) == 6  # only the ok half counts as results
        errors = store.samples("r", status="error")
        assert len(errors) == 6 and all(e.error == "connection reset" and not e.correct for e in errors)
        stats = run_sweep(store, "r", make_backend(), task, problems, 4, CONFIG, run_seed=5)
        assert stats.generated == 6
        assert len(store.samples("r")) == 12 and store.samples("r", status="error") == []
    with Store(tmp_path / "clean.sqlite") as store:
        run_sweep(store, "r", make_backend(), task, problems, 4, CONFIG, run_seed=5)
        clean = rows(store, "r")
    with Store(tmp_path / "s.sqlite") as store:
        assert rows(store, "r") == clean


@pytest.mark.parametrize("raw, words", [
    ({"models": ()}, ["--model: give at least one model spec"]),
    ({"models": ("a", "a")}, ["--model: a spec is given twice"]),
    ({"n_boot": -1}, ["--n-boot", "-1"]),
    ({"threads": 0}, ["--threads", "0"]),
    ({"chunk_seconds": 0}, ["--chunk-seconds", "0"]),
])
def test_sweep_settings_are_checked_on_construction_naming_the_option(raw, words):
    from ttscale.model_sweep import SweepSettings

    options = {"models": ("tiny:a.pt",), "task": "arith", "n": 2, **raw}
    with pytest.raises(InputError) as info:
        SweepSettings.from_options(**options)
    assert all(word in str(info.value) for word in words), str(info.value)
