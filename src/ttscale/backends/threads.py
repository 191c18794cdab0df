"""CPU threads for local inference (torch, llama.cpp), sized to the cores actually free.

torch and llama.cpp split each matrix product between their threads and wait for the slowest at a
barrier. When another process keeps one of the cores busy, the thread that shares it runs a fraction
of the time and every step waits for it: with torch's default of 2 threads on 2 cores, one of them
busy, the lab's tree search went from 22 s to more than 10 minutes (docs/RELIABILITY.md, "Threads
under load"). So the automatic count is the cores this process may run on (its CPU affinity, within
the cgroup's CPU quota) minus the cores other processes keep busy, measured over a short window from
``/proc/stat`` (the 1-minute load average where there is none), never below 1.

A front-end chooses once per run (``choose_threads``) and records the choice with how it was made
(``ThreadChoice.as_record``), so a run's timings can be read against the threads it had.
"""

from __future__ import annotations

import math
import os
import time
from dataclasses import dataclass
from pathlib import Path

from ttscale.errors import InputError

# Other processes must use more than this share of a core for it to count as taken: a core a
# background daemon touches now and then is still worth a thread; one held by a busy loop is not.
BUSY_SHARE = 0.25
MEASURE_SECONDS = 0.5
PROC_STAT = Path("/proc/stat")
CGROUP_CPU_MAX = Path("/sys/fs/cgroup/cpu.max")


# llama.cpp collapses when oversubscribed (docs/RELIABILITY.md, "Threads under load"): an automatic
# choice for in-process models takes at most this many (the cap of llama.cpp's earlier default).
MAX_AUTO_THREADS = 4

@dataclass(frozen=True)
class CoreUse:
    """The cores this process may use and how many of them other processes keep busy."""

    usable: int
    busy_elsewhere: float
    measured_by: str  # how busy_elsewhere was measured, in words


@dataclass(frozen=True)
class ThreadChoice:
    """A thread count and how it was chosen."""

    threads: int
    given: bool  # by the user (--threads); else chosen from ``cores``
    cores: CoreUse

    def describe(self) -> str:
        cores = (f"{self.cores.usable} usable core(s), {self.cores.busy_elsewhere:.1f} busy with other processes "
                 f"({self.cores.measured_by})")
        how = "given (--threads)" if self.given else "automatic"
        return f"{self.threads} thread(s), {how}: {cores}"

    def as_record(self) -> dict:
        return {"threads": self.threads, "given": self.given, "usable_cores": self.cores.usable,
                "busy_cores_elsewhere": round(self.cores.busy_elsewhere, 2), "measured_by": self.cores.measured_by,
                "description": self.describe()}


def threads_for(usable: int, busy_elsewhere: float, cap: int | None = None) -> int:
    """Threads for ``usable`` cores of which others keep ``busy_elsewhere`` busy: the free ones, at least 1.

    A core counts as taken once others use more than ``BUSY_SHARE`` of it (0.3 busy takes one core,
    0.2 none); ``cap`` bounds the count where more threads stop helping (llama.cpp past 4).
    """
    taken = max(0, math.ceil(busy_elsewhere - BUSY_SHARE))
    free = max(1, usable - taken)
    return min(free, cap) if cap is not None else free


def usable_cores() -> int:
    """Cores this process may run on: its affinity, within the cgroup's CPU quota when one is set."""
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1)
    try:
        quota, period = CGROUP_CPU_MAX.read_text().split()[:2]
        if quota != "max":
            cores = min(cores, max(1, math.ceil(int(quota) / int(period))))
    except (OSError, ValueError):
        pass  # no cgroup v2 quota readable: the affinity is the limit
    return max(1, cores)


def busy_ticks(stat_text: str, cpus: set[int]) -> tuple[int, int]:
    """(busy, total) clock ticks of ``cpus`` from a ``/proc/stat`` text; idle and I/O wait are not busy.

    Steal time counts as busy: on a virtual machine it is time the host gave the core to someone else.
    """
    busy = total = 0
    for line in stat_text.splitlines():
        name, _, rest = line.partition(" ")
        if not name.startswith("cpu") or name == "cpu" or int(name[3:]) not in cpus:
            continue
        ticks = [int(v) for v in rest.split()[:8]]  # user nice system idle iowait irq softirq steal
        total += sum(ticks)
        busy += sum(ticks) - ticks[3] - ticks[4]
    return busy, total


def busy_elsewhere_between(before: tuple[int, int], after: tuple[int, int], own_seconds: float, seconds: float,
                           ticks_per_second: float) -> float:
    """Cores kept busy by other processes between two ``busy_ticks`` readings ``seconds`` apart,
    this process's own CPU time (``own_seconds``) taken out."""
    busy_cores = (after[0] - before[0]) / ticks_per_second / seconds
    return max(0.0, busy_cores - own_seconds / seconds)


def measure_core_use(seconds: float = MEASURE_SECONDS) -> CoreUse:
    """Usable cores and the cores other processes keep busy now, over ``seconds``."""
    usable = usable_cores()
    cpus = os.sched_getaffinity(0) if hasattr(os, "sched_getaffinity") else set(range(usable))
    try:
        before = busy_ticks(PROC_STAT.read_text(), cpus)
        own_before, started = time.process_time(), time.perf_counter()
        time.sleep(seconds)
        after = busy_ticks(PROC_STAT.read_text(), cpus)
        own, elapsed = time.process_time() - own_before, time.perf_counter() - started
    except (OSError, ValueError):
        load = os.getloadavg()[0] if hasattr(os, "getloadavg") else 0.0
        return CoreUse(usable, max(0.0, load), "1-minute load average")
    busy = busy_elsewhere_between(before, after, own, elapsed, os.sysconf("SC_CLK_TCK"))
    return CoreUse(usable, min(float(len(cpus)), busy), f"/proc/stat over {seconds:g} s")


def _checked(given: int | None) -> int | None:
    if given is not None and (isinstance(given, bool) or not isinstance(given, int) or given < 1):
        raise InputError(f"--threads must be a positive integer, got {given!r}")
    return given


def choose_threads(given: int | None = None, cap: int | None = None, cores: CoreUse | None = None) -> ThreadChoice:
    """``given`` threads (checked), else as many as ``threads_for`` the measured (or passed) core use.

    The cores are measured even for a given count, so the record shows a choice that oversubscribes.
    """
    given = _checked(given)
    use = cores if cores is not None else measure_core_use()
    if given is not None:
        return ThreadChoice(given, True, use)
    return ThreadChoice(threads_for(use.usable, use.busy_elsewhere, cap), False, use)


def threads_or_free(given: int | None, cap: int | None = None) -> int:
    """A backend's thread count: ``given`` (checked), else the free cores now (``choose_threads``)."""
    given = _checked(given)
    return given if given is not None else choose_threads(cap=cap).threads
