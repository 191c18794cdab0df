"""``ttscale sweep``: sample real models on a task, then report their curves and the tradeoff."""

from __future__ import annotations

from pathlib import Path
from typing import List, Optional

import typer
from rich.console import Console
from rich.table import Table

from ttscale.backends.chat_posing import parse_style
from ttscale.cli.app import app
from ttscale.cli.exit_codes import PARTIAL_RUN
from ttscale.errors import InputError
from ttscale.logs import configure, verbosity_of
from ttscale.types import SamplingConfig


def sampling_config(temperature: float, top_p: float, max_tokens: int) -> SamplingConfig:
    """The sampling settings, or an InputError naming the option."""
    if not temperature >= 0:
        raise InputError(f"--temperature must be >= 0, got {temperature!r}")
    if not 0 < top_p <= 1:
        raise InputError(f"--top-p must be in (0, 1], got {top_p!r}")
    if max_tokens < 1:
        raise InputError(f"--max-tokens must be >= 1, got {max_tokens!r}")
    return SamplingConfig(temperature=temperature, top_p=top_p, max_new_tokens=max_tokens)


def summary_table(rows: list[dict], title: str) -> Table:
    """The headline figures; a missing one says "missing" (its reason is printed below the table)."""
    table = Table(title=title, title_justify="left", caption="problems: how many the figure averages over; "
                  "IC: inference compute in FLOPs", caption_justify="left")
    for column in ("model", "strategy", "k", "perf.", "95% CI", "IC/prob.", "s/prob.", "probs"):
        table.add_column(column, justify="left" if column in ("model", "strategy") else "right", overflow="fold")
    for row in rows:
        if row["performance"] is None:
            table.add_row(row["model"], row["strategy"], "—" if row["k"] is None else str(row["k"]), "missing",
                          "", "", "", "0")
            continue
        ci = "" if row["ci_low"] is None else f"{row['ci_low']:.2f}-{row['ci_high']:.2f}"  # fits 80 columns
        table.add_row(row["model"], row["strategy"], str(row["k"]), f"{row['performance']:.3f}", ci,
                      f"{row['infer_flops']:.3g}", f"{row['seconds_per_problem']:.2g}", str(row["problems"]))
    return table


def table_title(info: dict, n: int) -> str:
    title = f"{info['task']}: {info['problems']} problems x {n} samples"
    if info["failed_samples"]:
        title += f" planned; {info['failed_samples']} of {info['planned']} samples failed"
    return title


@app.command()
def sweep(
    model: List[str] = typer.Option(..., "--model", help="Model spec, repeatable: tiny:CKPT or tiny:CKPT#NAME, "
                                    "gguf:PATH, a model of `ttscale models` (gemma3-270m, qwen2.5-coder-0.5b ...), "
                                    "openai:URL#MODEL."),
    task: str = typer.Option(..., help="Task spec: arith:..., factor:..., humaneval, jsonl:PATH[?grader=...]."),
    n: int = typer.Option(..., "--n", help="Samples per problem."),
    limit: Optional[int] = typer.Option(None, help="Use K of the test problems, chosen by --seed (default: all)."),
    calibration: int = typer.Option(0, "--calibration", help="Also sample K problems of the task's calibration "
                                    "split (hash-disjoint from test), for strategies that choose a threshold on it "
                                    "(cascade without threshold=)."),
    strategy: List[str] = typer.Option([], "--strategy", help="Extra strategy NAME[:param=value,...], repeatable."),
    temperature: float = typer.Option(0.8, help="Sampling temperature."),
    top_p: float = typer.Option(0.95, "--top-p", help="Nucleus sampling mass."),
    max_tokens: int = typer.Option(256, "--max-tokens", help="Most new tokens per sample."),
    seed: int = typer.Option(0, help="Seed for the problems' choice and every sample."),
    threads: int = typer.Option(0, help="CPU threads for in-process models (0: the cores not busy with other "
                                "processes, at least 1; the choice is in tradeoff.json's sweep section)."),
    timeout: float = typer.Option(120.0, "--timeout", help="Seconds one openai: request may take before it is "
                                  "retried."),
    concurrency: int = typer.Option(4, help="Most openai: requests in flight per model; fewer while the server "
                                    "times out or says it is busy."),
    logprobs: bool = typer.Option(True, "--logprobs/--no-logprobs", help="Ask openai: servers for "
                                  "log-probabilities (best-of-n and tree search need them; on llama.cpp servers "
                                  "with a large vocabulary they can make each request many times slower)."),
    prompt: str = typer.Option("raw", "--prompt", help="raw: give each model the task's prompt as is; chat: as "
                               "one user turn of the model's chat template (instruct GGUF models)."),
    add_run: bool = typer.Option(False, "--add-run", help="--out holds a sweep with other settings: store this "
                                 "one next to it (the report then shows this run) instead of refusing."),
    card: List[str] = typer.Option([], "--card", help="MODEL=CARD, repeatable: the model card of a --model whose "
                                   "backend cannot read one (openai:...), e.g. gemma=gemma3-270m or gemma=card.yaml."),
    executor: str = typer.Option("local", "--executor", help="Where backend calls run: local or ray (Ray workers, "
                                 "one per model per node; the store stays here)."),
    ray_address: Optional[str] = typer.Option(None, "--ray-address", help="A Ray cluster to join: auto, or "
                                              "HOST:PORT of its head (default: a local one for the run)."),
    max_chunk_problems: int = typer.Option(64, "--unit-size", help="Most problems per backend call: on Ray, "
                                           "a unit of work (smaller units keep more nodes busy)."),
    max_inflight: int = typer.Option(8, "--max-inflight", help="On Ray: units of work submitted and not yet "
                                     "stored."),
    n_boot: int = typer.Option(200, "--n-boot", help="Bootstrap replicates for CIs and the tradeoff."),
    out: Path = typer.Option(Path("sweep-report"), help="Report directory (HTML, PNG, CSV, tradeoff.json, store)."),
    json_out: Optional[str] = typer.Option(None, "--json", help="Also write tradeoff.json here ('-' for stdout)."),
    quiet: bool = typer.Option(False, help="No progress bars, no native library log lines."),
    verbose: bool = typer.Option(False, help="Show every log line, native libraries' (llama.cpp) included."),
) -> None:
    """Sample N completions per problem from each model (resumable), then report performance vs inference
    compute per model and strategy, and the training-inference tradeoff between the models."""
    from ttscale.model_sweep import SweepSettings, sweep_and_report
    from ttscale.report.json_out import check_json_target, write_json

    if threads < 0:
        raise InputError(f"--threads must be >= 0, got {threads}")
    settings = SweepSettings.from_options(
        models=tuple(model), task=task, n=n, limit=limit, calibration=calibration, strategies=tuple(strategy),
        sampling=sampling_config(temperature, top_p, max_tokens), seed=seed, threads=threads or None,
        cards=tuple(card), n_boot=n_boot, timeout_s=timeout, concurrency=concurrency, logprobs=logprobs,
        add_run=add_run, prompt=parse_style(prompt), executor=executor, ray_address=ray_address,
        max_inflight=max_inflight, max_chunk_problems=max_chunk_problems,
    )
    if json_out:
        check_json_target(json_out)
    configure(verbosity_of(quiet, verbose))
    console = Console(stderr=True)
    run, analysis, result = sweep_and_report(settings, out, console=console, show_progress=not quiet)
    if json_out:
        write_json(result, json_out)
    info = result["sweep"]
    console.print(summary_table(info["figures"], table_title(info, settings.n)))
    for row in info["figures"]:
        if row["missing"]:
            k = "" if row["k"] is None else f" k={row['k']}"
            console.print(f"missing: {row['model']} {row['strategy']}{k}: {row['missing']}")
    for note in info["notes"]:
        console.print(f"note: {note}")
    overhead = info["overhead_share"]
    console.print(
        f"sweep: {len(run.models)} model(s), {info['planned']} samples ({info['generated']} new"
        + (f", {info['failed_samples']} failed" if info["failed_samples"] else "")
        + f", {info['backend_calls']} backend calls); backend {info['backend_seconds']:.1f}s, grading "
        f"{info['grading_seconds']:.1f}s, orchestration overhead "
        + ("n/a" if overhead is None else f"{overhead:.1%}")
        + f" of {info['sampling_wall_seconds']:.1f}s sampling; {run.wall_seconds:.0f}s -> {out / 'index.html'}"
    )
    if not quiet:
        console.print(f"threads: {run.threads.describe()}")
    for model in run.models:
        if model.server is not None:
            console.print(server_line(model.name, model.server))
    if info["failed_samples"]:
        console.print(f"partial run: {info['failed_samples']} of {info['planned']} samples failed in the backend "
                      f"(exit code {PARTIAL_RUN}); run the same command again to retry them")
        raise typer.Exit(PARTIAL_RUN)


def server_line(name: str, server: dict) -> str:
    """One line on what a server model's requests met: failures, a lowered concurrency, no log-probabilities."""
    limit, cap = server["concurrency_limit"], server["max_concurrency"]
    concurrency = f"concurrency {cap}" if server["concurrency_cuts"] == 0 else (
        f"concurrency {cap} -> {limit} (lowered {server['concurrency_cuts']} time(s) after timeouts or busy answers)")
    return (f"server {name}: {server['requests']} requests ({server['failed_requests']} failed and retried or "
            f"given up), {concurrency}, timeout {server['timeout_s']:g} s, log-probabilities "
            + ("on" if server["logprobs"] else "off"))
