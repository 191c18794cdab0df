"""Quantized variants of a GGUF model, made by llama.cpp's ``llama_model_quantize`` in a subprocess.

A variant file is named by its base file's sha256 (its first 16 hex digits) and the type, under
``CACHE/variants/``, so a base that changes under the same name never reuses a stale variant. It is written
to a hidden ``.partial`` file by the worker process, its header read back, then renamed: a failed, crashed or
killed quantization leaves nothing under the final name (and a re-run starts it over).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

from ttscale.cards.model_files import partial_path, sha256_of
from ttscale.errors import InputError, TtscaleError
from ttscale.variants.quant_types import QUANT_TYPES, check_quant_type


class QuantizeError(TtscaleError):
    """llama.cpp could not make the variant (its own message, or the signal that ended the worker)."""


def source_digest(source: Path, cache_dir: Path) -> str:
    """The base file's sha256, remembered beside the variants by (path, size, mtime): hashing a 1 GB file
    takes seconds, and every use of a variant spec asks for it."""
    stat = source.stat()
    memo = cache_dir / "variants" / "sources" / (str(source.resolve()).strip("/").replace("/", "__") + ".json")
    key = [str(source.resolve()), stat.st_size, stat.st_mtime_ns]
    try:
        stored = json.loads(memo.read_text())
        if stored.get("key") == key:
            return stored["sha256"]
    except (OSError, ValueError, AttributeError):
        pass
    digest = sha256_of(source)
    memo.parent.mkdir(parents=True, exist_ok=True)
    tmp = memo.with_name(memo.name + ".tmp")
    tmp.write_text(json.dumps({"key": key, "sha256": digest}))
    tmp.replace(memo)
    return digest


def variant_path(source: Path, qtype: str, cache_dir: Path) -> Path:
    return cache_dir / "variants" / f"{source.stem}.{source_digest(source, cache_dir)[:16]}@{qtype}.gguf"


def quantize(source: Path, qtype: str, cache_dir: Path, say: Callable[[str], None] = lambda line: None,
             timeout_s: float = 3600.0) -> Path:
    """The variant of ``source`` quantized to ``qtype``: made now unless it is cached."""
    qtype = check_quant_type(qtype)
    source = Path(source)
    if not source.is_file():
        raise InputError(f"quantize: no such GGUF file {str(source)!r}")
    target = variant_path(source, qtype, cache_dir)
    if target.is_file():
        return target
    target.parent.mkdir(parents=True, exist_ok=True)
    partial = partial_path(target)
    partial.unlink(missing_ok=True)  # a killed run's leftover
    say(f"quantizing {source.name} to {qtype} -> {target}")
    command = [sys.executable, "-m", "ttscale.variants.quantize_worker", str(source), str(partial), QUANT_TYPES[qtype]]
    try:
        done = subprocess.run(command, capture_output=True, text=True, timeout=timeout_s,
                              env={**os.environ, "PYTHONUNBUFFERED": "1"})
    except subprocess.TimeoutExpired:
        partial.unlink(missing_ok=True)
        raise QuantizeError(f"quantize {source.name} to {qtype}: no result in {timeout_s:.0f} s") from None
    except BaseException:
        partial.unlink(missing_ok=True)
        raise
    if done.returncode != 0:
        partial.unlink(missing_ok=True)
        how = f"signal {-done.returncode}" if done.returncode < 0 else f"exit code {done.returncode}"
        last = (done.stderr.strip().splitlines() or ["(no message)"])[-1]
        raise QuantizeError(f"quantize {source.name} to {qtype}: llama.cpp failed ({how}): {last}")
    try:
        from ttscale.cards import card_from_gguf

        card_from_gguf(partial)  # a header that reads back: the file is whole
    except Exception as exc:
        partial.unlink(missing_ok=True)
        raise QuantizeError(f"quantize {source.name} to {qtype}: the written file does not read back ({exc})") from None
    os.replace(partial, target)
    return target
