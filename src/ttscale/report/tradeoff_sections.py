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
from ttscale.report.summary import WORDS, summary_frame
from ttscale.report.tradeoff_plots import plot_exchange_rate, plot_iso_diagram
from ttscale.techniques import PointDetail
from ttscale.tradeoff.costs import usable_cost
from ttscale.tradeoff.points import LEVELS_COLUMN, format_levels

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
                "infer_bytes": d.infer_bytes,
            }
            for d in details
        ],
        columns=["technique", "model", "train_flops", "infer_flops", "performance", "ci_low", "ci_high",
                 "task", "strategy", "k", "settings", "mean_draws", "infer_seconds", "infer_bytes"],
    )


def with_levels(frame: pd.DataFrame, levels: Sequence[float]) -> pd.DataFrame:
    """The points with the levels they were analysed at, one text column (tradeoff/points.py reads it back),
    so that ``ttscale tradeoff points.csv`` re-analyses them at the same levels."""
    return frame.assign(**{LEVELS_COLUMN: format_levels(levels)})


def write_csv(frame: pd.DataFrame, path: Path) -> Path:
    """Write through a temporary file and rename: a killed run never leaves half a CSV."""
    tmp = path.with_name(path.name + ".tmp")
    frame.to_csv(tmp, index=False)
    tmp.replace(path)
    return path


def levels_words(result: dict) -> str:
    """The performance levels the analysis used, and where they came from, in words."""
    levels = result.get("levels") or sorted({float(k) for t in result.get("techniques", {}).values()
                                             for k in t.get("levels", {})})
    listed = ", ".join(f"{level:g}" for level in levels) or "none"
    origin = {"given": "as given to the analysis",
              "automatic": "chosen automatically from the range of measured performance"}.get(
        result.get("levels_chosen", ""), "")
    return f"Performance levels analysed (iso-performance curves): {listed}" + (f", {origin}." if origin else ".")


def bytes_section(result: dict, details: Sequence[PointDetail], out: Path) -> html.Section | None:
    """"In weight bytes": the same map with IC counted in weight bytes read (``result["by_cost"]["bytes"]``),
    its summary table and iso-performance diagram (``*_bytes.png``); None when the result has none."""
    in_bytes = (result.get("by_cost") or {}).get("bytes") or {}
    if not in_bytes.get("techniques"):
        return None
    counted = [d.in_cost("bytes") for d in details if usable_cost(d.infer_bytes)]
    summary = summary_frame(in_bytes)
    plot_table(summary, out / "summary_table_bytes.png", "span of efficient exchange per technique, IC in bytes")
    iso_png = plot_iso_diagram(in_bytes, [d.point for d in counted], out / "iso_performance_bytes.png")
    return html.Section(
        "In weight bytes",
        paragraphs=["The same map with inference counted in weight bytes read per problem, one sequence at a time "
                    "(parameters x bits per weight / 8 for every forward pass: the memory traffic that bounds "
                    "decoding). FLOPs cannot see quantization; bytes can. Training compute stays in FLOPs. Live "
                    "searches count no bytes and are left out (tradeoff.json: by_cost.bytes)."],
        tables=[html.Table("span of efficient exchange per technique, IC in weight bytes (also "
                           "summary_table_bytes.png)", summary, text=True)],
        figures=[html.Figure("iso-performance diagram (TC in FLOPs x IC in weight bytes)", iso_png)],
    )


def tradeoff_sections(result: dict, details: Sequence[PointDetail], out: Path) -> list[html.Section]:
    """"Summary" (span per technique), "Iso-performance curves" and, when the result has it, the same map in
    weight bytes (``bytes_section``), writing their PNGs into ``out``.

    The summary table is shown as an HTML table; summary_table.png holds the same table as a picture."""
    ratio = result.get("ratio", 6)
    summary = summary_frame(result)
    plot_table(summary, out / "summary_table.png", "span of efficient exchange per technique")
    iso_png = plot_iso_diagram(result, [d.point for d in details], out / "iso_performance.png")
    rate_png = plot_exchange_rate(result, out / "exchange_rate.png")
    in_bytes = bytes_section(result, details, out)
    uncertainty = (result.get("uncertainty") or {}).get("words")
    def meaning(key: str) -> str:  # WORDS entries read "term: meaning"
        return WORDS[key].split(": ", 1)[-1]

    definitions = [
        ("exchange rate", meaning("rate") + f"; efficient when between 1/{ratio:g} and {ratio:g}. Shown as "
                                          "\"none: reason\" where the data do not measure one."),
        ("span of efficient exchange", meaning("span").replace("1/r and r", f"1/{ratio:g} and {ratio:g}") + "."),
        ("level", "the performance (fraction of problems solved) that the iso-performance curve holds fixed; "
                  "each row reports the level where the technique's span is widest."),
        ("truncated", "the data's edge cuts the span: the true span is at least as wide as reported."),
    ]
    if uncertainty:
        definitions.append(("intervals [low, high]", f"95% intervals: {uncertainty}."))
    return [
        html.Section(
            "Summary",
            paragraphs=[levels_words(result)],
            definitions=definitions,
            tables=[html.Table("span of efficient exchange per technique (one row per technique, at its best "
                               "level; also summary_table.png)", summary, text=True)],
        ),
        html.Section(
            "Iso-performance curves",
            paragraphs=[
                "One panel per technique, training compute against inference compute per problem, both on log "
                "axes. Grey points are the measured configurations (darker: better). Each coloured line is the "
                "iso-performance curve of one level, drawn through the frontier of the data (diamonds) and only "
                f"where the points support it; its thick part is the efficient span (rate between 1/{ratio:g} "
                f"and {ratio:g}); dashed parts are extrapolated beyond the data by a fitted smoother; an X marks "
                "a span cut by the data's edge. A panel without a curve says why.",
                "Below, the exchange rate along each curve; the green band is the efficient range.",
            ],
            figures=[html.Figure("iso-performance diagram (TC x IC)", iso_png),
                     html.Figure("exchange rate along each curve", rate_png)],
        ),
    ] + ([in_bytes] if in_bytes is not None else [])


def budget_section(details: Sequence[PointDetail], out: Path, paragraphs: Sequence[str]) -> html.Section:
    """"Performance vs inference compute", writing its PNG; says so when no strategy has two budgets."""
    try:
        png = plot_budget_curves(details, out / "performance_vs_inference.png")
    except ValueError:  # every strategy at one budget only (e.g. one sample per problem): no curve
        return html.Section("Performance vs inference compute",
                            paragraphs=[*paragraphs, "No curve to draw: every strategy was measured at one budget only."])
    return html.Section("Performance vs inference compute", paragraphs=paragraphs,
                        figures=[html.Figure(BUDGET_CAPTION, png)])
