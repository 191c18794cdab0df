"""Combining two techniques measured on the same models.

For each pair of techniques that share at least ``MIN_SHARED_MODELS`` models,
the two frontiers of every level are merged (the union of their points, the
dominated ones dropped) and the merged frontier's efficient span is compared
with each technique's own.

What the union means: its frontier is what a practitioner can reach by
picking, at each (TC, IC), whichever of the two techniques does better. When
the two techniques move along *different* parts of the iso-curve (one buys
IC with TC at the low-IC end, the other at the high-IC end), the union's
efficient span covers both and their OOMs add; when they use the same
mechanism, their spans overlap and the union adds little. (Points measured
with both techniques applied at once belong in a technique of their own,
e.g. "pruning+sampling"; its span can be compared the same way.)

Rule, per level and per axis (TC, IC): with S_a, S_b the two spans and S_ab
the union's, the combination **adds up** when

    S_ab >= (S_a + S_b) - max(ADD_TOLERANCE_OOM, ADD_TOLERANCE_FRACTION * (S_a + S_b)),

i.e. the union spans at least the sum of the parts, up to 0.1 OOM or 10 %.
``adds_up`` for a level is true when every axis with a non-zero sum adds up;
null when both sums are 0 (nothing to add). For the pair it is true when every
level with a verdict adds up, false when any does not, null when no level has one.
"""

from __future__ import annotations

from itertools import combinations as pairs_of

import numpy as np

from ttscale.tradeoff.curves import efficient_span
from ttscale.tradeoff.frontier import Frontier, non_dominated
from ttscale.tradeoff.frontier_curve import frontier_curve
from ttscale.tradeoff.levels import level_key
from ttscale.tradeoff.technique import TechniqueData
from ttscale.types import Point

MIN_SHARED_MODELS = 2
ADD_TOLERANCE_OOM = 0.1
ADD_TOLERANCE_FRACTION = 0.1

RULE = (
    "per level and axis: adds up when the union's span >= sum of the two spans - max(0.1 OOM, 10% of the sum); "
    "a level adds up when every axis with a non-zero sum does"
)


def adds_up(part_a: float, part_b: float, combined: float) -> bool | None:
    total = part_a + part_b
    if total <= 0.0:
        return None
    return combined >= total - max(ADD_TOLERANCE_OOM, ADD_TOLERANCE_FRACTION * total)


def _all_known(verdicts: list[bool | None]) -> bool | None:
    known = [v for v in verdicts if v is not None]
    if not known:
        return None
    return all(known)


def merged_frontier(a: Frontier, b: Frontier) -> Frontier:
    x = np.concatenate([a.x, b.x])
    y = np.concatenate([a.y, b.y])
    edge = np.concatenate([a.on_edge, b.on_edge])
    keep = non_dominated(x, y)
    return Frontier(x[keep], y[keep], edge[keep])


def combine_pair(
    data_a: TechniqueData,
    data_b: TechniqueData,
    spans: dict[str, dict[str, tuple[float, float]]],
    levels: list[float],
    ratio: float,
) -> dict:
    """One pair's entry; ``spans[technique][level_key] = (span_oom_train, span_oom_infer)``."""
    name_a, name_b = data_a.name, data_b.name
    shared = sorted({p.model for p in data_a.points} & {p.model for p in data_b.points})
    entry: dict = {"techniques": [name_a, name_b], "shared_models": shared, "rule": RULE}
    frontiers_a, frontiers_b = data_a.frontiers(), data_b.frontiers()
    per_level = {}
    verdicts = []
    for level in levels:
        key = level_key(level)
        merged = merged_frontier(frontiers_a.at(level), frontiers_b.at(level))
        combined = efficient_span(frontier_curve(merged), ratio)
        a_train, a_infer = spans[name_a][key]
        b_train, b_infer = spans[name_b][key]
        train_ok = adds_up(a_train, b_train, combined.oom_train)
        infer_ok = adds_up(a_infer, b_infer, combined.oom_infer)
        verdict = _all_known([train_ok, infer_ok])
        verdicts.append(verdict)
        per_level[key] = {
            "span_oom_train": {name_a: a_train, name_b: b_train, "combined": combined.oom_train},
            "span_oom_infer": {name_a: a_infer, name_b: b_infer, "combined": combined.oom_infer},
            "adds_up_train": train_ok,
            "adds_up_infer": infer_ok,
            "adds_up": verdict,
        }
    entry.update(levels=per_level, adds_up=_all_known(verdicts))
    return entry


def combinations(
    groups: dict[str, list[Point]],
    datas: dict[str, TechniqueData],
    spans: dict[str, dict[str, tuple[float, float]]],
    levels: list[float],
    ratio: float,
) -> list[dict]:
    """Every pair of techniques sharing at least ``MIN_SHARED_MODELS`` models."""
    out = []
    for name_a, name_b in pairs_of(list(groups), 2):
        shared = {p.model for p in groups[name_a]} & {p.model for p in groups[name_b]}
        if len(shared) < MIN_SHARED_MODELS:
            continue
        out.append(combine_pair(datas[name_a], datas[name_b], spans, levels, ratio))
    return out
