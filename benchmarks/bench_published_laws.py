"""The tradeoff engine on laws and data no one here wrote, next to their published figures.

- Chinchilla's law (Hoffmann et al. 2022) on a grid of N x D: the span of efficient exchange at ratio 6
  per loss level, from the frontier and extrapolated by the power-law smoother, against the closed form
  (1.21 / 0.71 OOM at every level; Epoch 2023 publishes 1.2 / 0.7).
- Hex 9x9 (Jones 2021): the exchange rate along iso-Elo curves, against the published 1.2.
- Chinchilla's runs as read off its Figure 4 (Besiroglu et al. 2024, when ``../shared/published`` is
  present): the measured span (cut by the data's edge) and the extrapolated one, against the refit's
  0.99 / 0.59 OOM.

    .venv/bin/python benchmarks/bench_published_laws.py [--write]
"""

from __future__ import annotations

import argparse
import csv
import sys
import tempfile
import time
from pathlib import Path

from bench_md import section, write_section

from ttscale.tradeoff import analyse, load_points_csv
from ttscale.tradeoff.laws import CHINCHILLA, CHINCHILLA_REFIT, chinchilla_points, closed_form_span, hex_points

PUBLISHED = Path(__file__).resolve().parents[2] / "shared" / "published" / "chinchilla_fig4_epoch_extracted.csv"
LAW_LEVELS = [0.03, 0.05, 0.08, 0.1, 0.12, 0.14]
RUN_LEVELS = [0.06, 0.08, 0.1]


def _row(level: str, entry: dict) -> str:
    extrapolated = entry.get("extrapolated") or {}
    cut = [end for end, flag in (("low TC", entry["span_truncated"]["low_train"]),
                                 ("high TC", entry["span_truncated"]["high_train"])) if flag]
    extra = (f"{extrapolated['span_oom_train']:.2f} / {extrapolated['span_oom_infer']:.2f}"
             if "span_oom_train" in extrapolated else "—")
    return (f"| {level} | {entry['span_oom_train']:.2f} / {entry['span_oom_infer']:.2f} | "
            f"{', '.join(cut) or 'no'} | {extra} |")


def chinchilla_law() -> tuple[list[str], float]:
    started = time.perf_counter()
    result = analyse(chinchilla_points(), levels=LAW_LEVELS, n_boot=0, extrapolate=True)
    seconds = time.perf_counter() - started
    train, infer = closed_form_span(CHINCHILLA)
    lines = [f"Chinchilla's law on a 25 x 29 grid of log10 N in 6..12, log10 D in 8..15 (725 points); closed form "
             f"{train:.2f} / {infer:.2f} OOM (TC / IC) at every level; analysis {seconds:.1f} s.", "",
             "| performance exp(-L) | frontier span TC / IC (OOM) | cut by the data's edge | power-law smoother, "
             "extrapolated |", "|---|---|---|---|"]
    lines += [_row(key, entry) for key, entry in result["techniques"]["scaling policy"]["levels"].items()]
    return lines, seconds


def hex_law() -> list[str]:
    result = analyse(hex_points(), levels=[0.2, 0.5, 0.8], n_boot=0)
    lines = ["", "Hex 9x9 (iso-Elo lines of slope -1.2; 81 agents x budgets):", "",
             "| win rate | exchange rate (median along the frontier) | published |", "|---|---|---|"]
    for key, entry in result["techniques"]["MCTS (Hex 9x9)"]["levels"].items():
        lines.append(f"| {key} | {entry['exchange_rate']:.3f} | 1.2 |")
    return lines


def published_runs() -> list[str]:
    if not PUBLISHED.is_file():
        return ["", f"Chinchilla's extracted runs: not measured ({PUBLISHED} is absent)."]
    measured = analyse(load_points_csv(PUBLISHED), levels=RUN_LEVELS, n_boot=0)
    with PUBLISHED.open(newline="") as handle:
        rows = [row for row in csv.DictReader(handle) if row["epoch_excluded_outlier"] != "1"]
    with tempfile.TemporaryDirectory() as folder:
        kept = Path(folder) / "points.csv"
        with kept.open("w", newline="") as handle:
            writer = csv.DictWriter(handle, fieldnames=list(rows[0]))
            writer.writeheader()
            writer.writerows(rows)
        extrapolated = analyse(load_points_csv(kept), levels=RUN_LEVELS, n_boot=0, extrapolate=True)
    train, infer = closed_form_span(CHINCHILLA_REFIT)
    lines = ["", f"Chinchilla's 245 runs read off its Figure 4 (D/N <= 341). The replication's refit implies "
             f"{train:.2f} / {infer:.2f} OOM. Frontier from all 245 runs; extrapolation fitted on the 240 the "
             "replication kept:", "",
             "| performance exp(-L) | frontier span TC / IC (OOM) | cut by the data's edge | power-law smoother, "
             "extrapolated |", "|---|---|---|---|"]
    for key, entry in measured["techniques"]["scaling_policy"]["levels"].items():
        entry = dict(entry, extrapolated=extrapolated["techniques"]["scaling_policy"]["levels"][key]["extrapolated"])
        lines.append(_row(key, entry))
    return lines


def main(argv: list[str]) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--write", action="store_true", help="write the section into BENCHMARKS.md")
    args = parser.parse_args(argv)
    law, _ = chinchilla_law()
    body = "\n".join(law + hex_law() + published_runs())
    markdown = section("The tradeoff engine on published laws and data", "python benchmarks/bench_published_laws.py "
                       "--write", body=body)
    print(markdown)
    if args.write:
        write_section("published_laws", markdown)


if __name__ == "__main__":
    main(sys.argv[1:])
