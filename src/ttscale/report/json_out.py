"""JSON output with one convention for every command: a path, or '-' for stdout.

Files are written atomically (a temporary file beside the target, then renamed) so nothing is
left half-way, and the temporary file is removed on any failure. A target that cannot be a
file (a directory, or a path under a file) is one line naming the option and the value;
``check_json_target`` says so before any work, ``write_json`` again if it changed meanwhile."""

from __future__ import annotations

import contextlib
import json
import math
import os
import sys
from pathlib import Path

from ttscale.errors import InputError

STDOUT = "-"


def _clean(value):
    # JSON has no NaN/inf: unknown numbers become null.
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, dict):
        return {str(k): _clean(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_clean(v) for v in value]
    if hasattr(value, "item") and callable(value.item):  # numpy scalars
        return _clean(value.item())
    return value


def dumps(data) -> str:
    return json.dumps(_clean(data), indent=2, allow_nan=False)


def check_json_target(target: str | Path, flag: str = "--json") -> None:
    """Refuse, before any work, a target that can never be written as a file."""
    if str(target) == STDOUT:
        return
    path = Path(target)
    if path.is_dir():
        raise InputError(f"{flag}: {str(path)!r} is a directory; give a file path (or '-' for stdout)")
    _no_file_above(path, flag)


def check_folder_target(path: Path, flag: str) -> None:
    """Refuse, before any work, a folder option (``--out``, ``--cache-dir``) that names a file or lies under one."""
    if path.exists() and not path.is_dir():
        raise InputError(f"{flag}: {str(path)!r} is a file; give a directory (it is created if missing)")
    _no_file_above(path, flag)


def _no_file_above(path: Path, flag: str) -> None:
    """The nearest existing folder above ``path`` must be a folder, or nothing can be created there."""
    for parent in path.parents:
        if parent.exists():
            if not parent.is_dir():
                raise InputError(f"{flag}: {str(path)!r} lies under {str(parent)!r}, which is a file, not a directory")
            return


def write_json(data, target: str | Path, flag: str = "--json") -> None:
    text = dumps(data)
    if str(target) == STDOUT:
        sys.stdout.write(text + "\n")
        sys.stdout.flush()
        return
    check_json_target(target, flag)
    path = Path(target)
    # Beside the target (so the rename is atomic), hidden, and one per process; made with the user's umask.
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp.write_text(text + "\n", encoding="utf-8")
        os.replace(tmp, path)
    except OSError as error:
        raise InputError(f"{flag}: cannot write {str(path)!r} ({error.strerror or error})") from None
    finally:
        with contextlib.suppress(FileNotFoundError, NotADirectoryError):
            tmp.unlink()  # only there when the rename did not happen
