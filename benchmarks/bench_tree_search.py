"""Tree search (beam, MCTS) vs best-of-n at equal inference compute, on the lab's scratchpad sums.

    .venv/bin/python benchmarks/bench_tree_search.py            # print the markdown section
    .venv/bin/python benchmarks/bench_tree_search.py --write    # also put it in BENCHMARKS.md

Models: default-ladder checkpoints, loaded from the checkpoint cache as the
lab loads them (nothing trains when they are cached). Problems: the first
``--problems`` test problems of the lab's run (``task.problems(n, seed, "test")``
is a prefix of the lab's 200), so best-of-n is replayed from the lab's stored
pools (``--store``, default the README's ``lab-report/store.sqlite`` or else
``/tmp/default-report/store.sqlite``; run ``lab-default-seed0``: 64 samples per problem) on
exactly the problems the searches ran on.

Equal IC: for each search setting, best-of-n's per-problem accuracy (the exact
best@k estimator) is read at the k whose mean IC over these problems equals
the search's mean IC, interpolating linearly in IC between neighbouring
integer k. Outside best-of-n's range (below one sample, above 64) the nearest
end is used and the row says so. The difference (search - best-of-n) gets a
percentile bootstrap CI over problems.

Value models: per model, two kinds (``lab.value_model``): a fresh tiny body
trained from scratch ("learned value") and the model's own frozen body with a
learned head ("learned value (policy body)"), both trained on the model's own
samples of 4000 calib-split problems x 4 (never test), stored with the search
results in ``--work``; their training FLOPs and the FLOPs of sampling their
data are in the TC column.
Everything is resumable: a re-run reuses the stored searches and value models.
"""

from __future__ import annotations

import argparse
import functools
import sys
import time
from pathlib import Path

import numpy as np
import torch

from ttscale import estimators
from ttscale.backends.tiny import TinyBackend
from ttscale.lab.ladder import PRESETS, SUMS_COT, mixture_key
from ttscale.lab.ladder_training import train_rungs
from ttscale.lab.pipeline import ladder_documents
from ttscale.lab.value_calibration import train_value_models
from ttscale.lab.value_model import DEFAULT_CONFIG, POLICY_BODY
from ttscale.sampling.pools import pools_from_samples
from ttscale.store import Store
from ttscale.strategies.beam import BeamSettings
from ttscale.strategies.mcts import MCTSSettings
from ttscale.strategies.step_scorers import LogProbScorer, ValueScorer
from ttscale.strategies.tree_search import run_search, search_spec
from ttscale.techniques.searched import point_of, technique_name
from ttscale.tasks import get_task

ROOT = Path(__file__).resolve().parent.parent
DEFAULT_MODELS = "tiny-d32-l3-4000k,tiny-d32-l3-6500k,tiny-d64-l3-5000k"
LOGPROB_SETTINGS = (
    BeamSettings(width=1, expansions=4, scorer="logprob"),
    BeamSettings(width=2, expansions=4, scorer="logprob"),
    BeamSettings(width=4, expansions=4, scorer="logprob"),
    MCTSSettings(expansions=8, branch=4, scorer="logprob"),
)
VALUE_SETTINGS = (
    BeamSettings(width=1, expansions=4, scorer="value"),
    BeamSettings(width=2, expansions=4, scorer="value"),
    BeamSettings(width=4, expansions=4, scorer="value"),
    MCTSSettings(expansions=4, branch=4, scorer="value"),
    MCTSSettings(expansions=8, branch=4, scorer="value"),
    MCTSSettings(expansions=16, branch=4, scorer="value"),
)
VALUE_CONFIGS = {"fresh": DEFAULT_CONFIG, "policy body": POLICY_BODY}


def load_models(names: list[str], seed: int, cache_dir: Path):
    """The named default-ladder models, loaded (or trained) exactly as the lab does."""
    preset = PRESETS["default"]
    rungs = [rung for rung in preset.rungs if rung.name in names]
    missing = sorted(set(names) - {rung.name for rung in rungs})
    if missing:
        raise SystemExit(f"not in the default ladder: {missing}")
    trained = train_rungs(rungs, seed, functools.partial(ladder_documents, seed), mixture_key(), cache_dir,
                          preset.batch_size, add_bar=lambda _description, _total: lambda _tokens: None, hyper=preset.hyper)
    return {n: r.model for n, r in trained.items()}, {n: r.card for n, r in trained.items()}


def best_of_n_table(pools) -> tuple[np.ndarray, np.ndarray]:
    """(accuracy, IC), each (problems, k = 1..n): exact best@k and the IC of drawing k."""
    n = min(p.n for p in pools)
    ks = np.arange(1, n + 1)
    accuracy = np.array([estimators.best_at_ks(p.scores, p.correct, ks) for p in pools])
    compute = np.array([[p.inference_flops(float(k), False) for k in ks] for p in pools])
    return accuracy, compute


def at_equal_compute(accuracy: np.ndarray, compute: np.ndarray, target: float) -> tuple[np.ndarray, float, str]:
    """Per-problem best-of-n accuracy at mean IC ``target``, the (fractional) k, and a range flag."""
    mean_ic = compute.mean(axis=0)
    if target <= mean_ic[0]:
        return accuracy[:, 0], 1.0, "below k=1"
    if target >= mean_ic[-1]:
        return accuracy[:, -1], float(len(mean_ic)), f"above k={len(mean_ic)}"
    hi = int(np.searchsorted(mean_ic, target))
    w = (target - mean_ic[hi - 1]) / (mean_ic[hi] - mean_ic[hi - 1])
    return (1 - w) * accuracy[:, hi - 1] + w * accuracy[:, hi], hi + w, ""


def run(args) -> dict:
    torch.set_num_threads(args.threads)
    started = time.perf_counter()
    names = args.models.split(",")
    models, cards = load_models(names, args.seed, Path(args.cache).expanduser())
    task = get_task(SUMS_COT)
    problems = task.problems(args.problems, args.seed, "test")
    test_ids = {p.problem_id for p in task.problems(200, args.seed, "test")} | {p.problem_id for p in problems}
    with Store(args.store) as lab_store:
        samples = [s for s in lab_store.samples(args.run, task=SUMS_COT) if s.key.model in names]
    pools_by_model = {k[0]: {p.problem_id: p for p in cell} for k, cell in pools_from_samples(samples).items()}

    work = Path(args.work)
    t0 = time.perf_counter()
    values = {}  # (variant, model) -> TrainedValue
    with Store(work / "store.sqlite") as store:
        for variant, config in VALUE_CONFIGS.items():
            trained = train_value_models(store, "bench-tree-search", models, cards, task, test_ids, seed=args.seed,
                                         cache_dir=work / "value-models", n_problems=args.calib_problems,
                                         n_samples=args.calib_samples, config=config)
            values.update({(variant, name): v for name, v in trained.items()})
    value_seconds = time.perf_counter() - t0
    rows, search_seconds = [], 0.0
    with Store(work / "store.sqlite") as results_store:
        results = results_store.search_results
        for name in sorted(models, key=lambda m: cards[m].train_flops):
            accuracy, compute = best_of_n_table([pools_by_model[name][p.problem_id] for p in problems])
            backend = TinyBackend(name=name, card=cards[name], model=models[name])
            runs = [(s, LogProbScorer(), 0.0) for s in LOGPROB_SETTINGS]
            for variant in VALUE_CONFIGS:
                value = values[(variant, name)]
                scorer = ValueScorer(value.model, value.key, label=value.label)
                runs += [(s, scorer, value.total_train_flops) for s in VALUE_SETTINGS]
            for settings, scorer, extra in runs:
                t1 = time.perf_counter()
                outcomes = run_search(backend, task, problems, settings, scorer, args.seed, results=results)
                search_seconds += time.perf_counter() - t1
                detail = point_of(technique_name(settings, scorer.label), settings, cards[name], task.name, outcomes,
                                  extra, n_boot=args.n_boot, seed=args.seed)
                bon, k_eq, flag = at_equal_compute(accuracy, compute, detail.point.infer_flops)
                diff = np.array([float(o.correct) for o in outcomes]) - bon
                lo, hi = estimators.bootstrap_ci(diff, n_boot=args.n_boot, seed=args.seed)
                rows.append({"model": name, "technique": detail.point.technique, "spec": search_spec(settings),
                             "accuracy": detail.point.performance, "ci": (detail.point.ci_low, detail.point.ci_high),
                             "ic": detail.point.infer_flops, "tc": detail.point.train_flops,
                             "draws": detail.mean_draws, "prefill_share": detail.notes["prefill_share"],
                             "bon_k": k_eq, "bon_accuracy": float(bon.mean()), "flag": flag,
                             "diff": float(diff.mean()), "diff_ci": (lo, hi), "seconds": detail.infer_seconds})
    return {"rows": rows, "values": {key: v.metrics | {"train_flops": v.train_flops, "data_flops": v.data_flops,
                                                       "seconds": v.seconds} for key, v in values.items()},
            "value_seconds": value_seconds, "search_seconds": search_seconds,
            "wall_seconds": time.perf_counter() - started, "problems": len(problems), "threads": args.threads,
            "store": f"{args.store} (run {args.run})",
            "cards": {n: cards[n].train_flops for n in models}}


def markdown(result: dict, command: str) -> str:
    lines = ["## Tree search vs best-of-n at equal inference compute (scratchpad sums)", "",
             f"Command: `{command}`", "",
             f"{result['problems']} test problems, {len(result['cards'])} default-ladder models, "
             f"{result['threads']} thread(s), best-of-n pools from `{result['store']}`. Best-of-n is replayed from the lab's stored pools (64 samples per "
             "problem) at the k whose mean IC equals the search's (linear in IC between integer k). "
             "diff = search accuracy - best-of-n accuracy at that IC, with a 95% bootstrap CI over problems. "
             "TC of learned-value rows includes the value model's training and its calibration sampling. "
             "prefill = share of the search's IC spent re-prefilling prompt + prefix at every step (the "
             "backend keeps no cache across calls).", "",
             "| model | technique | settings | accuracy [95% CI] | IC/problem | TC | draws | prefill | "
             "best-of-n k at equal IC | best-of-n accuracy | diff [95% CI] |",
             "|---|---|---|---|---|---|---|---|---|---|---|"]
    for r in result["rows"]:
        k = f"{r['bon_k']:.1f}" + (f" ({r['flag']})" if r["flag"] else "")
        lines.append(
            f"| {r['model']} | {r['technique']} | {r['spec'].split(':', 1)[1]} | {r['accuracy']:.3f} "
            f"[{r['ci'][0]:.3f}, {r['ci'][1]:.3f}] | {r['ic']:.3g} | {r['tc']:.3g} | {r['draws']:.1f} | "
            f"{r['prefill_share']:.2f} | {k} | {r['bon_accuracy']:.3f} | {r['diff']:+.3f} "
            f"[{r['diff_ci'][0]:+.3f}, {r['diff_ci'][1]:+.3f}] |")
    lines += ["", "Value models (held out: 10% of the calibration problems):", "",
              "| model | value body | held-out AUC | held-out accuracy | base rate | value training FLOPs | "
              "sampling FLOPs | model TC | train s |", "|---|---|---|---|---|---|---|---|---|"]
    for (variant, name), m in result["values"].items():
        lines.append(f"| {name} | {variant} | {m.get('holdout_auc', float('nan')):.3f} | {m.get('holdout_accuracy', float('nan')):.3f} "
                     f"| {m.get('holdout_base_rate', float('nan')):.3f} | {m['train_flops']:.3g} | "
                     f"{m['data_flops']:.3g} | {result['cards'][name]:.3g} | {m['seconds']:.1f} |")
    lines += ["", f"Wall: {result['wall_seconds']:.0f} s in all; value models (calibration sampling + training, "
              f"0 when cached) {result['value_seconds']:.0f} s; searches {result['search_seconds']:.0f} s "
              "(0 when the results are stored)."]
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--models", default=DEFAULT_MODELS)
    parser.add_argument("--problems", type=int, default=100)
    parser.add_argument("--calib-problems", type=int, default=4000)
    parser.add_argument("--calib-samples", type=int, default=4)
    parser.add_argument("--store", default=None,
                        help="a lab store (default: lab-report/store.sqlite, else /tmp/default-report/store.sqlite)")
    parser.add_argument("--run", default="lab-default-seed0")
    parser.add_argument("--work", default="/tmp/bench_tree_search")
    parser.add_argument("--cache", default="~/.cache/ttscale")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--n-boot", type=int, default=1000)
    parser.add_argument("--write", action="store_true", help="replace this section of BENCHMARKS.md")
    args = parser.parse_args()
    if args.store is None:
        readme_report = ROOT / "lab-report" / "store.sqlite"
        args.store = str(readme_report if readme_report.exists() else Path("/tmp/default-report/store.sqlite"))
    section = markdown(run(args), ".venv/bin/python benchmarks/bench_tree_search.py " + " ".join(sys.argv[1:]))
    print(section)
    if args.write:
        import bench_md

        bench_md.write_section("bench_tree_search", section)
        print(f"wrote {ROOT / 'BENCHMARKS.md'}")


if __name__ == "__main__":
    main()
