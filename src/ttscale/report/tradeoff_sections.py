"""Report pieces shared by ``ttscale lab`` and ``ttscale sweep``: the points
table, atomic CSV writing, and the HTML sections (with their PNGs) for the
tradeoff summary, the iso-performance curves and the performance-vs-inference
curves. One implementation, so both reports read the same way."""

from __future__ import annotations

from pathlib import Path
from typing import Sequence

import pandas as pd

from ttscale.report import html
from ttscale.report.budget_plots import plot_budget_curves, plot_table
from ttscale.report.summary import summary_frame
from ttscale.report.tradeoff_plots import plot_exchange_rate, plot_iso_diagram
from ttscale.techniques import PointDetail

BUDGET_CAPTION = "performance vs inference compute per model and strategy"


def points_frame(details: Sequence[PointDetail]) -> pd.DataFrame:
    """The points in the tradeoff CSV format, plus where each came from."""
    return pd.DataFrame(
        [
            {
                "technique": d.point.technique,
                "model": d.point.model,
                "train_flops": d.point.train_flops,
                "infer_flops": d.point.infer_flops,
                "performance": d.point.performance,
                "ci_low": d.point.ci_low,
                "ci_high": d.point.ci_high,
                "task": d.task,
                "strategy": d.strategy,
                "k": d.k,
                "settings": ",".join(f"{key}={value:g}" for key, value in sorted(d.settings.items())),
                "mean_draws": d.mean_draws,
                "infer_seconds": d.infer_seconds,
            }
            for d in details
        ],
        columns=["technique", "model", "train_flops", "infer_flops", "performance", "ci_low", "ci_high",
                 "task", "strategy", "k", "settings", "mean_draws", "infer_seconds"],
    )


def write_csv(frame: pd.DataFrame, path: Path) -> Path:
    """Write through a temporary file and rename: a killed run never leaves half a CSV."""
    tmp = path.with_name(path.name + ".tmp")
    frame.to_csv(tmp, index=False)
    tmp.replace(path)
    return path


def tradeoff_sections(result: dict, details: Sequence[PointDetail], out: Path) -> list[html.Section]:
    """"Summary" (span per technique) and "Iso-performance curves", writing their PNGs into ``out``."""
    summary = summary_frame(result)
    table_png = plot_table(summary, out / "summary_table.png", "span of efficient exchange per technique")
    iso_png = plot_iso_diagram(result, [d.point for d in details], out / "iso_performance.png")
    rate_png = plot_exchange_rate(result, out / "exchange_rate.png")
    return [
        html.Section(
            "Summary",
            paragraphs=[
                "Span of efficient exchange: the part of each iso-performance curve where the exchange "
                f"rate |d log IC / d log TC| lies between 1/{result.get('ratio', 6):g} and "
                f"{result.get('ratio', 6):g}, in orders of magnitude (OOM) of training and inference compute.",
            ],
            tables=[html.Table("technique | span in TC | span in IC | how the span changes with scale", summary)],
            figures=[html.Figure("summary table", table_png)],
        ),
        html.Section(
            "Iso-performance curves",
            paragraphs=["Curves are drawn only where the measured points support them; shading marks the efficient span."],
            figures=[html.Figure("iso-performance diagram (TC x IC)", iso_png),
                     html.Figure("exchange rate along each curve", rate_png)],
        ),
    ]


def budget_section(details: Sequence[PointDetail], out: Path, paragraphs: Sequence[str]) -> html.Section:
    """"Performance vs inference compute", writing its PNG; says so when no strategy has two budgets."""
    try:
        png = plot_budget_curves(details, out / "performance_vs_inference.png")
    except ValueError:  # every strategy at one budget only (e.g. one sample per problem): no curve
        return html.Section("Performance vs inference compute",
                            paragraphs=[*paragraphs, "No curve to draw: every strategy was measured at one budget only."])
    return html.Section("Performance vs inference compute", paragraphs=paragraphs,
                        figures=[html.Figure(BUDGET_CAPTION, png)])
