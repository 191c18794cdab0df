"""Quantized variants of a GGUF model, made by llama.cpp's ``llama_model_quantize`` in a worker process (a
native crash ends the worker, not the caller), into a file that ``files.make_checked`` reads back and renames."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

from ttscale.errors import InputError
from ttscale.variants.files import VariantError, make_checked, variant_file
from ttscale.variants.quant_types import QUANT_TYPES, check_quant_type


class QuantizeError(VariantError):
    """llama.cpp could not make the variant (its own message, or the signal that ended the worker)."""


def quantize(source: Path, qtype: str, cache_dir: Path, say: Callable[[str], None] = lambda line: None,
             timeout_s: float = 3600.0) -> Path:
    """The variant of ``source`` quantized to ``qtype``: made now unless it is cached (``files``)."""
    qtype = check_quant_type(qtype)
    source = Path(source)
    if not source.is_file():
        raise InputError(f"quantize: no such GGUF file {str(source)!r}")
    target = variant_file(source, qtype, cache_dir)
    what = f"quantize {source.name} to {qtype}"

    def write(partial: Path) -> None:
        say(f"quantizing {source.name} to {qtype} -> {target}")
        command = [sys.executable, "-m", "ttscale.variants.quantize_worker", str(source), str(partial),
                   QUANT_TYPES[qtype]]
        try:
            done = subprocess.run(command, capture_output=True, text=True, timeout=timeout_s, check=False,
                                  env={**os.environ, "PYTHONUNBUFFERED": "1"})
        except subprocess.TimeoutExpired:
            raise QuantizeError(f"{what}: no result in {timeout_s:.0f} s") from None
        if done.returncode != 0:
            how = f"signal {-done.returncode}" if done.returncode < 0 else f"exit code {done.returncode}"
            last = (done.stderr.strip().splitlines() or ["(no message)"])[-1]
            raise QuantizeError(f"{what}: llama.cpp failed ({how}): {last}")

    return make_checked(target, write, what)
