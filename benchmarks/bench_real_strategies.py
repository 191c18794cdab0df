"""Adaptive voting and difficulty-aware allocation on a real model: Gemma 3 270M.

    .venv/bin/python benchmarks/bench_real_strategies.py [--problems 80] [--n 16] [--write]

The task is few-shot arithmetic written as a ``jsonl:`` task (``--operands`` numbers of
``--digits`` digits to add, four worked examples in each prompt, numeric grader, one line
per answer), so that answers can be voted on. ``ttscale sweep`` draws N samples
per problem from Gemma 3 270M through the in-process llama.cpp backend (resumable:
the pools land in ``--out``); then the strategies are replayed on those pools
exactly as ``bench_adaptive.py`` does on the lab's, with the same targets:
adaptive vote's draws within one point of majority@N (<= 25 % of N), and
allocation's IC against uniform majority at the same accuracy (<= 50 %).
"""

from __future__ import annotations

import argparse
import json
import random
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import bench_adaptive  # noqa: E402

from ttscale.model_sweep import SweepSettings, run_model_sweep  # noqa: E402
from ttscale.sampling.pools import pools_from_samples  # noqa: E402
from ttscale.store import Store  # noqa: E402
from ttscale.types import SamplingConfig  # noqa: E402


def write_problems(path: Path, count: int, operands: int, digits: int, seed: int = 0) -> None:
    rng = random.Random(seed)

    def terms():
        return [rng.randint(10 ** (digits - 1), 10**digits - 1) for _ in range(operands)]

    def question(numbers):
        return f"Q: {' + '.join(map(str, numbers))} = ?\nA:"

    header = "".join(f"{question(shot)} {sum(shot)}\n\n" for shot in (terms() for _ in range(4)))
    with path.open("w") as out:
        for i in range(count):
            numbers = terms()
            out.write(json.dumps({"id": f"sum-{i:03d}", "prompt": header + question(numbers),
                                  "answer": sum(numbers)}) + "\n")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--problems", type=int, default=80)
    parser.add_argument("--n", type=int, default=16)
    parser.add_argument("--operands", type=int, default=2, help="numbers per sum")
    parser.add_argument("--digits", type=int, default=1, help="digits per number")
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--out", default="/tmp/ttscale-bench-real")
    parser.add_argument("--perms", type=int, default=200)
    parser.add_argument("--n-boot", type=int, default=500)
    parser.add_argument("--write", action="store_true", help="write the section into BENCHMARKS.md")
    args = parser.parse_args()
    out = Path(args.out) / f"operands{args.operands}-digits{args.digits}"
    out.mkdir(parents=True, exist_ok=True)
    problems = out / "sums.jsonl"
    write_problems(problems, args.problems, args.operands, args.digits)
    settings = SweepSettings(
        models=("gemma3-270m",), task=f"jsonl:{problems}?grader=numeric,stop=line", n=args.n, limit=args.problems,
        sampling=SamplingConfig(temperature=1.0, top_p=1.0, max_new_tokens=8), threads=args.threads,
    )  # fmt: skip
    started = time.perf_counter()
    run = run_model_sweep(settings, out, show_progress=True)
    sample_seconds = time.perf_counter() - started
    with Store(out / "store.sqlite") as store:
        cells = pools_from_samples(store.samples(run.run, status="ok"))
    ((key, pools),) = cells.items()
    result = bench_adaptive.compare(pools, args.perms, 0, args.n_boot)
    text = bench_adaptive.markdown({key[1]: {key[0]: result}}, str(out / "store.sqlite"), args.perms)
    text = (f"Gemma 3 270M (Q4_K_M, llama.cpp in process), {len(pools)} few-shot sums of {args.operands} {args.digits}-digit numbers, N = {args.n} samples each at "
            f"temperature 1; sampling took {sample_seconds:.0f} s on {args.threads} threads.\n\n" + text)
    print(text)
    if args.write:
        import bench_md

        command = (f".venv/bin/python benchmarks/bench_real_strategies.py --problems {args.problems} --n {args.n} "
                   f"--operands {args.operands} --digits {args.digits} "
                   f"--perms {args.perms} --write")
        bench_md.write_section("bench_real_strategies", bench_md.section(
            "Adaptive voting and allocation on a real model (Gemma 3 270M, few-shot sums)", command, body=text))


if __name__ == "__main__":
    main()
