"""`ttscale sweep` against a server that fails some requests for good: the run is partial, and says so.

The fault server answers HTTP 500 to its first requests, long enough for one sample's retries to run
out; that sample is stored as an error. The sweep still writes its report, marks the figures the
stored samples cannot give as missing (with the reason), counts the problems behind every figure,
and exits with the partial-run code; the same command run again retries the failed sample and
completes with exit code 0.
"""

from __future__ import annotations

import json

from typer.testing import CliRunner

from ttscale.cli import _load_commands, app
from ttscale.cli.exit_codes import PARTIAL_RUN

CARD = """\
name: fake-model
params_total: 1000
params_non_embedding: 800
n_layers: 2
d_model: 16
n_heads: 2
d_ff: 64
vocab_size: 256
context_length: 512
train_tokens: 1.0e+9
provenance: test card
"""


def sweep(server, tmp_path, *extra: str, n_problems: int = 3):
    _load_commands()
    card = tmp_path / "card.yaml"
    card.write_text(CARD)
    problems = tmp_path / "sums.jsonl"
    problems.write_text("".join(json.dumps({"id": f"p{i}", "prompt": f"{i}+1=", "answer": i + 1}) + "\n"
                                for i in range(n_problems)))
    args = ["sweep", "--model", f"openai:{server.url}/v1#fake-model", "--card", f"fake-model={card}",
            "--task", f"jsonl:{problems}?grader=numeric", "--n", "2", "--max-tokens", "3",
            "--n-boot", "5", "--out", str(tmp_path / "report"), *extra]
    return CliRunner().invoke(app, args)


def test_a_run_with_failed_samples_is_partial_and_says_what_each_figure_uses(fake_server, tmp_path):
    # The n probe takes the first 500 (a refusal: fan-out); the first sample's 5 attempts take the rest.
    server = fake_server("500-k-times", times=6)
    result = sweep(server, tmp_path, "--concurrency", "1", "--quiet")
    assert result.exit_code == PARTIAL_RUN, result.output
    assert "1 of 6 samples failed" in result.output and "partial run" in result.output
    info = json.loads((tmp_path / "report" / "tradeoff.json").read_text())["sweep"]
    assert info["failed_samples"] == 1 and not info["complete"]
    figures = {(f["strategy"], f["k"]): f for f in info["figures"]}
    assert figures[("maj@k", 1)]["problems"] == 3  # every problem has one good sample
    missing = figures[("maj@k", 2)]
    assert missing["performance"] is None and "1 of 3 problems hold fewer than k=2" in missing["missing"]
    assert "missing: fake-model maj@k k=2" in result.output
    assert "server fake-model: " in result.output and "failed and retried or given up" in result.output
    page = (tmp_path / "report" / "index.html").read_text()
    assert "why missing" in page and "PARTIAL RUN: 1 of 6 samples failed" in page

    again = sweep(server, tmp_path, "--concurrency", "1", "--quiet")  # the server answers now: the failed sample is retried
    assert again.exit_code == 0, again.output
    info = json.loads((tmp_path / "report" / "tradeoff.json").read_text())["sweep"]
    assert info["complete"] and all(f["performance"] is not None for f in info["figures"])


def test_a_saturated_server_gets_every_sample_and_the_run_says_how(fake_server, tmp_path):
    # One request at a time, 0.25 s each: requests sent together with a 0.4 s timeout time out until the
    # limit drops (one sample per request; the sweep's calls grow to several samples as they prove quick).
    server = fake_server("one-at-a-time", delay_s=0.25)
    result = sweep(server, tmp_path, "--n", "1", "--concurrency", "4", "--timeout", "0.4", n_problems=16)
    assert result.exit_code == 0, result.output
    info = json.loads((tmp_path / "report" / "tradeoff.json").read_text())["sweep"]
    assert info["complete"] and info["generated"] == 16
    server_info = info["models"][0]["server"]
    assert server_info["concurrency_cuts"] >= 1 and server_info["concurrency_limit"] < 4
    said = " ".join(result.output.split())
    assert "concurrency 4 -> " in said
    # A warning line per burst of retries (at the default verbosity), not one per request.
    bursts = said.count("retrying with backoff")
    assert 1 <= bursts < server_info["failed_requests"] or bursts == server_info["failed_requests"] == 1
