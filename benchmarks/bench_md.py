"""Writing one benchmark's section of BENCHMARKS.md without touching the others.

Each benchmark owns the text between ``<!-- NAME:start -->`` and
``<!-- NAME:end -->``; a section not yet in the file is appended. Figures are
shown as a two-column table under the command that reproduces them.
"""

from __future__ import annotations

import platform
import re
import shutil
from datetime import datetime, timezone
from pathlib import Path

BENCHMARKS = Path(__file__).resolve().parent.parent / "BENCHMARKS.md"
HEADER = "# Benchmarks\n\nRatios are measured side by side in one run: the machines are shared and noisy,\nso absolute times drift while ratios hold. Each section names the command that reproduces it.\n"


def stamp() -> str:
    return (f"Measured {datetime.now(timezone.utc):%Y-%m-%d %H:%M} UTC on "
            f"{platform.processor() or platform.machine()}, {shutil.os.cpu_count()} cores.")


def table(figures: dict) -> list[str]:
    lines = ["| figure | value |", "|---|---|"]
    for key, value in figures.items():
        shown = f"{value:.4g}" if isinstance(value, float) else str(value)
        lines.append(f"| {key} | {shown} |")
    return lines


def section(title: str, command: str, figures: dict | None = None, body: str = "") -> str:
    lines = [f"## {title}", "", f"Command: `{command}`", "", stamp(), ""]
    if body:
        lines += [body.rstrip(), ""]
    if figures:
        lines += table(figures) + [""]
    return "\n".join(lines)


def write_section(name: str, markdown: str, path: Path = BENCHMARKS) -> None:
    text = path.read_text() if path.exists() else HEADER
    block = f"<!-- {name}:start -->\n{markdown.rstrip()}\n<!-- {name}:end -->"
    pattern = re.compile(rf"<!-- {re.escape(name)}:start -->.*?<!-- {re.escape(name)}:end -->", re.S)
    if pattern.search(text):
        text = pattern.sub(lambda _m: block, text)
    else:
        text = text.rstrip() + "\n\n" + block + "\n"
    path.write_text(text)
