"""The "effect of scale": how a technique's efficient span changes across levels.

Higher performance levels sit at larger compute, so comparing the spans of the
levels says whether the tradeoff widens or narrows with scale. For the levels
whose curve exists, the span (in TC and in IC, OOM) is regressed on the
curve's position ``scale`` = log10 TC at the curve's midpoint:

    slope_train = d span_TC / d log10 TC,    slope_infer = d span_IC / d log10 TC

Spans cut by the data's edge are left out (their size is the data's, not
the technique's). (OOM of span per OOM of training compute, the unit of the seed report's "span
in IC increases by 0.08 OOM for each OOM of TC"). Slopes vs the level itself
are also given, and used when the curves all sit at nearly the same TC.

The phrase comes from the fitted change of the total span (TC + IC) between
the lowest and highest level: below ``CHANGE_TOLERANCE_OOM`` in size it is
"none"; otherwise "increasing span" / "decreasing span", with "(vanishes at
the highest level)" when the span there is empty but was not below. With no
span anywhere it is "no efficient span"; with fewer than two curves, "unknown".
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

CHANGE_TOLERANCE_OOM = 0.1
MIN_SCALE_RANGE_OOM = 0.1


@dataclass(frozen=True)
class LevelSpan:
    level: float
    scale_log10_train: float | None  # None: no curve at this level
    span_oom_train: float
    span_oom_infer: float
    truncated: bool = False  # cut by the data's edge: its size says more about the data than the technique


def _slope(x: np.ndarray, y: np.ndarray) -> float | None:
    if len(x) < 2 or np.ptp(x) <= 0:
        return None
    return float(np.polyfit(x, y, 1)[0])


def effect_of_scale(spans: list[LevelSpan]) -> dict:
    with_curve = [s for s in spans if s.scale_log10_train is not None]
    present = sorted((s for s in with_curve if not s.truncated), key=lambda s: s.level)
    summary = {
        "max_span_oom_train": max((s.span_oom_train for s in with_curve), default=0.0),
        "max_span_oom_infer": max((s.span_oom_infer for s in with_curve), default=0.0),
        "span_slope_train_per_oom_tc": None,
        "span_slope_infer_per_oom_tc": None,
        "span_slope_train_per_level": None,
        "span_slope_infer_per_level": None,
        "span_change_oom_lowest_to_highest_level": None,
        "levels_with_curve": len(present),
    }
    if len(present) < 2:
        cut = len(with_curve) - len(present)
        summary["effect_of_scale"] = (f"unknown ({cut} of {len(with_curve)} spans cut by the data's edge)" if cut
                                      else "unknown (fewer than 2 levels with a curve)")
        return summary
    level = np.array([s.level for s in present])
    scale = np.array([s.scale_log10_train for s in present], dtype=float)
    train = np.array([s.span_oom_train for s in present])
    infer = np.array([s.span_oom_infer for s in present])
    summary["span_slope_train_per_level"] = _slope(level, train)
    summary["span_slope_infer_per_level"] = _slope(level, infer)
    if np.ptp(scale) >= MIN_SCALE_RANGE_OOM:
        summary["span_slope_train_per_oom_tc"] = _slope(scale, train)
        summary["span_slope_infer_per_oom_tc"] = _slope(scale, infer)
    total = train + infer
    if not np.any(total > 0):
        summary["effect_of_scale"] = "no efficient span"
        return summary
    change = (_slope(level, total) or 0.0) * float(np.ptp(level))
    if abs(change) < CHANGE_TOLERANCE_OOM:
        phrase = "none"
    elif change > 0:
        phrase = "increasing span"
    else:
        phrase = "decreasing span"
        if total[-1] == 0.0:
            phrase += " (vanishes at the highest level)"
    summary["effect_of_scale"] = phrase
    summary["span_change_oom_lowest_to_highest_level"] = change
    return summary
