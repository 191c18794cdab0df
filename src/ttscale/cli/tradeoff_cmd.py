"""``ttscale tradeoff`` and ``ttscale plan``: the engine and the planner on a points CSV.

Nothing is written half-way: the analysis and every figure are computed
first, into a temporary folder beside ``--out``, and only then moved into
place; ``--json`` files are written atomically (report/json_out.py). With
``--json -`` the JSON goes to stdout and the human summary to stderr, so
stdout parses.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from pathlib import Path

import typer
from rich.console import Console
from rich.table import Table

from ttscale.cli.app import app
from ttscale.hardware import DEFAULT_UTILIZATION, DEFAULT_WATER_L_PER_KWH, check_fraction
from ttscale.planner import check_positive, check_target, plan
from ttscale.report.json_out import write_json
from ttscale.tradeoff import analyse, load_points_csv
from ttscale.report.summary import WORDS, technique_rows
from ttscale.tradeoff.levels import check_ratio, parse_levels
from ttscale.tradeoff.smoother import check_smoother_name


def _console(json_target: str | None) -> Console:
    return Console(stderr=json_target == "-")


def _fmt(value: float | None, digits: str = ".2f") -> str:
    return "—" if value is None else format(value, digits)


def summary_table(result: dict) -> Table:
    """One row per technique at the level of its widest span (report/summary.py), with the words to read it."""
    ratio = result["ratio"]
    levels = ", ".join(f"{level:g}" for level in result["levels"])
    table = Table(
        title=f"span of efficient exchange (rate between 1/{ratio:g} and {ratio:g}); levels {levels} "
              f"({result['levels_chosen']})",
        caption=f"{WORDS['rate']}. {WORDS['span']}. Intervals: {result['uncertainty']['words']}.",
        caption_justify="left",
    )
    for column in ("technique", "level", "span TC (OOM)", "span IC (OOM)", "exchange rate", "note"):
        table.add_column(column, overflow="fold")
    for row in technique_rows(result):
        span = lambda value, ci: f"{value:.2f}" + ("" if not ci else f"\n[{ci[0]:.2f}, {ci[1]:.2f}]")  # noqa: E731
        table.add_row(row["technique"], row["level"], span(row["span_tc"], row["span_tc_ci"]),
                      span(row["span_ic"], row["span_ic_ci"]), row["rate"], row["note"])
    return table


def write_outputs(result: dict, points, out: Path) -> list[Path]:
    """tradeoff.json and the two figures into ``out``, all or nothing."""
    from ttscale.report.tradeoff_plots import plot_exchange_rate, plot_iso_diagram

    out.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".{out.name}.", dir=out.parent))
    try:
        write_json(result, staging / "tradeoff.json")
        plot_iso_diagram(result, points, staging / "iso_performance.png")
        plot_exchange_rate(result, staging / "exchange_rate.png")
        out.mkdir(parents=True, exist_ok=True)
        written = []
        for item in sorted(staging.iterdir()):
            os.replace(item, out / item.name)
            written.append(out / item.name)
        return written
    finally:
        shutil.rmtree(staging, ignore_errors=True)


@app.command()
def tradeoff(
    points_csv: Path = typer.Argument(..., help="Points CSV: technique, model, train_flops, infer_flops, performance[, ci_low, ci_high]."),
    levels: str = typer.Option(None, help="Performance levels, e.g. 0.5,0.8 (default: chosen from the data)."),
    ratio: float = typer.Option(6.0, help="Efficient span: where the exchange rate lies in [1/ratio, ratio]; > 1."),
    extrapolate: bool = typer.Option(False, help="Also report the span a parametric smoother implies beyond the data's edge (marked as extrapolated; only a smoother that agrees with the frontier is used)."),
    smoother: str = typer.Option(None, help="Read rates off a parametric surface (logistic or power-law) instead of the frontier's curve, where it passes through the frontier."),
    out: Path = typer.Option(None, help="Write tradeoff.json, iso_performance.png, exchange_rate.png here."),
    json_out: str = typer.Option(None, "--json", help="Write the JSON here ('-' for stdout)."),
    n_boot: int = typer.Option(200, help="Bootstrap replicates for the intervals (0: none)."),
    seed: int = typer.Option(0, help="Seed of the bootstrap."),
) -> None:
    """Iso-performance frontiers, exchange rates and the span of efficient exchange of every technique.

    Per level, the least compute at which each model's budgets reach it, dominated points dropped, a smooth
    monotone curve through what is left. A rate is printed only where the data measure one.
    """
    from ttscale.errors import InputError

    parsed_levels = parse_levels(levels, "--levels") if levels is not None else None
    check_ratio(ratio, "--ratio")
    if smoother is not None:
        check_smoother_name(smoother, "--smoother")
    if n_boot < 0:
        raise InputError(f"--n-boot must be >= 0, got {n_boot}")
    points = load_points_csv(points_csv)
    result = analyse(points, parsed_levels, ratio=ratio, extrapolate=extrapolate, n_boot=n_boot, seed=seed,
                     smoother=smoother)
    console = _console(json_out)
    if out is not None:
        written = write_outputs(result, points, out)
        console.print(f"wrote {', '.join(str(p) for p in written)}")
    if json_out:
        write_json(result, json_out)
    console.print(summary_table(result))


def plan_table(result: dict) -> Table:
    """One row per quantity, one column per configuration (fits an 80-column terminal)."""
    table = Table(title=f"cheapest for {result['inferences']:.3g} inferences at performance >= {result['target']:g}")
    configs = [(label, c) for label, c in (("choice", result["choice"]), ("runner-up", result["runner_up"])) if c]
    table.add_column("")
    for label, _ in configs:
        table.add_column(label)
    rows = [
        ("technique", lambda c: c["technique"]),
        ("model", lambda c: c["model"] or "—"),
        ("source", lambda c: c["source"]),
        ("TC (FLOPs)", lambda c: f"{c['train_flops']:.3g}"),
        ("IC per inference (FLOPs)", lambda c: f"{c['infer_flops']:.3g}"),
        ("lifetime (FLOPs)", lambda c: f"{c['lifetime_flops']:.3g}"),
        ("training share", lambda c: f"{c['train_share']:.0%}"),
        ("performance", lambda c: f"{c['performance']:.3f}"),
        ("hours", lambda c: _fmt(c["cost"]["hours"], ".3g")),
        ("kWh", lambda c: _fmt(c["cost"]["kwh"], ".3g")),
        ("cooling water (L)", lambda c: _fmt(c["cost"]["water_l"], ".3g")),
        ("USD", lambda c: _fmt(c["cost"]["usd"], ".3g")),
    ]
    for name, get in rows:
        table.add_row(name, *(get(c) for _, c in configs))
    return table


@app.command("plan")
def plan_cmd(
    points: Path = typer.Option(..., "--points", help="Points CSV (as for `ttscale tradeoff`)."),
    inferences: float = typer.Option(..., help="Lifetime number of inferences N (problems answered); > 0."),
    target: float = typer.Option(..., help="Required performance P, a fraction in (0, 1]."),
    flop_price: float = typer.Option(None, help="US dollars per 1e18 FLOP (an exaFLOP); overrides the device's $/hour."),
    hardware: str = typer.Option(None, help="Device for hours/kWh/water/dollars: cpu, a100, h100, h200, or one from --hardware-file."),
    hardware_file: Path = typer.Option(None, help="JSON/YAML table of devices: name -> {peak_flops, watts, usd_per_hour}."),
    peak_flops: float = typer.Option(None, help="Override the device's peak FLOP/s."),
    watts: float = typer.Option(None, help="Override the device's power draw (W)."),
    usd_per_hour: float = typer.Option(None, help="Override the device's price (USD per hour)."),
    utilization: float = typer.Option(DEFAULT_UTILIZATION, help="Fraction of peak FLOP/s actually sustained, in (0, 1]."),
    water_l_per_kwh: float = typer.Option(DEFAULT_WATER_L_PER_KWH, help="Litres of cooling water per kWh."),
    json_out: str = typer.Option(None, "--json", help="Write the JSON here ('-' for stdout)."),
) -> None:
    """The configuration with the lowest lifetime cost TC + N*IC that reaches the target."""
    from ttscale.errors import InputError

    check_positive(inferences, "--inferences")
    check_target(target, "--target")
    check_fraction(utilization, "--utilization")
    if flop_price is not None and not flop_price >= 0:
        raise InputError(f"--flop-price must be >= 0 (USD per 1e18 FLOP), got {flop_price}")
    if not water_l_per_kwh >= 0:
        raise InputError(f"--water-l-per-kwh must be >= 0, got {water_l_per_kwh}")
    loaded = load_points_csv(points)
    result = plan(
        loaded, inferences, target, hardware=hardware, flop_price=flop_price, water_l_per_kwh=water_l_per_kwh,
        utilization=utilization, hardware_file=str(hardware_file) if hardware_file else None,
        overrides={"peak_flops": peak_flops, "watts": watts, "usd_per_hour": usd_per_hour},
    )
    console = _console(json_out)
    if json_out:
        write_json(result, json_out)
    console.print(plan_table(result))
    break_even = result["break_even_inferences"]
    console.print(f"break-even: {_fmt(break_even, '.3g')} inferences ({result['break_even_note']})")
    for note in result["notes"]:
        console.print(f"note: {note}")
