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

Oracle rows are never candidates: a strategy that picks its answer with the
grader (``pass``: solved if any of k samples is correct) is an upper bound that
no deployment can run. A row is one when its ``strategy`` is such a strategy,
or, in a CSV without that column, when its technique's name says "(oracle)" (as
the sweep names pass@k). The plan says how many rows it left out.

An interpolated optimum lies between measured configurations; the plan also
names the nearest measured one of the same technique (in log TC x log IC,
preferring those that reach the target), with its own lifetime cost, so the
choice can be deployed.

The runner-up is the best candidate of another technique (else the next
distinct configuration); the break-even number of inferences between choice
(T1, I1) and runner-up (T2, I2) solves T1 + N I1 = T2 + N I2:
N* = (T2 - T1) / (I1 - I2), reported when it is positive and finite, else
null (one of them is cheaper at every N). Costs in hours, kWh, litres and
dollars come from hardware.py; each one that cannot be computed (no device, or
a device without the field it needs) is null, with the reason and the option
that supplies it in ``cost_missing`` and in a note.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

import numpy as np

from ttscale.errors import InputError
from ttscale.hardware import (DEFAULT_UTILIZATION, DEFAULT_WATER_L_PER_KWH, Device, check_fraction, compute_cost,
                              get_device, load_hardware_table, with_overrides)
from ttscale.tradeoff.costs import check_cost
from ttscale.tradeoff.frontier_curve import frontier_curve
from ttscale.tradeoff.points import by_technique, validate_points
from ttscale.tradeoff.technique import TechniqueData, technique_data
from ttscale.types import Point

SCHEMA_VERSION = 2
DISTINCT_OOM = 1e-6

# Strategies that pick the answer with the grader (the reference answer): upper bounds no deployment can run
# (strategies/uniform.py, "pass").
ORACLE_STRATEGIES = frozenset({"pass"})
# How an oracle technique is named where no strategy column says so ("pass@k (oracle)" in a sweep).
ORACLE_MARK = "(oracle)"
COST_QUANTITIES = ("hours", "kwh", "water_l", "usd")


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
    nearest_measured: Config | None = None  # for an interpolated optimum: the closest measured configuration
    reaches_target: bool = True  # False only for a nearest measured configuration below the target

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


def is_oracle(point: Point, strategy: str | None) -> bool:
    """Whether a row is an oracle bound (module docstring): by its strategy, else by its technique's name."""
    if strategy is not None:
        return strategy.split(":", 1)[0].strip() in ORACLE_STRATEGIES
    return ORACLE_MARK in point.technique


def _measured(point: Point, target: float) -> Config:
    return Config(point.technique, math.log10(point.train_flops), math.log10(point.infer_flops), point.performance,
                  "measured", model=point.model, budget=point.budget or None,
                  reaches_target=point.performance >= target)


def nearest_measured(optimum: Config, group: Sequence[Point], target: float) -> Config:
    """The technique's measured configuration closest to ``optimum`` in log TC x log IC, among those that reach
    ``target`` when there are any."""
    reaching = [p for p in group if p.performance >= target]

    def distance(point: Point) -> float:
        return math.hypot(math.log10(point.train_flops) - optimum.log10_train,
                          math.log10(point.infer_flops) - optimum.log10_infer)

    return _measured(min(reaching or group, key=distance), target)


def cost_missing(device: Device | None, flop_price: float | None, device_names: Iterable[str]) -> dict[str, str]:
    """Why each of hours, kWh, water and USD cannot be computed (quantity -> reason naming the option)."""
    choose = f"give --hardware {'|'.join(device_names)} or --peak-flops/--watts/--usd-per-hour"
    missing: dict[str, str] = {}
    if device is None:
        for quantity in ("hours", "kwh", "water_l"):
            missing[quantity] = f"needs a device: {choose}"
    elif device.peak_flops is None:
        for quantity in ("hours", "kwh", "water_l"):
            missing[quantity] = f"device {device.name!r} has no peak FLOP/s: give --peak-flops"
    elif device.watts is None:
        for quantity in ("kwh", "water_l"):
            missing[quantity] = f"device {device.name!r} has no power draw: give --watts"
    if flop_price is None:
        if device is None:
            missing["usd"] = f"needs a device or a price: {choose}, or --flop-price"
        elif device.peak_flops is None or device.usd_per_hour is None:
            missing["usd"] = f"device {device.name!r} has no price: give --usd-per-hour or --flop-price"
    return missing


def _cost_note(missing: dict[str, str]) -> str | None:
    if not missing:
        return None
    words = {"hours": "hours", "kwh": "kWh", "water_l": "water", "usd": "USD"}
    by_reason: dict[str, list[str]] = {}
    for quantity, reason in missing.items():
        by_reason.setdefault(reason, []).append(words[quantity])
    return "; ".join(f"{', '.join(names)} not computed: {reason}" for reason, names in by_reason.items())


def _config_dict(config: Config, inferences: float, cost_args: dict) -> dict:
    train, infer = 10.0**config.log10_train, 10.0**config.log10_infer
    lifetime = train + inferences * infer
    nearest = config.nearest_measured
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
        "reaches_target": config.reaches_target,
        "nearest_measured": None if nearest is None else _config_dict(nearest, inferences, cost_args),
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
    configs = [_measured(p, target) for group in groups.values() for p in group if p.performance >= target]
    techniques, without_curve = {}, []
    for name, group in groups.items():
        optimum = interpolated_optimum(technique_data(name, group), target, inferences)
        techniques[name] = {"frontier_curve": optimum is not None}
        if optimum is None:
            without_curve.append(name)
        else:
            configs.append(dataclasses.replace(optimum, nearest_measured=nearest_measured(optimum, group, target)))
    if without_curve:
        notes.append(f"{len(without_curve)} of {len(groups)} technique(s) have no frontier curve at {target:g} "
                     "(fewer than two configurations reach it, or one of them dominates the rest), so only their "
                     f"measured points are candidates: {', '.join(map(repr, without_curve))}")
    return configs, techniques


def _deployable(points: list[Point], strategies: Sequence[str | None] | None, notes: list[str]) -> list[Point]:
    if strategies is None:
        strategies = [None] * len(points)
    if len(strategies) != len(points):
        raise InputError(f"strategies has {len(strategies)} entries for {len(points)} points")
    oracle = [p for p, s in zip(points, strategies) if is_oracle(p, s)]
    if not oracle:
        return points
    names = ", ".join(map(repr, dict.fromkeys(p.technique for p in oracle)))
    if len(oracle) == len(points):
        raise InputError(f"no deployable points: all {len(points)} rows are oracle bounds ({names}), which pick the "
                         "answer with the grader")
    notes.append(f"{len(oracle)} oracle row(s) left out ({names}): they pick the answer with the grader, an upper "
                 "bound no deployment can reach")
    return [p for p, s in zip(points, strategies) if not is_oracle(p, s)]


COST_NOTES = {
    "bytes": "IC counted in weight bytes: each inference's bytes read at the device's memory bandwidth, written "
             "as the FLOPs the device would sustain in that time (peak x utilization), so that training and "
             "inference add up in device time; infer_flops and lifetime_flops are such equivalents",
    "seconds": "IC counted in measured seconds (on the machine that drew the samples), written as the FLOPs the "
               "device would sustain in that time (peak x utilization); infer_flops and lifetime_flops are such "
               "equivalents, valid for the device the seconds were measured on",
}


def in_device_flops(points: Sequence[Point], cost: str, device: Device | None, utilization: float) -> list[Point]:
    """Points whose IC (in bytes or seconds) is turned into device-FLOP equivalents: the seconds the device
    spends (bytes / memory bandwidth, or the measured seconds) times the FLOP/s it sustains, so that
    TC + N x IC is device time x sustained FLOP/s and the hours, kWh and dollars follow as for FLOPs."""
    if device is None or device.peak_flops is None:
        raise InputError(f"--cost {cost}: needs --hardware (or --peak-flops) to put training FLOPs and inference "
                         f"{cost} in one unit, device time")
    if cost == "bytes" and device.memory_bytes_per_second is None:
        raise InputError(f"--cost bytes: device {device.name!r} has no memory bandwidth: give "
                         "--memory-bytes-per-second")
    sustained = device.peak_flops * utilization
    per_unit = sustained / device.memory_bytes_per_second if cost == "bytes" else sustained
    return [dataclasses.replace(p, infer_flops=p.infer_flops * per_unit) for p in points]


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
    strategies: Sequence[str | None] | None = None,
    cost: str = "flops",
) -> dict:
    """The cheapest configuration reaching ``target`` over ``inferences`` uses (module docstring).

    ``cost``: what the points' IC counts (tradeoff/costs.py). For bytes or seconds the device puts both
    sides in one unit (``in_device_flops``), so a device is required.
    ``flop_price``: US dollars per 1e18 FLOP (overrides the device's $/hour).
    ``overrides``: ``peak_flops``, ``watts``, ``usd_per_hour`` replacing the device's.
    ``strategies``: each point's strategy (the points CSV's ``strategy`` column), to leave oracle rows out.
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
    cost = check_cost(cost, "cost")

    notes: list[str] = []
    if cost != "flops":
        points = in_device_flops(points, cost, device, utilization)
        notes.append(COST_NOTES[cost])
    points = _deployable(points, strategies, notes)
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
    missing = cost_missing(device, flop_price, table)
    cost_note = _cost_note(missing)
    if cost_note:
        notes.append(cost_note)
    return {
        "schema_version": SCHEMA_VERSION,
        "cost": cost,
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
        "cost_missing": missing,
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
