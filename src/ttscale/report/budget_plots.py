"""Performance vs inference compute, one panel per (task, strategy), one line
per model, with the bootstrap CI as a band. Rendered headless (Agg)."""

from __future__ import annotations

from collections import defaultdict
from pathlib import Path
from typing import Sequence

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

from ttscale.techniques import PointDetail  # noqa: E402


def plot_budget_curves(details: Sequence[PointDetail], path: Path, title: str = "") -> Path:
    panels: dict[tuple[str, str], dict[str, list[PointDetail]]] = defaultdict(lambda: defaultdict(list))
    seen: set[tuple] = set()
    for d in details:
        key = (d.task, d.strategy, d.point.model, d.k)
        if key in seen:  # the same arm can appear in several techniques
            continue
        seen.add(key)
        panels[(d.task, d.strategy)][d.point.model].append(d)
    # Panels with a single budget (k = 1 only) carry no curve.
    panels = {k: v for k, v in panels.items() if any(len(rows) > 1 for rows in v.values())}
    if not panels:
        raise ValueError("no budget curves to plot")

    n = len(panels)
    fig, axes = plt.subplots(1, n, figsize=(5.2 * n, 4.2), squeeze=False)
    cmap = plt.get_cmap("viridis")
    for ax, ((task, strategy), by_model) in zip(axes[0], sorted(panels.items())):
        models = sorted(by_model, key=lambda m: by_model[m][0].point.train_flops)
        for i, model in enumerate(models):
            rows = sorted(by_model[model], key=lambda d: d.point.infer_flops)
            x = [d.point.infer_flops for d in rows]
            color = cmap(i / max(1, len(models) - 1))
            ax.plot(x, [d.point.performance for d in rows], "o-", ms=3, color=color,
                    label=f"{model} (TC {rows[0].point.train_flops:.1e})")
            ax.fill_between(x, [d.point.ci_low for d in rows], [d.point.ci_high for d in rows], color=color, alpha=0.15)
        ax.set_xscale("log")
        ax.set_ylim(-0.02, 1.02)
        ax.set_xlabel("inference compute per problem (FLOPs)")
        ax.set_ylabel("performance")
        ax.set_title(f"{task}\n{strategy}", fontsize=9)
        ax.grid(True, which="both", alpha=0.3)
    axes[0][0].legend(fontsize=7, loc="upper left")
    if title:
        fig.suptitle(title)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path


def plot_table(frame, path: Path, title: str = "") -> Path:
    """A table as a PNG (for the summary table next to the plots)."""
    fig_height = 0.45 * (len(frame) + 2)
    fig, ax = plt.subplots(figsize=(11, fig_height))
    ax.axis("off")
    table = ax.table(cellText=frame.astype(str).values, colLabels=list(frame.columns), loc="center", cellLoc="left")
    table.auto_set_column_width(list(range(len(frame.columns))))
    table.auto_set_font_size(False)
    table.set_fontsize(8)
    table.scale(1, 1.3)
    if title:
        ax.set_title(title, fontsize=10)
    # The auto-sized columns may be wider than the figure: crop to the table.
    fig.savefig(path, dpi=110, bbox_inches="tight")
    plt.close(fig)
    return path
