"""Progress bars with counts and ETA for every long step (rich).

``Steps`` is one live display for a whole command; each long step adds a bar
and gets back a plain ``advance(n)`` callable, so library code never imports
rich: it only calls the function it was handed.
"""

from __future__ import annotations

from contextlib import contextmanager
from typing import Callable, Iterator

from rich.console import Console
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    TextColumn,
    TimeElapsedColumn,
    TimeRemainingColumn,
)


@contextmanager
def steps(console: Console | None = None, enabled: bool = True) -> Iterator[Callable[[str, int], Callable[[int], None]]]:
    """Yield ``add(description, total) -> advance``."""
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
