"""A self-contained HTML report: every figure is embedded as a data URI, the
style sheet is inline, and nothing is fetched from outside (reports are opened
offline and archived; an external URL would break both)."""

from __future__ import annotations

import base64
import html
from dataclasses import dataclass, field
from pathlib import Path
from typing import Sequence

import pandas as pd

_STYLE = """
body { font-family: system-ui, sans-serif; margin: 2em auto; max-width: 1100px; color: #222; }
h1 { font-size: 1.6em; } h2 { font-size: 1.25em; margin-top: 2em; border-bottom: 1px solid #ddd; }
table { border-collapse: collapse; margin: 0.8em 0; font-size: 0.9em; }
th, td { border: 1px solid #ccc; padding: 4px 8px; text-align: right; }
th { background: #f3f3f3; } td:first-child, th:first-child { text-align: left; }
figure { margin: 1em 0; } figure img { max-width: 100%; border: 1px solid #eee; }
figcaption { font-size: 0.9em; color: #555; }
.note { color: #555; font-size: 0.9em; } code { background: #f6f6f6; padding: 0 3px; }
"""


@dataclass(frozen=True)
class Figure:
    caption: str
    png_path: Path


@dataclass(frozen=True)
class Table:
    caption: str
    frame: pd.DataFrame
    float_format: str = "{:.3g}"


@dataclass(frozen=True)
class Section:
    heading: str
    paragraphs: Sequence[str] = ()
    figures: Sequence[Figure] = ()
    tables: Sequence[Table] = ()


@dataclass(frozen=True)
class Report:
    title: str
    subtitle: str
    sections: Sequence[Section]
    meta: dict = field(default_factory=dict)


def _figure_html(figure: Figure) -> str:
    data = base64.b64encode(Path(figure.png_path).read_bytes()).decode("ascii")
    caption = html.escape(figure.caption)
    return (
        f'<figure><img alt="{caption}" src="data:image/png;base64,{data}">'
        f"<figcaption>{caption}</figcaption></figure>"
    )


def _table_html(table: Table) -> str:
    def fmt(value: object) -> str:
        if isinstance(value, float):
            return table.float_format.format(value)
        return "" if value is None else str(value)

    body = table.frame.to_html(index=False, escape=True, formatters={c: fmt for c in table.frame.columns}, na_rep="—")
    return f"<p><b>{html.escape(table.caption)}</b></p>{body}"


def render(report: Report) -> str:
    parts = [
        "<!DOCTYPE html><html><head><meta charset='utf-8'>",
        f"<title>{html.escape(report.title)}</title><style>{_STYLE}</style></head><body>",
        f"<h1>{html.escape(report.title)}</h1><p class='note'>{html.escape(report.subtitle)}</p>",
    ]
    for section in report.sections:
        parts.append(f"<h2>{html.escape(section.heading)}</h2>")
        parts.extend(f"<p>{html.escape(p)}</p>" for p in section.paragraphs)
        parts.extend(_table_html(t) for t in section.tables)
        parts.extend(_figure_html(f) for f in section.figures)
    if report.meta:
        rows = "".join(
            f"<tr><td>{html.escape(str(k))}</td><td>{html.escape(str(v))}</td></tr>" for k, v in report.meta.items()
        )
        parts.append(f"<h2>Run</h2><table>{rows}</table>")
    parts.append("</body></html>")
    return "\n".join(parts)


def write(report: Report, path: Path) -> Path:
    """Write atomically, so a killed run never leaves half a page."""
    path = Path(path)
    tmp = path.with_suffix(".html.tmp")
    tmp.write_text(render(report), encoding="utf-8")
    tmp.replace(path)
    return path
