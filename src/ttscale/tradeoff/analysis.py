"""``analyse``: points in, the tradeoff JSON out.

Per technique and level: the frontier of the data (frontier.py), a smooth
monotone curve through it (frontier_curve.py), the exchange rate along it and
the span of efficient exchange (technique.py), with bootstrap intervals
(uncertainty.py); optionally a parametric smoother checked against the
frontier and the extrapolated span it implies (smoother.py); then the effect of
scale across levels (scale.py) and pairs of techniques (combine.py).

JSON schema (``SCHEMA_VERSION`` 2)::

    schema_version, cost (what IC counts: flops | bytes | seconds; every infer_flops field below is in
    that unit, named for the default), cost_words, ratio, levels, levels_chosen ("given" | "points file" | "automatic"), levels_words,
    extrapolate, smoother,
    n_boot, seed, uncertainty {method, words}, method (short descriptions)
    techniques.<name>:
        n_points, n_models, series {model, fixed_tc, fixed_ic}, support (convex hull),
        smoothers: [{name, accepted, reason, median_offset_from_frontier_oom, fit}],
        smoother_used: name | null,
        summary: {max_span_oom_train, max_span_oom_infer, levels_with_curve, span slopes, effect_of_scale},
        levels.<"0.5">:
            level, exchange_rate (median along the curve) | null, exchange_rate_reason | null,
            exchange_rate_ci [lo, hi] | null, exchange_rate_range (at the curve's two ends),
            span_oom_train, span_oom_infer (0 when none), span_oom_train_ci, span_oom_infer_ci, span_endpoints {train_flops, infer_flops} | null,
            span_truncated {low_train, high_train}, span_note | null, scale_log10_train_flops,
            frontier {points [[TC, IC]], on_data_edge}, curve [[TC, IC]], exchange_rate_along_curve,
            extrapolated (with --extrapolate): {smoother, reaches_extrapolation_limit, span_oom_train,
                                                span_oom_infer, span_endpoints, curve, outside_data,
                                                exchange_rate_along_curve} | {reason},
            bootstrap {n_replicates, rate_defined_fraction, frontier_fraction}
    combinations: [{techniques, shared_models, levels.<"0.5">: {span_oom_train: {a, b, combined}, ...}, adds_up, rule}]
"""

from __future__ import annotations

import zlib
from collections.abc import Sequence
from typing import Literal

import numpy as np

from ttscale.errors import InputError
from ttscale.progress import AddStep
from ttscale.tradeoff.combine import combinations
from ttscale.tradeoff.costs import COSTS, check_cost
from ttscale.tradeoff.curves import efficient_span
from ttscale.tradeoff.levels import check_levels, check_ratio, choose_levels, level_key
from ttscale.tradeoff.points import by_technique, validate_points
from ttscale.tradeoff.scale import LevelSpan, effect_of_scale
from ttscale.tradeoff.smoother import (SMOOTHERS, SmootherVerdict, best_accepted, check_smoother_name, fit_smoothers,
                                       inside_frontier)
from ttscale.tradeoff.technique import (JSON_CURVE_POINTS, TechniqueData, curve_pairs, finite_or_none, level_dict,
                                        read_level, technique_data)
from ttscale.tradeoff.uncertainty import (METHOD_WORDS, LevelDraws, ProblemScores, Replicates, ci_replicates,
                                          percentile_interval, problem_replicates)
from ttscale.types import Point

SCHEMA_VERSION = 2

METHOD = {
    "frontier": (
        "per level, the least IC at which each model's budgets reach it and the least TC at which each "
        "fixed-IC series does (monotone cubic interpolation in log compute of the logit of performance), "
        "plus the points that reach it and crossings along the data's edge; dominated points dropped"
    ),
    "curve": "a least-squares convex fit through the frontier (in log-log turned by 45 degrees), monotone by construction",
    "exchange_rate": "|d log IC / d log TC| along the curve; median over its length; null where not measured",
    "span": "part of the curve where 1/ratio <= rate <= ratio, in OOM of TC and of IC; 'truncated' where the "
            "data's edge cuts it",
    "smoother": "optional parametric surface (logistic or power-law), used only when its iso-curves pass "
                "through the frontier; the only source of extrapolated spans",
}


# Where given levels came from: the caller (``--levels``), or the ``levels`` column of a points file
# (the levels the lab or the sweep analysed it at).
LevelsOrigin = Literal["given", "points file"]
LEVELS_WORDS = {
    "given": "as given",
    "points file": "the levels the points file was analysed at (its 'levels' column); --levels overrides them",
    "automatic": "chosen from the data: at 25, 50 and 75 % of the performance range every technique reaches "
                 "(the quartiles of all performances when the techniques do not overlap)",
}


def _technique_seed(seed: int, name: str) -> int:
    # A per-technique stream: adding a technique does not change the others' intervals.
    return (seed * 1_000_003 + zlib.crc32(name.encode())) % (2**32)


def _bootstrap(data: TechniqueData, perf_draws: np.ndarray, levels: list[float], ratio: float) -> dict[float, LevelDraws]:
    draws = {level: LevelDraws([], [], []) for level in levels}
    for b in range(perf_draws.shape[1]):
        perf = perf_draws[:, b]
        frontiers = data.frontiers(perf)
        for level in levels:
            result = read_level(data, frontiers.at(level), level, ratio, perf)
            draw = draws[level]
            draw.frontier_found += result.frontier.n > 0
            draw.spans_train.append(result.span.oom_train)
            draw.spans_infer.append(result.span.oom_infer)
            if result.rate is not None:
                draw.rates.append(result.rate)
    return draws


def _extrapolated(verdict: SmootherVerdict | None, verdicts: list[SmootherVerdict], level: float, ratio: float) -> dict:
    if verdict is None:
        reasons = "; ".join(f"{v.smoother.name}: {v.reason}" for v in verdicts) or "too few points to fit one"
        return {"reason": f"no smoother agrees with the frontier ({reasons}): nothing to extrapolate with"}
    curve = verdict.smoother.curve_at(level)
    if curve is None:
        return {"reason": f"the {verdict.smoother.name} surface has no curve at this level"}
    span = efficient_span(curve, ratio)
    shown = curve.thinned(JSON_CURVE_POINTS)
    rates = curve.rate[np.isfinite(curve.rate)]
    efficient_at_end = len(rates) > 0 and any(1 / ratio <= r <= ratio for r in (rates[0], rates[-1]))
    return {
        "smoother": verdict.smoother.name,
        # Still efficient where the smoother's curve stops (curves.EXTRAPOLATION_MARGIN_OOM beyond the data):
        # the extrapolated span is a lower bound too.
        "reaches_extrapolation_limit": bool(efficient_at_end),
        "span_oom_train": span.oom_train,
        "span_oom_infer": span.oom_infer,
        "span_endpoints": span.endpoints(),
        "curve": curve_pairs(shown.x, shown.y),
        "outside_data": [bool(v) for v in shown.extrapolated],
        "exchange_rate_along_curve": finite_or_none(shown.rate),
    }


def _analyse_technique(data: TechniqueData, levels: list[float], ratio: float, extrapolate: bool,
                       smoother: str | None, perf_draws: np.ndarray | None) -> dict:
    by_level = data.frontiers()
    frontiers = {level: by_level.at(level) for level in levels}
    verdicts: list[SmootherVerdict] = []
    if smoother is not None or extrapolate:
        names = [smoother] if smoother is not None else list(SMOOTHERS)
        verdicts = fit_smoothers(data.x, data.y, data.perf, data.support, frontiers, names)
    chosen = best_accepted(verdicts)
    used = chosen if smoother is not None else None
    draws = _bootstrap(data, perf_draws, levels, ratio) if perf_draws is not None else {}
    level_out, spans = {}, []
    for level in levels:
        smoothed = inside_frontier(used.smoother.curve_at(level), frontiers[level]) if used else None
        entry = level_dict(read_level(data, frontiers[level], level, ratio, smoothed=smoothed))
        if level in draws:
            draw = draws[level]
            # An interval only around a measured rate (replicates may find one where the data do not).
            measured = entry["exchange_rate"] is not None
            rate_ci = percentile_interval(draw.rates) if measured else None
            entry["exchange_rate_ci"] = list(rate_ci) if rate_ci else None
            entry["span_oom_train_ci"] = list(percentile_interval(draw.spans_train))
            entry["span_oom_infer_ci"] = list(percentile_interval(draw.spans_infer))
            entry["bootstrap"] = draw.to_dict(perf_draws.shape[1])
        if extrapolate:
            entry["extrapolated"] = _extrapolated(chosen, verdicts, level, ratio)
        level_out[level_key(level)] = entry
        spans.append(LevelSpan(level, entry["scale_log10_train_flops"], entry["span_oom_train"], entry["span_oom_infer"],
                               truncated=any(entry["span_truncated"].values())))
    grid = data.grid
    return {
        "n_points": len(data.points),
        "n_models": len({p.model for p in data.points}),
        "series": {"model": len(grid.series_model), "fixed_tc": len(grid.series_ic), "fixed_ic": len(grid.series_tc)},
        "support": data.support.to_dict(),
        "smoothers": [v.to_dict() for v in verdicts],
        "smoother_used": None if used is None else used.smoother.name,
        "levels": level_out,
        "summary": effect_of_scale(spans),
    }


def _uncertainty_words(method: str, n_boot: int, smoother: str | None) -> str:
    if not n_boot:
        return "no intervals (n_boot = 0)"
    words = METHOD_WORDS[method]
    if smoother is not None and method != "none":
        words += "; with a smoother, the intervals are still the frontier's (it is not refitted per replicate)"
    return words


def analyse(
    points: list[Point],
    levels: list[float] | None = None,
    ratio: float = 6.0,
    extrapolate: bool = False,
    n_boot: int = 200,
    seed: int = 0,
    smoother: str | None = None,
    problem_scores: Sequence[ProblemScores] | None = None,
    add_step: AddStep | None = None,
    levels_from: LevelsOrigin = "given",
    cost: str = "flops",
) -> dict:
    """The tradeoff of every technique in ``points`` (schema in the module docstring).

    ``levels=None`` chooses levels automatically (levels.py); ``levels_from`` says where given levels
    came from (stored as ``levels_chosen``). ``smoother``
    names a parametric smoother to read rates off (used only if it passes the
    frontier check). ``problem_scores`` (aligned with ``points``) turns the
    intervals into a bootstrap over problems. ``add_step`` (``progress.steps``) reports
    progress: one tick per technique and one for the combinations. ``cost`` says what the points'
    IC counts (costs.py: flops, bytes or seconds); the JSON's ``infer_flops`` fields are in that unit.
    """
    cost = check_cost(cost, "cost")
    validate_points(points)
    ratio = check_ratio(ratio)
    if not (isinstance(n_boot, int) and n_boot >= 0):
        raise InputError(f"n_boot must be an integer >= 0, got {n_boot!r}")
    if smoother is not None:
        check_smoother_name(smoother, "smoother")
    if problem_scores is not None and len(problem_scores) != len(points):
        raise InputError(f"problem_scores has {len(problem_scores)} entries for {len(points)} points")
    chosen = levels_from if levels is not None else "automatic"
    groups = by_technique(points)
    if levels is not None:
        levels = check_levels(list(levels))
    else:
        levels = choose_levels({name: [p.performance for p in group] for name, group in groups.items()})
    by_problems: Replicates | None = None
    if n_boot and problem_scores is not None:
        by_problems = problem_replicates(problem_scores, n_boot, seed)
    index_of = {id(p): i for i, p in enumerate(points)}
    advance = add_step("tradeoff", len(groups) + 1) if add_step else None
    techniques, frontier_spans, datas = {}, {}, {}
    methods = set()
    for name, group in groups.items():
        data = technique_data(name, group)
        datas[name] = data
        draws = None
        if by_problems is not None:
            draws = by_problems.performance[[index_of[id(p)] for p in group]]
        elif n_boot:
            # A per-technique stream: adding a technique changes no other technique's intervals.
            found = ci_replicates(group, n_boot, _technique_seed(seed, name))
            draws = None if found is None else found.performance
        methods.add("none" if draws is None else ("problems" if by_problems is not None else "ci"))
        techniques[name] = _analyse_technique(data, levels, ratio, extrapolate, smoother, draws)
        frontier_spans[name] = {
            key: (entry["span_oom_train"], entry["span_oom_infer"]) for key, entry in techniques[name]["levels"].items()
        }
        if advance:
            advance(1)
    combined = combinations(groups, datas, frontier_spans, levels, ratio)
    if advance:
        advance(1)
    method = "problems" if "problems" in methods else ("ci" if "ci" in methods else "none")
    return {
        "schema_version": SCHEMA_VERSION,
        "cost": cost,
        "cost_words": COSTS[cost],
        "ratio": ratio,
        "levels": levels,
        "levels_chosen": chosen,
        "levels_words": LEVELS_WORDS[chosen],
        "extrapolate": extrapolate,
        "smoother": smoother,
        "n_boot": n_boot,
        "seed": seed,
        "uncertainty": {"method": method, "words": _uncertainty_words(method, n_boot, smoother)},
        "method": METHOD,
        "techniques": techniques,
        "combinations": combined,
    }
