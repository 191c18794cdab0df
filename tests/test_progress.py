"""Progress in a log file: a line when a step starts, one per interval while it runs, one when it ends."""

from __future__ import annotations

import io

from rich.console import Console

from ttscale.progress import PlainProgress, steps


class FakeClock:
    def __init__(self):
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def test_plain_progress_writes_start_interval_and_end_lines():
    stream, clock = io.StringIO(), FakeClock()
    advance = PlainProgress(stream, interval=10.0, clock=clock).add("sample d32 sums", 100)
    for second in range(1, 41):  # one item per second for 40 s: lines at 10, 20, 30 and 40 s
        clock.now = float(second)
        advance(1)
    clock.now = 100.0
    advance(60)
    advance(5)  # after the end: nothing more
    lines = stream.getvalue().splitlines()
    assert lines[0].endswith("sample d32 sums: started (100 to do)")
    running = [line for line in lines if "elapsed" in line]
    assert len(running) == 4
    assert running[0].endswith("sample d32 sums: 10/100 (10%), 10s elapsed, eta 1m30s")
    assert lines[-1].endswith("sample d32 sums: done, 100/100 in 1m40s")
    assert len(lines) == 6


def test_steps_are_plain_lines_when_the_output_is_not_a_terminal():
    stream = io.StringIO()
    console = Console(file=stream, force_terminal=False)
    with steps(console, interval=0.0) as add:
        advance = add("train tiny-d32", 2)
        advance(1)
        advance(1)
    text = stream.getvalue()
    assert "train tiny-d32: started (2 to do)" in text and "train tiny-d32: done, 2/2" in text


def test_steps_disabled_print_nothing():
    stream = io.StringIO()
    with steps(Console(file=stream, force_terminal=False), enabled=False) as add:
        add("quiet", 3)(3)
    assert stream.getvalue() == ""
