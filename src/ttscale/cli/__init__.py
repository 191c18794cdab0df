"""The ``ttscale`` command. Each subcommand lives in its own module and
registers itself on ``app``; this module only assembles them and turns every
refusal into one line and an exit code (``exit_codes``): ttscale's input
errors, click's usage errors (an unknown option, a value of the wrong type:
the option and the value named), and a file the system cannot read or write."""

from __future__ import annotations

import sys
from collections.abc import Sequence

import typer

from ttscale.cli.app import app
from ttscale.cli.exit_codes import BAD_INPUT, INTERRUPTED
from ttscale.errors import TtscaleError

__all__ = ["app", "main", "usage_line"]


def _load_commands() -> None:
    # Imported for their side effect of registering commands on ``app``.
    from ttscale.cli import (card_cmd, lab_cmd, models_cmd, serve_cmd, sweep_cmd, tradeoff_cmd,  # noqa: F401
                             variant_cmd, verify_cmd)


def given_value(param, argv: Sequence[str]) -> str | None:
    """The text given for an option on the command line (its last use), or None."""
    value = None
    for i, word in enumerate(argv):
        for opt in param.opts:
            if word == opt and i + 1 < len(argv):
                value = argv[i + 1]
            elif word.startswith(opt + "="):
                value = word[len(opt) + 1:]
    return value


def usage_line(exc: typer.TyperException, argv: Sequence[str]) -> str:
    """A usage error (typer's click) as one line that names the command, the option and the value given."""
    message = " ".join(exc.format_message().split())
    param = getattr(exc, "param", None)
    if isinstance(exc, typer.BadParameter) and param is not None and param.opts and param.opts[0].startswith("-"):
        value = given_value(param, argv)
        if value is not None and repr(value) not in message:
            message = f"{message.rstrip('.')}; got {value!r}"
    ctx = getattr(exc, "ctx", None)
    command = ctx.command_path if ctx is not None else "ttscale"
    return f"{command}: {message}"


def main() -> None:
    from ttscale.logs import Verbosity, configure

    configure(Verbosity.normal)
    _load_commands()
    argv = sys.argv[1:] or ["--help"]  # no command: the help text
    try:
        code = app(args=argv, prog_name="ttscale", standalone_mode=False)
    except typer.TyperException as exc:  # typer's usage errors (exit code 2) and its other refusals
        typer.secho(f"error: {usage_line(exc, argv)}", err=True, fg="red")
        sys.exit(BAD_INPUT)
    except TtscaleError as exc:
        typer.secho(f"error: {exc}", err=True, fg="red")
        sys.exit(BAD_INPUT)
    except OSError as exc:
        where = f" ({exc.filename})" if exc.filename else ""
        typer.secho(f"error: {exc.strerror or exc}{where}", err=True, fg="red")
        sys.exit(BAD_INPUT)
    except typer.Abort:
        typer.secho("interrupted: what was finished is stored; run the same command again to go on", err=True)
        sys.exit(INTERRUPTED)
    sys.exit(code if isinstance(code, int) else 0)
