"""Joining byte chunks into a model file: in order, every chunk and the whole sha256-checked,
atomic (the final name holds a verified file or nothing), and a killed join recovered by a re-run."""

from __future__ import annotations

import hashlib
import os
import signal
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from ttscale.cards.model_files import Chunk, join_chunks, partial_path
from ttscale.errors import InputError

PIECES = [b"GGUF" + bytes(range(256)) * 40, b"second chunk " * 700, b"the last one"]


def sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def write_chunks(folder: Path, pieces=PIECES) -> list[Chunk]:
    folder.mkdir(parents=True, exist_ok=True)
    chunks = []
    for i, piece in enumerate(pieces, start=1):
        path = folder / f"part{i:02d}.bin"
        path.write_bytes(piece)
        chunks.append(Chunk(f"part {i} of {len(pieces)} (pkg-part{i}==1.0)", path, sha(piece), len(piece)))
    return chunks


def leftovers(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.iterdir()) if folder.exists() else []


def test_a_correct_join_is_the_chunks_in_order(tmp_path):
    chunks = write_chunks(tmp_path / "site")
    target = tmp_path / "cache" / "models" / "m.gguf"
    seen = []
    assert join_chunks(chunks, target, sha(b"".join(PIECES)), on_chunk=lambda i, c: seen.append(i)) == target
    assert target.read_bytes() == b"".join(PIECES)
    assert seen == [0, 1, 2]
    assert leftovers(target.parent) == ["m.gguf"]  # no partial file left


def test_a_corrupted_chunk_is_named_and_nothing_is_kept(tmp_path):
    chunks = write_chunks(tmp_path / "site")
    damaged = bytearray(PIECES[1])
    damaged[100] ^= 0xFF  # same size, one byte flipped
    chunks[1].path.write_bytes(bytes(damaged))
    target = tmp_path / "cache" / "m.gguf"
    with pytest.raises(InputError, match=r"part 2 of 3 \(pkg-part2==1\.0\): sha256 is [0-9a-f]{64}, expected "
                                         + chunks[1].sha256) as error:
        join_chunks(chunks, target, sha(b"".join(PIECES)))
    assert "\n" not in str(error.value)
    assert leftovers(target.parent) == []


def test_a_truncated_chunk_is_named_by_its_size(tmp_path):
    chunks = write_chunks(tmp_path / "site")
    chunks[2].path.write_bytes(PIECES[2][:-1])
    target = tmp_path / "cache" / "m.gguf"
    with pytest.raises(InputError, match=r"part 3 of 3 .*: 11 bytes, expected 12"):
        join_chunks(chunks, target, sha(b"".join(PIECES)))
    assert leftovers(target.parent) == []


def test_a_wrong_whole_file_checksum_is_named_and_nothing_is_kept(tmp_path):
    chunks = write_chunks(tmp_path / "site")
    target = tmp_path / "cache" / "m.gguf"
    with pytest.raises(InputError, match=r"m\.gguf: sha256 of the joined file is [0-9a-f]{64}, expected 0{64}"):
        join_chunks(chunks, target, "0" * 64)
    assert leftovers(target.parent) == []


def test_a_missing_part_is_named_before_anything_is_written(tmp_path):
    chunks = write_chunks(tmp_path / "site")
    chunks[1].path.unlink()
    target = tmp_path / "cache" / "m.gguf"
    with pytest.raises(InputError, match=r"part 2 of 3 \(pkg-part2==1\.0\) is missing: no file .*part02\.bin"):
        join_chunks(chunks, target, sha(b"".join(PIECES)))
    assert not target.parent.exists()


def test_an_interrupted_join_keeps_nothing_and_a_retry_completes_it(tmp_path):
    chunks = write_chunks(tmp_path / "site")
    target = tmp_path / "cache" / "m.gguf"

    def interrupt(index, chunk):
        if index == 2:  # two chunks written: Ctrl-C mid-join
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        join_chunks(chunks, target, sha(b"".join(PIECES)), on_chunk=interrupt)
    assert leftovers(target.parent) == []
    join_chunks(chunks, target, sha(b"".join(PIECES)))
    assert target.read_bytes() == b"".join(PIECES)


def test_a_join_killed_mid_write_leaves_no_final_file_and_a_rerun_completes_it(tmp_path):
    """SIGKILL: no cleanup runs, so at most the partial file is left; the next join overwrites it."""
    chunks = write_chunks(tmp_path / "site")
    target = tmp_path / "cache" / "m.gguf"
    whole = sha(b"".join(PIECES))
    script = textwrap.dedent(f"""
        import sys, time
        from pathlib import Path
        from ttscale.cards.model_files import Chunk, join_chunks
        chunks = [Chunk(label, Path(path), digest, size) for label, path, digest, size in {[
            (c.label, str(c.path), c.sha256, c.size) for c in chunks]!r}]
        def stall(index, chunk):
            if index == 2:
                print("two chunks written", flush=True)
                time.sleep(60)
        join_chunks(chunks, Path({str(target)!r}), {whole!r}, on_chunk=stall)
    """)
    child = subprocess.Popen([sys.executable, "-c", script], stdout=subprocess.PIPE, text=True)
    try:
        assert child.stdout.readline().strip() == "two chunks written"
        os.kill(child.pid, signal.SIGKILL)
    finally:
        child.wait(timeout=30)
    assert not target.exists()
    assert leftovers(target.parent) == [partial_path(target).name]  # the killed join's bytes, never renamed
    join_chunks(chunks, target, whole)
    assert target.read_bytes() == b"".join(PIECES)
    assert leftovers(target.parent) == ["m.gguf"]


def test_a_second_join_of_the_same_file_while_one_runs_is_refused(tmp_path):
    import fcntl

    chunks = write_chunks(tmp_path / "site")
    target = tmp_path / "cache" / "m.gguf"
    target.parent.mkdir(parents=True)
    with partial_path(target).open("wb") as running:  # another process's join holds the lock
        fcntl.flock(running.fileno(), fcntl.LOCK_EX)
        with pytest.raises(InputError, match=r"m\.gguf is being assembled by another process"):
            join_chunks(chunks, target, sha(b"".join(PIECES)))
    assert not target.exists()
