"""Progress for every long step: rich bars on a terminal, plain lines in a log.

``steps`` is one progress display for a whole command; each long step adds
itself and gets back a plain ``advance(n)`` callable, so library code never
imports rich: it only calls the function it was handed.

On a terminal that is rich's live display (bars with counts and ETA). When the
output is not a terminal (``nohup``, CI, a pipe into a log file) a live display
prints nothing until it ends, so instead every step writes a plain line when it
starts, every ``PLAIN_INTERVAL_S`` seconds while it runs (count, share, rate,
ETA) and when it ends: a log shows the job is alive and how far it got.
"""

from __future__ import annotations

import threading
import time
from contextlib import contextmanager
from typing import Callable, Iterator, TextIO

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn, TimeRemainingColumn

PLAIN_INTERVAL_S = 15.0

AddStep = Callable[[str, int], Callable[[int], None]]


def _duration(seconds: float) -> str:
    seconds = max(0, int(round(seconds)))
    if seconds < 60:
        return f"{seconds}s"
    minutes, seconds = divmod(seconds, 60)
    if minutes < 60:
        return f"{minutes}m{seconds:02d}s"
    hours, minutes = divmod(minutes, 60)
    return f"{hours}h{minutes:02d}m"


class PlainProgress:
    """Line-per-interval progress for a log file (see the module docstring)."""

    def __init__(self, stream: TextIO, interval: float = PLAIN_INTERVAL_S, clock: Callable[[], float] = time.monotonic):
        self._stream = stream
        self._interval = interval
        self._clock = clock
        self._lock = threading.Lock()

    def _write(self, text: str) -> None:
        self._stream.write(f"[{time.strftime('%H:%M:%S')}] {text}\n")
        self._stream.flush()

    def add(self, description: str, total: int) -> Callable[[int], None]:
        added = self._clock()
        # A step may be queued behind others: its rate is measured from its first report on, so a
        # queued step shows no estimate rather than one of hundreds of hours.
        state = {"done": 0, "last": added, "finished": False, "first_at": None, "first_done": 0}
        with self._lock:
            self._write(f"{description}: started ({total} to do)")

        def advance(n: int) -> None:
            with self._lock:
                if state["finished"]:
                    return
                state["done"] += n
                now = self._clock()
                done, elapsed = state["done"], now - added
                if state["first_at"] is None:
                    state["first_at"], state["first_done"] = now, done
                if done >= total:
                    state["finished"] = True
                    self._write(f"{description}: done, {done}/{total} in {_duration(elapsed)}")
                elif now - state["last"] >= self._interval:
                    state["last"] = now
                    measured = now - state["first_at"]
                    rate = (done - state["first_done"]) / measured if measured > 0 else 0.0
                    eta = f", eta {_duration((total - done) / rate)}" if rate > 0 else ""
                    self._write(f"{description}: {done}/{total} ({done / total:.0%}), {_duration(elapsed)} elapsed{eta}")

        return advance


@contextmanager
def steps(console: Console | None = None, enabled: bool = True,
          interval: float = PLAIN_INTERVAL_S) -> Iterator[AddStep]:
    """Yield ``add(description, total) -> advance``: bars on a terminal, plain lines otherwise."""
    console = console or Console(stderr=True)
    if enabled and not console.is_terminal:
        yield PlainProgress(console.file, interval).add
        return
    progress = Progress(
        TextColumn("[bold]{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        TextColumn("eta"),
        TimeRemainingColumn(),
        console=console,
        disable=not enabled,
        transient=False,
    )

    def add(description: str, total: int) -> Callable[[int], None]:
        task_id = progress.add_task(description, total=total)
        return lambda n: progress.advance(task_id, n)

    with progress:
        yield add
