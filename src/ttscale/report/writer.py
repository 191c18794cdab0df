"""One report writer for the lab and the sweep: index.html (self-contained), the PNGs, points.csv and
tradeoff.json, from what each front-end says about itself (``ReportParts``).

Sections, in order: the tradeoff (summary and iso-performance curves, or a
paragraph saying why there is nothing to trade), performance against inference
compute, the techniques, the models, notes (when there are any), every point.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd

from ttscale.report import html
from ttscale.report.json_out import write_json
from ttscale.report.tradeoff_sections import (budget_section, points_frame, tradeoff_sections, with_levels,
                                             write_csv)
from ttscale.techniques import PointDetail


@dataclass(frozen=True)
class ReportParts:
    title: str
    subtitle: str
    result: dict  # tradeoff.json: the engine's JSON plus the front-end's own section
    tradeoff_details: Sequence[PointDetail]  # the points of the tradeoff (points.csv)
    details: Sequence[PointDetail]  # every point, curves of models without a training compute included
    budget_note: str  # how to read the performance-vs-inference figure
    techniques: pd.DataFrame
    models: pd.DataFrame
    meta: Mapping[str, str]
    nothing_to_trade: str | None = None  # why there is no tradeoff section, when there is none
    notes: Sequence[str] = ()
    figures: pd.DataFrame | None = None  # the headline figures and the problems behind each (a sweep's)
    extra_csv: Mapping[str, Sequence[PointDetail]] = field(default_factory=dict)  # file name -> points
    variants: pd.DataFrame | None = None  # models derived from others (the lab's compression variants)


def write_report(out: Path, parts: ReportParts) -> Path:
    every_point = points_frame(parts.details)
    # The lab's tradeoff points are all its points; a sweep leaves out models without a training compute.
    same = parts.tradeoff_details is parts.details
    tradeoff_points = every_point if same else points_frame(parts.tradeoff_details)
    write_csv(with_levels(tradeoff_points, parts.result.get("levels") or ()), out / "points.csv")
    for name, details in parts.extra_csv.items():
        write_csv(points_frame(details), out / name)
    write_json(parts.result, out / "tradeoff.json")
    sections = []
    if parts.nothing_to_trade is not None:
        sections.append(html.Section("Tradeoff", paragraphs=[parts.nothing_to_trade]))
    else:
        sections.extend(tradeoff_sections(parts.result, parts.tradeoff_details, out))
    sections.append(budget_section(parts.details, out, [parts.budget_note]))
    sections.append(html.Section("Techniques", tables=[html.Table("what each technique measures", parts.techniques)]))
    model_tables = [html.Table("the models", parts.models)]
    if parts.variants is not None:
        model_tables.append(html.Table("variants made from them before deployment (training compute: the parent's "
                                       "plus the marginal)", parts.variants))
    sections.append(html.Section("Models", tables=model_tables))
    if parts.figures is not None:
        sections.append(html.Section("Figures", tables=[html.Table(
            "each headline figure, the problems behind it, and why a missing one is missing", parts.figures)]))
    if parts.notes:
        sections.append(html.Section("Notes", paragraphs=list(parts.notes)))
    sections.append(html.Section("Points", tables=[html.Table("every point", every_point)]))
    report = html.Report(title=parts.title, subtitle=parts.subtitle, sections=sections, meta=dict(parts.meta))
    return html.write(report, out / "index.html")
