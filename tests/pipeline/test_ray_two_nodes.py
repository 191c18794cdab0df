"""Sampling on a two-node Ray cluster (``ray.cluster_utils.Cluster``: two raylets on this machine, as two
machines would run them; issue 15): one worker per model per node, units spread over both, and the rows
are exactly the local executor's."""

from __future__ import annotations

import functools
import sys

import pytest

ray = pytest.importorskip("ray")
cluster_utils = pytest.importorskip("ray.cluster_utils")

from test_ray_executor import N, PROBLEMS, checkpoint, local_rows, no_progress, plan_of, rows  # noqa: E402,F401

from ttscale.backends.registry import backend_from_spec  # noqa: E402
from ttscale.pipeline import run_plan  # noqa: E402
from ttscale.pipeline.ray_executor import RayExecutor, RaySettings  # noqa: E402
from ttscale.store import Store  # noqa: E402

ray.cloudpickle.register_pickle_by_value(sys.modules[__name__])


@pytest.fixture(scope="module")
def two_nodes():
    if ray.is_initialized():
        ray.shutdown()
    cluster = cluster_utils.Cluster(initialize_head=True, head_node_args={"num_cpus": 1, "include_dashboard": False})
    cluster.add_node(num_cpus=1)
    cluster.wait_for_nodes()
    ray.init(address=cluster.address, log_to_driver=False)
    yield cluster
    ray.shutdown()
    cluster.shutdown()


def test_one_worker_per_node_and_the_local_rows(two_nodes, checkpoint, tmp_path):
    reopen = functools.partial(backend_from_spec, f"tiny:{checkpoint}", threads=1)
    plan = plan_of(checkpoint, reopen)
    executor = RayExecutor(RaySettings(max_inflight=2))
    assert len(set(executor.worker_nodes(plan.models[0]))) == 2  # a worker on each node
    with Store(tmp_path / "ray.sqlite") as store:
        (outcome,) = run_plan(plan, store, no_progress, executor=executor)
        got = rows(store)
    executor.close()
    assert outcome.stats.generated == N * PROBLEMS
    assert got == local_rows(checkpoint, tmp_path)
