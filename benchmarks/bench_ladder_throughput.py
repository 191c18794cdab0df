"""Decode throughput per model of the real ladder: one HumanEval prompt's samples decoded as one batch of 16
and of 32 sequences vs one sample per call, next to llama.cpp's own batched speed.

    .venv/bin/python benchmarks/bench_ladder_throughput.py [--threads 2] [--max-new 32] [--sequential 4] [--rounds 3] [--write]

For each installed model (``ttscale models``): **sequential** is ttscale's backend drawing one sample per call
(``--sequential`` of them: a rate, so a few suffice), **batched 16 / 32** the same backend drawing 16 / 32
samples in one wave (shared prefill, one decode step for every live sequence), and **engine 16 / 32** the
model alone through the low-level API doing the same steps with argmax and nothing else: ``batched / engine``
is the share of llama.cpp's batched speed that ttscale's per-seed sampling keeps. Tokens per second count
generated tokens; every sample runs to ``--max-new`` tokens (no stop string) so the shapes match.
"""

from __future__ import annotations

import argparse
import statistics
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from bench_llama import _engine_batched, _timed  # noqa: E402
from bench_md import section, write_section  # noqa: E402

from ttscale.backends.registry import backend_from_spec  # noqa: E402
from ttscale.cards import installed_path  # noqa: E402
from ttscale.logs import Verbosity, configure  # noqa: E402
from ttscale.tasks import get_task  # noqa: E402
from ttscale.types import SamplingConfig  # noqa: E402

LADDER = ("smollm2-135m", "gemma3-270m", "qwen2.5-coder-0.5b", "qwen2.5-coder-1.5b")


def measure(model: str, threads: int, max_new: int, sequential: int, rounds: int) -> dict[str, float]:
    """Tokens per second of each way, the median of ``rounds`` interleaved rounds."""
    prompt = get_task("humaneval").problems(1, seed=0)[0].prompt
    config = SamplingConfig(temperature=1.0, top_p=1.0, max_new_tokens=max_new)
    backend = backend_from_spec(model, threads=threads, max_seqs=32)
    try:
        backend.generate([prompt], [list(range(32))], SamplingConfig(temperature=1.0, max_new_tokens=2), stop="")
        prompt_ids = backend.engine.tokenize(prompt)
        rates: dict[str, list[float]] = {}
        for _ in range(rounds):
            singles, seconds = _timed(lambda: [backend.generate([prompt], [[s]], config, stop="")[0][0]
                                               for s in range(sequential)])
            rates.setdefault("sequential", []).append(sum(len(g.token_ids) for g in singles) / seconds)
            for width in (16, 32):
                pool, seconds = _timed(lambda: backend.generate([prompt], [list(range(width))], config, stop="")[0])
                rates.setdefault(f"batched_{width}", []).append(sum(len(g.token_ids) for g in pool) / seconds)
                lengths = [len(g.token_ids) for g in pool]
                live = [sum(1 for n in lengths if n > step) for step in range(max(lengths))]
                rates.setdefault(f"engine_{width}", []).append(sum(live) / _engine_batched(backend, prompt_ids, live))
        return {key: statistics.median(values) for key, values in rates.items()}
    finally:
        backend.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--max-new", type=int, default=32)
    parser.add_argument("--sequential", type=int, default=4)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--write", action="store_true", help="replace this section of BENCHMARKS.md")
    args = parser.parse_args()
    configure(Verbosity.quiet)
    models = [m for m in LADDER if installed_path(m) is not None]
    lines = ["| model | sequential tok/s | batched 16 tok/s (x seq) | share of engine 16 | batched 32 tok/s (x seq) "
             "| share of engine 32 |", "|---|---|---|---|---|---|"]
    figures: dict[str, float] = {}
    for model in models:
        r = measure(model, args.threads, args.max_new, args.sequential, args.rounds)
        print(model, {k: round(v, 1) for k, v in r.items()}, flush=True)
        lines.append(f"| {model} | {r['sequential']:.1f} | {r['batched_16']:.1f} ({r['batched_16'] / r['sequential']:.1f}x) "
                     f"| {r['batched_16'] / r['engine_16']:.2f} | {r['batched_32']:.1f} "
                     f"({r['batched_32'] / r['sequential']:.1f}x) | {r['batched_32'] / r['engine_32']:.2f} |")
        figures[f"{model} batched 32 / sequential"] = r["batched_32"] / r["sequential"]
    body = (f"One HumanEval prompt, {args.max_new} new tokens per sample at temperature 1, {args.threads} threads; "
            f"medians of {args.rounds} interleaved rounds per model (the machine is shared: ratios measured side by "
            "side matter more than the absolute rates).\n\n" + "\n".join(lines))
    command = (f".venv/bin/python benchmarks/bench_ladder_throughput.py --threads {args.threads} "
               f"--max-new {args.max_new} --sequential {args.sequential} --rounds {args.rounds} --write")
    markdown = section("Decode throughput per model of the real ladder: batched vs one at a time", command,
                       figures, body)
    print(markdown)
    if args.write:
        write_section("bench_ladder_throughput", markdown)


if __name__ == "__main__":
    main()
