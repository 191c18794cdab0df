"""Logging: the project's messages and native libraries' log lines, by verbosity.

llama.cpp writes its own log lines (model loading, vocabulary warnings, cache
notes) from C. ``forward_native`` turns each into a record of the
``ttscale.native.<library>`` logger, so they obey the same switch as ours:

- ``quiet``: nothing below an error from ttscale, nothing at all from native code;
- ``normal``: ttscale's warnings, native errors;
- ``verbose``: everything, native debug lines included.
"""

from __future__ import annotations

import logging
import sys
from enum import Enum

NATIVE = "ttscale.native"


class Verbosity(str, Enum):
    quiet = "quiet"
    normal = "normal"
    verbose = "verbose"


_LEVELS = {
    Verbosity.quiet: (logging.ERROR, logging.CRITICAL + 1),
    Verbosity.normal: (logging.WARNING, logging.ERROR),
    Verbosity.verbose: (logging.DEBUG, logging.DEBUG),
}


def configure(verbosity: Verbosity, stream=None) -> None:
    """Route the ``ttscale`` loggers to ``stream`` (stderr) at the levels of ``verbosity``."""
    own, native = _LEVELS[verbosity]
    root = logging.getLogger("ttscale")
    for handler in list(root.handlers):
        root.removeHandler(handler)
    handler = logging.StreamHandler(stream or sys.stderr)
    handler.setFormatter(logging.Formatter("%(name)s: %(message)s"))
    root.addHandler(handler)
    root.setLevel(own)
    root.propagate = False
    logging.getLogger(NATIVE).setLevel(native)


def verbosity_of(quiet: bool, verbose: bool) -> Verbosity:
    from ttscale.errors import InputError

    if quiet and verbose:
        raise InputError("--quiet and --verbose: choose one")
    return Verbosity.quiet if quiet else Verbosity.verbose if verbose else Verbosity.normal


class NativeLines:
    """Joins a native library's line fragments into whole records of ``ttscale.native.<library>``.

    ggml levels: 0 none, 1 info, 2 warn, 3 error, 4 debug, 5 continue the previous line.
    """

    LEVELS = {0: logging.CRITICAL, 1: logging.INFO, 2: logging.WARNING, 3: logging.ERROR, 4: logging.DEBUG}

    def __init__(self, library: str) -> None:
        self.logger = logging.getLogger(f"{NATIVE}.{library}")
        self._level = logging.DEBUG
        self._buffer = ""

    def feed(self, level: int, text: str) -> None:
        if level != 5:
            self._level = self.LEVELS.get(level, logging.DEBUG)
        self._buffer += text
        while "\n" in self._buffer:
            line, self._buffer = self._buffer.split("\n", 1)
            if line.strip():
                self.logger.log(self._level, line)
