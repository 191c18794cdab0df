"""Tradeoff figures from the engine's JSON (so a figure can never disagree with it):

- ``plot_iso_diagram``: one panel per technique, log TC x log IC, the measured
  points coloured by performance, each level's iso-curve, the efficient span
  drawn thick and the region between consecutive levels' spans shaded (as in
  the seed report's tradeoff diagrams); extrapolated parts dashed.
- ``plot_exchange_rate``: one panel per technique, the exchange rate along each
  curve against TC, with the efficient band [1/r, r] shaded.

Rendered headless through the Agg canvas (``matplotlib.figure.Figure``, no
pyplot state), written to a temporary file and renamed, so a failed render
leaves no half-written PNG.
"""

from __future__ import annotations

import math
import textwrap
from collections.abc import Sequence
from pathlib import Path

import numpy as np
from matplotlib import colormaps
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.colors import Normalize
from matplotlib.figure import Figure
from matplotlib.ticker import NullFormatter

from ttscale.types import Point

PANEL_SIZE = (4.6, 3.9)
MAX_COLUMNS = 3
RATE_AXIS_LIMITS = (1e-3, 1e3)  # rates beyond these are off the chart: far outside any efficient band


def _log_axes(ax) -> None:
    ax.set_xscale("log")
    ax.set_yscale("log")
    # Minor tick labels (2x10^14, 3x10^14, ...) collide on narrow ranges.
    ax.xaxis.set_minor_formatter(NullFormatter())
    ax.yaxis.set_minor_formatter(NullFormatter())


def _title(ax, name: str, detail: str = "") -> None:
    text = name if not detail else f"{name}\n" + "\n".join(textwrap.wrap(detail, 60))
    ax.set_title(text, fontsize=8)


def _grid(n: int) -> tuple[Figure, list]:
    cols = min(MAX_COLUMNS, max(1, n))
    rows = math.ceil(max(1, n) / cols)
    fig = Figure(figsize=(PANEL_SIZE[0] * cols + 1.0, PANEL_SIZE[1] * rows + 0.4), layout="constrained")
    FigureCanvasAgg(fig)
    axes = fig.subplots(rows, cols, squeeze=False).ravel().tolist()
    for ax in axes[n:]:
        ax.set_visible(False)
    return fig, axes[: max(1, n)]


def _save(fig: Figure, path: str | Path) -> Path:
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    try:
        fig.savefig(tmp, dpi=110, format="png")
        tmp.replace(path)
    finally:
        tmp.unlink(missing_ok=True)
    return path


def _efficient_mask(rates: Sequence[float | None], ratio: float) -> np.ndarray:
    r = np.array([np.nan if v is None else v for v in rates], dtype=float)
    with np.errstate(invalid="ignore"):
        return (r >= 1.0 / ratio) & (r <= ratio)


def _efficient_segment(level: dict, ratio: float) -> np.ndarray:
    curve = np.asarray(level.get("curve") or [], dtype=float).reshape(-1, 2)
    if len(curve) == 0:
        return curve
    return curve[_efficient_mask(level.get("exchange_rate_along_curve") or [], ratio)]


def _level_colors(levels: list[str]) -> dict[str, tuple]:
    cmap = colormaps["plasma"]
    return {key: cmap(0.1 + 0.75 * i / max(1, len(levels) - 1)) for i, key in enumerate(levels)}


def _draw_levels(ax, tech: dict, ratio: float) -> None:
    levels = tech.get("levels", {})
    colors = _level_colors(list(levels))
    previous = None
    for key, level in levels.items():
        color = colors[key]
        curve = np.asarray(level.get("curve") or [], dtype=float).reshape(-1, 2)
        if len(curve):
            ax.plot(curve[:, 0], curve[:, 1], "-", color=color, lw=1.5, label=f"perf = {key}")
        extrapolated = level.get("extrapolated") or {}
        if extrapolated.get("curve"):
            ext = np.asarray(extrapolated["curve"], dtype=float)
            flags = np.asarray(extrapolated["outside_data"], dtype=bool)
            ax.plot(np.where(flags, ext[:, 0], np.nan), np.where(flags, ext[:, 1], np.nan), "--", color=color,
                    lw=1.0, label=f"perf = {key} (extrapolated)" if not len(curve) else None)
        segment = _efficient_segment(level, ratio)
        if len(segment):
            ax.plot(segment[:, 0], segment[:, 1], "-", color=color, lw=7, alpha=0.3, solid_capstyle="butt")
            if previous is not None and len(previous):
                ring = np.vstack([previous, segment[::-1]])
                ax.fill(ring[:, 0], ring[:, 1], color="tab:green", alpha=0.12, lw=0)
        previous = segment


def plot_iso_diagram(result: dict, points: Sequence[Point], path: str | Path) -> Path:
    """The iso-performance diagram, one panel per technique (see the module docstring)."""
    techniques = result.get("techniques", {})
    ratio = float(result.get("ratio", 6.0))
    fig, axes = _grid(len(techniques))
    norm = Normalize(0.0, 1.0)
    scatter = None
    for ax, (name, tech) in zip(axes, techniques.items()):
        own = [p for p in points if p.technique == name]
        if own:
            scatter = ax.scatter([p.train_flops for p in own], [p.infer_flops for p in own],
                                 c=[p.performance for p in own], cmap="viridis", norm=norm, s=16,
                                 edgecolors="k", linewidths=0.3, zorder=3)
        _draw_levels(ax, tech, ratio)
        _log_axes(ax)
        ax.set_xlabel("training compute (FLOPs)")
        ax.set_ylabel("inference compute per problem (FLOPs)")
        _title(ax, name, "")
        ax.grid(True, which="major", alpha=0.3)
        if ax.get_legend_handles_labels()[0]:
            ax.legend(fontsize=6, loc="upper right")
    if not techniques:
        axes[0].text(0.5, 0.5, "no techniques", ha="center", va="center", transform=axes[0].transAxes)
    if scatter is not None:
        fig.colorbar(scatter, ax=axes, label="performance", shrink=0.8)
    fig.suptitle(f"iso-performance curves; thick/shaded: efficient span (rate between 1/{ratio:g} and {ratio:g})",
                 fontsize=9)
    return _save(fig, path)


def plot_exchange_rate(result: dict, path: str | Path) -> Path:
    """The exchange rate along each level's curve against TC, one panel per technique."""
    techniques = result.get("techniques", {})
    ratio = float(result.get("ratio", 6.0))
    fig, axes = _grid(len(techniques))
    for ax, (name, tech) in zip(axes, techniques.items()):
        levels = tech.get("levels", {})
        colors = _level_colors(list(levels))
        drawn = False
        lowest, highest = 1.0 / (3 * ratio), 3 * ratio
        for key, level in levels.items():
            curve = np.asarray(level.get("curve") or [], dtype=float).reshape(-1, 2)
            rates = np.array([np.nan if v is None else v for v in level.get("exchange_rate_along_curve") or []],
                             dtype=float)
            if not len(curve) or len(rates) != len(curve):
                continue
            keep = np.isfinite(rates) & (rates > 0)
            if keep.any():
                ax.plot(curve[keep, 0], rates[keep], "-", color=colors[key], lw=1.5, label=f"perf = {key}")
                lowest = min(lowest, max(RATE_AXIS_LIMITS[0], float(rates[keep].min()) / 1.5))
                highest = max(highest, min(RATE_AXIS_LIMITS[1], float(rates[keep].max()) * 1.5))
                drawn = True
        ax.axhspan(1.0 / ratio, ratio, color="tab:green", alpha=0.12, lw=0, label=f"efficient: 1/{ratio:g} to {ratio:g}")
        ax.axhline(1.0, color="gray", lw=0.8, ls=":")
        _log_axes(ax)
        ax.set_ylim(lowest, highest)
        ax.set_xlabel("training compute (FLOPs)")
        ax.set_ylabel("exchange rate |d log IC / d log TC|")
        _title(ax, name, "" if drawn else "no curve in the data's range")
        ax.grid(True, which="major", alpha=0.3)
        ax.legend(fontsize=6, loc="best")
    if not techniques:
        axes[0].text(0.5, 0.5, "no techniques", ha="center", va="center", transform=axes[0].transAxes)
    fig.suptitle("exchange rate along each iso-performance curve", fontsize=9)
    return _save(fig, path)
