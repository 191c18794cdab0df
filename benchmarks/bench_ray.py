"""The Ray executor's overhead on one machine (issue 15): the same sweep run by the local executor and by Ray.

    .venv/bin/python benchmarks/bench_ray.py [--model smollm2-135m] [--problems 48] [--n 8] [--write]

One model, the `sums` task's first ``--problems`` test problems, ``--n`` samples each, 12 new tokens, units of 8
problems (fixed chunking, so both executors make the same backend calls with the same seeds). Local: the
driver's backend, 2 threads. Ray: a local cluster (started before the clock, as a cluster is before a
sweep), one worker per node holding the model on 2 threads, 4 units in flight; the driver writes every row.
Each executor runs twice, alternating, into fresh stores; the ratio of median wall times is the overhead.
The rows of the two are compared too.
"""

from __future__ import annotations

import argparse
import dataclasses
import functools
import statistics
import sys
import time
from pathlib import Path
from tempfile import TemporaryDirectory

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "src"))
from bench_md import section, write_section  # noqa: E402

from ttscale.backends.registry import backend_from_spec  # noqa: E402
from ttscale.cards import installed_path  # noqa: E402
from ttscale.logs import Verbosity, configure  # noqa: E402
from ttscale.pipeline import run_plan  # noqa: E402
from ttscale.pipeline.executors import LocalExecutor  # noqa: E402
from ttscale.pipeline.plan import Chunking, ModelEntry, Plan, Split, TaskSampling  # noqa: E402
from ttscale.pipeline.ray_executor import RayExecutor, RaySettings  # noqa: E402
from ttscale.store import Store  # noqa: E402
from ttscale.tasks import get_task  # noqa: E402
from ttscale.types import SamplingConfig  # noqa: E402

THREADS, UNIT_PROBLEMS = 2, 8


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default="smollm2-135m")
    parser.add_argument("--problems", type=int, default=48)
    parser.add_argument("--n", type=int, default=8)
    parser.add_argument("--write", action="store_true", help="replace this section of BENCHMARKS.md")
    args = parser.parse_args()
    configure(Verbosity.quiet)
    if installed_path(args.model) is None:
        sys.exit(f"needs {args.model}: ttscale models pull {args.model}")
    import ray

    task = get_task("sums:digits=3,operands=2")
    problems = tuple(task.problems(args.problems, seed=0))
    reopen = functools.partial(backend_from_spec, args.model, threads=THREADS, max_seqs=64)
    probe = reopen()  # the name and card; each run opens (and closes) its own, as a sweep does
    entry = ModelEntry(probe.name, probe.card, reopen, reopen=reopen)
    probe.close()
    plan = Plan(models=(entry,), splits=(Split("r", "test", (TaskSampling(task, task.name, problems),)),), n=args.n,
                sampling=SamplingConfig(temperature=0.8, top_p=0.95, max_new_tokens=12), seed=0,
                chunking=Chunking(max_problems=UNIT_PROBLEMS, seconds=None))
    ray.init(num_cpus=THREADS, include_dashboard=False, log_to_driver=False)
    walls: dict[str, list[float]] = {"local": [], "ray": []}
    kept: dict[str, list] = {}
    with TemporaryDirectory() as folder:
        for attempt in range(2):
            for name in ("local", "ray"):
                executor = LocalExecutor() if name == "local" else RayExecutor(RaySettings(max_inflight=4,
                                                                                           worker_cpus=THREADS))
                with Store(Path(folder) / f"{name}-{attempt}.sqlite") as store:
                    started = time.perf_counter()
                    run_plan(plan, store, lambda description, total: (lambda count: None), executor=executor)
                    walls[name].append(time.perf_counter() - started)
                    kept[name] = sorted((dataclasses.astuple(s.key), s.completion) for s in store.samples("r"))
                executor.close()
    ray.shutdown()
    same = sum(a == b for a, b in zip(kept["local"], kept["ray"]))
    figures = {
        "local executor: wall seconds (median of 2)": statistics.median(walls["local"]),
        "Ray executor: wall seconds (median of 2)": statistics.median(walls["ray"]),
        "Ray / local wall time": statistics.median(walls["ray"]) / statistics.median(walls["local"]),
        "rows, each run": len(kept["local"]),
        "rows identical between the two": f"{same} / {len(kept['local'])}",
    }
    body = (f"Model {args.model}, task sums:digits=3,operands=2, {args.problems} problems x {args.n} samples, 12 new "
            f"tokens, units of {UNIT_PROBLEMS} problems, {THREADS} threads either way; Ray: a local one-node "
            "cluster started before timing, one worker holding the model, 4 units in flight. On one machine the "
            "Ray executor can only add cost (serialising rows, a second process); it pays on several nodes.")
    command = (f".venv/bin/python benchmarks/bench_ray.py --model {args.model} --problems {args.problems} "
               f"--n {args.n} --write")
    markdown = section("Ray executor: overhead on one machine", command, figures, body)
    print(markdown)
    if args.write:
        write_section("bench_ray", markdown)


if __name__ == "__main__":
    main()
