"""Every option of every command, given a bad value: one line that names the option and the value,
exit code 2, no traceback, nothing written (issue 11).

Each case runs the real entry point (``ttscale.cli.main``, as the installed ``ttscale`` does) in a
folder of its own, from otherwise valid arguments. ``test_the_table_covers_every_option`` keeps the
table complete: a new option fails it until it has a row here (or a reason it cannot be given a bad
value: a switch that takes none).
"""

from __future__ import annotations

import sys
from pathlib import Path

import pytest
import typer

from ttscale.cli import _load_commands, app, main

POINTS = "\n".join(
    ["technique,model,train_flops,infer_flops,performance"]
    + [f"t,m{i},{10 ** (18 + i)},{10 ** (10 + j)},{0.1 + 0.1 * i + 0.1 * j:.2f}" for i in range(3) for j in range(3)]
) + "\n"
CARD = ("params_total: 1000\nparams_non_embedding: 800\nn_layers: 2\nd_model: 16\nn_heads: 2\nd_ff: 64\n"
        "vocab_size: 256\ncontext_length: 512\ntrain_tokens: 1.0e+9\n")

# The valid command each case starts from; a case appends its option and bad value.
BASE = {
    "card": ["card", "card.yaml"],
    "lab": ["lab", "--preset", "smoke", "--out", "report"],
    "sweep": ["sweep", "--model", "tiny:model.pt", "--task", "arith", "--n", "4", "--limit", "3", "--out", "report"],
    "tradeoff": ["tradeoff", "points.csv"],
    "plan": ["plan", "--points", "points.csv", "--inferences", "1e6", "--target", "0.3"],
    "verify": ["verify", "--samples", "samples.jsonl", "--json", "verdicts.json"],
    "models": ["models"],
    "models pull": ["models", "pull", "smollm2-135m"],
    "variant quantize": ["variant", "quantize", "--model", "smollm2-135m", "--types", "q4_0"],
    "variant prune-layers": ["variant", "prune-layers", "--model", "smollm2-135m", "--drop", "26-29"],
    "serve": ["serve", "--model", "smollm2-135m", "--port", "0"],
}

# (command, option, the arguments that replace or extend the base, words the one line must hold)
CASES = [
    ("card", "model", ["card", "nothing.gguf"], ["nothing.gguf"]),
    ("card", "--context", ["--context", "0"], ["--context", "0"]),
    ("card", "--json", ["--json", "a_dir"], ["--json", "a_dir"]),
    ("lab", "--preset", ["--preset", "tiny"], ["preset", "tiny"]),
    ("lab", "--out", ["--out", "a_file"], ["--out", "a_file"]),
    ("lab", "--seed", ["--seed", "-1"], ["--seed", "-1"]),
    ("lab", "--threads", ["--threads", "-2"], ["--threads", "-2"]),
    ("lab", "--cache-dir", ["--cache-dir", "a_file"], ["--cache-dir", "a_file"]),
    ("lab", "--json", ["--json", "a_dir"], ["--json", "a_dir"]),
    ("lab", "--quiet", ["--quiet", "--verbose"], ["--quiet", "--verbose"]),
    ("lab", "--verbose", ["--verbose", "--quiet"], ["--quiet", "--verbose"]),
    ("sweep", "--model", ["--model", "tinny:x.pt"], ["--model", "tinny"]),
    ("sweep", "--task", ["--task", "arth"], ["--task", "arth"]),
    ("sweep", "--n", ["--n", "0"], ["--n", "0"]),
    ("sweep", "--limit", ["--limit", "0"], ["--limit", "0"]),
    ("sweep", "--calibration", ["--calibration", "-1"], ["--calibration", "-1"]),
    ("sweep", "--strategy", ["--strategy", "beam:width=0"], ["--strategy", "beam:width=0"]),
    ("sweep", "--temperature", ["--temperature", "-1"], ["--temperature", "-1"]),
    ("sweep", "--top-p", ["--top-p", "1.5"], ["--top-p", "1.5"]),
    ("sweep", "--max-tokens", ["--max-tokens", "0"], ["--max-tokens", "0"]),
    ("sweep", "--seed", ["--seed", "-3"], ["--seed", "-3"]),
    ("sweep", "--threads", ["--threads", "-1"], ["--threads", "-1"]),
    ("sweep", "--timeout", ["--timeout", "0"], ["--timeout", "0"]),
    ("sweep", "--concurrency", ["--concurrency", "0"], ["--concurrency", "0"]),
    ("sweep", "--logprobs", ["--no-logprobs", "--strategy", "best-of-n:k=2"], ["--no-logprobs", "best-of-n:k=2"]),
    ("sweep", "--card", ["--card", "gemma"], ["--card", "gemma"]),
    ("sweep", "--prompt", ["--prompt", "chatty"], ["--prompt", "chatty"]),
    ("sweep", "--n-boot", ["--n-boot", "-1"], ["--n-boot", "-1"]),
    ("sweep", "--out", ["--out", "a_file"], ["--out", "a_file"]),
    ("sweep", "--json", ["--json", "a_dir"], ["--json", "a_dir"]),
    ("sweep", "--quiet", ["--quiet", "--verbose"], ["--quiet", "--verbose"]),
    ("sweep", "--verbose", ["--verbose", "--quiet"], ["--quiet", "--verbose"]),
    ("tradeoff", "points_csv", ["tradeoff", "missing.csv"], ["missing.csv"]),
    ("tradeoff", "--levels", ["--levels", "0.5,x"], ["--levels", "x"]),
    ("tradeoff", "--ratio", ["--ratio", "1"], ["--ratio", "1"]),
    ("tradeoff", "--smoother", ["--smoother", "spline"], ["--smoother", "spline"]),
    ("tradeoff", "--cost", ["--cost", "joules"], ["--cost", "joules"]),
    ("tradeoff", "--out", ["--out", "a_file"], ["--out", "a_file"]),
    ("tradeoff", "--json", ["--json", "a_dir"], ["--json", "a_dir"]),
    ("tradeoff", "--n-boot", ["--n-boot", "-1"], ["--n-boot", "-1"]),
    ("tradeoff", "--seed", ["--seed", "-1"], ["--seed", "-1"]),
    ("plan", "--points", ["--points", "a_dir"], ["--points", "a_dir"]),
    ("plan", "--inferences", ["--inferences", "0"], ["--inferences", "0"]),
    ("plan", "--target", ["--target", "1.5"], ["--target", "1.5"]),
    ("plan", "--flop-price", ["--flop-price", "-1"], ["--flop-price", "-1"]),
    ("plan", "--hardware", ["--hardware", "tpu9"], ["--hardware", "tpu9"]),
    ("plan", "--hardware-file", ["--hardware-file", "missing.yaml"], ["--hardware-file", "missing.yaml"]),
    ("plan", "--peak-flops", ["--hardware", "cpu", "--peak-flops", "0"], ["--peak-flops", "0"]),
    ("plan", "--watts", ["--hardware", "cpu", "--watts", "-5"], ["--watts", "-5"]),
    ("plan", "--usd-per-hour", ["--hardware", "cpu", "--usd-per-hour", "-1"], ["--usd-per-hour", "-1"]),
    ("plan", "--utilization", ["--utilization", "0"], ["--utilization", "0"]),
    ("plan", "--memory-bytes-per-second", ["--hardware", "cpu", "--memory-bytes-per-second", "0"],
     ["--memory-bytes-per-second", "0"]),
    ("plan", "--cost", ["--cost", "joules"], ["--cost", "joules"]),
    ("plan", "--water-l-per-kwh", ["--water-l-per-kwh", "-1"], ["--water-l-per-kwh", "-1"]),
    ("plan", "--json", ["--json", "a_dir"], ["--json", "a_dir"]),
    ("verify", "--task", ["--task", "arith"], ["--task", "arith"]),
    ("verify", "--samples", ["--samples", "missing.jsonl"], ["--samples", "missing.jsonl"]),
    ("verify", "--json", ["--json", "a_dir"], ["--json", "a_dir"]),
    ("verify", "--k", ["--k", "0"], ["--k", "0"]),
    ("verify", "--workers", ["--workers", "0"], ["--workers", "0"]),
    ("verify", "--timeout", ["--timeout", "0"], ["--timeout", "0"]),
    ("models", "--json", ["--json", "a_dir"], ["--json", "a_dir"]),
    ("models pull", "name", ["models", "pull", "qwen2.5-coder-0.7b"], ["qwen2.5-coder-0.7b", "qwen2.5-coder-0.5b"]),
    ("variant quantize", "--model", ["--model", "qwen9"], ["variant base", "qwen9"]),
    ("variant quantize", "--types", ["--types", "q4_0,q9_0"], ["--types", "q9_0"]),
    ("variant quantize", "--cache-dir", ["--cache-dir", "a_file"], ["--cache-dir", "a_file"]),
    ("variant quantize", "--json", ["--json", "a_dir"], ["--json", "a_dir"]),
    ("variant prune-layers", "--model", ["--model", "qwen9"], ["variant base", "qwen9"]),
    ("variant prune-layers", "--drop", ["--drop", "5-x"], ["--drop", "5-x"]),
    ("variant prune-layers", "--cache-dir", ["--cache-dir", "a_file"], ["--cache-dir", "a_file"]),
    ("variant prune-layers", "--json", ["--json", "a_dir"], ["--json", "a_dir"]),
    ("lab", "--executor", ["--executor", "spark"], ["--executor", "spark"]),
    ("lab", "--ray-address", ["--ray-address", "127.0.0.1:9"], ["--ray-address", "--executor ray"]),
    ("lab", "--max-inflight", ["--max-inflight", "0"], ["--max-inflight", "0"]),
    ("sweep", "--unit-size", ["--unit-size", "0"], ["--unit-size", "0"]),
    ("sweep", "--executor", ["--executor", "spark"], ["--executor", "spark"]),
    ("sweep", "--ray-address", ["--executor", "ray", "--ray-address", "127.0.0.1:9"], ["--ray-address", "127.0.0.1:9"]),
    ("sweep", "--max-inflight", ["--max-inflight", "0"], ["--max-inflight", "0"]),
    ("serve", "--model", ["--model", "qwen9"], ["qwen9"]),
    ("serve", "--strategy", ["--strategy", "majorty:k=4"], ["--strategy", "majorty"]),
    ("serve", "--host", ["--host", "no such host.invalid"], ["--host", "no such host.invalid"]),
    ("serve", "--port", ["--port", "70000"], ["--port", "70000"]),
    ("serve", "--max-concurrency", ["--max-concurrency", "0"], ["--max-concurrency", "0"]),
    ("serve", "--max-queue", ["--max-queue", "-1"], ["--max-queue", "-1"]),
    ("serve", "--max-tokens", ["--max-tokens", "0"], ["--max-tokens", "0"]),
    ("serve", "--threads", ["--threads", "0"], ["--threads", "0"]),
    ("serve", "--max-seqs", ["--max-seqs", "0"], ["--max-seqs", "0"]),
    ("serve", "--store", ["--store", "a_file"], ["--store", "a_file"]),
    ("serve", "--plan", ["--plan", "missing.json"], ["--plan"]),
    ("serve", "--task", ["--task", "humanevil"], ["--task", "humanevil"]),
    ("serve", "--card", ["--card", "smol"], ["--card", "smol"]),
    ("serve", "--upstream-concurrency", ["--upstream-concurrency", "0"], ["--upstream-concurrency", "0"]),
    ("serve", "--upstream-timeout", ["--upstream-timeout", "0"], ["--upstream-timeout", "0"]),
    ("serve", "--upstream-attempts", ["--upstream-attempts", "0"], ["--upstream-attempts", "0"]),
]

# Switches that take no value, so none can be bad on its own (their bad combinations are rows above).
SWITCHES = {("sweep", "--add-run"), ("tradeoff", "--extrapolate"), ("verify", "--allow-unsafe")}


def arguments(command: str, change: list[str]) -> list[str]:
    """The base command with ``change``: a change that starts with the command's words replaces its
    positional argument, an option the base gives has its value replaced, any other is appended."""
    words = command.split()
    if change[:len(words)] == words:
        return [*change, *BASE[command][len(words) + 1:]]
    args = list(BASE[command])
    if len(change) == 2 and change[0] in args:
        args[args.index(change[0]) + 1] = change[1]
        return args
    return [*args, *change]


def snapshot(folder: Path) -> dict[str, bytes]:
    return {str(p.relative_to(folder)): (b"" if p.is_dir() else p.read_bytes()) for p in sorted(folder.rglob("*"))}


@pytest.fixture
def folder(tmp_path, monkeypatch) -> Path:
    (tmp_path / "points.csv").write_text(POINTS)
    (tmp_path / "card.yaml").write_text(CARD)
    (tmp_path / "samples.jsonl").write_text('{"task_id": "HumanEval/0", "completion": "    return False\\n"}\n')
    (tmp_path / "a_file").write_text("keep me\n")
    (tmp_path / "a_dir").mkdir()
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("TTSCALE_CACHE", str(tmp_path / "cache"))
    monkeypatch.setenv("COLUMNS", "80")
    return tmp_path


@pytest.mark.parametrize("command, option, change, words", CASES, ids=[f"{c[0]} {c[1]}" for c in CASES])
def test_a_bad_value_is_one_line_naming_the_option_and_nothing_is_written(folder, capsys, monkeypatch,
                                                                           command, option, change, words):
    before = snapshot(folder)
    monkeypatch.setattr(sys, "argv", ["ttscale", *arguments(command, change)])
    with pytest.raises(SystemExit) as exited:
        main()
    err = capsys.readouterr().err
    lines = [line for line in err.splitlines() if line.strip()]
    assert exited.value.code == 2, err
    assert len(lines) == 1 and lines[0].startswith("error: "), err
    for word in words:
        assert word in lines[0], lines[0]
    assert snapshot(folder) == before


def options(command, path: str = ""):
    """(command path, first spelling) of every parameter, subcommands of a group (``models pull``) included."""
    for param in command.params:
        yield path, param.opts[0]
    for name, sub in getattr(command, "commands", {}).items():
        yield from options(sub, f"{path} {name}".strip())


def test_the_table_covers_every_option():
    _load_commands()
    every = set(options(typer.main.get_command(app)))
    covered = {(command, option) for command, option, _, _ in CASES} | SWITCHES
    assert every == covered, f"without a row: {sorted(every - covered)}; rows for no option: {sorted(covered - every)}"
