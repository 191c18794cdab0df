"""Errors ttscale raises for bad input: each names the field and the value."""

from __future__ import annotations


class TtscaleError(Exception):
    """Base class: an error the CLI prints as one clear line (no traceback)."""


class InputError(TtscaleError, ValueError):
    """Bad user input. The message names the field (and row) and the value."""


class MissingExtraError(TtscaleError, ImportError):
    """An optional dependency is missing; the message says what to install."""


def did_you_mean(name: object, known) -> str:
    """"; did you mean 'x'?" for the closest of ``known`` to a misspelt ``name``, else ""."""
    import difflib

    close = difflib.get_close_matches(str(name), [str(k) for k in known], n=1)
    return f"; did you mean {close[0]!r}?" if close else ""


def require_extra(module: str, extra: str):
    """Import an optional module or fail with an actionable message."""
    import importlib

    try:
        return importlib.import_module(module)
    except ImportError as exc:
        raise MissingExtraError(
            f"{module!r} is not installed; it comes with the '{extra}' extra: "
            f"pip install 'ttscale[{extra}]'"
        ) from exc
