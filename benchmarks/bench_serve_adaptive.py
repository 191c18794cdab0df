"""Adaptive vote served vs majority at its cap served (issue 14): samples and seconds per request, and accuracy.

    .venv/bin/python benchmarks/bench_serve_adaptive.py [--model qwen2.5-coder-0.5b] [--problems 40] [--write]

The server runs with ``--task sums`` (a request's answer is the last integer of its line, votes count answers);
each of the task's test problems is sent as a completions request twice, once with
``adaptive-vote:conf=0.9,cap=16`` and once with ``majority:k=16``, with the same seed, so the adaptive vote's
samples are the first ones of the majority's. Each reply is graded against the task's reference by the
benchmark (the server never sees a reference). Accuracy difference with a paired bootstrap interval over
problems; samples and wall seconds per request as ratios of means.
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

TASK = "sums:digits=3,operands=3"
ADAPTIVE, MAJORITY = "adaptive-vote:conf=0.9,cap=16", "majority:k=16"
MAX_TOKENS, TEMPERATURE = 12, 0.7


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
    from conftest import running

    from ttscale.cli.serve_cmd import _served_model
    from ttscale.serve.app import ServeConfig, create_app

    task = get_task(TASK)
    problems = task.problems(args.problems, seed=0)
    served = _served_model(args.model, threads=args.threads, max_seqs=16)
    results: dict[str, dict[str, list[float]]] = {s: {"correct": [], "samples": [], "seconds": []}
                                                  for s in (ADAPTIVE, MAJORITY)}
    try:
        with running(create_app(served, ServeConfig(max_tokens=MAX_TOKENS), task=task)) as url:
            client = openai.OpenAI(base_url=f"{url}/v1", api_key="unused", max_retries=0)
            client.completions.create(model=served.name, prompt=problems[0].prompt, max_tokens=2)  # warm
            for i, problem in enumerate(problems):
                for strategy in (ADAPTIVE, MAJORITY):  # interleaved: both see the same machine
                    started = time.perf_counter()
                    reply = client.completions.create(model=served.name, prompt=problem.prompt, seed=i,
                                                      max_tokens=MAX_TOKENS, temperature=TEMPERATURE,
                                                      extra_body={"ttscale": {"strategy": strategy}})
                    row = results[strategy]
                    row["seconds"].append(time.perf_counter() - started)
                    row["samples"].append(reply.usage.model_extra["ttscale"]["samples"])
                    row["correct"].append(float(task.grade(problem, reply.choices[0].text)))
                print(f"{i + 1}/{len(problems)}", file=sys.stderr, flush=True)
    finally:
        served.close()
    adaptive, majority = (np.array(results[s]["correct"]) for s in (ADAPTIVE, MAJORITY))
    rng = np.random.default_rng(0)
    draws = rng.integers(0, len(problems), size=(2000, len(problems)))
    difference = (adaptive[draws] - majority[draws]).mean(axis=1)
    low, high = np.quantile(difference, [0.025, 0.975])
    figures = {
        f"accuracy, {ADAPTIVE}": adaptive.mean(),
        f"accuracy, {MAJORITY}": majority.mean(),
        "accuracy difference, adaptive - majority (95% paired bootstrap)": f"{adaptive.mean() - majority.mean():+.3f} "
                                                                         f"[{low:+.3f}, {high:+.3f}]",
        "samples per request, adaptive / majority": np.mean(results[ADAPTIVE]["samples"]) / 16,
        "seconds per request, adaptive / majority": (np.mean(results[ADAPTIVE]["seconds"])
                                                     / np.mean(results[MAJORITY]["seconds"])),
        "seconds per request, majority (mean)": np.mean(results[MAJORITY]["seconds"]),
        "samples per request, adaptive (mean)": np.mean(results[ADAPTIVE]["samples"]),
    }
    body = (f"Model {args.model} in process, task {TASK} ({len(problems)} test problems), {MAX_TOKENS} new tokens, "
            f"temperature {TEMPERATURE}, {args.threads} threads, one request at a time through `ttscale serve "
            f"--task sums`, graded by the benchmark against the task's references.")
    command = (f".venv/bin/python benchmarks/bench_serve_adaptive.py --model {args.model} --problems {args.problems} "
               f"--threads {args.threads} --write")
    markdown = section("ttscale serve: adaptive vote vs majority at its cap", command, figures, body)
    print(markdown)
    if args.write:
        write_section("bench_serve_adaptive", markdown)


if __name__ == "__main__":
    main()
