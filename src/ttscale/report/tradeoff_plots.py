"""Tradeoff figures from the engine's JSON (so a figure can never disagree with it):

- ``plot_iso_diagram`` (``iso_figure``): a grid of panels, one per technique,
  log TC x log IC: the measured points shaded by performance, each level's
  curve through its frontier (the frontier's points as small markers), the
  efficient span drawn thick and the region between consecutive levels' spans
  shaded; extrapolated parts dashed; an X where the data's edge cuts a span.
  A technique without a curve shows its points and why there is none.
- ``plot_exchange_rate`` (``rate_figure``): a grid of panels, the exchange
  rate along each level's curve against TC, the efficient band [1/r, r]
  shaded; a panel without a measured rate says why.

One colour per level in every panel, one shared legend; the panel layout, ticks
and saving are ``panels.py``'s. The ``*_figure`` functions return the Figure, for
tests to read before saving.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from pathlib import Path

import numpy as np
from matplotlib import colormaps
from matplotlib.cm import ScalarMappable
from matplotlib.colors import LinearSegmentedColormap, Normalize
from matplotlib.figure import Figure
from matplotlib.lines import Line2D
from matplotlib.patches import Patch

from ttscale.report.panels import (IC_LABELS, label_axes, log_ticks, padded, panel_grid, panel_note, panel_title,
                                   save_figure)
from ttscale.types import Point

RATE_AXIS_LIMITS = (1e-3, 1e3)  # rates beyond these are off the chart: far outside any efficient band
EXTRAPOLATION_REACH_OOM = 1.0  # dashed extrapolations are shown up to this far beyond the data
RATE_LABEL = "exchange rate |d log IC / d log TC|"
# Points in greys (light: low performance), so that the levels' colours stand apart from them.
POINT_CMAP = LinearSegmentedColormap.from_list("perf_greys", ["#e6e6e6", "#111111"])
REGION_COLOR = "#6baed6"


def _title_panel(ax, name: str, drawn: bool, missing: tuple[str, str, str], why: str, levels: dict) -> None:
    """Title a technique's panel; where nothing could be drawn, say why inside it.

    ``missing``: the short and long words for what is missing ("rate", "measured rate") and
    what to say when no level gives a reason."""
    short, long, fallback = missing
    if drawn:
        panel_title(ax, name, f"no {short} {why}" if why else "")
        return
    panel_title(ax, name)
    panel_note(ax, f"no {long}: {why or fallback}\n(levels: {_level_range(levels)})")


# ---------------------------------------------------------------- reading the JSON


def _level_colors(keys: Sequence[str]) -> dict[str, tuple]:
    cmap = colormaps["plasma"]
    return {key: cmap(0.05 + 0.8 * i / max(1, len(keys) - 1)) for i, key in enumerate(keys)}


def _all_level_keys(result: dict) -> list[str]:
    keys: list[str] = []
    for tech in result.get("techniques", {}).values():
        keys.extend(k for k in tech.get("levels", {}) if k not in keys)
    return sorted(keys, key=float)


def _curve(level: dict) -> np.ndarray:
    return np.asarray(level.get("curve") or [], dtype=float).reshape(-1, 2)


def _rates(level: dict) -> np.ndarray:
    return np.array([np.nan if v is None else v for v in level.get("exchange_rate_along_curve") or []], dtype=float)


def _efficient_segment(level: dict, ratio: float) -> np.ndarray:
    curve, rates = _curve(level), _rates(level)
    if len(curve) == 0 or len(rates) != len(curve):
        return curve[:0]
    with np.errstate(invalid="ignore"):  # nan (no measured rate) is never efficient
        return curve[(rates >= 1.0 / ratio) & (rates <= ratio)]


def _extrapolated_part(level: dict) -> np.ndarray:
    """The extrapolated curve where it lies outside the data (NaN elsewhere, so lines break there)."""
    extrapolated = level.get("extrapolated") or {}
    if not extrapolated.get("curve"):
        return np.empty((0, 2))
    ext = np.asarray(extrapolated["curve"], dtype=float).reshape(-1, 2)
    flags = np.asarray(extrapolated.get("outside_data") or [True] * len(ext), dtype=bool)
    if len(flags) != len(ext) or not flags.any():
        return np.empty((0, 2))
    return np.where(flags[:, None], ext, np.nan)


def _level_range(levels: dict) -> str:
    keys = sorted(levels, key=float)
    return "none analysed" if not keys else keys[0] if len(keys) == 1 else f"{keys[0]} to {keys[-1]}"


def _short(reason: str) -> str:
    return re.sub(r"reaches \d[\d.e+-]*", "reaches the level", reason)


def missing_reasons(tech: dict, missing) -> str:
    """Why the levels picked by ``missing(level)`` have nothing to draw, in words: grouped by reason
    ("at 0.1, 0.2: ..."), or, when every level misses for one reason, that reason at the lowest level."""
    levels = tech.get("levels", {})
    gone = [(k, v) for k, v in levels.items() if missing(v)]
    if not gone:
        return ""
    groups: dict[str, list[str]] = {}
    for key, level in gone:
        groups.setdefault(_short(level.get("exchange_rate_reason") or "not measured"), []).append(key)
    if len(gone) == len(levels) and len(groups) == 1:  # one reason for all: say it at the lowest level
        return gone[0][1].get("exchange_rate_reason") or "not measured"
    return "; ".join(f"at {', '.join(keys)}: {reason}" for reason, keys in groups.items())


# ---------------------------------------------------------------- iso-performance diagram


def _draw_levels(ax, tech: dict, ratio: float, colors: dict[str, tuple], drawn: set[str]) -> list[np.ndarray]:
    """Each level's curve, frontier, span and extrapolation; returns what the axis limits must show."""
    shown: list[np.ndarray] = []
    previous = None
    for key, level in sorted(tech.get("levels", {}).items(), key=lambda item: float(item[0])):
        color = colors[key]
        curve = _curve(level)
        frontier = np.asarray((level.get("frontier") or {}).get("points") or [], dtype=float).reshape(-1, 2)
        if len(curve):
            ax.plot(curve[:, 0], curve[:, 1], "-", color=color, lw=1.6, zorder=4)
            shown.append(curve)
            drawn.add("curve")
        if len(frontier) and len(curve):
            ax.plot(frontier[:, 0], frontier[:, 1], "D", ms=3.2, color=color, mec="k", mew=0.4, zorder=5)
            shown.append(frontier)
            drawn.add("frontier")
        extrapolated = _extrapolated_part(level)
        if len(extrapolated):
            ax.plot(extrapolated[:, 0], extrapolated[:, 1], "--", color=color, lw=1.1, zorder=3)
            drawn.add("extrapolated")
        if len(curve) or len(extrapolated):
            drawn.add(f"level {key}")
        segment = _efficient_segment(level, ratio)
        if len(segment):
            ax.plot(segment[:, 0], segment[:, 1], "-", color=color, lw=7, alpha=0.35, solid_capstyle="butt", zorder=2)
            drawn.add("span")
            if previous is not None and len(previous):
                ring = np.vstack([previous, segment[::-1]])
                ax.fill(ring[:, 0], ring[:, 1], color=REGION_COLOR, alpha=0.18, lw=0, zorder=1)
                drawn.add("region")
            cut = level.get("span_truncated") or {}
            order = np.argsort(segment[:, 0])
            for flag, index in (("low_train", order[0]), ("high_train", order[-1])):
                if cut.get(flag):
                    ax.plot(segment[index, 0], segment[index, 1], "X", ms=9, color=color, mec="k", mew=0.8, zorder=6)
                    drawn.add("truncated")
        previous = segment
    return shown


def _iso_limits(own: Sequence[Point], shown: list[np.ndarray], tech: dict, levels: dict) -> tuple | None:
    xs = [p.train_flops for p in own] + [v for arr in shown for v in arr[:, 0]]
    ys = [p.infer_flops for p in own] + [v for arr in shown for v in arr[:, 1]]
    support = tech.get("support") or {}
    if not xs and support.get("log10_train_flops_range"):
        xs = [10.0**v for v in support["log10_train_flops_range"]]
        ys = [10.0**v for v in support["log10_infer_flops_range"]]
    x, y = padded(xs), padded(ys)
    if x is None or y is None:
        return None
    # Let dashed extrapolations show, but no further than EXTRAPOLATION_REACH_OOM beyond the data.
    data_x, data_y = x, y
    for level in levels.values():
        ext = _extrapolated_part(level)
        ext = ext[np.all(np.isfinite(ext), axis=1) & np.all(ext > 0, axis=1)] if len(ext) else ext
        if len(ext):
            lx, ly = np.log10(ext[:, 0]), np.log10(ext[:, 1])
            reach = EXTRAPOLATION_REACH_OOM
            inside = ((lx >= data_x[0] - reach) & (lx <= data_x[1] + reach)
                      & (ly >= data_y[0] - reach) & (ly <= data_y[1] + reach))
            if inside.any():
                x = (min(x[0], lx[inside].min()), max(x[1], lx[inside].max()))
                y = (min(y[0], ly[inside].min()), max(y[1], ly[inside].max()))
    return x, y


def _iso_legend(fig: Figure, keys: list[str], colors: dict, drawn: set[str], ratio: float, smoothers: set[str]) -> None:
    handles = [Line2D([], [], color=colors[k], lw=2.2, label=f"performance {k}") for k in keys
               if f"level {k}" in drawn]
    style = {
        "curve": Line2D([], [], color="0.3", lw=1.6, label="iso-performance curve through the frontier"),
        "frontier": Line2D([], [], color="0.6", marker="D", ms=4, mec="k", mew=0.4, ls="", label="frontier point"),
        "span": Line2D([], [], color="0.3", lw=7, alpha=0.35,
                       label=f"efficient span (rate between 1/{ratio:g} and {ratio:g})"),
        "region": Patch(color=REGION_COLOR, alpha=0.3, label="between consecutive levels' spans"),
        "extrapolated": Line2D([], [], color="0.3", lw=1.1, ls="--",
                               label="extrapolated beyond the data" + (f" ({', '.join(sorted(smoothers))} smoother)"
                                                                      if smoothers else "")),
        "truncated": Line2D([], [], color="0.6", marker="X", ms=8, mec="k", ls="",
                            label="span cut by the data's edge (truly wider)"),
    }
    handles += [handle for name, handle in style.items() if name in drawn]
    fig.legend(handles=handles, loc="outside lower center", ncols=min(4, max(1, len(handles))), fontsize=9,
               frameon=False)


def iso_figure(result: dict, points: Sequence[Point]) -> Figure:
    """The iso-performance diagram as a Figure (see the module docstring)."""
    techniques = result.get("techniques", {})
    ratio = float(result.get("ratio", 6.0))
    keys = _all_level_keys(result)
    colors = _level_colors(keys)
    fig, axes = panel_grid(len(techniques))
    norm = Normalize(0.0, 1.0)
    drawn: set[str] = set()
    smoothers: set[str] = set()
    any_points = False
    for ax, (name, tech) in zip(axes, techniques.items()):
        own = [p for p in points if p.technique == name]
        if own:
            ax.scatter([p.train_flops for p in own], [p.infer_flops for p in own], c=[p.performance for p in own],
                       cmap=POINT_CMAP, norm=norm, s=18, edgecolors="0.25", linewidths=0.4, zorder=3)
            any_points = True
        levels = tech.get("levels", {})
        shown = _draw_levels(ax, tech, ratio, colors, drawn)
        smoothers.update(lv["extrapolated"]["smoother"] for lv in levels.values()
                         if len(_extrapolated_part(lv)) and "smoother" in lv["extrapolated"])
        ax.set_xscale("log")
        ax.set_yscale("log")
        why = missing_reasons(tech, lambda lv: not len(_curve(lv)))
        limits = _iso_limits(own, shown, tech, levels)
        if limits is None:
            ax.set_axis_off()
            panel_title(ax, name)
            panel_note(ax, "no points: " + (why or "nothing measured"))
            continue
        ax.set_xlim(10.0 ** limits[0][0], 10.0 ** limits[0][1])
        ax.set_ylim(10.0 ** limits[1][0], 10.0 ** limits[1][1])
        log_ticks(ax)
        label_axes(ax, IC_LABELS[result.get("cost", "flops")])
        has_curve = any(len(_curve(lv)) for lv in levels.values())
        _title_panel(ax, name, has_curve, ("curve", "iso-performance curve", "no levels analysed"), why, levels)
    if not techniques:
        axes[0].set_axis_off()
        panel_note(axes[0], "no techniques to show")
    if any_points:
        fig.colorbar(ScalarMappable(norm=norm, cmap=POINT_CMAP), ax=axes, label="measured performance (points)",
                     shrink=0.6, aspect=30)
    if any(name.startswith("level ") for name in drawn):
        _iso_legend(fig, keys, colors, drawn, ratio, smoothers)
    axis = {"bytes": " (inference in weight bytes read)", "seconds": " (inference in measured seconds)"}
    fig.suptitle("iso-performance curves in training x inference compute"
                 + axis.get(result.get("cost", "flops"), "") + ", one panel per technique", fontsize=12)
    return fig


def plot_iso_diagram(result: dict, points: Sequence[Point], path: str | Path) -> Path:
    """The iso-performance diagram, one panel per technique, written as a PNG (see the module docstring)."""
    return save_figure(iso_figure(result, points), path)


# ---------------------------------------------------------------- exchange rate


def rate_figure(result: dict) -> Figure:
    """The exchange rate along each level's curve against TC as a Figure, one panel per technique."""
    techniques = result.get("techniques", {})
    ratio = float(result.get("ratio", 6.0))
    keys = _all_level_keys(result)
    colors = _level_colors(keys)
    fig, axes = panel_grid(len(techniques))
    used: list[str] = []
    for ax, (name, tech) in zip(axes, techniques.items()):
        levels = tech.get("levels", {})
        lowest, highest = 1.0 / (2 * ratio), 2 * ratio
        xs: list[float] = []
        for key, level in sorted(levels.items(), key=lambda item: float(item[0])):
            curve, rates = _curve(level), _rates(level)
            if not len(curve) or len(rates) != len(curve):
                continue
            keep = np.isfinite(rates) & (rates > 0)
            if keep.any():
                clipped = np.clip(rates[keep], *RATE_AXIS_LIMITS)
                ax.plot(curve[keep, 0], clipped, "-", color=colors[key], lw=1.8)
                lowest = min(lowest, float(clipped.min()) / 1.5)
                highest = max(highest, float(clipped.max()) * 1.5)
                xs.extend(curve[keep, 0])
                used.append(key)
        ax.axhspan(1.0 / ratio, ratio, color="tab:green", alpha=0.13, lw=0)
        ax.axhline(1.0, color="gray", lw=0.8, ls=":")
        ax.set_xscale("log")
        ax.set_yscale("log")
        support = tech.get("support") or {}
        x = padded(xs, pad=0.05) or padded([10.0**v for v in support.get("log10_train_flops_range") or []])
        if x is None:
            ax.set_axis_off()
        else:
            ax.set_xlim(10.0 ** x[0], 10.0 ** x[1])
            ax.set_ylim(max(RATE_AXIS_LIMITS[0], lowest), min(RATE_AXIS_LIMITS[1], highest))
            log_ticks(ax, "x")
            log_ticks(ax, "y", plain=True)
            label_axes(ax, RATE_LABEL)
        why = missing_reasons(tech, lambda lv: lv.get("exchange_rate") is None)
        _title_panel(ax, name, bool(xs), ("rate", "measured rate", "no curve in the range of the data"), why, levels)
    if not techniques:
        axes[0].set_axis_off()
        panel_note(axes[0], "no techniques to show")
    handles = [Line2D([], [], color=colors[k], lw=2.2, label=f"performance {k}") for k in keys if k in used]
    handles.append(Patch(color="tab:green", alpha=0.25, label=f"efficient: rate between 1/{ratio:g} and {ratio:g}"))
    handles.append(Line2D([], [], color="gray", lw=0.8, ls=":", label="rate 1 (one OOM of IC per OOM of TC)"))
    if techniques:
        fig.legend(handles=handles, loc="outside lower center", ncols=min(4, len(handles)), fontsize=9, frameon=False)
    fig.suptitle("exchange rate along each iso-performance curve (rates beyond "
                 f"{RATE_AXIS_LIMITS[0]:g}..{RATE_AXIS_LIMITS[1]:g} drawn at the edge)", fontsize=12)
    return fig


def plot_exchange_rate(result: dict, path: str | Path) -> Path:
    """The exchange rate along each level's curve against TC, one panel per technique, as a PNG."""
    return save_figure(rate_figure(result), path)
