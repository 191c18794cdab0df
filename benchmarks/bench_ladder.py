"""The default ladder rung by rung, and its spread over training seeds.

    .venv/bin/python benchmarks/bench_ladder.py --store lab-report/store.sqlite
    .venv/bin/python benchmarks/bench_ladder.py --store lab-report/store.sqlite --seeds 1,2 \\
        --rungs tiny-d32-l3-4000k,tiny-d32-l3-6500k,tiny-d48-l3-5000k,tiny-d64-l3-3000k,tiny-d64-l3-5000k

First table: per rung of a lab run (``ttscale lab --preset default``, seed 0),
per-sample accuracy at k = 1 on every task form, pass@64 on factoring and
maj@64 on the scratchpad sums, and the largest jump between rungs adjacent in
training compute (the ladder is meant to have none above ~25 points).

Second table (``--seeds``): the named rungs trained again exactly as the lab
trains them but with other training seeds (the seed also reorders the training
stream), each sampled on the *same* test problems as the lab run (the seed-0
draw) with its own sampling seed; the min-max of k = 1 accuracy over the lab's
seed and these. Checkpoints go to ``--cache`` (default: the lab's cache), samples
to ``--seed-store``.
"""

from __future__ import annotations

import argparse
import functools
import itertools
from pathlib import Path

import torch

from ttscale.backends.tiny import TinyBackend
from ttscale.estimators import majority_curve, pass_curve
from ttscale.tiny.checkpoints import TRAIN_THREADS
from ttscale.lab.ladder import (
    FACTOR,
    SUMS,
    SUMS_COT,
    TRAIN_MIXTURE,
    get_preset,
    mixture_key,
)
from ttscale.lab.ladder_training import train_rungs
from ttscale.lab.pipeline import ladder_documents, run_name
from ttscale.sampling.draw import run_sweep
from ttscale.sampling.pools import pools_from_samples
from ttscale.store import Store
from ttscale.tasks import get_task

FORMS = {FACTOR: "factoring", SUMS: "sums", SUMS_COT: "sums+cot"}


def k1(cell) -> float:
    return 100 * sum(float(p.correct.mean()) for p in cell) / len(cell)


def cells_of(pools, model: str) -> dict[str, list]:
    names = {get_task(spec).name: spec for spec in TRAIN_MIXTURE}
    return {names[task]: cell for (m, task, _), cell in pools.items() if m == model and task in names}


def rung_table(store: Store, run: str) -> str:
    cards = {c.name: c for c in store.models()}
    pools = pools_from_samples(store.samples(run))
    rows, columns = [], []
    for name in sorted({m for m, _, _ in pools}, key=lambda m: cards[m].train_flops):
        card, cells = cards[name], cells_of(pools, name)
        n = min(p.n for p in cells[FACTOR])
        values = [k1(cells[spec]) for spec in TRAIN_MIXTURE]
        values += [100 * pass_curve(cells[FACTOR], [n]).mean[0], 100 * majority_curve(cells[SUMS_COT], [n]).mean[0]]
        columns.append(values)
        rows.append(f"| {name} | {card.params_non_embedding} | {card.train_tokens / 1e6:.2f}M | "
                    f"{card.train_flops:.2e} | " + " | ".join(f"{v:.1f}" for v in values) + " |")
    jumps = [max(b[i] - a[i] for a, b in itertools.pairwise(columns)) for i in range(len(columns[0]))]
    head = ("| rung | N (non-embedding) | D | TC (FLOPs) | " + " | ".join(f"{FORMS[s]} k=1" for s in TRAIN_MIXTURE)
            + f" | factoring pass@{n} | sums+cot maj@{n} |\n|" + "---|" * 9)
    return "\n".join([head, *rows, "| largest rise between adjacent rungs | | | | "
                      + " | ".join(f"{j:+.1f}" for j in jumps) + " |"])


def seed_table(store: Store, run: str, preset, names: list[str], seeds: list[int], cache: Path,
               seed_store: Path) -> str:
    rungs = [r for r in preset.rungs if r.name in names]
    lab_pools = pools_from_samples(store.samples(run))
    values: dict[str, dict[str, list[float]]] = {
        r.name: {spec: [k1(cell)] for spec, cell in cells_of(lab_pools, r.name).items()} for r in rungs}
    quiet = lambda _description, _total: lambda _tokens: None
    with Store(seed_store) as extra:
        for seed in seeds:
            trained = train_rungs(rungs, seed, functools.partial(ladder_documents, seed), mixture_key(), cache,
                                  preset.batch_size, quiet, hyper=preset.hyper)
            seed_run = f"bench-ladder-seed{seed}"
            extra.start_run(seed_run, {"of": preset.plan(0), "training_seed": seed})
            for name, result in trained.items():
                backend = TinyBackend(name=name, card=result.card, model=result.model)
                for spec in TRAIN_MIXTURE:
                    task = get_task(spec)
                    run_sweep(extra, seed_run, backend, task, task.problems(preset.n_problems, 0, "test"),
                              preset.n_samples, preset.sampling, seed)
            for name, cells in ((m, cells_of(pools_from_samples(extra.samples(seed_run)), m)) for m in trained):
                for spec, cell in cells.items():
                    values[name][spec].append(k1(cell))
    lines = ["| rung | TC (FLOPs) | " + " | ".join(f"{FORMS[s]} k=1, min-max" for s in TRAIN_MIXTURE) + " |",
             "|---|---|---|---|---|"]
    cards = {c.name: c for c in store.models()}
    for r in rungs:
        cols = " | ".join(f"{min(values[r.name][s]):.1f}-{max(values[r.name][s]):.1f}" for s in TRAIN_MIXTURE)
        lines.append(f"| {r.name} | {cards[r.name].train_flops:.2e} | {cols} |")
    return f"Training seeds 0 (the lab run), {', '.join(map(str, seeds))}:\n\n" + "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--store", default="lab-report/store.sqlite")
    parser.add_argument("--preset", default="default")
    parser.add_argument("--seeds", default="", help="extra training seeds, e.g. 1,2")
    parser.add_argument("--rungs", default="", help="comma-separated rung names (default: every rung)")
    parser.add_argument("--cache", default=None, help="checkpoint cache (default $TTSCALE_CACHE or ~/.cache/ttscale)")
    parser.add_argument("--seed-store", default="bench-ladder-seeds.sqlite")
    args = parser.parse_args()
    torch.set_num_threads(TRAIN_THREADS)
    preset = get_preset(args.preset)
    run = run_name(preset, 0)
    with Store(args.store) as store:
        print(rung_table(store, run))
        if args.seeds:
            from ttscale.cards.model_files import default_cache_dir

            names = args.rungs.split(",") if args.rungs else [r.name for r in preset.rungs]
            cache = Path(args.cache) if args.cache else default_cache_dir()
            print()
            print(seed_table(store, run, preset, names, [int(s) for s in args.seeds.split(",")], cache,
                             Path(args.seed_store)))


if __name__ == "__main__":
    main()
