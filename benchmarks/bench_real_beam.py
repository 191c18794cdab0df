"""Beam search over lines of code on a real model, with llama.cpp's KV cache kept between steps and without,
and against best-of-n sampling at equal inference compute.

    .venv/bin/python benchmarks/bench_real_beam.py [--model qwen2.5-coder-0.5b] [--problems 20] [--uncached 5] [--sweep DIR] [--write]

``beam:width=2,expansions=2`` (logprob scorer, temperature 0.8, lines of at most 48 tokens, 24 lines) on the
first ``--problems`` HumanEval problems the sweep draws with seed 0, with the cache kept (every context copies
its parent's cells and prefills only its new line), and on the first ``--uncached`` of them without it (every
context prefilled anew): the prefill share of the beam's inference compute and its wall time, both ways.
``--sweep`` names a ``ttscale sweep`` report of the same model and problems (e.g. the README's HumanEval ladder
sweep); its best-of-n (log-probability) and first-verified curves give the accuracy those strategies reach at
the beam's inference compute (interpolated in log IC between the measured k).
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))

from bench_md import section, write_section  # noqa: E402

from ttscale.backends.registry import backend_from_spec  # noqa: E402
from ttscale.logs import Verbosity, configure  # noqa: E402
from ttscale.strategies.beam import BeamSettings  # noqa: E402
from ttscale.strategies.step_scorers import LogProbScorer  # noqa: E402
from ttscale.strategies.tree_search import run_search  # noqa: E402
from ttscale.tasks import get_task  # noqa: E402


def searched(backend, task, problems, settings, reuse: bool):
    started = time.perf_counter()
    outcomes = run_search(backend, task, problems, settings, LogProbScorer(), run_seed=0, reuse_cache=reuse)
    seconds = time.perf_counter() - started
    infer = sum(o.infer_flops for o in outcomes)
    return {"accuracy": float(np.mean([o.correct for o in outcomes])),
            "ic_per_problem": infer / len(outcomes),
            "prefill_share": sum(o.prefill_flops for o in outcomes) / infer,
            "cached_share_of_context_tokens": sum(o.cached_tokens for o in outcomes)
            / max(1, sum(o.cached_tokens + o.prefill_tokens for o in outcomes)),
            "seconds_per_problem": seconds / len(outcomes),
            "step_samples_per_problem": float(np.mean([o.step_samples for o in outcomes]))}


def at_ic(points: list[dict], model: str, technique: str, ic: float) -> str:
    """A curve's accuracy at inference compute ``ic``, interpolated in log IC (or where it stops)."""
    curve = sorted((p["infer_flops"], p["performance"], p["k"]) for p in points
                   if p["model"] == model and p["technique"] == technique)
    if not curve:
        return "not in the sweep"
    xs = np.log([c[0] for c in curve])
    if np.log(ic) > xs[-1]:
        return f"{curve[-1][1]:.3f} at k={curve[-1][2]} (its largest k costs {curve[-1][0]:.2e}, less than the beam)"
    return f"{float(np.interp(np.log(ic), xs, [c[1] for c in curve])):.3f}"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default="qwen2.5-coder-0.5b")
    parser.add_argument("--problems", type=int, default=20)
    parser.add_argument("--uncached", type=int, default=5)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--sweep", type=Path, default=None)
    parser.add_argument("--write", action="store_true", help="replace this section of BENCHMARKS.md")
    args = parser.parse_args()
    configure(Verbosity.quiet)
    task = get_task("humaneval")
    problems = task.problems(args.problems, 0, "test")
    settings = BeamSettings(width=2, expansions=2, scorer="logprob", temperature=0.8)
    backend = backend_from_spec(args.model, threads=args.threads)
    try:
        kept = searched(backend, task, problems, settings, reuse=True)
        kept_subset = searched(backend, task, problems[: args.uncached], settings, reuse=True)
        anew = searched(backend, task, problems[: args.uncached], settings, reuse=False)
    finally:
        backend.close()
    figures = {f"cache kept, {args.problems} problems: {key}": value for key, value in kept.items()}
    figures |= {f"cache kept, first {args.uncached}: {key}": kept_subset[key]
                for key in ("prefill_share", "ic_per_problem", "seconds_per_problem")}
    figures |= {f"prefilled anew, first {args.uncached}: {key}": anew[key]
                for key in ("prefill_share", "ic_per_problem", "seconds_per_problem")}
    figures["IC ratio kept / anew (first problems)"] = kept_subset["ic_per_problem"] / anew["ic_per_problem"]
    figures["wall ratio kept / anew (first problems)"] = kept_subset["seconds_per_problem"] / anew["seconds_per_problem"]
    if args.sweep is not None:
        points = json.loads((args.sweep / "tradeoff.json").read_text())["sweep"]["points"]
        for technique in ("best-of-n", "first-verified@k", "maj@k", "pass@k (oracle)"):
            figures[f"{technique} at the beam's IC"] = at_ic(points, args.model, technique, kept["ic_per_problem"])
    command = (f".venv/bin/python benchmarks/bench_real_beam.py --model {args.model} --problems {args.problems} "
               f"--uncached {args.uncached}" + (f" --sweep {args.sweep}" if args.sweep else "") + " --write")
    body = (f"HumanEval, {args.model}, beam width 2 x 2 expansions over lines (logprob scorer, temperature 0.8). "
            "A search with the cache kept draws other steps than one without it (llama.cpp rounds differently "
            "with a batch's shape, and the cached cells were computed in other batches), so accuracy is compared "
            "as a distribution, and the compute on the same problems.")
    markdown = section(f"Live beam search on {args.model}: the KV cache kept between steps", command, figures, body)
    print(markdown)
    if args.write:
        write_section("bench_real_beam", markdown)


if __name__ == "__main__":
    main()
