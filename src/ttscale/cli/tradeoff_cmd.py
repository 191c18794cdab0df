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
from rich import box
from rich.console import Console
from rich.table import Table
from rich.text import Text

from ttscale.cli.app import app
from ttscale.errors import InputError
from ttscale.hardware import (
    DEFAULT_UTILIZATION,
    DEFAULT_WATER_L_PER_KWH,
    check_fraction,
)
from ttscale.planner import check_positive, check_target, plan
from ttscale.report.json_out import check_folder_target, check_json_target, write_json
from ttscale.report.summary import technique_rows
from ttscale.tradeoff import analyse
from ttscale.tradeoff.costs import check_cost
from ttscale.tradeoff.levels import check_ratio, parse_levels
from ttscale.tradeoff.points import read_points_file
from ttscale.tradeoff.smoother import check_smoother_name


def _console(json_target: str | None) -> Console:
    return Console(stderr=json_target == "-")


def _fmt(value: float | None, digits: str = ".2f") -> str:
    return "—" if value is None else format(value, digits)


# What the table's words mean, in one line each (an 80-column terminal reads them without scrolling).
LEGEND = (
    ("rate: exchange rate, OOM of inference compute (IC) paid per OOM of training compute (TC) saved, "
     "|d log IC / d log TC| along the iso-performance curve (its median; 'none: reason' where the data do not "
     "measure one)"),
    "OOM: orders of magnitude (factors of 10), here of {units}",
    "span: the part of the curve where 1/{ratio:g} <= rate <= {ratio:g}; [a, b]: its interval",
    "effect of scale: how the span changes from the lowest level to the highest (higher levels need more compute)",
)


def levels_line(result: dict) -> str:
    """The levels the analysis used and how they were chosen, in words."""
    levels = ", ".join(f"{level:g}" for level in result["levels"]) or "none"
    how = result.get("levels_words") or result.get("levels_chosen", "")
    return f"levels {levels}: {how}"


def summary_table(result: dict) -> Table:
    """One row per technique at the level of its widest span (report/summary.py); notes go below the table
    (``summary_notes``) so the columns stay readable at 80 columns."""
    ratio = result["ratio"]
    table = Table(title=f"span of efficient exchange (rate between 1/{ratio:g} and {ratio:g})", box=box.SIMPLE_HEAD,
                  pad_edge=False)
    table.add_column("technique", ratio=3, min_width=12)
    table.add_column("level", no_wrap=True)
    table.add_column("span TC\n(OOM)", no_wrap=True)
    table.add_column("span IC\n(OOM)", no_wrap=True)
    table.add_column("rate", ratio=4, min_width=16)

    def span(value: float, ci) -> str:
        return f"{value:.2f}" + ("" if not ci else f"\n[{ci[0]:.2f}, {ci[1]:.2f}]")

    for row in technique_rows(result):
        cells = (row["technique"], row["level"], span(row["span_tc"], row["span_tc_ci"]),
                 span(row["span_ic"], row["span_ic_ci"]), row["rate"])
        table.add_row(*(Text(cell) for cell in cells))  # Text: names and reasons are never read as markup
    return table


def summary_notes(result: dict) -> list[str]:
    """The per-technique notes, the legend and how the intervals were made, one line each."""
    lines = [f"note: {row['technique']}: {row['note']}" for row in technique_rows(result) if row["note"]]
    units = {"flops": "FLOPs", "bytes": "FLOPs for TC and weight bytes read for IC",
             "seconds": "FLOPs for TC and measured seconds for IC"}[result.get("cost", "flops")]
    lines += [line.format(ratio=result["ratio"], units=units) for line in LEGEND]
    lines.append(f"intervals: {result['uncertainty']['words']}")
    return lines


def write_outputs(result: dict, points, out: Path) -> list[Path]:
    """tradeoff.json and the two figures into ``out``, all or nothing."""
    from ttscale.report.tradeoff_plots import plot_exchange_rate, plot_iso_diagram

    out.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".{out.name}.", dir=out.parent))
    try:
        write_json(result, staging / "tradeoff.json", "--out")
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
    points_csv: Path = typer.Argument(..., help="Points CSV: technique, model, train_flops, infer_flops, performance[, ci_low, ci_high, levels]."),
    levels: str = typer.Option(None, help="Performance levels, e.g. 0.5,0.8 (default: the points file's 'levels' column, else chosen from the data)."),
    ratio: float = typer.Option(6.0, help="Efficient span: where the exchange rate lies in [1/ratio, ratio]; > 1."),
    extrapolate: bool = typer.Option(False, help="Also report the span a parametric smoother implies beyond the data's edge (marked as extrapolated; only a smoother that agrees with the frontier is used)."),
    smoother: str = typer.Option(None, help="Read rates off a parametric surface (logistic or power-law) instead of the frontier's curve, where it passes through the frontier."),
    out: Path = typer.Option(None, help="Write tradeoff.json, iso_performance.png, exchange_rate.png here."),
    json_out: str = typer.Option(None, "--json", help="Write the JSON here ('-' for stdout)."),
    n_boot: int = typer.Option(200, help="Bootstrap replicates for the intervals (0: none)."),
    seed: int = typer.Option(0, help="Seed of the bootstrap."),
    cost: str = typer.Option("flops", help="What inference compute counts: flops, bytes (weight bytes read, one "
                             "sequence at a time: what quantization saves) or seconds (measured); the points "
                             "file's infer_flops, infer_bytes or infer_seconds column."),
) -> None:
    """Iso-performance frontiers, exchange rates and the span of efficient exchange of every technique.

    Per level, the least compute at which each model's budgets reach it, dominated points dropped, a smooth
    monotone curve through what is left. A rate is printed only where the data measure one. Points written by
    `ttscale lab` or `ttscale sweep` carry the levels they were analysed at (their 'levels' column): they are
    re-analysed at those levels unless --levels is given.
    """
    parsed_levels = parse_levels(levels, "--levels") if levels is not None else None
    check_ratio(ratio, "--ratio")
    if smoother is not None:
        check_smoother_name(smoother, "--smoother")
    if n_boot < 0:
        raise InputError(f"--n-boot must be >= 0, got {n_boot}")
    if seed < 0:
        raise InputError(f"--seed must be >= 0 (it seeds the bootstrap), got {seed}")
    if out is not None:
        check_folder_target(out, "--out")
    if json_out:
        check_json_target(json_out)
    check_cost(cost)
    loaded = read_points_file(points_csv, "POINTS_CSV", cost=cost)
    if parsed_levels is not None:
        chosen, origin = parsed_levels, "given"
    else:
        chosen, origin = (list(loaded.levels) if loaded.levels is not None else None), "points file"
    result = analyse(loaded.points, chosen, ratio=ratio, extrapolate=extrapolate, n_boot=n_boot, seed=seed,
                     smoother=smoother, levels_from=origin, cost=cost)
    console = _console(json_out)
    for technique, count in sorted(loaded.uncounted.items()):
        console.print(f"--cost {cost}: {count} point(s) of {technique!r} left out (their {cost} were not counted)",
                      highlight=False, markup=False)
    if out is not None:
        written = write_outputs(result, loaded.points, out)
        console.print(f"wrote {', '.join(str(p) for p in written)}")
    if json_out:
        write_json(result, json_out)
    console.print(levels_line(result), highlight=False, markup=False)
    console.print(summary_table(result))
    for line in summary_notes(result):
        console.print(line, highlight=False, markup=False)


COST_ROWS = (("hours", "hours"), ("kWh", "kwh"), ("cooling water (L)", "water_l"), ("USD", "usd"))


def _plan_columns(result: dict) -> list[tuple[str, dict]]:
    """(header, configuration): the choice and the runner-up, each interpolated one followed (next column) by
    the nearest measured configuration of its technique, which is what one would deploy."""
    columns = []
    for label, config in (("choice", result["choice"]), ("runner-up", result["runner_up"])):
        if config is None:
            continue
        columns.append((label, config))
        if config.get("nearest_measured"):
            columns.append(("nearest measured", config["nearest_measured"]))
    return columns


def _breakable(text: str) -> str:
    # Spaces after the separators of joined names and settings, so a narrow column wraps between them.
    return text.replace("+", " + ").replace(",", ", ")


def _model_text(config: dict) -> str:
    if config["model"]:
        return _breakable(config["model"])
    return "none: between measured models" if config["source"] == "interpolated" else "—"


def _performance_text(config: dict) -> str:
    return f"{config['performance']:.3f}" + ("" if config.get("reaches_target", True) else " (below target)")


def plan_table(result: dict) -> Table:
    """One row per quantity, one column per configuration; values wrap, so it reads at 80 columns. A cost
    that needs a device says so (the reason, with the option that supplies it, is a note below)."""
    table = Table(title=f"cheapest for {result['inferences']:.3g} inferences at performance >= {result['target']:g}",
                  box=box.SIMPLE_HEAD, pad_edge=False)
    configs = _plan_columns(result)
    table.add_column("", min_width=10, ratio=2)
    for label, _ in configs:
        table.add_column(label, overflow="fold", ratio=3)
    missing = result.get("cost_missing", {})
    # In bytes or seconds the planner adds up device time, written as the FLOPs the device sustains in it.
    unit = "FLOPs" if result.get("cost", "flops") == "flops" else f"device-FLOP equivalents of {result['cost']}"
    rows = [
        ("technique", lambda c: c["technique"]),
        ("model", _model_text),
        ("budget", lambda c: _breakable(c["budget"]) if c["budget"] else "—"),
        ("source", lambda c: c["source"]),
        ("TC (FLOPs)", lambda c: f"{c['train_flops']:.3g}"),
        (f"IC per inference ({unit})", lambda c: f"{c['infer_flops']:.3g}"),
        (f"lifetime ({unit})", lambda c: f"{c['lifetime_flops']:.3g}"),
        ("training share", lambda c: f"{c['train_share']:.0%}"),
        ("performance", _performance_text),
    ]
    for name, key in COST_ROWS:
        rows.append((name, lambda c, key=key: "— see note" if key in missing else _fmt(c["cost"][key], ".3g")))
    for name, get in rows:
        table.add_row(name, *(Text(get(c)) for _, c in configs))
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
    memory_bytes_per_second: float = typer.Option(None, help="Override the device's memory bandwidth (bytes/s), "
                                                  "what --cost bytes divides by."),
    cost: str = typer.Option("flops", help="What inference counts: flops, bytes (weight bytes read, at the device's "
                             "memory bandwidth) or seconds (measured); bytes and seconds need --hardware."),
    utilization: float = typer.Option(DEFAULT_UTILIZATION, help="Fraction of peak FLOP/s actually sustained, in (0, 1]."),
    water_l_per_kwh: float = typer.Option(DEFAULT_WATER_L_PER_KWH, help="Litres of cooling water per kWh."),
    json_out: str = typer.Option(None, "--json", help="Write the JSON here ('-' for stdout)."),
) -> None:
    """The configuration with the lowest lifetime cost TC + N*IC that reaches the target.

    Oracle rows (pass@k: any of k samples correct, which needs the grader) are never candidates. An interpolated
    optimum is shown with the nearest measured configuration of its technique, and that one's own cost.
    """
    check_positive(inferences, "--inferences")
    check_target(target, "--target")
    check_fraction(utilization, "--utilization")
    if flop_price is not None and not flop_price >= 0:
        raise InputError(f"--flop-price must be >= 0 (USD per 1e18 FLOP), got {flop_price}")
    if not water_l_per_kwh >= 0:
        raise InputError(f"--water-l-per-kwh must be >= 0, got {water_l_per_kwh}")
    if hardware_file is not None and not hardware_file.is_file():
        what = "is a directory, not a device table" if hardware_file.is_dir() else "does not exist"
        raise InputError(f"--hardware-file: {str(hardware_file)!r} {what}")
    if json_out:
        check_json_target(json_out)
    check_cost(cost)
    loaded = read_points_file(points, "--points", cost=cost)
    result = plan(
        loaded.points, inferences, target, hardware=hardware, flop_price=flop_price, water_l_per_kwh=water_l_per_kwh,
        utilization=utilization, hardware_file=str(hardware_file) if hardware_file else None,
        overrides={"peak_flops": peak_flops, "watts": watts, "usd_per_hour": usd_per_hour,
                   "memory_bytes_per_second": memory_bytes_per_second},
        strategies=loaded.strategies, cost=cost,
    )
    console = _console(json_out)
    if json_out:
        write_json(result, json_out)
    console.print(plan_table(result))
    break_even = result["break_even_inferences"]
    at = "none" if break_even is None else f"{break_even:.3g} inferences"
    console.print(f"break-even: {at} ({result['break_even_note']})", highlight=False, markup=False)
    for note in result["notes"]:
        console.print(f"note: {note}", highlight=False, markup=False)
