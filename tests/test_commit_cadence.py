"""Work reaches the store every ``Chunking.seconds`` of wall time, however slow the machine (issue 11, item 10).

A slow machine is simulated by a fault: a real tiny model whose calls take ``DELAY`` seconds per sample
(a loaded CPU). The first call used to hold a whole problem's samples (a batch's worth), so a run killed
before that call ended stored nothing.
"""

from __future__ import annotations

import os
import signal
import sqlite3
import subprocess
import sys
import textwrap
import time

from ttscale.pipeline.executors import draw_chunked, take_samples
from ttscale.pipeline.plan import Chunking
from ttscale.sampling.draw import Work, run_sweep
from ttscale.store import Store
from ttscale.tasks import get_task

sys.path.insert(0, os.path.dirname(__file__))
from test_sweep import CONFIG, TASK, make_backend, rows

DELAY = 0.25  # seconds per sample on the "loaded" machine
N = 8


class SlowMachine:
    """A real backend on a machine where each sample costs ``delay`` seconds (the fault injected)."""

    def __init__(self, inner, delay: float):
        self.inner, self.delay, self.call_sizes = inner, delay, []
        self.name, self.card, self.prefill_shared = inner.name, inner.card, inner.prefill_shared

    def count_tokens(self, text):
        return self.inner.count_tokens(text)

    def generate(self, prompts, seeds, config, stop):
        self.call_sizes.append(sum(len(s) for s in seeds))
        print("generating", flush=True)
        time.sleep(self.delay * self.call_sizes[-1])
        return self.inner.generate(prompts, seeds, config, stop)

    def close(self):
        pass


def test_stores_come_at_the_chunking_cadence_from_the_first_sample(tmp_path):
    task = get_task(TASK)
    problems = task.problems(4, seed=0, split="test")
    backend = SlowMachine(make_backend(), DELAY)
    stored_at: list[float] = []
    chunking = Chunking(max_problems=64, seconds=1.0)
    with Store(tmp_path / "s.sqlite") as store:
        started = time.perf_counter()
        stats = draw_chunked(store, "r", backend, task, problems, N, CONFIG, 7, chunking,
                             lambda count: stored_at.append(time.perf_counter()))
    assert stats.generated == 4 * N
    # One sample first (nothing measured yet), then growth bounded by the measured time per sample.
    assert backend.call_sizes[:2] == [1, 2]
    assert all(size * DELAY <= chunking.seconds for size in backend.call_sizes), backend.call_sizes
    gaps = [b - a for a, b in zip([started, *stored_at], stored_at)]
    assert max(gaps) < 2 * chunking.seconds, gaps
    assert stored_at[0] - started < 3 * DELAY  # the first sample is stored after about one sample's time


def test_time_chunking_draws_what_whole_problem_calls_draw(tmp_path):
    """Every sample has its own seed: splitting problems across calls changes nothing that is stored."""
    task = get_task(TASK)
    problems = task.problems(5, seed=0, split="test")
    with Store(tmp_path / "a.sqlite") as whole, Store(tmp_path / "b.sqlite") as chunked:
        run_sweep(whole, "r", make_backend(), task, problems, N, CONFIG, run_seed=7, chunk_problems=64)
        draw_chunked(chunked, "r", SlowMachine(make_backend(), 0.0), task, problems, N, CONFIG, 7,
                     Chunking(max_problems=64, seconds=1e-4), lambda count: None)
        assert rows(chunked, "r") == rows(whole, "r")


def test_a_call_takes_whole_problems_and_splits_only_one_too_big():
    task = get_task(TASK)
    a, b, c = task.problems(3, seed=0, split="test")
    todo = [Work(a, (0, 1, 2)), Work(b, (0, 1)), Work(c, (5,))]
    assert take_samples(todo, 1) == ([Work(a, (0,))], [Work(a, (1, 2)), Work(b, (0, 1)), Work(c, (5,))])
    assert take_samples(todo, 4) == ([Work(a, (0, 1, 2))], todo[1:])
    assert take_samples(todo, 6) == (todo, [])


def test_next_call_size_follows_the_measured_time():
    chunking = Chunking(max_problems=4, seconds=20.0)
    assert chunking.next_samples(1, 100.0, n=16) == 1     # one sample takes longer than the budget
    assert chunking.next_samples(1, 0.001, n=16) == 2     # grows at most twofold per call
    assert chunking.next_samples(16, 2.0, n=16) == 10     # 20 s at 2 s a sample
    assert chunking.next_samples(64, 0.001, n=16) == 64   # max_problems problems' worth


KILL_SCRIPT = textwrap.dedent(
    """
    import sys
    sys.path.insert(0, {tests!r})
    from test_commit_cadence import SlowMachine, DELAY, N
    from test_sweep import make_backend, TASK, CONFIG
    from ttscale.pipeline.executors import draw_chunked
    from ttscale.pipeline.plan import Chunking
    from ttscale.store import Store
    from ttscale.tasks import get_task

    task = get_task(TASK)
    problems = task.problems(6, seed=0, split="test")
    with Store({db!r}) as store:
        draw_chunked(store, "r", SlowMachine(make_backend(), DELAY), task, problems, N, CONFIG, 7,
                     Chunking(max_problems=64, seconds=1.0), lambda count: None)
    print("finished", flush=True)
    """
)


def test_a_sweep_killed_seconds_after_it_starts_sampling_has_stored_samples(tmp_path):
    """SIGKILL 2 s into sampling: the old first call (a problem's 8 samples, 2 s) had stored nothing."""
    db = tmp_path / "killed.sqlite"
    script = KILL_SCRIPT.format(tests=os.path.dirname(__file__), db=str(db))
    child = subprocess.Popen([sys.executable, "-c", script], stdout=subprocess.PIPE, text=True)
    try:
        assert child.stdout.readline().strip() == "generating"  # sampling has started
        time.sleep(N * DELAY * 0.9)
        child.send_signal(signal.SIGKILL)
    finally:
        child.wait(timeout=60)
    assert child.returncode == -signal.SIGKILL
    with sqlite3.connect(db) as conn:
        (stored,) = conn.execute("select count(*) from samples where status = 'ok'").fetchone()
    assert stored >= 3  # 1 + 2 samples at least: stored as soon as each call ended
