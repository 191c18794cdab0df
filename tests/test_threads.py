"""Threads for local inference are sized to the cores other processes leave free, and the lab records them."""

from __future__ import annotations

import os
import subprocess
import sys
import time

import pytest

from ttscale.backends.threads import (CoreUse, ThreadChoice, busy_elsewhere_between, busy_ticks, choose_threads,
                                      measure_core_use, threads_for)
from ttscale.errors import InputError

STAT_BEFORE = """cpu  300 0 100 1000 0 0 0 0 0 0
cpu0 100 0 50 500 0 0 0 0 0 0
cpu1 200 0 50 500 0 0 0 0 0 0
intr 1 2 3
"""
# 1 s later at 100 ticks/s: cpu0 stayed idle, cpu1 was busy the whole second (user 100 ticks).
STAT_AFTER = """cpu  400 0 100 1100 0 0 0 0 0 0
cpu0 100 0 50 600 0 0 0 0 0 0
cpu1 300 0 50 500 0 0 0 0 0 0
intr 1 2 3
"""


@pytest.mark.parametrize(("usable", "busy", "cap", "threads"), [
    (2, 0.0, None, 2),   # idle machine: every core
    (2, 1.0, None, 1),   # a busy loop holds one of two cores: one thread, not torch's two
    (2, 0.3, None, 1),   # a third of a core taken is enough to stall a barrier
    (2, 0.2, None, 2),   # background noise is not
    (2, 2.0, None, 1),   # never below one
    (8, 0.0, 4, 4),      # the cap
    (8, 2.6, None, 5),
])
def test_threads_are_the_cores_others_leave_free(usable, busy, cap, threads):
    assert threads_for(usable, busy, cap) == threads


def test_busy_cores_come_from_proc_stat_without_this_process():
    before, after = busy_ticks(STAT_BEFORE, {0, 1}), busy_ticks(STAT_AFTER, {0, 1})
    assert busy_elsewhere_between(before, after, own_seconds=0.0, seconds=1.0, ticks_per_second=100) == 1.0
    # The same second, but the busy core was this process itself: nobody else's load.
    assert busy_elsewhere_between(before, after, own_seconds=1.0, seconds=1.0, ticks_per_second=100) == 0.0
    # Only the cores this process may run on count: pinned to cpu0, the busy cpu1 is none of its business.
    only_cpu0 = busy_elsewhere_between(busy_ticks(STAT_BEFORE, {0}), busy_ticks(STAT_AFTER, {0}), 0.0, 1.0, 100)
    assert only_cpu0 == 0.0


def test_the_automatic_choice_leaves_the_busy_core_and_says_why():
    choice = choose_threads(cores=CoreUse(usable=2, busy_elsewhere=1.02, measured_by="/proc/stat over 0.5 s"))
    assert choice == ThreadChoice(1, False, CoreUse(2, 1.02, "/proc/stat over 0.5 s"))
    record = choice.as_record()
    assert record["threads"] == 1 and record["given"] is False and record["busy_cores_elsewhere"] == 1.02
    assert record["description"] == ("1 thread(s), automatic: 2 usable core(s), 1.0 busy with other processes "
                                     "(/proc/stat over 0.5 s)")


def test_a_given_count_is_kept_and_recorded_as_given():
    choice = choose_threads(3, cores=CoreUse(2, 1.0, "x"))
    assert choice.threads == 3 and choice.given and "given (--threads)" in choice.describe()


@pytest.mark.parametrize("bad", [0, -2, 1.5, True])
def test_a_bad_count_is_one_line_naming_the_option(bad):
    with pytest.raises(InputError, match=rf"^--threads must be a positive integer, got {bad!r}$"):
        choose_threads(bad, cores=CoreUse(2, 0.0, "x"))


@pytest.mark.skipif(not os.path.exists("/proc/stat") or not hasattr(os, "sched_setaffinity"), reason="Linux only")
def test_a_busy_loop_on_this_processs_core_is_measured():
    """A real busy process pinned to the one core this (child) process may use is seen as one busy core."""
    core = min(os.sched_getaffinity(0))
    loop = subprocess.Popen([sys.executable, "-c", f"import os; os.sched_setaffinity(0, {{{core}}})\nwhile True: pass"])
    try:
        time.sleep(0.5)  # let it start spinning
        probe = (f"import os; os.sched_setaffinity(0, {{{core}}})\n"
                 "from ttscale.backends.threads import measure_core_use, threads_for\n"
                 "use = measure_core_use(1.0); print(use.usable, use.busy_elsewhere)")
        out = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, timeout=60, check=True)
        usable, busy = out.stdout.split()
        assert int(usable) == 1 and float(busy) >= 0.8, out.stdout
    finally:
        loop.kill()
        loop.wait()


def test_measuring_here_gives_a_sane_reading():
    use = measure_core_use(0.2)
    assert use.usable >= 1 and 0.0 <= use.busy_elsewhere <= len(os.sched_getaffinity(0))
