"""The ``ttscale`` typer app: every command module registers its commands on it."""

from __future__ import annotations

import typer

app = typer.Typer(
    add_completion=False,
    no_args_is_help=True,
    help="Measure, map and exploit the trade between training and inference compute.",
)
