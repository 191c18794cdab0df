"""`ttscale serve` as a user runs it: a subprocess on --port 0 that prints where it listens, serving what a
plan file chose, answering the official client, and stopping on SIGINT."""

from __future__ import annotations

import json
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from ttscale.cards import installed_path

openai = pytest.importorskip("openai")
MODEL = "smollm2-135m"
pytestmark = pytest.mark.skipif(installed_path(MODEL) is None,
                                reason=f"{MODEL} is not installed (scripts/setup.sh pulls it)")


def test_serve_a_plan_on_port_zero(tmp_path):
    plan = tmp_path / "plan.json"
    plan.write_text(json.dumps({"choice": {"source": "measured", "model": MODEL, "budget": "majority:k=2",
                                           "technique": "maj@k", "performance": 0.5}}))
    ttscale = Path(sys.executable).with_name("ttscale")  # the installed command, as a user runs it
    command = [str(ttscale), "serve", "--plan", str(plan), "--port", "0", "--threads", "1", "--max-tokens", "4"]
    process = subprocess.Popen(command, stderr=subprocess.PIPE, stdout=subprocess.DEVNULL, text=True)
    try:
        deadline, line = time.monotonic() + 120, ""
        while time.monotonic() < deadline:
            line = process.stderr.readline()
            if "serving" in line or process.poll() is not None:
                break
        found = re.search(r"http://127\.0\.0\.1:(\d+)/v1", line)
        assert found, line
        assert "majority:k=2" in line and "plan's choice" in line
        client = openai.OpenAI(base_url=f"http://127.0.0.1:{found.group(1)}/v1", api_key="unused", max_retries=0)
        reply = client.completions.create(model=MODEL, prompt="One, two,", max_tokens=4)
        assert reply.usage.model_extra["ttscale"]["samples"] == 2
    finally:
        process.send_signal(signal.SIGINT)
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            process.kill()


@pytest.mark.parametrize("args, words", [
    (["--strategy", "ensemble:k=2"], ["--strategy", "every served model", "serves 1"]),
    (["--strategy", "first-verified:k=4"], ["--strategy", "--task"]),
    (["--strategy", "cascade:k_small=2", "--model", "gemma3-270m"], ["--strategy", "threshold="]),
    (["--model", MODEL], ["--model", "served once"]),
    (["--strategy", "beam:width=2"], ["--strategy", "--task"]),
])
def test_a_strategy_the_served_models_and_task_cannot_run_is_refused_before_any_model_loads(args, words):
    ttscale = Path(sys.executable).with_name("ttscale")
    done = subprocess.run([str(ttscale), "serve", "--model", MODEL, *args], capture_output=True, text=True,
                          timeout=120)
    lines = [line for line in done.stderr.splitlines() if line.strip()]
    assert done.returncode == 2 and len(lines) == 1, done.stderr
    assert all(word in lines[0] for word in words), lines[0]
