"""``--executor NAME``: the executor a command asks for, its options checked before any work."""

from __future__ import annotations

from ttscale.errors import InputError
from ttscale.pipeline.executors import Executor, LocalExecutor

EXECUTORS = ("local", "ray")


def executor_named(name: str, ray_address: str | None = None, max_inflight: int = 8, worker_cpus: int = 1
                   ) -> Executor:
    """The executor ``--executor NAME`` asks for (its options checked, a Ray cluster reached, before any work)."""
    if name not in EXECUTORS:
        raise InputError(f"--executor must be one of {', '.join(EXECUTORS)}, got {name!r}")
    if ray_address is not None and name != "ray":
        raise InputError(f"--ray-address {ray_address!r}: a Ray address is used only with --executor ray")
    if not 1 <= max_inflight <= 100_000:
        raise InputError(f"--max-inflight must be in 1..100000, got {max_inflight}")
    if name == "local":
        return LocalExecutor()
    from ttscale.pipeline.ray_executor import RayExecutor, RaySettings

    return RayExecutor(RaySettings(address=ray_address, max_inflight=max_inflight, worker_cpus=worker_cpus))
