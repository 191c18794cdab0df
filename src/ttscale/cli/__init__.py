"""The ``ttscale`` command. Each subcommand lives in its own module and
registers itself on ``app``; this module only assembles them and turns
ttscale's input errors into one clear line and exit code 2."""

from __future__ import annotations

import sys

import typer

from ttscale.cli.app import app
from ttscale.cli.exit_codes import BAD_INPUT
from ttscale.errors import TtscaleError

__all__ = ["app", "main"]


def _load_commands() -> None:
    # Imported for their side effect of registering commands on ``app``.
    from ttscale.cli import card_cmd, lab_cmd, sweep_cmd, tradeoff_cmd, verify_cmd  # noqa: F401


def main() -> None:
    from ttscale.logs import Verbosity, configure

    configure(Verbosity.normal)
    _load_commands()
    try:
        # Standalone mode: click reports usage errors itself (exit code 2).
        app()
    except TtscaleError as exc:
        typer.secho(f"error: {exc}", err=True, fg="red")
        sys.exit(BAD_INPUT)
