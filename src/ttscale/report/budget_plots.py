"""Performance vs inference compute, and the summary table as a picture.

- ``plot_budget_curves`` (``budget_figure``): a grid of panels (at most
  ``BUDGET_COLUMNS`` wide), one per (task, strategy), one line per model with
  its bootstrap CI as a band; one colour per model in every panel and one
  shared legend.
- ``plot_table`` (``table_figure``): a table with its long cells wrapped.

Rendered headless through the Agg canvas (no pyplot state), written through a
temporary file (panels.save_figure).
"""

from __future__ import annotations

import textwrap
from collections import defaultdict
from pathlib import Path
from typing import Sequence

from matplotlib import colormaps
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure
from matplotlib.lines import Line2D

from ttscale.report.panels import IC_LABEL, log_ticks, padded, panel_grid, save_figure
from ttscale.techniques import PointDetail

BUDGET_COLUMNS = 3
BUDGET_PANEL = (4.6, 4.3)  # inches; at DPI 110 a panel is about 500 x 470 px, its plot about 360 px tall


def _panels(details: Sequence[PointDetail]) -> dict[tuple[str, str], dict[str, list[PointDetail]]]:
    panels: dict[tuple[str, str], dict[str, list[PointDetail]]] = defaultdict(lambda: defaultdict(list))
    seen: set[tuple] = set()
    for d in details:
        key = (d.task, d.strategy, d.point.model, d.k)
        if key in seen:  # the same arm can appear in several techniques
            continue
        seen.add(key)
        panels[(d.task, d.strategy)][d.point.model].append(d)
    # Panels with a single budget (k = 1 only) carry no curve.
    return {k: v for k, v in sorted(panels.items()) if any(len(rows) > 1 for rows in v.values())}


def budget_figure(details: Sequence[PointDetail], title: str = ""):
    """The performance-vs-inference grid as a Figure; ValueError when no strategy has two budgets."""
    panels = _panels(details)
    if not panels:
        raise ValueError("no budget curves to plot")
    train = {}
    for by_model in panels.values():
        for model, rows in by_model.items():
            train[model] = rows[0].point.train_flops
    models = sorted(train, key=lambda m: (train[m], m))
    cmap = colormaps["viridis"]
    colors = {m: cmap(0.9 * i / max(1, len(models) - 1)) for i, m in enumerate(models)}

    fig, axes = panel_grid(len(panels), panel=BUDGET_PANEL, columns=BUDGET_COLUMNS, extra_height=0.6 + 0.25 * len(models))
    for ax, ((task, strategy), by_model) in zip(axes, panels.items()):
        xs = []
        for model in sorted(by_model, key=models.index):
            rows = sorted(by_model[model], key=lambda d: d.point.infer_flops)
            x = [d.point.infer_flops for d in rows]
            xs.extend(x)
            ax.plot(x, [d.point.performance for d in rows], "o-", ms=3.5, lw=1.5, color=colors[model])
            low = [d.point.ci_low if d.point.ci_low is not None else d.point.performance for d in rows]
            high = [d.point.ci_high if d.point.ci_high is not None else d.point.performance for d in rows]
            ax.fill_between(x, low, high, color=colors[model], alpha=0.15, lw=0)
        ax.set_xscale("log")
        limits = padded(xs, pad=0.05)
        ax.set_xlim(10.0 ** limits[0], 10.0 ** limits[1])
        ax.set_ylim(-0.02, 1.02)
        log_ticks(ax, "x")
        ax.set_xlabel(IC_LABEL, fontsize=9.5)
        ax.set_ylabel("performance (fraction solved)", fontsize=9.5)
        ax.set_title("\n".join(textwrap.wrap(task, 48) + textwrap.wrap(strategy, 48)), fontsize=9.5)
        ax.grid(True, which="major", alpha=0.3)
    handles = [Line2D([], [], color=colors[m], marker="o", ms=4, lw=1.5, label=f"{m} (TC {train[m]:.2g} FLOPs)")
               for m in models]
    fig.legend(handles=handles, loc="outside lower center", ncols=min(3, len(handles)), fontsize=9, frameon=False,
               title="model (training compute); bands: 95% intervals", title_fontsize=9)
    if title:
        fig.suptitle(title, fontsize=12)
    return fig


def plot_budget_curves(details: Sequence[PointDetail], path: Path, title: str = "") -> Path:
    """Performance vs inference compute, a grid of panels (see ``budget_figure``), written as a PNG."""
    return save_figure(budget_figure(details, title), path)


# Characters per line of each column of the summary table (others: DEFAULT_WRAP).
WRAP = {"technique": 22, "level": 6, "span in TC (OOM)": 18, "span in IC (OOM)": 18, "exchange rate": 30,
        "note": 50, "points": 7}
DEFAULT_WRAP = 14


def _wrapped(value: object, width: int) -> str:
    text = "" if value is None else str(value)
    return "\n".join(textwrap.fill(part, width) for part in text.split("\n")) if text else ""


def table_figure(frame, title: str = ""):
    """A table as a Figure, long cells wrapped to their column (``WRAP``), rows as tall as their cells."""
    columns = [str(c) for c in frame.columns]
    widths = [max(WRAP.get(c, DEFAULT_WRAP), 4) for c in columns]
    header = [_wrapped(c, w) for c, w in zip(columns, widths)]
    body = [[_wrapped(v, w) for v, w in zip(row, widths)] for row in frame.itertuples(index=False)]
    lines = [max(1, *(cell.count("\n") + 1 for cell in row)) for row in [header, *body]]
    line_in = 0.16  # inches per line of 8-point text, padding included
    heights = [line_in * n + 0.1 for n in lines]
    char_in = 0.064  # inches per character of 8-point text
    col_in = [w * char_in + 0.15 for w in widths]
    width_in, height_in = sum(col_in), sum(heights)
    title_in = 0.45 if title else 0.05
    fig = Figure(figsize=(width_in + 0.2, height_in + title_in + 0.1))
    FigureCanvasAgg(fig)
    ax = fig.add_axes((0.1 / (width_in + 0.2), 0.05 / (height_in + title_in + 0.1),
                       width_in / (width_in + 0.2), height_in / (height_in + title_in + 0.1)))
    ax.axis("off")
    table = ax.table(cellText=body or None, colLabels=header, cellLoc="left", loc="upper left",
                     colWidths=[c / width_in for c in col_in])
    table.auto_set_font_size(False)
    table.set_fontsize(8)
    for (row, col), cell in table.get_celld().items():
        cell.set_height(heights[row] / height_in)
        cell.PAD = 0.06 / col_in[col]  # 0.06 inch on either side (the default is a tenth of the cell's width)
        cell.get_text().set_va("center")
        if row == 0:
            cell.set_facecolor("#eeeeee")
            cell.get_text().set_fontweight("bold")
        elif row % 2 == 0:
            cell.set_facecolor("#f8f8f8")
    if title:
        fig.suptitle(title, fontsize=10, y=1 - 0.12 / (height_in + title_in + 0.1), va="top")
    return fig


def plot_table(frame, path: Path, title: str = "") -> Path:
    """A table as a PNG (the summary table next to the plots), long cells wrapped."""
    return save_figure(table_figure(frame, title), path, bbox_inches="tight", pad_inches=0.1)

