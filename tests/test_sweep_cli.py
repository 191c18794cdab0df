"""`ttscale sweep` end to end on lab checkpoints (`tiny:`): the report, the tradeoff
between two models of different training compute, resume after a kill, a
finished sweep re-run that generates nothing, a JSONL task, and clear errors."""

from __future__ import annotations

import itertools
import json
import math
import shutil
import time
from pathlib import Path

import pytest
import torch
from typer.testing import CliRunner

from ttscale.backends.local_server import free_port
from ttscale.backends.registry import backend_from_spec
from ttscale.cli import _load_commands, app
from ttscale.errors import InputError
from ttscale.model_sweep import SweepSettings, run_model_sweep, sweep_and_report
from ttscale.store import Store
from ttscale.tasks import get_task
from ttscale.tiny.checkpoints import save_result
from ttscale.tiny.model import TinyConfig, TinyGPT, model_card
from ttscale.tiny.trainer import TrainResult, train
from ttscale.types import SamplingConfig

TASK = "arith:digits=2,operands=2"
runner = CliRunner()


def tiny_config(width: int) -> TinyConfig:
    return TinyConfig(d_model=width, n_layers=1, n_heads=2, d_ff=2 * width, context_length=16)


@pytest.fixture(scope="module", autouse=True)
def one_thread():
    _load_commands()
    previous = torch.get_num_threads()
    torch.set_num_threads(1)  # tiny models run fastest, and reproducibly, on one thread
    yield
    torch.set_num_threads(previous)


@pytest.fixture(scope="module")
def checkpoints(tmp_path_factory) -> dict[str, Path]:
    """Two trained models of different training compute, and one whose card has none."""
    root = tmp_path_factory.mktemp("ckpt")
    task = get_task(TASK)

    def documents():
        for epoch in itertools.count():
            yield from task.demonstrations(256, epoch)

    paths = {}
    for name, width, tokens in (("small", 16, 1024), ("large", 32, 2048)):
        result = train(tiny_config(width), documents, tokens, seed=0, batch_size=8, name=name)
        save_result(result, root / f"{name}.pt")
        paths[name] = root / f"{name}.pt"
    torch.manual_seed(1)
    config = tiny_config(16)
    untrained = TrainResult(model=TinyGPT(config).eval(), card=model_card(config, "mystery", None, None),
                            config=config, seed=1, batch_size=1, steps=0, wall_seconds=0.0,
                            achieved_flops_per_second=math.nan, final_loss=math.nan, loss_curve=())
    save_result(untrained, root / "mystery.pt")
    paths["mystery"] = root / "mystery.pt"
    return paths


def sweep_args(checkpoints, out: Path, *extra: str) -> list[str]:
    return ["sweep", "--model", f"tiny:{checkpoints['small']}", "--model", f"tiny:{checkpoints['large']}",
            "--task", TASK, "--n", "4", "--limit", "6", "--max-tokens", "5", "--seed", "3", "--n-boot", "10",
            "--quiet", "--out", str(out), *extra]


def invoke(args: list[str]):
    result = runner.invoke(app, args)
    assert result.exit_code == 0, (result.output, result.exception)
    return result


@pytest.fixture(scope="module")
def two_models(checkpoints, tmp_path_factory):
    out = tmp_path_factory.mktemp("sweep") / "report"
    first = invoke(sweep_args(checkpoints, out, "--strategy", "majority:k=2", "--json", str(out / "copy.json")))
    return out, first.output


def stored(out: Path) -> list[tuple]:
    with Store(out / "store.sqlite") as store:
        runs = [r[0] for r in store._query("SELECT run FROM runs")]
        return [(s.key, s.seed, s.completion, s.tokens, s.logprob, s.answer, s.correct, s.decode_flops)
                for run in runs for s in store.samples(run)]


def test_report_files_and_a_tradeoff_between_two_models(two_models):
    out, output = two_models
    for name in ("index.html", "tradeoff.json", "points.csv", "curves.csv", "store.sqlite", "summary_table.png",
                 "iso_performance.png", "exchange_rate.png", "performance_vs_inference.png"):
        assert (out / name).stat().st_size > 0, name
    result = json.loads((out / "tradeoff.json").read_text())
    assert result == json.loads((out / "copy.json").read_text())
    assert result["schema_version"] == 2 and set(result["techniques"]) >= {"pass@k (oracle)", "maj@k", "best-of-n"}
    sweep = result["sweep"]
    assert sweep["tradeoff"] == {"models": ["large", "small"], "distinct_train_flops": 2, "nothing_to_trade": False}
    assert {p["model"] for p in sweep["points"]} == {"small", "large"}
    assert len({p["train_flops"] for p in sweep["points"]}) == 2
    assert sweep["generated"] == sweep["planned"] == 2 * 6 * 4
    assert 0.0 <= sweep["overhead_share"] < 1.0
    ks = sorted({p["k"] for p in sweep["points"] if p["technique"] == "maj@k"})
    assert ks == [1, 2, 3, 4]
    assert "first-verified@k" not in result["techniques"]  # arith has no verifier
    assert "Iso-performance curves" in (out / "index.html").read_text()
    assert "majority:k=2" in output and "overhead" in output  # the terminal summary
    threads = sweep["threads"]  # automatic (sweep_args gives no --threads): sized to the free cores
    assert threads["given"] is False and 1 <= threads["threads"] <= threads["usable_cores"]


def test_strategy_option_appears_as_rows(two_models):
    out, _ = two_models
    points = json.loads((out / "tradeoff.json").read_text())["sweep"]["points"]
    rows = [p for p in points if p["technique"] == "majority:k=2"]
    assert {(p["model"], p["k"]) for p in rows} == {("small", 2), ("large", 2)}
    assert "majority:k=2" in (out / "points.csv").read_text()


def settings_of_two_models(checkpoints, **changes) -> SweepSettings:
    """What ``sweep_args`` asks for, as library settings."""
    return SweepSettings(
        models=(f"tiny:{checkpoints['small']}", f"tiny:{checkpoints['large']}"), task=TASK, n=4, limit=6,
        sampling=SamplingConfig(temperature=0.8, top_p=0.95, max_new_tokens=5), seed=3, n_boot=10, **changes,
    )


def test_a_finished_sweep_rerun_generates_nothing(two_models, checkpoints):
    out, _ = two_models
    before = stored(out)
    run = run_model_sweep(settings_of_two_models(checkpoints), out, show_progress=False)
    assert run.stats["generated"] == 0 and run.stats["backend_calls"] == 0 and run.stats["overhead_share"] is None
    assert run.stats["already_done"] == run.stats["planned"] == 2 * 6 * 4
    assert stored(out) == before


def test_a_killed_sweep_resumes_to_the_same_samples(two_models, checkpoints, tmp_path):
    reference, _ = two_models
    out = tmp_path / "killed"
    settings = settings_of_two_models(checkpoints, max_chunk_problems=2)

    chunks = []

    def kill(model: str, count: int) -> None:
        chunks.append(count)
        if len(chunks) == 2:
            raise KeyboardInterrupt  # as if killed once the second chunk is stored

    with pytest.raises(KeyboardInterrupt):
        sweep_and_report(settings, out, show_progress=False, on_chunk=kill)
    # Calls sized by time (pipeline.Chunking): one sample first, then growing; each stored as it ends.
    assert chunks == [1, 2] and len(stored(out)) == 3
    resumed = json.loads(invoke(sweep_args(checkpoints, out, "--json", "-")).stdout)["sweep"]
    assert resumed["already_done"] == 3 and resumed["generated"] == 2 * 6 * 4 - 3
    assert stored(out) == stored(reference)


def test_one_model_or_one_training_compute_has_nothing_to_trade(checkpoints, tmp_path):
    problems = tmp_path / "sums.jsonl"
    lines = [{"id": f"p{i}", "prompt": f"A{10 + i}+{20 + i}=", "answer": 30 + 2 * i} for i in range(5)]
    lines[0]["verifier"] = "assert answer is not None and answer.isdigit()"
    problems.write_text("".join(json.dumps(line) + "\n" for line in lines))
    out = tmp_path / "jsonl"
    result = invoke(["sweep", "--model", f"tiny:{checkpoints['small']}", "--model", f"tiny:{checkpoints['mystery']}",
                     "--task", f"jsonl:{problems}?grader=numeric,stop=line", "--n", "3", "--max-tokens", "4",
                     "--n-boot", "5", "--quiet", "--out", str(out), "--json", "-"])
    data = json.loads(result.stdout)
    sweep = data["sweep"]
    assert sweep["problems"] == 5 and sweep["tradeoff"]["nothing_to_trade"]
    assert {p["model"] for p in sweep["points"]} == {"small", "mystery"}  # curves for both
    assert any("'mystery': its card has no train_flops" in note for note in sweep["notes"])
    assert any("accept their first sample" in note for note in sweep["notes"])  # 4 lines lack a verifier
    assert any(p["technique"] == "first-verified@k" for p in sweep["points"])
    assert "mystery" not in (out / "points.csv").read_text() and "mystery" in (out / "curves.csv").read_text()
    page = (out / "index.html").read_text()
    assert "Nothing to trade" in page and not (out / "iso_performance.png").exists()


def test_the_tiny_kind_loads_a_checkpoint_by_its_card_name(checkpoints):
    backend = backend_from_spec(f"tiny:{checkpoints['large']}")
    assert backend.name == backend.card.name == "large" and backend.card.train_flops > 0
    assert backend_from_spec(f"tiny:{checkpoints['large']}#renamed").name == "renamed"
    with pytest.raises(InputError, match="no such checkpoint file"):
        backend_from_spec("tiny:/no/such.pt")


@pytest.mark.parametrize(
    "change, words",
    [
        (["--model", "tinny:x.pt"], ["unknown backend kind 'tinny'", "did you mean 'tiny'"]),
        (["--task", "arth"], ["unknown task 'arth'", "did you mean 'arith'"]),
        (["--strategy", "majorty:k=2"], ["unknown strategy 'majorty'", "did you mean 'majority'"]),
        (["--strategy", "majority:k=9"], ["--strategy 'majority:k=9'", "more than the --n 4"]),
        (["--strategy", "first-verified"], ["needs a verifier"]),
        (["--n", "0"], ["--n must be greater than or equal to 1, got 0"]),
        (["--limit", "0"], ["--limit must be greater than or equal to 1, got 0"]),
        (["--top-p", "0"], ["--top-p"]),
        # Settings that only the plan can check, refused before anything is loaded or sampled:
        (["--strategy", "adaptive-vote"], ["--strategy 'adaptive-vote'", "cap=32 is more than the --n 4"]),
        (["--strategy", "allocate:budget=100"], ["budget=100 is more than the --n 4"]),
        (["--strategy", "cascade"], ["--strategy 'cascade'", "calibration split", "cascade:threshold=0.75"]),
        (["--strategy", "best-of-n:k=2"], ["--strategy 'best-of-n:k=2'", "--no-logprobs"]),
        (["--timeout", "0"], ["--timeout", "0"]),
        (["--concurrency", "0"], ["--concurrency", "0"]),
    ],
)
def test_bad_options_are_named(checkpoints, tmp_path, change, words):
    args = sweep_args(checkpoints, tmp_path / "bad")
    if change[1].startswith("best-of-n"):
        args.append("--no-logprobs")
    option, value = change
    if option == "--model":
        args[args.index("--model") + 1] = value
    elif option in args:
        args[args.index(option) + 1] = value
    else:
        args += change
    result = runner.invoke(app, args)
    assert isinstance(result.exception, InputError), (result.output, result.exception)
    for word in words:
        assert word in str(result.exception), str(result.exception)
    assert not (tmp_path / "bad" / "store.sqlite").exists()  # refused before any sampling


@pytest.mark.parametrize("option, value, said", [
    ("--limit", "5", "--limit 6 -> 5"),
    ("--temperature", "0.5", "--temperature 0.8 -> 0.5"),
    ("--max-tokens", "4", "--max-tokens 5 -> 4"),
    ("--seed", "4", "--seed 3 -> 4"),
])
def test_other_settings_in_the_same_directory_are_refused(two_models, checkpoints, option, value, said):
    out, _ = two_models
    before = stored(out), (out / "index.html").read_bytes()
    args = sweep_args(checkpoints, out)
    if option in args:
        args[args.index(option) + 1] = value
    else:
        args += [option, value]
    result = runner.invoke(app, args)
    assert isinstance(result.exception, InputError), result.output
    assert said in str(result.exception) and "--out" in str(result.exception), str(result.exception)
    assert (stored(out), (out / "index.html").read_bytes()) == before  # nothing sampled, the report kept


def test_add_run_stores_a_second_run_next_to_the_first(two_models, checkpoints, tmp_path):
    out = tmp_path / "copy"
    shutil.copytree(two_models[0], out)
    first = stored(out)
    invoke(sweep_args(checkpoints, out, "--temperature", "0.5", "--add-run"))
    with Store(out / "store.sqlite") as store:
        assert len(store.runs()) == 2
    both = stored(out)
    assert len(both) == 2 * len(first) and set(first) <= set(both)  # the first run's samples kept as they were
    assert json.loads((out / "tradeoff.json").read_text())["sweep"]["sampling"]["temperature"] == 0.5


def test_a_strategy_for_two_models_is_refused_with_one(checkpoints, tmp_path):
    for strategy in ("cascade:threshold=0.5", "ensemble"):
        result = runner.invoke(app, ["sweep", "--model", f"tiny:{checkpoints['small']}", "--task", TASK, "--n", "4",
                                     "--strategy", strategy, "--out", str(tmp_path / "one")])
        assert isinstance(result.exception, InputError) and "1 --model was given" in str(result.exception)
    result = runner.invoke(app, ["sweep", "--model", f"tiny:{checkpoints['small']}", "--model",
                                 f"tiny:{checkpoints['mystery']}", "--task", TASK, "--n", "4", "--strategy", "ensemble",
                                 "--out", str(tmp_path / "one")])
    assert isinstance(result.exception, InputError)
    assert "known training compute; mystery has none" in str(result.exception)
    assert not (tmp_path / "one" / "store.sqlite").exists()


def test_a_cascade_with_a_fixed_threshold_runs(two_models, checkpoints):
    out, _ = two_models
    invoke(sweep_args(checkpoints, out, "--strategy", "cascade:threshold=0.75,k_small=2"))
    result = json.loads((out / "tradeoff.json").read_text())["sweep"]
    rows = [p for p in result["points"] if p["technique"].startswith("cascade:")]
    assert [(p["model"], p["settings"]) for p in rows] == [("small+large", "k_large=1,k_small=2,threshold=0.75,tol=0.01")]


def test_a_server_that_is_not_there_is_one_line_before_any_work(tmp_path):
    port = free_port()  # bound then closed: nobody listens there
    spec = f"openai:http://127.0.0.1:{port}/v1#m"
    started = time.monotonic()
    result = runner.invoke(app, ["sweep", "--model", spec, "--card", f"m={card_yaml(tmp_path)}", "--task", TASK,
                                 "--n", "2", "--limit", "2", "--out", str(tmp_path / "report")])
    assert isinstance(result.exception, InputError), result.output
    assert str(result.exception) == (f"--model {spec!r}: no server answers at http://127.0.0.1:{port} "
                                     "(connection refused)")
    assert time.monotonic() - started < 10 and not (tmp_path / "report").exists()


def card_yaml(folder: Path) -> Path:
    path = folder / "card.yaml"
    path.write_text("params_total: 1000\nparams_non_embedding: 800\nn_layers: 2\nd_model: 16\nn_heads: 2\n"
                    "d_ff: 64\nvocab_size: 256\ncontext_length: 512\n")
    return path


def test_help_and_table_are_readable_at_80_columns(two_models, checkpoints, monkeypatch):
    monkeypatch.setenv("COLUMNS", "80")
    help_text = " ".join(runner.invoke(app, ["sweep", "--help"]).output.split())
    assert "tiny:CKPT#NAME," in help_text and "jsonl:PATH[?grader=...]" in help_text  # no text eaten as markup
    out, _ = two_models
    output = invoke(sweep_args(checkpoints, out)).output  # finished: re-reports without sampling
    header = next(line for line in output.splitlines() if "strategy" in line and "perf." in line)
    for column in ("model", "strategy", "k", "perf.", "95% CI", "IC/prob.", "s/prob.", "probs"):
        assert column in header, header
    assert max(len(line) for line in output.splitlines()) <= 80


def test_a_cascade_chooses_its_threshold_on_calibration_problems(two_models, checkpoints, tmp_path):
    out = tmp_path / "calibrated"
    shutil.copytree(two_models[0], out)
    test_samples = stored(out)
    invoke(sweep_args(checkpoints, out, "--calibration", "5", "--strategy", "cascade:k_small=2"))
    with Store(out / "store.sqlite") as store:
        runs = {r["run"]: r for r in store.runs()}
        (calib,) = [name for name in runs if name.endswith("/calib")]
        assert runs[calib]["plan"]["problems"] == 5 and runs[calib]["finished_at"]
        assert len(store.samples(calib)) == 2 * 5 * 4  # both models, 5 problems, --n 4
    after = stored(out)  # the scored run is untouched: calibration is a run of its own
    assert set(test_samples) <= set(after) and len(after) == len(test_samples) + 2 * 5 * 4
    result = json.loads((out / "tradeoff.json").read_text())["sweep"]
    (row,) = [p for p in result["points"] if p["technique"].startswith("cascade:")]
    assert row["model"] == "small+large" and "threshold=" not in row["settings"]
    assert 0.0 <= row["notes"]["threshold"] <= 1.0
    again = runner.invoke(app, sweep_args(checkpoints, out, "--calibration", "3", "--strategy", "cascade:k_small=2"))
    assert isinstance(again.exception, InputError)
    assert "--calibration 3" in str(again.exception) and "--calibration 5" in str(again.exception)
