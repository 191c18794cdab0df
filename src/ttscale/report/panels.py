"""The layout every report figure shares: a grid of panels, readable log ticks
however narrow an axis, notes and titles that say what a panel lacks, and PNGs
written through a temporary file (a failed render leaves no half-written file).

Figures are rendered headless through the Agg canvas (``matplotlib.figure.Figure``,
no pyplot state).
"""

from __future__ import annotations

import math
import textwrap
from collections.abc import Iterable
from pathlib import Path

import numpy as np
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure
from matplotlib.ticker import FixedLocator, FuncFormatter, LogLocator, MaxNLocator, NullFormatter

PANEL_SIZE = (4.6, 3.9)  # inches; at DPI 110 a panel is about 500 x 430 px
MAX_COLUMNS = 3
DPI = 110
TC_LABEL = "training compute (FLOPs)"
IC_LABEL = "inference compute per problem (FLOPs)"
# The IC axis in each cost (tradeoff/costs.py): a result says which one its IC counts.
IC_LABELS = {"flops": IC_LABEL, "bytes": "weight bytes read per problem (one sequence at a time)",
             "seconds": "measured seconds per problem"}


# ---------------------------------------------------------------- axes and ticks


def _tick_text(value: float, plain: bool) -> str:
    if plain and 1e-3 <= abs(value) < 1e4:
        return f"{value:.3g}"
    exponent = math.floor(math.log10(value) + 1e-9)
    mantissa = float(f"{value / 10.0**exponent:.3g}")
    if mantissa >= 10:
        mantissa, exponent = mantissa / 10, exponent + 1
    if abs(mantissa - 1.0) < 1e-9:
        return f"$10^{{{exponent}}}$"
    return f"${mantissa:g}{{\\times}}10^{{{exponent}}}$"


def log_tick_values(lo: float, hi: float, max_labels: int = 7) -> list[float]:
    """At least two major tick values in [lo, hi] on a log axis, spread over a good part of it: decades
    (thinned to ``max_labels``) where they do, else 1-2-5 steps, else 1..9 steps, else linear steps."""
    lo, hi = min(lo, hi), max(lo, hi)
    first, last = math.floor(math.log10(lo)), math.ceil(math.log10(hi))
    width = math.log10(hi / lo)
    inside = lambda t: lo * (1 - 1e-9) <= t <= hi * (1 + 1e-9)  # noqa: E731
    candidates = []
    for subs in ((1,), (1, 2, 5), tuple(range(1, 10))):
        ticks = [m * 10.0**e for e in range(first, last + 1) for m in subs if inside(m * 10.0**e)]
        if subs == (1,) and len(ticks) > max_labels:
            step = math.ceil(len(ticks) / max_labels)
            ticks = [t for t in ticks if round(math.log10(t)) % step == 0] or ticks[::step]
        candidates.append(ticks)
    candidates.append([float(t) for t in MaxNLocator(nbins=4, steps=[1, 2, 2.5, 5, 10]).tick_values(lo, hi)
                       if t > 0 and inside(t)])
    spread = lambda ticks: math.log10(ticks[-1] / ticks[0]) if len(ticks) >= 2 else -1.0  # noqa: E731
    for ticks in candidates:  # the first that covers a third of the axis, labels not crowded
        if len(ticks) >= 2 and spread(ticks) >= width / 3 and len(ticks) <= max_labels:
            return ticks
    best = max(candidates, key=spread)
    return best if len(best) >= 2 else [lo, hi]


def log_ticks(ax, axis: str = "both", plain: bool = False) -> None:
    """Readable major ticks on a log axis whose limits are already set (see ``log_tick_values``);
    minor ticks stay unlabelled. ``plain`` writes values between 0.001 and 10^4 as plain numbers."""
    for name in ("x", "y") if axis == "both" else (axis,):
        target = ax.xaxis if name == "x" else ax.yaxis
        lo, hi = ax.get_xlim() if name == "x" else ax.get_ylim()
        target.set_major_locator(FixedLocator(log_tick_values(lo, hi)))
        target.set_major_formatter(FuncFormatter(lambda v, _pos: _tick_text(v, plain) if v > 0 else ""))
        target.set_minor_locator(LogLocator(subs="auto"))
        target.set_minor_formatter(NullFormatter())
    ax.tick_params(labelsize=9)


def padded(values: Iterable[float], pad: float = 0.08, min_width: float = 0.3) -> tuple[float, float] | None:
    """Log-space limits around ``values`` (positive), padded; at least ``min_width`` decades wide."""
    logs = np.log10([v for v in values if v is not None and np.isfinite(v) and v > 0])
    if not len(logs):
        return None
    lo, hi = float(logs.min()), float(logs.max())
    width = max(hi - lo, min_width)
    centre = (lo + hi) / 2
    lo, hi = min(lo, centre - width / 2), max(hi, centre + width / 2)
    margin = pad * (hi - lo)
    return lo - margin, hi + margin


def panel_grid(n: int, panel: tuple[float, float] = PANEL_SIZE, columns: int = MAX_COLUMNS,
          extra_height: float = 1.2) -> tuple[Figure, list]:
    cols = min(columns, max(1, n))
    rows = math.ceil(max(1, n) / cols)
    fig = Figure(figsize=(panel[0] * cols + 1.0, panel[1] * rows + extra_height), layout="constrained")
    FigureCanvasAgg(fig)
    axes = fig.subplots(rows, cols, squeeze=False).ravel().tolist()
    for ax in axes[n:]:
        ax.set_visible(False)
    return fig, axes[: max(1, n)]


def save_figure(fig: Figure, path: str | Path, **kwargs) -> Path:
    """Write the PNG through a temporary file and rename it into place."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    try:
        fig.savefig(tmp, dpi=DPI, format="png", **kwargs)
        tmp.replace(path)
    finally:
        tmp.unlink(missing_ok=True)
    return path


def panel_note(ax, text: str, width: int = 44) -> None:
    """A short centred note in a panel (why it has no curve), over a white box."""
    wrapped = "\n".join(textwrap.fill(part, width) for part in text.split("\n"))
    ax.text(0.5, 0.5, wrapped, ha="center", va="center", transform=ax.transAxes, fontsize=9.5, color="0.15",
            bbox={"boxstyle": "round,pad=0.5", "facecolor": "white", "edgecolor": "0.6", "alpha": 0.92}, zorder=10)


def label_axes(ax, y_label: str) -> None:
    """Training compute on x, ``y_label`` on y, a light major grid."""
    ax.set_xlabel(TC_LABEL, fontsize=9.5)
    ax.set_ylabel(y_label, fontsize=9.5)
    ax.grid(True, which="major", alpha=0.3)


def panel_title(ax, name: str, detail: str = "") -> None:
    """The technique's name in bold; below it, in small grey type, what the panel lacks and why."""
    lines = textwrap.wrap(detail, 66) if detail else []
    # The title's pad leaves room for the note, which stays out of the layout (its width would shrink the panel).
    ax.set_title(name, fontsize=10.5, fontweight="bold", pad=6 + 9.6 * len(lines))
    if lines:
        note = ax.annotate("\n".join(lines), xy=(0.0, 1.0), xycoords="axes fraction", xytext=(0, 3),
                           textcoords="offset points", ha="left", va="bottom", fontsize=8.2, color="0.3")
        note.set_in_layout(False)
