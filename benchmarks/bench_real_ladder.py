"""The training-inference map on the real ladder: Qwen2.5-Coder 0.5B and 1.5B (and the two small
rungs), sampled on three-digit sums, through ``ttscale sweep``'s own code.

    .venv/bin/python benchmarks/bench_real_ladder.py [--task sums:digits=3] [--problems 40] [--n 8] [--threads 2] [--out DIR] [--write]

The task, ``sums`` (arith's problems asked in words: "Q: What is 347 + 588?\\nA:", exact answers,
hash-disjoint splits, an answer read from its line), sits where votes have room at three digits:
one Qwen sample is right about half (0.5B) or nine tenths (1.5B) of the time at temperature 0.8
(raw prompts: BENCHMARKS.md, ``bench_prompt_style``, for why). Every installed model of the ladder is swept with ``--n`` samples per question,
plus a cascade from the 0.5B to the 1.5B at a fixed agreement threshold. Printed: each model's
accuracy at k = 1 and k = n, the tradeoff's spans and rates per technique (with their intervals),
and the cascade against the 1.5B model alone.
"""

from __future__ import annotations

import argparse
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


def cheapest_table(points: list[dict], levels: list[float], models: tuple[str, ...]) -> str:
    """Per level, each model's cheapest majority vote that reaches it."""
    lines = ["| level | " + " | ".join(models) + " |", "|---" * (len(models) + 1) + "|"]
    for level in levels:
        cells = []
        for model in models:
            votes = [q for q in points if q["technique"] == "maj@k" and q["model"] == model
                     and q["performance"] >= level]
            best = min(votes, key=lambda q: q["infer_flops"], default=None)
            cells.append("none" if best is None else f"{best['infer_flops']:.2e} (k={best['k']})")
        lines.append(f"| {level:g} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--task", default="sums:digits=3")
    parser.add_argument("--problems", type=int, default=40)
    parser.add_argument("--n", type=int, default=8)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--out", type=Path, default=Path("real-ladder-report"))
    parser.add_argument("--write", action="store_true", help="replace this section of BENCHMARKS.md")
    args = parser.parse_args()
    configure(Verbosity.quiet)
    models = tuple(m for m in LADDER if installed_path(m) is not None)
    both_qwen = {"qwen2.5-coder-0.5b", "qwen2.5-coder-1.5b"} <= set(models)
    settings = SweepSettings(
        models=models, task=args.task, n=args.n, limit=args.problems, threads=args.threads,
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
    body = (f"Task `{args.task}`: {args.problems} test questions x {args.n} samples per model "
            f"({', '.join(models)}), temperature 0.8, raw prompts; sampling wall time {sweep['sampling_wall_seconds']:.0f} s. "
            "Spans and rates are the tradeoff engine's, at each technique's widest level, with bootstrap "
            "intervals over questions.\n\n" + "\n".join(lines)
            + "\n\n" + cheapest_table(sweep["points"], result["levels"], models) + "\n\n"
            "Each cell is the least inference compute at which a model's majority vote reaches the level (its k "
            "in brackets), none when no k up to n does. Where a model with more training compute reaches a "
            "level only at more inference compute too, it is dominated there: nothing is traded, and the "
            "engine's rate is none.")
    command = (f".venv/bin/python benchmarks/bench_real_ladder.py --task {args.task} --problems {args.problems} "
               f"--n {args.n} --threads {args.threads} --write")
    markdown = section(f"The real ladder's map: Qwen2.5-Coder 0.5B and 1.5B on {args.task}", command, figures, body)
    print(markdown)
    if args.write:
        write_section("bench_real_ladder", markdown)


if __name__ == "__main__":
    main()
