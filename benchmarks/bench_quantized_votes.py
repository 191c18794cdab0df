"""Quantized real models with a vote against less-quantized ones at equal weight bytes (issue 13).

Sweeps (resumably) Qwen2.5-Coder 0.5B and 1.5B as shipped and their llama.cpp variants
(`BASE@q8_0`, `@q4_0`, `@q3_k_m`, `@q2_k`, and the 1.5B with layers 22-25 dropped) on the sums,
then reads the tradeoff in weight bytes read per question (one sequence at a time) next to FLOPs,
and compares pairs of configurations that read about the same bytes (within 15 %): a more
quantized model voting over more samples against a less quantized one with fewer. Differences in
accuracy carry a paired bootstrap interval over questions (both configurations answer the same
questions, so the pairing removes the questions' own difficulty from the interval).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "src"))
from bench_md import section, write_section  # noqa: E402

from ttscale.cards import installed_path  # noqa: E402
from ttscale.logs import Verbosity, configure  # noqa: E402
from ttscale.model_sweep import sweep_and_report  # noqa: E402
from ttscale.report.summary import technique_rows  # noqa: E402
from ttscale.sweep_settings import SweepSettings  # noqa: E402
from ttscale.types import SamplingConfig  # noqa: E402

SMALL, LARGE = "qwen2.5-coder-0.5b", "qwen2.5-coder-1.5b"
VARIANTS = (SMALL, f"{SMALL}@q8_0", f"{SMALL}@q4_0", LARGE, f"{LARGE}@q8_0", f"{LARGE}@q4_0", f"{LARGE}@q3_k_m",
            f"{LARGE}@q2_k", f"{LARGE}@drop=22-25")
EQUAL_BYTES = 0.15  # two configurations read "the same bytes" when they differ by at most this share
COMPARED_K = (1, 2, 4)  # the less quantized side: one sample, and votes of 2 and 4


def paired_difference(a: np.ndarray, b: np.ndarray, n_boot: int = 2000, seed: int = 0) -> tuple[float, float, float]:
    """Mean of a - b over questions and its 95 % percentile interval, resampling questions in pairs."""
    rng = np.random.default_rng(seed)
    diff = a - b
    draws = rng.integers(0, len(diff), size=(n_boot, len(diff)))
    means = diff[draws].mean(axis=1)
    return float(diff.mean()), float(np.percentile(means, 2.5)), float(np.percentile(means, 97.5))


def equal_bytes_pairs(details, bits_of: dict[str, float]) -> list[tuple]:
    """(a more quantized model voting over more samples, a less quantized one over fewer) of the same base
    model, reading about the same bytes per question (within EQUAL_BYTES): for each less quantized
    configuration, the vote of the more quantized model closest to it in bytes."""
    votes = [d for d in details if d.point.technique == "maj@k" and np.isfinite(d.infer_bytes)
             and "drop=" not in d.point.model]
    pairs = []
    for b in votes:
        for model in sorted({d.point.model for d in votes}):
            if model.split("@")[0] != b.point.model.split("@")[0] or not bits_of[model] < bits_of[b.point.model]:
                continue
            close = [a for a in votes if a.point.model == model and a.k > b.k and b.k in COMPARED_K
                     and abs(a.infer_bytes - b.infer_bytes) <= EQUAL_BYTES * max(a.infer_bytes, b.infer_bytes)]
            if close:
                pairs.append((min(close, key=lambda a: abs(a.infer_bytes - b.infer_bytes)), b))
    return pairs


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--task", default="sums:digits=3-4")
    parser.add_argument("--problems", type=int, default=40)
    parser.add_argument("--n", type=int, default=8)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--out", type=Path, default=Path("quantized-ladder-report"))
    parser.add_argument("--write", action="store_true", help="replace this section of BENCHMARKS.md")
    args = parser.parse_args()
    configure(Verbosity.quiet)
    missing = [m for m in (SMALL, LARGE) if installed_path(m) is None]
    if missing:
        sys.exit(f"needs {', '.join(missing)}: ttscale models pull NAME")
    settings = SweepSettings(models=VARIANTS, task=args.task, n=args.n, limit=args.problems, threads=args.threads,
                             sampling=SamplingConfig(temperature=0.8, top_p=0.95, max_new_tokens=8), n_boot=500)
    _, analysis, result = sweep_and_report(settings, args.out, show_progress=True)
    bits_of = {m["name"]: m["card"]["bits_per_weight"] for m in result["sweep"]["models"]}
    lines = ["| model | bits/weight | one sample [95% CI] | vote of 8 [95% CI] | weight bytes per question, one sample |",
             "|---|---|---|---|---|"]
    by_key = {(d.point.model, d.k): d for d in analysis.details if d.point.technique == "maj@k"}
    for model in VARIANTS:
        one, eight = by_key.get((model, 1)), by_key.get((model, args.n))
        if one is None:
            continue
        bits = bits_of[model]
        lines.append(f"| {model} | {bits:.2f} | {one.point.performance:.3f} [{one.point.ci_low:.2f}, "
                     f"{one.point.ci_high:.2f}] | {eight.point.performance:.3f} [{eight.point.ci_low:.2f}, "
                     f"{eight.point.ci_high:.2f}] | {one.infer_bytes:.3g} |")
    pair_lines = ["| more quantized, more votes | less quantized, fewer votes | bytes ratio | accuracy | "
                  "difference [95% paired CI] |", "|---|---|---|---|---|"]
    for a, b in equal_bytes_pairs(analysis.details, bits_of):
        mean, low, high = paired_difference(np.array(a.problem_scores), np.array(b.problem_scores))
        pair_lines.append(f"| {a.point.model} vote@{a.k} | {b.point.model} vote@{b.k} | "
                          f"{a.infer_bytes / b.infer_bytes:.2f} | {a.point.performance:.3f} vs "
                          f"{b.point.performance:.3f} | {mean:+.3f} [{low:+.3f}, {high:+.3f}] |")
    span_lines = ["| cost | technique | level | span TC (OOM) [95% CI] | span IC (OOM) [95% CI] | exchange rate |",
                  "|---|---|---|---|---|---|"]
    for cost, tradeoff in (("FLOPs", result), ("bytes", result["by_cost"]["bytes"])):
        for row in technique_rows(tradeoff):
            ci = lambda c: "" if not c else f" [{c[0]:.2f}, {c[1]:.2f}]"  # noqa: E731
            span_lines.append(f"| {cost} | {row['technique']} | {row['level']} | {row['span_tc']:.2f}"
                              f"{ci(row['span_tc_ci'])} | {row['span_ic']:.2f}{ci(row['span_ic_ci'])} | {row['rate']} |")
    body = (f"Task `{args.task}`: {args.problems} test questions x {args.n} samples per model, temperature 0.8. "
            "Variants are requantized from the shipped Q4_K_M files (llama.cpp's `allow_requantize`), so each "
            "carries the shipped file's rounding as well as its own. Weight bytes per question: parameters x bits "
            "per weight / 8 for the prefill and for every generated token, one sequence at a time.\n\n"
            + "\n".join(lines) + "\n\nPairs at equal weight bytes (within 15 %), same base model:\n\n"
            + "\n".join(pair_lines) + "\n\nThe tradeoff between the two sizes, in FLOPs and in bytes (spans at "
            "each technique's widest level; intervals: bootstrap over questions):\n\n" + "\n".join(span_lines))
    command = (f".venv/bin/python benchmarks/bench_quantized_votes.py --task {args.task} --problems {args.problems} "
               f"--n {args.n} --threads {args.threads} --out {args.out} --write")
    markdown = section("Quantized real models with a vote, at equal weight bytes", command, body=body)
    print(markdown)
    if args.write:
        write_section("bench_quantized_votes", markdown)


if __name__ == "__main__":
    main()
