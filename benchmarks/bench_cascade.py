"""Cascades and ensembles on a lab store: how much inference they save.

    .venv/bin/python benchmarks/bench_cascade.py [--store lab-report/store.sqlite] [--write]

Cascade (small model first, escalate when its vote agreement is low) against
the large model alone at k_large samples, at the large model's accuracy: the
ratio of mean inference FLOPs per problem (target <= 50 %) and the accuracy
difference. Everything the cascade chooses is chosen on the calibration split:
the threshold (the cheapest within ``--tol`` of the large model there) and
k_small (the cheapest of a grid there). The CIs are a joint bootstrap: every
replicate resamples the calibration problems and re-chooses the threshold,
then resamples the test problems, so they cover both samplings.

Ensemble (k samples from each model, one plurality vote) against the best
single model with majority voting at any k whose inference cost is no more than
the ensemble's. The best single model is picked on the test problems (a bias
in its favour); the CI of the difference resamples test problems.

With ``--write`` the section between ``<!-- bench_cascade:start -->`` and
``<!-- bench_cascade:end -->`` of BENCHMARKS.md is replaced (appended if absent).
"""

from __future__ import annotations

import argparse
import os
import platform
import sqlite3
from datetime import datetime, timezone
from pathlib import Path

import numpy as np

from ttscale.lab.ladder import SUMS, SUMS_COT
from ttscale.sampling.pools import pools_from_samples
from ttscale.store import Store
from ttscale.strategies import STRATEGIES, cascade, settings_of
from ttscale.tasks import get_task
from ttscale.techniques import default_groups

ROOT = Path(__file__).resolve().parent.parent
K_SMALL_GRID = (1, 2, 4, 8, 16)
K_LARGE = (1, 4)
ENSEMBLE_KS = (1, 4, 16)
TASKS = {get_task(SUMS).name: "answer-only sums", get_task(SUMS_COT).name: "scratchpad sums"}


def load(store_path: str, run: str | None):
    """(test cells, calibration cells, cards, where calibration came from), cells keyed (model, task)."""
    with sqlite3.connect(f"file:{store_path}?mode=ro", uri=True) as db:
        runs = [r for (r,) in db.execute("SELECT run FROM runs ORDER BY run")]
    if run is None:
        mains = [r for r in runs if not r.endswith("/calib")]
        run = next((r for r in mains if f"{r}/calib" in runs), mains[0])
    with Store(store_path) as store:
        cards = {c.name: c for c in store.models()}
        test = {(m, t): c for (m, t, _), c in pools_from_samples(store.samples(run)).items()}
        calib = {(m, t): c for (m, t, _), c in pools_from_samples(store.samples(f"{run}/calib")).items()}
    if calib:
        return test, calib, cards, f"run `{run}`, calibration split `{run}/calib`"
    # No calibration split: half the test problems (alternate ids) stand in for it.
    halves = {key: (cell[0::2], cell[1::2]) for key, cell in test.items()}
    return ({k: h[1] for k, h in halves.items()}, {k: h[0] for k, h in halves.items()}, cards,
            f"run `{run}` has no calibration split: alternate test problems (by id) calibrate, the rest are scored")


def percentile_ci(values) -> tuple[float, float]:
    low, high = np.quantile(np.asarray(values), [0.025, 0.975])
    return float(low), float(high)


def cascade_row(small_test, large_test, small_cal, large_cal, k_large, tol, n_boot, rng) -> dict:
    verifier = all(p.verified is not None for p in small_test + large_test)
    usable = [k for k in K_SMALL_GRID if k <= min(p.n for p in small_test + small_cal)]
    options = {k: cascade.choose_threshold(small_cal, large_cal, k, k_large, tol, verifier) for k in usable}
    k_small = min(usable, key=lambda k: (options[k].infer_flops, k))  # chosen on calibration only
    small_out = cascade.outcomes(small_test, k_small, verifier)
    large_out = cascade.outcomes(large_test, k_large, verifier)
    alone_acc, alone_ic = large_out.accuracy, large_out.flops
    result = cascade.replay(small_out, large_out, options[k_small].threshold)
    small_cal_out = cascade.outcomes(small_cal, k_small, verifier)
    large_cal_out = cascade.outcomes(large_cal, k_large, verifier)
    ratios, deltas = [], []
    n_cal, n_test = len(small_cal), len(small_test)
    for _ in range(n_boot):
        cal = rng.integers(0, n_cal, n_cal)
        chosen = cascade.threshold_from_outcomes(small_cal_out.take(cal), large_cal_out.take(cal), tol)
        idx = rng.integers(0, n_test, n_test)
        boot = cascade.replay(small_out.take(idx), large_out.take(idx), chosen.threshold)
        ratios.append(boot.infer_flops.mean() / alone_ic[idx].mean())
        deltas.append(boot.performance.mean() - alone_acc[idx].mean())
    return {
        "k_large": k_large, "large_acc": alone_acc.mean(), "k_small": k_small, "small_acc": small_out.accuracy.mean(),
        "threshold": options[k_small].threshold, "escalated": result.p_escalate.mean(),
        "cascade_acc": result.performance.mean(), "delta": result.performance.mean() - alone_acc.mean(),
        "delta_ci": percentile_ci(deltas), "ratio": result.infer_flops.mean() / alone_ic.mean(),
        "ratio_ci": percentile_ci(ratios),
    }


def cascade_rows(test, calib, cards, task, tol, n_boot, seed) -> list[dict]:
    models = [m for (m, t) in test if t == task and (m, t) in calib and m in cards]
    rows = []
    for small, large in default_groups(STRATEGIES.get("cascade"), models, cards):
        rng = np.random.default_rng(seed)
        for k_large in K_LARGE:
            row = cascade_row(test[small, task], test[large, task], calib[small, task], calib[large, task],
                              k_large, tol, n_boot, rng)
            rows.append({"task": task, "small": small, "large": large, **row})
    return rows


def single_model_frontier(test, task, models):
    """Every (model, k) with majority voting: (mean IC, per-problem accuracy)."""
    majority = STRATEGIES.get("majority")
    points = []
    for m in models:
        cell = test[m, task]
        for k in range(1, min(p.n for p in cell) + 1):
            ev = majority.replay([cell], settings_of(majority, {"k": k}), None, 0)
            points.append((float(ev.infer_flops.mean()), ev.performance, f"{m} k={k}"))
    return points


def ensemble_rows(test, cards, task, perms, n_boot, seed) -> list[dict]:
    models = [m for (m, t) in test if t == task and m in cards]
    ensemble = STRATEGIES.get("ensemble")
    singles = single_model_frontier(test, task, models)
    rows = []
    for group in default_groups(ensemble, models, cards):
        cells = [test[m, task] for m in group]
        for k in ENSEMBLE_KS:
            if k > min(p.n for c in cells for p in c):
                continue
            ev = ensemble.replay(cells, settings_of(ensemble, {"k": k, "perms": perms}), None, seed)
            ic = float(ev.infer_flops.mean())
            affordable = [s for s in singles if s[0] <= ic * (1 + 1e-9)]
            best = max(affordable, key=lambda s: s[1].mean()) if affordable else None
            row = {"task": task, "group": group, "k": k, "acc": ev.performance.mean(), "ic": ic,
                   "mc_se": ev.notes["mc_standard_error"], "best": None}
            if best is not None:
                diff = ev.performance - best[1]
                rng = np.random.default_rng(seed)
                boots = [diff[rng.integers(0, len(diff), len(diff))].mean() for _ in range(n_boot)]
                row.update(best=best[2], best_acc=best[1].mean(), delta=diff.mean(), delta_ci=percentile_ci(boots))
            rows.append(row)
    return rows


def short(model: str) -> str:
    return model.removeprefix("tiny-")


def markdown(cascades, ensembles, source, tol, n_boot, perms, command) -> str:
    # Savings at a floor accuracy say nothing: count only settings where the large model is right half the time.
    useful = [r for r in cascades if r["large_acc"] >= 0.5]
    met = [r for r in useful if r["ratio"] <= 0.5 and r["delta"] >= -tol]
    sure = [r for r in met if r["ratio_ci"][1] <= 0.5 and r["delta_ci"][0] >= -tol]
    escalating = [r for r in met if r["escalated"] > 0]
    lines = [
        "## Cascades and ensembles (lab pools)", "", f"Command: `{command}`", "",
        f"Measured {datetime.now(timezone.utc):%Y-%m-%d %H:%M} UTC on {platform.machine()}, {os.cpu_count()} cores.", "",
        f"Pools: {source}. Cascade threshold and k_small (grid {list(K_SMALL_GRID)}) chosen on calibration, "
        f"tol = {tol}; CIs: 95 % joint bootstrap over calibration and test problems ({n_boot} replicates). "
        "IC ratio = cascade / large model alone (mean inference FLOPs per problem, both models' work counted).", "",
        f"Of the {len(useful)} settings whose large model is at least 50 % accurate, {len(met)} reach IC ratio <= 0.5 "
        f"within tol of its accuracy (point estimates), {len(sure)} with both CIs inside those bounds; "
        f"{len(escalating)} of those escalate at all (the others never do: the small model alone, at k_small, "
        "is already as accurate as the large one).", "",
        "| task | small -> large | k_large | large acc | k_small | small alone acc | threshold | escalated "
        "| cascade acc | Δacc [95% CI] | IC ratio [95% CI] |",
        "|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for r in cascades:
        lines.append(
            f"| {TASKS[r['task']]} | {short(r['small'])} -> {short(r['large'])} | {r['k_large']} | "
            f"{r['large_acc']:.3f} | {r['k_small']} | {r['small_acc']:.3f} | {r['threshold']:.3g} | {r['escalated']:.2f} | "
            f"{r['cascade_acc']:.3f} | {r['delta']:+.3f} [{r['delta_ci'][0]:+.3f}, {r['delta_ci'][1]:+.3f}] | "
            f"{r['ratio']:.3f} [{r['ratio_ci'][0]:.3f}, {r['ratio_ci'][1]:.3f}] |"
        )
    lines += [
        "", f"Ensemble: plurality over k samples of each model (Monte Carlo, {perms} draws per problem) vs the "
        "best single model of the ladder (majority vote, any k) whose IC is no more than the ensemble's, picked on "
        "the test problems (a bias in its favour). ± is the Monte-Carlo standard error; Δacc CI: paired bootstrap "
        "over test problems.", "",
        "| task | models | k per model | ensemble acc | IC (FLOPs) | best single at <= IC | its acc | Δacc [95% CI] |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for r in ensembles:
        group = " + ".join(short(m) for m in r["group"]) if len(r["group"]) <= 3 else f"all {len(r['group'])} models"
        if r["best"] is None:
            tail = "none that cheap | | |"
        else:
            tail = (f"{short(r['best'])} | {r['best_acc']:.3f} | {r['delta']:+.3f} "
                    f"[{r['delta_ci'][0]:+.3f}, {r['delta_ci'][1]:+.3f}] |")
        lines.append(f"| {TASKS[r['task']]} | {group} | {r['k']} | {r['acc']:.3f} ± {r['mc_se']:.4f} | "
                     f"{r['ic']:.3g} | {tail}")
    return "\n".join(lines) + "\n"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--store", default="lab-report/store.sqlite", help="a lab store: run the README main command first")
    parser.add_argument("--run", default=None, help="the scored run (default: the one with a /calib split)")
    parser.add_argument("--tol", type=float, default=0.01)
    parser.add_argument("--n-boot", type=int, default=300)
    parser.add_argument("--perms", type=int, default=1000)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--write", action="store_true", help="replace this section of BENCHMARKS.md")
    parser.add_argument("--out", default=str(ROOT / "BENCHMARKS.md"))
    args = parser.parse_args()

    test, calib, cards, source = load(args.store, args.run)
    cascades, ensembles = [], []
    for task in TASKS:
        cascades += cascade_rows(test, calib, cards, task, args.tol, args.n_boot, args.seed)
        ensembles += ensemble_rows(test, cards, task, args.perms, args.n_boot, args.seed)
    command = f".venv/bin/python benchmarks/bench_cascade.py --store {args.store} --tol {args.tol}"
    section = markdown(cascades, ensembles, source, args.tol, args.n_boot, args.perms, command)
    print(section)
    if args.write:
        import bench_md

        bench_md.write_section("bench_cascade", section, Path(args.out))
        print(f"wrote the bench_cascade section of {args.out}")


if __name__ == "__main__":
    main()
