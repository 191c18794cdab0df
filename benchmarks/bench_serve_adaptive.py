"""Adaptive vote served vs majority at its cap served (issue 14): samples and seconds per request, and accuracy.

    .venv/bin/python benchmarks/bench_serve_adaptive.py [--model qwen2.5-coder-0.5b] [--problems 40] [--write]

The server runs with ``--task sums`` (a request's answer is the last integer of its line, votes count answers);
each of the task's test problems is sent as a completions request three times, with
``adaptive-vote:conf=0.9,cap=16`` (one sample per round: one engine pass each), with the same in rounds of 4
(``step=4``: the rule read after every 4th sample, each round one batched pass) and with ``majority:k=16``, all
with the same seed, so the adaptive votes' samples are the first ones of the majority's. Each reply is graded against the task's reference by the
benchmark (the server never sees a reference). Accuracy difference with a paired bootstrap interval over
problems; samples and wall seconds per request (one request at a time) as ratios of means; then requests per
second with 8 clients at once, where the engine is the bottleneck and samples saved are requests served.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "src"))
sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests" / "serve"))
from bench_md import section, write_section  # noqa: E402

from ttscale.cards import installed_path  # noqa: E402
from ttscale.logs import Verbosity, configure  # noqa: E402
from ttscale.tasks import get_task  # noqa: E402

TASK = "sums:digits=3,operands=2"  # per-sample accuracy about 0.54 for the 0.5B model: votes matter
ADAPTIVE, ROUNDS, MAJORITY = "adaptive-vote:conf=0.9,cap=16", "adaptive-vote:conf=0.9,cap=16,step=4", "majority:k=16"
STRATEGIES = (ADAPTIVE, ROUNDS, MAJORITY)
MAX_TOKENS, TEMPERATURE = 12, 0.7
LOAD_CONCURRENCY = 8


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default="qwen2.5-coder-0.5b")
    parser.add_argument("--problems", type=int, default=40)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--write", action="store_true", help="replace this section of BENCHMARKS.md")
    args = parser.parse_args()
    configure(Verbosity.quiet)
    if installed_path(args.model) is None:
        sys.exit(f"needs {args.model}: ttscale models pull {args.model}")
    import openai
    from live_server import running

    from ttscale.cli.serve_cmd import _served_model
    from ttscale.serve.app import ServeConfig, create_app

    task = get_task(TASK)
    problems = task.problems(args.problems, seed=0)
    served = _served_model(args.model, threads=args.threads, max_seqs=16)
    throughput: dict[str, float] = {}
    results: dict[str, dict[str, list[float]]] = {s: {"correct": [], "samples": [], "seconds": []}
                                                  for s in STRATEGIES}
    try:
        with running(create_app(served, ServeConfig(max_tokens=MAX_TOKENS), task=task)) as url:
            client = openai.OpenAI(base_url=f"{url}/v1", api_key="unused", max_retries=0)
            client.completions.create(model=served.name, prompt=problems[0].prompt, max_tokens=2)  # warm
            for i, problem in enumerate(problems):
                for strategy in STRATEGIES:  # interleaved: all see the same machine
                    started = time.perf_counter()
                    reply = client.completions.create(model=served.name, prompt=problem.prompt, seed=i,
                                                      max_tokens=MAX_TOKENS, temperature=TEMPERATURE,
                                                      extra_body={"ttscale": {"strategy": strategy}})
                    row = results[strategy]
                    row["seconds"].append(time.perf_counter() - started)
                    row["samples"].append(reply.usage.model_extra["ttscale"]["samples"])
                    row["correct"].append(float(task.grade(problem, reply.choices[0].text)))
                print(f"{i + 1}/{len(problems)}", file=sys.stderr, flush=True)
            # Under load the engine is the bottleneck: samples saved are requests served.
            from concurrent.futures import ThreadPoolExecutor

            for strategy in STRATEGIES:
                def one(i: int, strategy: str = strategy) -> None:
                    client.completions.create(model=served.name, prompt=problems[i].prompt, seed=i,
                                              max_tokens=MAX_TOKENS, temperature=TEMPERATURE,
                                              extra_body={"ttscale": {"strategy": strategy}})

                started = time.perf_counter()
                with ThreadPoolExecutor(LOAD_CONCURRENCY) as pool:
                    list(pool.map(one, range(len(problems))))
                throughput[strategy] = len(problems) / (time.perf_counter() - started)
    finally:
        served.close()
    majority = np.array(results[MAJORITY]["correct"])
    rng = np.random.default_rng(0)
    draws = rng.integers(0, len(problems), size=(2000, len(problems)))
    figures: dict = {f"accuracy, {MAJORITY}": majority.mean(),
                     "seconds per request, majority (mean)": np.mean(results[MAJORITY]["seconds"]),
                     f"requests/s at concurrency {LOAD_CONCURRENCY}, majority": throughput[MAJORITY]}
    for strategy in (ADAPTIVE, ROUNDS):
        correct = np.array(results[strategy]["correct"])
        difference = (correct[draws] - majority[draws]).mean(axis=1)
        low, high = np.quantile(difference, [0.025, 0.975])
        figures[f"accuracy, {strategy}"] = correct.mean()
        figures[f"accuracy difference vs majority, {strategy} (95% paired bootstrap)"] = (
            f"{correct.mean() - majority.mean():+.3f} [{low:+.3f}, {high:+.3f}]")
        figures[f"samples per request / majority's, {strategy}"] = np.mean(results[strategy]["samples"]) / 16
        figures[f"seconds per request / majority's, {strategy}"] = (np.mean(results[strategy]["seconds"])
                                                                   / np.mean(results[MAJORITY]["seconds"]))
        figures[f"requests/s at concurrency {LOAD_CONCURRENCY} / majority's, {strategy}"] = (throughput[strategy]
                                                                                         / throughput[MAJORITY])
    body = (f"Model {args.model} in process, task {TASK} ({len(problems)} test problems), {MAX_TOKENS} new tokens, "
            f"temperature {TEMPERATURE}, {args.threads} threads, one request at a time through `ttscale serve "
            f"--task sums` (then all at once from {LOAD_CONCURRENCY} clients, for throughput), graded by the benchmark against the task's references.")
    command = (f".venv/bin/python benchmarks/bench_serve_adaptive.py --model {args.model} --problems {args.problems} "
               f"--threads {args.threads} --write")
    markdown = section("ttscale serve: adaptive vote vs majority at its cap", command, figures, body)
    print(markdown)
    if args.write:
        write_section("bench_serve_adaptive", markdown)


if __name__ == "__main__":
    main()
