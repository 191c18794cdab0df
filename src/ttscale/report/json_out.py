"""JSON output with one convention for every command: a path, or '-' for stdout.
Files are written atomically so nothing is left half-way."""

from __future__ import annotations

import json
import math
import sys
from pathlib import Path


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


def write_json(data, target: str | Path) -> None:
    text = dumps(data)
    if str(target) == "-":
        sys.stdout.write(text + "\n")
        sys.stdout.flush()
        return
    path = Path(target)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(text + "\n", encoding="utf-8")
    tmp.replace(path)
