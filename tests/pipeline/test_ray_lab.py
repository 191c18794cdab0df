"""`ttscale lab --executor ray` (issue 15): the smoke lab on a real local Ray cluster, its rungs trained as Ray
tasks and its pools sampled by Ray workers, gives exactly the weights and the stored rows of the same lab run
here (each with a cache of its own, so both train)."""

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


def weights(cache) -> dict[str, dict]:
    found = {}
    for path in sorted(cache.glob("*.pt")):
        payload = torch.load(path, weights_only=False)
        found[path.name] = payload["state_dict"]
    return found


def test_the_smoke_lab_on_ray_trains_and_stores_exactly_what_the_local_lab_does(tmp_path):
    if ray.is_initialized():
        ray.shutdown()
    preset = get_preset("smoke")
    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False)
    try:
        executor = RayExecutor(RaySettings(max_inflight=4))
        on_ray = run_lab(preset, tmp_path / "ray", seed=0, cache_dir=tmp_path / "ray-cache", threads=1,
                         show_progress=False, executor=executor)
        executor.close()
    finally:
        ray.shutdown()
    local = run_lab(preset, tmp_path / "local", seed=0, cache_dir=tmp_path / "local-cache", threads=1,
                    show_progress=False)
    rungs_on_ray, rungs_here = weights(tmp_path / "ray-cache"), weights(tmp_path / "local-cache")
    assert rungs_on_ray.keys() == rungs_here.keys() and len(rungs_here) >= len(preset.rungs)
    for name, state in rungs_here.items():  # the rungs trained as Ray tasks: the same weights, bit for bit
        assert all(torch.equal(state[k], rungs_on_ray[name][k]) for k in state), name
    assert on_ray.samples_generated == local.samples_generated > 0
    assert stored(tmp_path / "ray") == stored(tmp_path / "local")
    assert on_ray.result["techniques"].keys() == local.result["techniques"].keys()
