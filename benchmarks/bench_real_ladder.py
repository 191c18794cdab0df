"""The training-inference map on the real ladder: Qwen2.5-Coder 0.5B and 1.5B (and the two small
rungs), sampled on three-digit sums, through ``ttscale sweep``'s own code.

    .venv/bin/python benchmarks/bench_real_ladder.py [--task sums:digits=3-4] [--problems 40] [--calibration 40] [--n 8] [--threads 2] [--out DIR] [--write]

The task, ``sums`` (arith's problems asked in words: "Q: What is 347 + 588?\\nA:", exact answers,
hash-disjoint splits, an answer read from its line), sits where votes have room with three- and
four-digit sums mixed: one Qwen sample is right about 40 % (0.5B) or 85 % (1.5B) of the time at
temperature 0.8 (raw prompts: BENCHMARKS.md, ``bench_prompt_style``, for why). Every installed model
of the ladder is swept with ``--n`` samples per question, plus ``--calibration`` questions of the
calibration split on which a cascade from the 0.5B to the 1.5B chooses its agreement threshold, and
an ensemble of the models. Printed: each model's accuracy at k = 1 and k = n, the tradeoff's spans
and rates per technique (with their intervals), and the cascade against the 1.5B model alone.
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
CASCADE = "cascade:k_small=4,k_large=1"  # the threshold is chosen on the calibration questions
ENSEMBLE = "ensemble:k=4"


def wilson(successes: float, n: int, z: float = 1.96) -> tuple[float, float]:
    """95 % Wilson interval of a proportion."""
    p = successes / n
    centre = (p + z * z / (2 * n)) / (1 + z * z / n)
    half = z * ((p * (1 - p) / n + z * z / (4 * n * n)) ** 0.5) / (1 + z * z / n)
    return centre - half, centre + half


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
    parser.add_argument("--task", default="sums:digits=3-4")
    parser.add_argument("--problems", type=int, default=40)
    parser.add_argument("--calibration", type=int, default=40)
    parser.add_argument("--n", type=int, default=8)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--out", type=Path, default=Path("real-ladder-report"))
    parser.add_argument("--write", action="store_true", help="replace this section of BENCHMARKS.md")
    args = parser.parse_args()
    configure(Verbosity.quiet)
    models = tuple(m for m in LADDER if installed_path(m) is not None)
    both_qwen = {"qwen2.5-coder-0.5b", "qwen2.5-coder-1.5b"} <= set(models)
    settings = SweepSettings(
        models=models, task=args.task, n=args.n, limit=args.problems, calibration=args.calibration,
        threads=args.threads,
        sampling=SamplingConfig(temperature=0.8, top_p=0.95, max_new_tokens=8), n_boot=500,
        strategies=((CASCADE,) if both_qwen else ()) + ((ENSEMBLE,) if len(models) > 1 else ()))
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
        small4, large1 = ({(p["model"], p["k"]): p for p in sweep["points"] if p["technique"] == "maj@k"}[key]
                          for key in (("qwen2.5-coder-0.5b", 4), ("qwen2.5-coder-1.5b", 1)))
        # IC = the small model's 4 samples always + the large one's sample on the escalated share: the
        # interval of the ratio is the Wilson interval of that share over the test questions.
        escalated = point["notes"]["escalation_rate"]
        low, high = wilson(escalated * args.problems, args.problems)
        ratio = lambda share: (small4["infer_flops"] + share * large1["infer_flops"]) / large1["infer_flops"]  # noqa: E731
        figures["cascade 0.5B -> 1.5B threshold (chosen on calibration)"] = point["notes"]["threshold"]
        figures["cascade accuracy [95% CI]"] = f"{point['performance']:.3f} [{point['ci_low']:.3f}, {point['ci_high']:.3f}]"
        figures["1.5B alone (k=1) accuracy [95% CI]"] = (f"{large1['performance']:.3f} [{large1['ci_low']:.3f}, "
                                                         f"{large1['ci_high']:.3f}]")
        figures["cascade escalation rate"] = escalated
        figures["cascade IC / 1.5B k=1 IC [95% CI]"] = f"{ratio(escalated):.2f} [{ratio(low):.2f}, {ratio(high):.2f}]"
    for point in (p for p in sweep["points"] if p["technique"].startswith("ensemble:")):
        figures[f"ensemble {point['model']} accuracy [95% CI]"] = (
            f"{point['performance']:.3f} [{point['ci_low']:.3f}, {point['ci_high']:.3f}]")
    body = (f"Task `{args.task}`: {args.problems} test questions x {args.n} samples per model "
            f"({', '.join(models)}), temperature 0.8, raw prompts; sampling wall time {sweep['sampling_wall_seconds']:.0f} s (0 when the store already held every sample). "
            "Spans and rates are the tradeoff engine's, at each technique's widest level, with bootstrap "
            "intervals over questions.\n\n" + "\n".join(lines)
            + "\n\n" + cheapest_table(sweep["points"], result["levels"], models) + "\n\n"
            "Each cell is the least inference compute at which a model's majority vote reaches the level (its k "
            "in brackets), none when no k up to n does. Where a model with more training compute reaches a "
            "level only at more inference compute too, it is dominated there: nothing is traded, and the "
            "engine's rate is none.")
    command = (f".venv/bin/python benchmarks/bench_real_ladder.py --task {args.task} --problems {args.problems} "
               f"--calibration {args.calibration} --n {args.n} --threads {args.threads} --write")
    markdown = section("The real ladder's map on sums", command, figures, body)
    print(markdown)
    if args.write:
        write_section("bench_real_ladder", markdown)


if __name__ == "__main__":
    main()
