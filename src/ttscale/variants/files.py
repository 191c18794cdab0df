"""Where variant files live, and how each is made: written aside, read back, renamed.

A variant file is named by its base file's sha256 (its first 16 hex digits) and its derivation, under
``CACHE/variants/``, so a base that changes under the same name never reuses a stale variant. It is written
to a hidden ``.partial`` file, its header read back, then renamed: a failed, crashed or killed derivation
leaves nothing under the final name (and a re-run starts it over).
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable
from pathlib import Path

from ttscale.cards.model_files import partial_path, sha256_of
from ttscale.errors import TtscaleError


class VariantError(TtscaleError):
    """A variant could not be made (the tool's own message, or why its file is not whole)."""


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


def variant_file(source: Path, how: str, cache_dir: Path) -> Path:
    """The cached file of ``source`` derived by ``how`` (``q4_0``, ``drop=20-23``)."""
    return cache_dir / "variants" / f"{source.stem}.{source_digest(source, cache_dir)[:16]}@{how}.gguf"


def make_checked(target: Path, write: Callable[[Path], None], what: str) -> Path:
    """``target`` as ``write(partial)`` makes it, once its header reads back; cached when it exists."""
    if target.is_file():
        return target
    target.parent.mkdir(parents=True, exist_ok=True)
    partial = partial_path(target)
    partial.unlink(missing_ok=True)  # a killed run's leftover
    try:
        write(partial)
        from ttscale.cards import card_from_gguf

        try:
            card_from_gguf(partial)  # a header that reads back: the file is whole
        except Exception as exc:  # noqa: BLE001 -- any reader failure means the file is not whole
            raise VariantError(f"{what}: the written file does not read back ({exc})") from None
    except BaseException:
        partial.unlink(missing_ok=True)
        raise
    os.replace(partial, target)
    return target
