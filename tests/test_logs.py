"""Native log lines go through the project's logging: whole lines, hidden by --quiet, shown by --verbose."""

from __future__ import annotations

import io

import pytest

from ttscale.errors import InputError
from ttscale.logs import NativeLines, Verbosity, configure, verbosity_of


def _emit(verbosity: Verbosity) -> str:
    stream = io.StringIO()
    configure(verbosity, stream)
    lines = NativeLines("llama_cpp")
    lines.feed(1, "llama_model_loader: loaded meta data with 40 key-value pairs\n")
    lines.feed(2, "load: control token 105 is not marked as EOG")  # a warning in two fragments
    lines.feed(5, "\n")
    lines.feed(3, "llama_decode: failed to decode\n")
    configure(Verbosity.normal)
    return stream.getvalue()


def test_quiet_hides_every_native_line():
    assert _emit(Verbosity.quiet) == ""


def test_normal_shows_native_errors_only():
    assert _emit(Verbosity.normal) == "ttscale.native.llama_cpp: llama_decode: failed to decode\n"


def test_verbose_shows_every_line_joined_from_its_fragments():
    text = _emit(Verbosity.verbose).splitlines()
    assert text == [
        "ttscale.native.llama_cpp: llama_model_loader: loaded meta data with 40 key-value pairs",
        "ttscale.native.llama_cpp: load: control token 105 is not marked as EOG",
        "ttscale.native.llama_cpp: llama_decode: failed to decode",
    ]


def test_quiet_and_verbose_together_are_refused():
    with pytest.raises(InputError, match="--quiet and --verbose"):
        verbosity_of(True, True)
