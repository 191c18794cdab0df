"""``analyse``: points in, the tradeoff JSON out.

Per technique: fit the surface (fitting.py), trace each level's iso-curve
inside the data's convex hull (curves.py, support.py), measure the exchange
rate and the efficient span, bootstrap their intervals (uncertainty.py),
summarise the effect of scale (scale.py); then compare pairs of techniques
measured on the same models (combine.py).

JSON schema (``SCHEMA_VERSION`` 1)::

    schema_version, ratio, levels (list), levels_chosen ("given" | "automatic"),
    extrapolate, n_boot, seed, method (short descriptions)
    techniques.<name>:
        n_points, fit (method, variant, parameters, r2, rmse, n_points, quality, ...)
                  | null with ``problem`` saying what the technique needs,
        support (convex hull), summary (max spans, slopes, effect_of_scale),
        levels.<"0.5">:
            exchange_rate_median (median over the curve; null: no curve in range),
            exchange_rate_ci [lo, hi] | null, span_oom_train, span_oom_infer (0 when empty),
            span_oom_train_ci, span_oom_infer_ci, span_endpoints {train_flops, infer_flops} | null,
            scale_log10_train_flops, curve [[TC, IC], ...] (inside the support only),
            exchange_rate_along_curve, extrapolated (bool), extrapolated_curve (with --extrapolate),
            bootstrap {n_replicates, curve_defined_fraction}, note
    combinations: [{techniques, shared_models, fit, levels.<"0.5">: {span_oom_train: {a, b, combined},
                    span_oom_infer: {...}, adds_up_train, adds_up_infer, adds_up}, adds_up, rule}]
"""

from __future__ import annotations

import zlib

import numpy as np

from ttscale.errors import InputError
from ttscale.tradeoff.combine import combinations
from ttscale.tradeoff.levels import check_levels, check_ratio, choose_levels, level_key
from ttscale.tradeoff.points import by_technique, fit_readiness, validate_points
from ttscale.tradeoff.scale import LevelSpan, effect_of_scale
from ttscale.tradeoff.technique import FittedTechnique, level_curve, level_dict, try_fit
from ttscale.tradeoff.uncertainty import bootstrap_levels
from ttscale.types import Point

SCHEMA_VERSION = 1

METHOD = {
    "surface": (
        "perf = floor + (ceiling - floor) * sigmoid(a*g_x(log10 TC) + b*g_y(log10 IC) + c), a, b >= 0, "
        "g = identity or a smooth minimum that saturates; variant chosen by AICc"
    ),
    "support": "curves are kept inside the convex hull of each technique's points; extrapolated parts are flagged",
    "exchange_rate": "|d log IC / d log TC| along the iso-curve = a g_x' / (b g_y'); median over the curve's length",
    "span": "part of the curve where 1/ratio <= rate <= ratio, in OOM of TC and of IC",
    "uncertainty": "bootstrap over points (and performance within its CI when given); 2.5-97.5 percentiles",
}


def _technique_seed(seed: int, name: str) -> int:
    # A per-technique stream: adding a technique does not change the others' intervals.
    return (seed * 1_000_003 + zlib.crc32(name.encode())) % (2**32)


def _unfitted(points: list[Point], problem: str, levels: list[float]) -> dict:
    return {
        "n_points": len(points),
        "fit": None,
        "problem": problem,
        "support": None,
        "levels": {
            level_key(level): {
                "level": level,
                "exchange_rate_median": None,
                "exchange_rate_ci": None,
                "span_oom_train": 0.0,
                "span_oom_infer": 0.0,
                "span_oom_train_ci": None,
                "span_oom_infer_ci": None,
                "span_endpoints": None,
                "scale_log10_train_flops": None,
                "curve": [],
                "exchange_rate_along_curve": [],
                "extrapolated": False,
                "note": problem,
            }
            for level in levels
        },
        "summary": effect_of_scale([]),
    }


def _fitted(
    fitted: FittedTechnique, levels: list[float], ratio: float, extrapolate: bool, n_boot: int, seed: int
) -> dict:
    rng = np.random.default_rng(_technique_seed(seed, fitted.name))
    intervals = (
        bootstrap_levels(fitted.obs, fitted.ci_sigma, fitted.fit, fitted.support, levels, ratio, n_boot, rng)
        if n_boot > 0
        else {}
    )
    level_out = {}
    spans = []
    for level in levels:
        result = level_curve(fitted, level, ratio, extrapolate)
        entry = level_dict(result)
        interval = intervals.get(level)
        if interval is not None:
            entry["exchange_rate_ci"] = None if result.curve is None else _list(interval.rate_ci)
            entry["span_oom_train_ci"] = None if result.curve is None else _list(interval.span_train_ci)
            entry["span_oom_infer_ci"] = None if result.curve is None else _list(interval.span_infer_ci)
            entry["bootstrap"] = interval.to_dict()
        level_out[level_key(level)] = entry
        spans.append(
            LevelSpan(level, entry["scale_log10_train_flops"], entry["span_oom_train"], entry["span_oom_infer"])
        )
    return {
        "n_points": fitted.fit.n_points,
        "fit": fitted.fit.to_dict(),
        "problem": None,
        "support": fitted.support.to_dict(),
        "levels": level_out,
        "summary": effect_of_scale(spans),
    }


def _list(interval: tuple[float, float] | None) -> list[float] | None:
    return None if interval is None else [interval[0], interval[1]]


def analyse(
    points: list[Point],
    levels: list[float] | None = None,
    ratio: float = 6.0,
    extrapolate: bool = False,
    n_boot: int = 200,
    seed: int = 0,
    strict: bool = False,
) -> dict:
    """The tradeoff of every technique in ``points`` (schema in the module docstring).

    ``levels=None`` chooses levels automatically (levels.py: 25/50/75 % of the
    performance range every technique reaches). A technique with too few
    points to fit gets ``fit: null`` and a ``problem`` saying what it needs;
    with ``strict=True`` that is an ``InputError`` instead (the CLI's choice:
    a user's CSV should be fixed, a lab run should still report the rest).
    """
    validate_points(points)
    ratio = check_ratio(ratio)
    if not (isinstance(n_boot, int) and n_boot >= 0):
        raise InputError(f"n_boot must be an integer >= 0, got {n_boot!r}")
    chosen = "given" if levels is not None else "automatic"
    if levels is not None:
        levels = check_levels(list(levels))
    groups = by_technique(points)
    if strict:
        for name, group in groups.items():
            readiness = fit_readiness(name, group)
            if not readiness.ok:
                raise InputError(readiness.problem)

    fitted: dict[str, FittedTechnique] = {}
    problems: dict[str, str] = {}
    for name, group in groups.items():
        result, problem = try_fit(name, group)
        if result is None:
            problems[name] = problem or "the technique could not be fitted"
        else:
            fitted[name] = result
    if levels is None:
        levels = choose_levels({name: [p.performance for p in groups[name]] for name in fitted})

    techniques = {}
    spans: dict[str, dict[str, tuple[float, float]]] = {}
    for name, group in groups.items():
        if name in problems:
            techniques[name] = _unfitted(group, problems[name], levels)
            continue
        techniques[name] = _fitted(fitted[name], levels, ratio, extrapolate, n_boot, seed)
        spans[name] = {
            key: (entry["span_oom_train"], entry["span_oom_infer"]) for key, entry in techniques[name]["levels"].items()
        }
    return {
        "schema_version": SCHEMA_VERSION,
        "ratio": ratio,
        "levels": levels,
        "levels_chosen": chosen,
        "extrapolate": extrapolate,
        "n_boot": n_boot,
        "seed": seed,
        "method": METHOD,
        "techniques": techniques,
        "combinations": combinations(groups, list(fitted), spans, levels, ratio),
    }
