"""A plan's sampling on a real local Ray cluster (issue 15): the same rows as the local executor; a worker
that dies mid-unit is restarted and its unit retried, with nothing lost, nothing duplicated and the same
samples; a run stopped part-way resumes submitting only what is missing."""

from __future__ import annotations

import dataclasses
import functools
import math
import os
import sys
from pathlib import Path

import pytest
import torch

ray = pytest.importorskip("ray")

from ttscale.backends.registry import backend_from_spec  # noqa: E402
from ttscale.pipeline import run_plan  # noqa: E402
from ttscale.pipeline.plan import Chunking, ModelEntry, Plan, Split, TaskSampling  # noqa: E402
from ttscale.pipeline.ray_executor import RayExecutor, RaySettings  # noqa: E402
from ttscale.store import Store  # noqa: E402
from ttscale.tasks import get_task  # noqa: E402
from ttscale.tiny.checkpoints import save_result  # noqa: E402
from ttscale.tiny.model import TinyConfig, TinyGPT, model_card  # noqa: E402
from ttscale.tiny.trainer import TrainResult  # noqa: E402
from ttscale.types import SamplingConfig  # noqa: E402

TASK = "arith:digits=2,operands=2"
N, PROBLEMS = 4, 6

# Ray workers unpickle what this module defines (the dying backend) by value: they cannot import tests.
ray.cloudpickle.register_pickle_by_value(sys.modules[__name__])


@pytest.fixture(scope="module")
def cluster():
    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False, object_store_memory=100 * 1024 * 1024)
    yield
    ray.shutdown()


@pytest.fixture(scope="module")
def checkpoint(tmp_path_factory) -> Path:
    torch.manual_seed(0)
    config = TinyConfig(d_model=16, n_layers=1, n_heads=2, d_ff=32, context_length=16)
    result = TrainResult(model=TinyGPT(config).eval(), card=model_card(config, "tiny-ray", 1000, 1e9), config=config,
                         seed=0, batch_size=1, steps=0, wall_seconds=0.0, achieved_flops_per_second=math.nan,
                         final_loss=math.nan, loss_curve=())
    path = tmp_path_factory.mktemp("ckpt") / "tiny.pt"
    save_result(result, path)
    return path


def plan_of(checkpoint: Path, reopen) -> Plan:
    torch.set_num_threads(1)
    backend = backend_from_spec(f"tiny:{checkpoint}", threads=1)
    task = get_task(TASK)
    problems = tuple(task.problems(PROBLEMS, seed=0))
    entry = ModelEntry(backend.name, backend.card, lambda: backend, reopen=reopen)
    return Plan(models=(entry,), splits=(Split("r", "test", (TaskSampling(task, task.name, problems),)),), n=N,
                sampling=SamplingConfig(temperature=1.0, max_new_tokens=8), seed=3,
                chunking=Chunking(max_problems=2, seconds=None))


def rows(store: Store) -> list[tuple]:
    return sorted((dataclasses.astuple(s.key), s.seed, s.completion, s.tokens, s.status) for s in store.samples("r"))


def no_progress(description, total):
    return lambda n: None


def local_rows(checkpoint: Path, tmp_path: Path) -> list[tuple]:
    with Store(tmp_path / "local.sqlite") as store:
        run_plan(plan_of(checkpoint, None), store, no_progress)
        return rows(store)


def test_a_ray_run_stores_exactly_the_local_runs_rows(cluster, checkpoint, tmp_path):
    executor = RayExecutor(RaySettings(max_inflight=2))
    reopen = functools.partial(backend_from_spec, f"tiny:{checkpoint}", threads=1)
    with Store(tmp_path / "ray.sqlite") as store:
        (outcome,) = run_plan(plan_of(checkpoint, reopen), store, no_progress, executor=executor)
        got = rows(store)
    executor.close()
    assert outcome.stats.generated == N * PROBLEMS and outcome.stats.backend_calls == PROBLEMS // 2
    assert got == local_rows(checkpoint, tmp_path)
    assert len({row[0] for row in got}) == len(got) == N * PROBLEMS


class DiesOnce:
    """The tiny backend, whose first generate call anywhere kills its worker process (``marker`` remembers it
    across the restart, which opens a fresh one)."""

    def __init__(self, checkpoint: str, marker: str) -> None:
        self.inner = backend_from_spec(f"tiny:{checkpoint}", threads=1)
        self.name, self.card, self.prefill_shared = self.inner.name, self.inner.card, self.inner.prefill_shared
        self.marker = marker

    def count_tokens(self, text: str) -> int:
        return self.inner.count_tokens(text)

    def generate(self, prompts, seeds, config, stop):
        if not os.path.exists(self.marker):
            Path(self.marker).write_text("died")
            os._exit(1)  # the worker process dies mid-unit, as a machine would
        return self.inner.generate(prompts, seeds, config, stop)

    def close(self) -> None:
        pass


def test_a_worker_that_dies_mid_unit_is_restarted_and_nothing_is_lost_or_duplicated(cluster, checkpoint, tmp_path):
    marker = tmp_path / "died"
    executor = RayExecutor(RaySettings(max_inflight=1))
    with Store(tmp_path / "ray.sqlite") as store:
        run_plan(plan_of(checkpoint, functools.partial(DiesOnce, str(checkpoint), str(marker))), store, no_progress,
                 executor=executor)
        got = rows(store)
    executor.close()
    assert marker.read_text() == "died"  # the worker did die
    assert got == local_rows(checkpoint, tmp_path)  # N rows per pool, no duplicates, identical samples


def test_a_run_stopped_part_way_resumes_with_only_the_missing_pools(cluster, checkpoint, tmp_path):
    reopen = functools.partial(backend_from_spec, f"tiny:{checkpoint}", threads=1)
    executor = RayExecutor(RaySettings(max_inflight=1))

    class Stopped(Exception):
        pass

    def stop_after_first_unit(model: str, count: int) -> None:
        raise Stopped  # the driver dies once its first unit is written

    with Store(tmp_path / "ray.sqlite") as store:
        with pytest.raises(Stopped):
            run_plan(plan_of(checkpoint, reopen), store, no_progress, hook=stop_after_first_unit, executor=executor)
        assert len(rows(store)) == 2 * N  # one unit: two problems
        (outcome,) = run_plan(plan_of(checkpoint, reopen), store, no_progress, executor=executor)
        got = rows(store)
    executor.close()
    assert outcome.stats.already_done == 2 * N and outcome.stats.generated == N * (PROBLEMS - 2)
    assert outcome.stats.backend_calls == (PROBLEMS - 2) // 2
    assert got == local_rows(checkpoint, tmp_path)


def test_ttscale_sweep_on_ray_then_locally_shares_one_store(cluster, checkpoint, tmp_path):
    from typer.testing import CliRunner

    from ttscale.cli import _load_commands, app

    _load_commands()
    out = tmp_path / "report"
    args = ["sweep", "--model", f"tiny:{checkpoint}", "--task", TASK, "--n", str(N), "--limit", str(PROBLEMS),
            "--max-tokens", "6", "--threads", "1", "--n-boot", "10", "--quiet", "--out", str(out)]
    on_ray = CliRunner().invoke(app, [*args, "--executor", "ray", "--max-inflight", "2"])
    assert on_ray.exit_code == 0, (on_ray.output, on_ray.exception)
    assert f"{N * PROBLEMS} samples ({N * PROBLEMS} new" in on_ray.output
    assert (out / "index.html").is_file()
    with Store(out / "store.sqlite") as store:
        kept = [s for run in store.runs() for s in store.samples(run["run"])]
    assert len(kept) == N * PROBLEMS and len({s.key for s in kept}) == len(kept)
    again = CliRunner().invoke(app, [*args, "--executor", "local"])  # the same sweep, resumed here: nothing to do
    assert again.exit_code == 0, (again.output, again.exception)
    assert f"{N * PROBLEMS} samples (0 new" in again.output



def test_a_model_behind_an_http_server_is_sampled_by_plain_tasks_with_the_local_rows(cluster, tmp_path):
    sys.path.insert(0, str(Path(__file__).parents[1] / "backends"))
    from fake_openai_server import FakeOpenAIServer

    from ttscale.types import ModelCard

    card = ModelCard(name="fake-model", params_total=1000, params_non_embedding=800, n_layers=2, d_model=16,
                     n_heads=2, d_ff=64, vocab_size=256, context_length=512, provenance="test card")
    server = FakeOpenAIServer("ok").start()
    try:
        reopen = functools.partial(backend_from_spec, f"openai:{server.url}/v1#fake-model", card=card,
                                   trust_env=False, max_concurrency=2)
        task = get_task(TASK)
        problems = tuple(task.problems(PROBLEMS, seed=0))

        def plan() -> Plan:
            backend = reopen()
            entry = ModelEntry(backend.name, card, lambda: backend, reopen=reopen)
            return Plan(models=(entry,), splits=(Split("r", "test", (TaskSampling(task, task.name, problems),)),),
                        n=N, sampling=SamplingConfig(temperature=1.0, max_new_tokens=8), seed=3,
                        chunking=Chunking(max_problems=2, seconds=None))

        with Store(tmp_path / "local.sqlite") as store:
            run_plan(plan(), store, no_progress)
            here = rows(store)
        executor = RayExecutor(RaySettings(max_inflight=3))
        on_ray = plan()
        entry = on_ray.models[0]
        with Store(tmp_path / "ray.sqlite") as store:
            stats = executor.draw(store, "r", entry, entry.open(), task, problems, N, on_ray.sampling, on_ray.seed,
                                  on_ray.chunking, lambda count: None)
            assert executor.worker_count() == 0  # no actor holds an HTTP model: each unit was a plain task
            got = rows(store)
        executor.close()
    finally:
        server.stop()
    assert stats.backend_calls == PROBLEMS // 2
    assert got == here and all(row[-1] == "ok" for row in got)
