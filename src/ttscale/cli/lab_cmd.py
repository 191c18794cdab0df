"""``ttscale lab``: the main job."""

from __future__ import annotations

from pathlib import Path

import typer
from rich.console import Console

from ttscale.cards.model_files import default_cache_dir
from ttscale.cli.app import app
from ttscale.errors import InputError


@app.command()
def lab(
    preset: str = typer.Option("default", help="smoke (< 1 min), default (<= 15 min on 2 cores) or full (larger)."),
    out: Path = typer.Option(Path("lab-report"), help="Report directory (HTML, PNG, tradeoff.json, store.sqlite)."),
    seed: int = typer.Option(0, help="Seed for training, problems and sampling."),
    threads: int = typer.Option(0, help="Torch threads for sampling and search (0: the cores not busy with other "
                                        "processes, at least 1; the choice is in tradeoff.json's lab section)."),
    cache_dir: Path = typer.Option(None, help="Checkpoint cache (default $TTSCALE_CACHE or ~/.cache/ttscale)."),
    json_out: str = typer.Option(None, "--json", help="Also write tradeoff.json here ('-' for stdout)."),
    executor: str = typer.Option("local", "--executor", help="Where sampling's backend calls run: local or ray (Ray "
                                 "workers holding the trained rungs; the ladder trains here). Needs ttscale[ray]."),
    ray_address: str = typer.Option(None, "--ray-address", help="A running Ray cluster to join: auto, or HOST:PORT "
                                    "(default: start a local one for the run)."),
    max_inflight: int = typer.Option(8, "--max-inflight", help="With --executor ray: units of work submitted and "
                                     "not yet stored."),
    quiet: bool = typer.Option(False, help="No progress bars, no native library log lines."),
    verbose: bool = typer.Option(False, help="Show every log line, native libraries' (llama.cpp) included."),
) -> None:
    """Train a ladder of tiny models, sample pools, map the training-inference tradeoff, write a report."""
    from ttscale.errors import require_extra

    require_extra("torch", "lab")
    from ttscale.lab.ladder import get_preset
    from ttscale.lab.pipeline import run_lab
    from ttscale.logs import configure, verbosity_of
    from ttscale.report.json_out import (
        check_folder_target,
        check_json_target,
        write_json,
    )
    from ttscale.report.lab_report import summary_line

    configure(verbosity_of(quiet, verbose))
    chosen = get_preset(preset)
    if seed < 0:
        raise InputError(f"--seed must be >= 0, got {seed}")
    if threads < 0:
        raise InputError(f"--threads must be >= 0, got {threads}")
    check_folder_target(out, "--out")
    if cache_dir is not None:
        check_folder_target(cache_dir, "--cache-dir")
    if json_out:
        check_json_target(json_out)
    from ttscale.pipeline.executor_choice import executor_named

    chosen_executor = executor_named(executor, ray_address, max_inflight, threads or 1)
    console = Console(stderr=True)
    try:
        outcome = run_lab(
            chosen,
            out_dir=out,
            seed=seed,
            cache_dir=cache_dir or default_cache_dir(),
            threads=threads or None,
            console=console,
            show_progress=not quiet,
            executor=chosen_executor,
        )
    finally:
        chosen_executor.close()
    if json_out:
        write_json(outcome.result, json_out)
    console.print(summary_line(outcome))
    if not quiet:
        console.print(f"threads: {outcome.threads.describe()}")

