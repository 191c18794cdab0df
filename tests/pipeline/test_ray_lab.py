"""`ttscale lab --executor ray` (issue 15): the smoke lab's sampling on a real local Ray cluster stores exactly
the rows of the same lab run here (the ladder trained once, from the shared cache)."""

from __future__ import annotations

import dataclasses

import pytest

ray = pytest.importorskip("ray")
torch = pytest.importorskip("torch")

from ttscale.lab.ladder import get_preset  # noqa: E402
from ttscale.lab.pipeline import run_lab  # noqa: E402
from ttscale.pipeline.ray_executor import RayExecutor, RaySettings  # noqa: E402
from ttscale.store import Store  # noqa: E402


def stored(out) -> list[tuple]:
    with Store(out / "store.sqlite") as store:
        return sorted((dataclasses.astuple(s.key), s.seed, s.completion) for run in store.runs()
                      for s in store.samples(run["run"]))


def test_the_smoke_lab_on_ray_stores_the_local_labs_rows(tmp_path):
    if ray.is_initialized():
        ray.shutdown()
    preset, cache = get_preset("smoke"), tmp_path / "cache"
    local = run_lab(preset, tmp_path / "local", seed=0, cache_dir=cache, threads=1, show_progress=False)
    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False)
    try:
        executor = RayExecutor(RaySettings(max_inflight=4))
        on_ray = run_lab(preset, tmp_path / "ray", seed=0, cache_dir=cache, threads=1, show_progress=False,
                         executor=executor)
        executor.close()
    finally:
        ray.shutdown()
    assert on_ray.samples_generated == local.samples_generated > 0
    assert stored(tmp_path / "ray") == stored(tmp_path / "local")
    assert on_ray.result["techniques"].keys() == local.result["techniques"].keys()
