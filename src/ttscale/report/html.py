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
body { font-family: system-ui, sans-serif; margin: 2em auto; max-width: 1500px; padding: 0 1em; color: #222; }
p, dl { max-width: 62em; line-height: 1.45; } dt { font-weight: 600; margin-top: 0.4em; } dd { margin: 0 0 0 1.5em; }
h1 { font-size: 1.6em; } h2 { font-size: 1.25em; margin-top: 2em; border-bottom: 1px solid #ddd; }
table { border-collapse: collapse; margin: 0.8em 0; font-size: 0.9em; }
th, td { border: 1px solid #ccc; padding: 4px 8px; text-align: left; vertical-align: top; }
th { background: #f3f3f3; } td.num, th.num { text-align: right; font-variant-numeric: tabular-nums; }
.text-table td { max-width: 34em; }
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
    text: bool = False  # cells of words: left-aligned and wrapped


@dataclass(frozen=True)
class Section:
    heading: str
    paragraphs: Sequence[str] = ()
    figures: Sequence[Figure] = ()
    tables: Sequence[Table] = ()
    definitions: Sequence[tuple[str, str]] = ()  # (term, meaning), shown after the paragraphs


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
    """The frame as an HTML table: numeric columns right-aligned, words left-aligned (and, for a
    ``text`` table, wrapped)."""
    frame = table.frame

    def fmt(value: object) -> str:
        if value is None or (pd.api.types.is_scalar(value) and pd.isna(value)):
            return "—"
        if isinstance(value, float):
            return table.float_format.format(value)
        return str(value)

    numeric = [pd.api.types.is_numeric_dtype(frame[c]) and not pd.api.types.is_bool_dtype(frame[c])
               for c in frame.columns]
    cls = lambda is_number: " class='num'" if is_number else ""  # noqa: E731
    head = "".join(f"<th{cls(n)}>{html.escape(str(c))}</th>" for c, n in zip(frame.columns, numeric))
    rows = "".join(
        "<tr>" + "".join(f"<td{cls(n)}>{html.escape(fmt(v))}</td>" for v, n in zip(row, numeric)) + "</tr>"
        for row in frame.itertuples(index=False, name=None)
    )
    kind = "dataframe text-table" if table.text else "dataframe"
    return (f"<p><b>{html.escape(table.caption)}</b></p>"
            f"<table class='{kind}'><thead><tr>{head}</tr></thead><tbody>{rows}</tbody></table>")


def _definitions_html(definitions: Sequence[tuple[str, str]]) -> str:
    items = "".join(f"<dt>{html.escape(term)}</dt><dd>{html.escape(meaning)}</dd>" for term, meaning in definitions)
    return f"<dl>{items}</dl>"


def render(report: Report) -> str:
    parts = [
        "<!DOCTYPE html><html><head><meta charset='utf-8'>",
        f"<title>{html.escape(report.title)}</title><style>{_STYLE}</style></head><body>",
        f"<h1>{html.escape(report.title)}</h1><p class='note'>{html.escape(report.subtitle)}</p>",
    ]
    for section in report.sections:
        parts.append(f"<h2>{html.escape(section.heading)}</h2>")
        parts.extend(f"<p>{html.escape(p)}</p>" for p in section.paragraphs)
        if section.definitions:
            parts.append(_definitions_html(section.definitions))
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
