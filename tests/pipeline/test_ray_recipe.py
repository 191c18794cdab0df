"""The multi-node recipe of the README, run as written (issue 15): `ray start --head`, a second node joining
it with `ray start --address`, then `ttscale sweep --executor ray --ray-address HEAD:PORT` from the driver;
`ray stop` ends it. Here both nodes are on this machine, as two machines would run them."""

from __future__ import annotations

import os
import secrets
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

pytest.importorskip("ray")

from test_ray_executor import N, PROBLEMS, TASK, checkpoint  # noqa: E402,F401

from ttscale.backends.local_server import free_port  # noqa: E402
from ttscale.store import Store  # noqa: E402

BIN = Path(sys.executable).parent
# The recipe: token auth, one token shared by every node. Here the token travels in RAY_AUTH_TOKEN (a fresh one,
# so the test needs no ~/.ray/auth_token and leaves none); the README generates and copies the token file.
ENV = {**os.environ, "RAY_AUTH_MODE": "token", "RAY_AUTH_TOKEN": secrets.token_hex(32)}


def ray_cli(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([str(BIN / "ray"), *args], env=ENV, capture_output=True, text=True, timeout=180)


@contextmanager
def head_node() -> Iterator[int]:
    """`ray start --head` on a free port (this process's own cluster shut first); yields the port; `ray stop` after."""
    import ray

    if ray.is_initialized():
        ray.shutdown()
    port = free_port()
    head = ray_cli("start", "--head", f"--port={port}", "--num-cpus=1", "--include-dashboard=false",
                   "--disable-usage-stats")
    try:
        assert head.returncode == 0, head.stderr[-2000:]
        yield port
    finally:
        ray_cli("stop")


def test_the_recipe_head_a_joined_node_and_a_sweep_from_the_driver(checkpoint, tmp_path):
    with head_node() as port:
        joined = ray_cli("start", f"--address=127.0.0.1:{port}", "--num-cpus=1", "--disable-usage-stats")
        assert joined.returncode == 0, joined.stderr[-2000:]
        deadline = time.monotonic() + 60
        while (status := ray_cli("status", f"--address=127.0.0.1:{port}")).stdout.count(" node_") < 2:
            assert time.monotonic() < deadline, status.stdout  # the status needs a few seconds to show both
            time.sleep(1)
        out = tmp_path / "report"
        sweep = subprocess.run(
            [str(BIN / "ttscale"), "sweep", "--model", f"tiny:{checkpoint}", "--task", TASK, "--n", str(N),
             "--limit", str(PROBLEMS), "--max-tokens", "6", "--threads", "1", "--n-boot", "10", "--quiet",
             "--executor", "ray", "--ray-address", f"127.0.0.1:{port}", "--out", str(out)],
            env=ENV, capture_output=True, text=True, timeout=300)
        assert sweep.returncode == 0, sweep.stderr[-3000:]
        assert f"{N * PROBLEMS} samples ({N * PROBLEMS} new" in sweep.stderr
        with Store(out / "store.sqlite") as store:
            kept = [s for run in store.runs() for s in store.samples(run["run"])]
        assert len(kept) == N * PROBLEMS and all(s.status == "ok" for s in kept)


def test_a_driver_killed_mid_sweep_resumes_submitting_only_the_missing_units(checkpoint, tmp_path):
    import signal

    out = tmp_path / "report"
    limit = 60  # 60 one-problem units, one in flight: long enough for the kill to land mid-sweep
    total = N * limit

    def command(port: int) -> list[str]:
        return [str(BIN / "ttscale"), "sweep", "--model", f"tiny:{checkpoint}", "--task", TASK, "--n", str(N),
                "--limit", str(limit), "--max-tokens", "6", "--threads", "1", "--n-boot", "10", "--quiet",
                "--executor", "ray", "--ray-address", f"127.0.0.1:{port}", "--unit-size", "1", "--max-inflight", "1",
                "--out", str(out)]

    with head_node() as port:
        driver = subprocess.Popen(command(port), env=ENV, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        deadline = time.monotonic() + 120

        def stored() -> int:
            if not (out / "store.sqlite").exists():
                return 0
            with Store(out / "store.sqlite") as store:
                return sum(len(store.samples(run["run"])) for run in store.runs())

        while stored() == 0:  # the first unit (one problem) is written
            assert driver.poll() is None and time.monotonic() < deadline, "the driver ended before any row"
            time.sleep(0.01)
        driver.send_signal(signal.SIGKILL)
        driver.wait(timeout=30)
        before = stored()
        assert 0 < before < total
        again = subprocess.run(command(port), env=ENV, capture_output=True, text=True, timeout=300)
        assert again.returncode == 0, again.stderr[-3000:]
        # Only the missing samples were drawn; the store holds each sample once.
        assert f"{total} samples ({total - before} new" in again.stderr
        with Store(out / "store.sqlite") as store:
            kept = [s for run in store.runs() for s in store.samples(run["run"])]
        assert len(kept) == len({s.key for s in kept}) == total
