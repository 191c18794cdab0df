"""The training-inference map on the real ladder: Qwen2.5-Coder 0.5B and 1.5B (and the two small
rungs), sampled on three-digit sums and differences, through ``ttscale sweep``'s own code.

    .venv/bin/python benchmarks/bench_real_ladder.py [--problems 40] [--n 8] [--threads 2] [--out DIR] [--write]

The questions ("Q: What is 347 + 588?\\nA:", made here from a seed, exact answers, graded by the
number the model writes before the end of its line: ``jsonl:...?grader=numeric,stop=line``) sit
where votes have room: one Qwen sample is right about half (0.5B) or four fifths (1.5B) of the
time at temperature 0.8 (BENCHMARKS.md, ``bench_prompt_style``, for why raw prompts with
``stop=line``). Every installed model of the ladder is swept with ``--n`` samples per question,
plus a cascade from the 0.5B to the 1.5B at a fixed agreement threshold. Printed: each model's
accuracy at k = 1 and k = n, the tradeoff's spans and rates per technique (with their intervals),
and the cascade against the 1.5B model alone.
"""

from __future__ import annotations

import argparse
import json
import random
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from bench_md import section, write_section  # noqa: E402

from ttscale.cards import installed_path  # noqa: E402
from ttscale.logs import Verbosity, configure  # noqa: E402
from ttscale.model_sweep import sweep_and_report  # noqa: E402
from ttscale.report.summary import technique_rows  # noqa: E402
from ttscale.sweep_settings import SweepSettings  # noqa: E402
from ttscale.types import SamplingConfig  # noqa: E402

LADDER = ("smollm2-135m", "gemma3-270m", "qwen2.5-coder-0.5b", "qwen2.5-coder-1.5b")
CASCADE = "cascade:threshold=0.75,k_small=4,k_large=1"


def questions(count: int, seed: int = 0) -> list[dict]:
    rng = random.Random(seed)
    lines = []
    for i in range(count):
        a, b = rng.randint(100, 999), rng.randint(100, 999)
        if i % 2:
            a, b = max(a, b), min(a, b)
            lines.append({"id": f"q{i}", "prompt": f"Q: What is {a} - {b}?\nA:", "answer": a - b})
        else:
            lines.append({"id": f"q{i}", "prompt": f"Q: What is {a} + {b}?\nA:", "answer": a + b})
    return lines


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--problems", type=int, default=40)
    parser.add_argument("--n", type=int, default=8)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--out", type=Path, default=Path("real-ladder-report"))
    parser.add_argument("--write", action="store_true", help="replace this section of BENCHMARKS.md")
    args = parser.parse_args()
    configure(Verbosity.quiet)
    models = tuple(m for m in LADDER if installed_path(m) is not None)
    args.out.mkdir(parents=True, exist_ok=True)
    path = args.out / "questions.jsonl"
    path.write_text("".join(json.dumps(q) + "\n" for q in questions(args.problems)))
    both_qwen = {"qwen2.5-coder-0.5b", "qwen2.5-coder-1.5b"} <= set(models)
    settings = SweepSettings(
        models=models, task=f"jsonl:{path}?grader=numeric,stop=line", n=args.n, threads=args.threads,
        sampling=SamplingConfig(temperature=0.8, top_p=0.95, max_new_tokens=8), n_boot=500,
        strategies=(CASCADE,) if both_qwen else ())
    run, analysis, result = sweep_and_report(settings, args.out, show_progress=True)
    sweep = result["sweep"]
    figures = {f"{f['model']} {f['strategy']} k={f['k']}": f["performance"] for f in sweep["figures"]
               if f["strategy"] in ("maj@k", "pass@k (oracle)") and f["performance"] is not None}
    lines = ["| technique | level | span TC (OOM) [95% CI] | span IC (OOM) [95% CI] | exchange rate |",
             "|---|---|---|---|---|"]
    for row in technique_rows(result):
        ci = lambda c: "" if not c else f" [{c[0]:.2f}, {c[1]:.2f}]"  # noqa: E731
        lines.append(f"| {row['technique']} | {row['level']} | {row['span_tc']:.2f}{ci(row['span_tc_ci'])} | "
                     f"{row['span_ic']:.2f}{ci(row['span_ic_ci'])} | {row['rate']} |")
    # The cascade runs on every pair of sizes; the one the issue asks about is the Qwen pair.
    cascade = [p for p in sweep["points"] if p["technique"].startswith("cascade:")
               and p["model"] == "qwen2.5-coder-0.5b+qwen2.5-coder-1.5b"]
    if cascade:
        (point,) = cascade
        large = min((p for p in sweep["points"] if p["technique"] == "maj@k" and p["model"] == "qwen2.5-coder-1.5b"
                     and p["performance"] >= point["performance"]), key=lambda p: p["infer_flops"], default=None)
        figures["cascade 0.5B -> 1.5B accuracy"] = point["performance"]
        figures["cascade IC / 1.5B maj@k IC at >= its accuracy"] = (
            point["infer_flops"] / large["infer_flops"] if large else "the 1.5B model never reaches it")
    body = (f"{args.problems} questions x {args.n} samples per model ({', '.join(models)}), temperature 0.8, "
            f"raw prompts, answers ending at their line; sampling wall time {sweep['sampling_wall_seconds']:.0f} s. "
            "Spans and rates are the tradeoff engine's, at each technique's widest level, with bootstrap "
            "intervals over questions.\n\n" + "\n".join(lines) + "\n\n"
            "How to read them: the small rungs (SmolLM2-135M, Gemma 3 270M) answer none of these questions, and "
            "the 1.5B model's first sample is already above every level the engine picks, so the iso-curves run "
            "between Gemma 3 270M and Qwen 0.5B, along the engine's log-linear interpolation in training compute "
            "across a jump from 0 to about half right (marked as cut by the data's edge). Under majority vote "
            "the two Qwen models' accuracy ranges do not overlap at this n (the 0.5B's best is below the 1.5B's "
            "first sample), so no exchange between the two Qwen sizes is measured here; under pass@k (an "
            "oracle) they meet near 0.92. The cascade is refused by the numbers: at the 1.5B model's own "
            "accuracy it spends more inference than the 1.5B model alone.")
    command = (f".venv/bin/python benchmarks/bench_real_ladder.py --problems {args.problems} --n {args.n} "
               f"--threads {args.threads} --write")
    markdown = section("The real ladder's map: Qwen2.5-Coder 0.5B and 1.5B on three-digit sums", command, figures, body)
    print(markdown)
    if args.write:
        write_section("bench_real_ladder", markdown)


if __name__ == "__main__":
    main()
