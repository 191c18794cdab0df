"""The lifetime planner: the cheapest configuration that reaches a target.

Lifetime cost of a configuration used for N inferences:

    cost = TC + N * IC        (FLOPs; IC is per problem)

Candidates are every measured point with performance >= P, plus, for every
technique with a frontier at P (tradeoff/frontier.py), the cheapest point of
the smooth curve through that frontier — inside the data by construction,
never extrapolated. The cost rises in both TC and IC, so the optimum among
all configurations that reach P lies on that frontier; the curve is sampled
densely (``PLANNER_CURVE_SAMPLES``) and its cheapest sample taken.

Why the optimum on the curve is where the exchange rate equals TC / (N IC):
with x = log10 TC, y(x) the curve, cost = 10^x + N 10^y(x) and

    d cost / dx = ln 10 (10^x + N 10^y y'(x)) = 0   =>   -y'(x) = TC / (N IC),

so the rate |d log IC / d log TC| equals the ratio of the training to the
lifetime-inference spend; at a 1:1 rate the two spends are equal.

The runner-up is the best candidate of another technique (else the next
distinct configuration); the break-even number of inferences between choice
(T1, I1) and runner-up (T2, I2) solves T1 + N I1 = T2 + N I2:
N* = (T2 - T1) / (I1 - I2), reported when it is positive and finite, else
null (one of them is cheaper at every N). Costs in hours, kWh, litres and
dollars come from hardware.py.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from ttscale.errors import InputError
from ttscale.hardware import (DEFAULT_UTILIZATION, DEFAULT_WATER_L_PER_KWH, check_fraction, compute_cost, get_device,
                              load_hardware_table, with_overrides)
from ttscale.tradeoff.frontier_curve import frontier_curve
from ttscale.tradeoff.points import by_technique, validate_points
from ttscale.tradeoff.technique import TechniqueData, technique_data
from ttscale.types import Point

SCHEMA_VERSION = 1
DISTINCT_OOM = 1e-6


@dataclass(frozen=True)
class Config:
    """A candidate configuration, in log10 FLOPs."""

    technique: str
    log10_train: float
    log10_infer: float
    performance: float
    source: str  # "measured" | "interpolated"
    model: str | None = None
    budget: str | None = None
    exchange_rate: float | None = None

    def lifetime(self, inferences: float) -> float:
        return 10.0**self.log10_train + inferences * 10.0**self.log10_infer


def check_positive(value: float, flag: str) -> float:
    if not (isinstance(value, (int, float)) and math.isfinite(value) and value > 0):
        raise InputError(f"{flag} must be > 0, got {value!r}")
    return float(value)


def check_target(value: float, flag: str = "target") -> float:
    if not (isinstance(value, (int, float)) and math.isfinite(value) and 0.0 < value <= 1.0):
        raise InputError(f"{flag} must be a performance fraction in (0, 1], got {value!r}")
    return float(value)


PLANNER_CURVE_SAMPLES = 20001  # dense enough that the optimum's rate matches TC / (N IC) to well under 1 %


def interpolated_optimum(data: TechniqueData, target: float, inferences: float) -> Config | None:
    """The cheapest point of the technique's frontier curve at ``target`` (inside the data), or None."""
    frontier = data.frontiers().at(target)
    curve = frontier_curve(frontier, dense=PLANNER_CURVE_SAMPLES)
    if curve is None:
        return None
    costs = 10.0**curve.x + inferences * 10.0**curve.y
    best = int(np.argmin(costs))
    rate = float(curve.rate[best])
    return Config(
        technique=data.name,
        log10_train=float(curve.x[best]),
        log10_infer=float(curve.y[best]),
        performance=target,  # on the iso-performance curve by construction
        source="interpolated",
        exchange_rate=rate if math.isfinite(rate) else None,
    )


def _config_dict(config: Config, inferences: float, cost_args: dict) -> dict:
    train, infer = 10.0**config.log10_train, 10.0**config.log10_infer
    lifetime = train + inferences * infer
    return {
        "technique": config.technique,
        "model": config.model,
        "budget": config.budget,
        "source": config.source,
        "train_flops": train,
        "infer_flops": infer,
        "inference_flops_total": inferences * infer,
        "lifetime_flops": lifetime,
        "train_share": train / lifetime,
        "performance": config.performance,
        "exchange_rate": config.exchange_rate,
        "optimal_rate_here": train / (inferences * infer),
        "cost": compute_cost(lifetime, **cost_args),
        "cost_train": compute_cost(train, **cost_args),
        "cost_inference": compute_cost(inferences * infer, **cost_args),
    }


def _runner_up(ranked: list[Config], choice: Config) -> Config | None:
    for config in ranked[1:]:
        if config.technique != choice.technique:
            return config
    for config in ranked[1:]:
        if (
            abs(config.log10_train - choice.log10_train) > DISTINCT_OOM
            or abs(config.log10_infer - choice.log10_infer) > DISTINCT_OOM
        ):
            return config
    return None


def break_even(choice: Config, other: Config) -> float | None:
    """N where T1 + N I1 = T2 + N I2, when positive and finite."""
    t1, i1 = 10.0**choice.log10_train, 10.0**choice.log10_infer
    t2, i2 = 10.0**other.log10_train, 10.0**other.log10_infer
    if i1 == i2:
        return None
    n = (t2 - t1) / (i1 - i2)
    return n if math.isfinite(n) and n > 0 else None


def _candidates(groups: dict[str, list[Point]], target: float, inferences: float, notes: list[str]):
    configs = [
        Config(p.technique, math.log10(p.train_flops), math.log10(p.infer_flops), p.performance, "measured",
               model=p.model, budget=p.budget or None)
        for group in groups.values()
        for p in group
        if p.performance >= target
    ]
    techniques = {}
    for name, group in groups.items():
        optimum = interpolated_optimum(technique_data(name, group), target, inferences)
        techniques[name] = {"frontier_curve": optimum is not None}
        if optimum is None:
            notes.append(f"technique {name!r}: no frontier curve at {target:g} (fewer than two "
                         "configurations reach it, or one of them dominates the rest); only its measured points "
                         "are considered")
        else:
            configs.append(optimum)
    return configs, techniques


def plan(
    points: list[Point],
    inferences: float,
    target: float,
    hardware: str | None = None,
    flop_price: float | None = None,
    water_l_per_kwh: float = DEFAULT_WATER_L_PER_KWH,
    utilization: float = DEFAULT_UTILIZATION,
    hardware_file: str | None = None,
    overrides: dict[str, float | None] | None = None,
) -> dict:
    """The cheapest configuration reaching ``target`` over ``inferences`` uses (module docstring).

    ``flop_price``: US dollars per 1e18 FLOP (overrides the device's $/hour).
    ``overrides``: ``peak_flops``, ``watts``, ``usd_per_hour`` replacing the device's.
    """
    validate_points(points)
    inferences = check_positive(inferences, "inferences")
    target = check_target(target)
    utilization = check_fraction(utilization, "utilization")
    if not (math.isfinite(water_l_per_kwh) and water_l_per_kwh >= 0):
        raise InputError(f"water_l_per_kwh must be >= 0, got {water_l_per_kwh!r}")
    if flop_price is not None and not (math.isfinite(flop_price) and flop_price >= 0):
        raise InputError(f"flop_price must be >= 0 (USD per 1e18 FLOP), got {flop_price!r}")
    table = load_hardware_table(hardware_file)
    device = get_device(hardware, table) if hardware else None
    device = with_overrides(device, **(overrides or {}))

    notes: list[str] = []
    configs, techniques = _candidates(by_technique(points), target, inferences, notes)
    if not configs:
        best = max(points, key=lambda p: p.performance)
        raise InputError(
            f"target {target:g}: no measured or interpolated configuration reaches it "
            f"(best measured: {best.performance:g} by technique {best.technique!r}, model {best.model!r})"
        )
    # Ties go to measured points: they need no model of the surface.
    ranked = sorted(configs, key=lambda c: (c.lifetime(inferences), c.source != "measured"))
    choice = ranked[0]
    runner = _runner_up(ranked, choice)
    cost_args = {"device": device, "utilization": utilization, "water_l_per_kwh": water_l_per_kwh,
                 "flop_price": flop_price}
    n_star = break_even(choice, runner) if runner is not None else None
    return {
        "schema_version": SCHEMA_VERSION,
        "inferences": inferences,
        "target": target,
        "choice": _config_dict(choice, inferences, cost_args),
        "runner_up": None if runner is None else _config_dict(runner, inferences, cost_args),
        "break_even_inferences": n_star,
        "break_even_note": _break_even_note(choice, runner, n_star, inferences),
        "hardware": None if device is None else device.to_dict(),
        "utilization": utilization,
        "water_l_per_kwh": water_l_per_kwh,
        "flop_price_usd_per_1e18_flop": flop_price,
        "candidates": {
            "measured": sum(c.source == "measured" for c in configs),
            "interpolated": sum(c.source == "interpolated" for c in configs),
        },
        "techniques": techniques,
        "notes": notes,
    }


def _break_even_note(choice: Config, runner: Config | None, n_star: float | None, inferences: float) -> str:
    if runner is None:
        return "no runner-up: a single configuration reaches the target"
    if n_star is None:
        return "the choice is cheaper than the runner-up at every number of inferences"
    side = "below" if n_star < inferences else "above"
    return f"the runner-up is cheaper {side} {n_star:.3g} inferences"
