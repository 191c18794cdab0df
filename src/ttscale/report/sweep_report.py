"""The sweep's report: index.html (self-contained), PNGs, points.csv (the
tradeoff points: models with a known training compute, valid input for
``ttscale tradeoff``), curves.csv (every model's curves) and tradeoff.json
(the tradeoff engine's schema plus a ``sweep`` section: models, cards, every
point, notes and the timings, ``overhead_share`` among them)."""

from __future__ import annotations

import dataclasses
import math

import pandas as pd

from ttscale.report.summary import summary_frame
from ttscale.report.tradeoff_sections import points_frame
from ttscale.report.writer import ReportParts, write_report
from ttscale.strategies import STRATEGIES
from ttscale.techniques.searched import searched_techniques
from ttscale.sweep_analysis import BUILTIN


def models_frame(run) -> pd.DataFrame:
    rows = []
    for m in run.models:
        card, stats = m.card, m.stats
        rows.append({
            "model": m.name,
            "spec": m.spec,
            "params (total)": card.params_total,
            "layers": card.n_layers,
            "train tokens": card.train_tokens,
            "train FLOPs": card.train_flops if card.train_flops is not None else "unknown",
            "samples": stats.planned,
            "new samples": stats.generated,
            "backend seconds": stats.backend_seconds,
            "provenance": card.provenance,
        })
    return pd.DataFrame(rows)


def summary_rows(analysis, run) -> list[dict]:
    """The sweep's headline figures: built-in curves at k = 1 and k = n, every --strategy point, each with
    the number of problems behind it; a single-model figure that the stored samples cannot give (a backend
    failed on some of its samples) is a row with ``performance`` None and the reason in ``missing``."""
    n = run.settings.n
    builtin = {name for name, _, _ in BUILTIN}
    rows = []
    for d in analysis.details:
        if d.point.technique in builtin and d.k not in (1, n):
            continue
        rows.append({"model": d.point.model, "strategy": d.point.technique, "k": d.k,
                     "performance": d.point.performance, "ci_low": d.point.ci_low, "ci_high": d.point.ci_high,
                     "infer_flops": d.point.infer_flops, "seconds_per_problem": d.infer_seconds,
                     "problems": len(d.problem_ids), "missing": None})
    shown = {(r["model"], r["strategy"], r["k"]) for r in rows} | {(r["model"], r["strategy"], None) for r in rows}
    for model in run.models:
        pools = [p for (name, _, _), cell in analysis.pools.items() if name == model.name for p in cell]
        for technique in run.techniques:
            if STRATEGIES.get(technique.arms[0].strategy).traits.n_models != 1:
                continue  # multi-model strategies: their notes say why a group has no point
            # A built-in curve is expected at k = 1 and n; a --strategy spec at its own setting (any k).
            for k in ((1, n) if technique.name in builtin else (None,)):
                if (model.name, technique.name, k) not in shown:
                    rows.append({"model": model.name, "strategy": technique.name, "k": k, "performance": None,
                                 "ci_low": None, "ci_high": None, "infer_flops": None,
                                 "seconds_per_problem": None, "problems": 0,
                                 "missing": _why_missing(pools, k or 1, len(run.problems))})
    return rows


def _why_missing(pools, k: int, planned: int) -> str:
    if not pools:
        return f"no sample of the {planned} problems was stored (every one failed)"
    short = sum(p.n < k for p in pools) + planned - len(pools)
    return (f"{short} of {planned} problems hold fewer than k={k} good samples (their other samples failed in "
            "the backend); run the same command again to retry them")


def sweep_json(run, analysis) -> dict:
    settings, stats = run.settings, run.stats
    known = sorted({d.point.model for d in analysis.tradeoff_details})
    result = dict(analysis.result)
    result["sweep"] = {
        "run": run.run,
        "task": run.task.name,
        "task_fingerprint": getattr(run.task, "fingerprint", None),
        "n": settings.n,
        "problems": len(run.problems),
        "problem_ids": [p.problem_id for p in run.problems],
        "sampling": dataclasses.asdict(settings.sampling),
        "seed": settings.seed,
        "strategies": list(settings.strategies),
        "threads": run.threads.as_record(),
        "models": [{"name": m.name, "spec": m.spec, "card": m.card.to_dict(),
                    "train_flops_known": _tc_known(m.card),
                    "stats": dataclasses.asdict(m.stats), "server": m.server} for m in run.models],
        "techniques": [{"name": t.name, "strategy": t.arms[0].strategy, "description": t.description}
                       for t in run.techniques]
                      + [{"name": name, "strategy": strategy, "description": what}
                         for name, strategy, what in searched_techniques(analysis.details)],
        # Each point with what its strategy chose or measured (a cascade's calibrated threshold ...).
        "points": [{**row, **({"notes": dict(d.notes)} if d.notes else {})}
                   for row, d in zip(points_frame(analysis.details).to_dict(orient="records"), analysis.details)],
        "summary_table": summary_frame(analysis.result).to_dict(orient="records"),
        "figures": summary_rows(analysis, run),
        "failed_samples": analysis.errors,
        "complete": analysis.errors == 0,
        "tradeoff": {"models": known, "distinct_train_flops": analysis.distinct_train_flops,
                     "nothing_to_trade": analysis.nothing_to_trade},
        "notes": [*run.notes, *analysis.notes],
        **stats,
        "sampling_wall_seconds": stats["wall_seconds"],
        "wall_seconds": run.wall_seconds,
    }
    return result


def figures_frame(rows: list[dict]) -> pd.DataFrame:
    """The headline figures as the report shows them: what each uses, and why a missing one is missing."""
    return pd.DataFrame([{
        "model": r["model"], "strategy": r["strategy"], "k": "—" if r["k"] is None else r["k"],
        "performance": "missing" if r["performance"] is None else f"{r['performance']:.3f}",
        "95% CI": "" if r["ci_low"] is None else f"{r['ci_low']:.3f}-{r['ci_high']:.3f}",
        "IC FLOPs/problem": "" if r["infer_flops"] is None else f"{r['infer_flops']:.3g}",
        "problems used": r["problems"], "why missing": r["missing"] or "",
    } for r in rows])


def _tc_known(card) -> bool:
    return card.train_flops is not None and math.isfinite(card.train_flops)


def write_sweep_report(run, analysis) -> dict:
    """Write every file of the report into ``run.out_dir``; returns the tradeoff.json content."""
    out = run.out_dir
    result = sweep_json(run, analysis)
    info = result["sweep"]
    nothing = None
    if analysis.nothing_to_trade:
        nothing = (f"Nothing to trade: the swept models with a known training compute span "
                   f"{analysis.distinct_train_flops} distinct training compute value(s), and an exchange between "
                   "training and inference compute needs at least two. The curves below still show what inference "
                   "compute buys each model.")
    techniques = pd.DataFrame([{"technique": t["name"], "strategy": t["strategy"], "what": t["description"]}
                               for t in info["techniques"]])
    overhead = info["overhead_share"]
    write_report(out, ReportParts(
        title="ttscale sweep: performance vs inference compute, and the training-inference tradeoff",
        subtitle=(f"task {info['task']}: {info['problems']} test problems, {info['n']} samples each, "
                  f"{len(run.models)} model(s); run {run.run}"
                  + (f". PARTIAL RUN: {analysis.errors} of {info['planned']} samples failed in the backend; the "
                     "figures they would have given are marked missing (see Figures)" if analysis.errors else "")),
        result=result,
        tradeoff_details=analysis.tradeoff_details,
        details=analysis.details,
        budget_note="Each line is one model; k samples per problem replayed exactly from its pool of n; bands are "
                    "95% bootstrap intervals over problems. pass@k is an oracle bound (any of k correct), not a "
                    "deployable method.",
        techniques=techniques,
        models=models_frame(run),
        meta={
            "wall seconds": f"{run.wall_seconds:.1f}",
            "threads (in-process models)": run.threads.describe(),
            "backend seconds": f"{info['backend_seconds']:.1f}",
            "grading seconds (incl. sandbox and store writes)": f"{info['grading_seconds']:.1f}",
            "orchestration overhead": "n/a (nothing sampled)" if overhead is None else f"{overhead:.1%}",
            "samples": f"{info['planned']} ({info['generated']} generated in this invocation"
                       + (f"; {analysis.errors} failed: a partial run)" if analysis.errors else ")"),
            "store": str(out / "store.sqlite"),
        },
        nothing_to_trade=nothing,
        notes=info["notes"],
        figures=figures_frame(info["figures"]),
        extra_csv={"curves.csv": analysis.details},
    ))
    return result
