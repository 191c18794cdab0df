"""The lab's report: index.html (self-contained), PNG plots, points.csv and
tradeoff.json (the tradeoff engine's schema plus a ``lab`` section with the
model cards, every point's provenance and the timings)."""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from ttscale.report.summary import summary_frame, techniques_with_rate, techniques_with_span
from ttscale.report.tradeoff_sections import points_frame
from ttscale.report.writer import ReportParts, write_report
from ttscale.techniques.searched import searched_techniques

SPAN_GOAL_OOM = 0.3  # what the lab's map is meant to show: spans of this size in both computes


def cards_frame(cards, rates) -> pd.DataFrame:
    return pd.DataFrame(
        [
            {
                "model": c.name,
                "params (non-emb.)": c.params_non_embedding,
                "params (total)": c.params_total,
                "layers": c.n_layers,
                "width": c.d_model,
                "train tokens": c.train_tokens,
                "train FLOPs": float(c.train_flops),
                "measured train FLOP/s": float(rates.get(c.name, float("nan"))),
            }
            for c in sorted(cards.values(), key=lambda c: c.train_flops)
        ]
    )


def variants_frame(variants) -> pd.DataFrame:
    """The compression variants: what each is, its size and bits, its training compute total and marginal."""
    return pd.DataFrame([
        {
            "variant": v.card.name,
            "technique": v.technique,
            "parent": v.parent or "(from scratch)",
            "params (non-emb.)": v.card.params_non_embedding,
            "bits/weight": v.card.bits_per_weight,
            "train FLOPs (total)": float(v.card.train_flops),
            "marginal FLOPs": v.marginal_flops,
            "what": v.description,
        }
        for v in variants
    ])


def summary_line(outcome) -> str:
    measured = techniques_with_rate(outcome.result)
    wide = techniques_with_span(outcome.result, SPAN_GOAL_OOM)
    return (
        f"lab: {len(outcome.cards)} models, {outcome.samples_total} samples "
        f"({outcome.samples_generated} new), {len(outcome.details)} points, "
        f"{len(measured)} techniques with a measured exchange rate, {len(wide)} with a span of at least "
        f"{SPAN_GOAL_OOM:g} OOM in both computes; "
        f"{outcome.wall_seconds:.0f}s -> {outcome.out_dir / 'index.html'}"
    )


def write_lab_report(outcome, preset, pools) -> Path:
    out = outcome.out_dir
    points = points_frame(outcome.details)
    summary = summary_frame(outcome.result)
    cards = cards_frame(outcome.cards, outcome.train_flops_per_second)

    result = dict(outcome.result)
    result["lab"] = {
        "preset": preset.name,
        "run": outcome.run,
        "cards": {name: card.to_dict() for name, card in outcome.cards.items()},
        "train_flops_per_second": outcome.train_flops_per_second,
        "points": points.to_dict(orient="records"),
        "summary_table": summary.to_dict(orient="records"),
        "wall_seconds": outcome.wall_seconds,
        "train_seconds": outcome.train_seconds,
        "sample_seconds": outcome.sample_seconds,
        "search_seconds": outcome.search_seconds,
        "compress_seconds": outcome.compress_seconds,
        "samples_total": outcome.samples_total,
        "samples_generated": outcome.samples_generated,
        "threads": outcome.threads.as_record(),
        "techniques_with_rate": techniques_with_rate(outcome.result),
        "techniques_with_span": techniques_with_span(outcome.result, SPAN_GOAL_OOM),
    }
    if outcome.variants:
        result["lab"]["variants"] = variants_frame(outcome.variants).to_dict(orient="records")
    task_of = {d.point.technique: d.task for d in outcome.details}
    technique_rows = pd.DataFrame(
        [{"technique": t.name, "what": t.description, "arms": ", ".join(f"{a.strategy} on {a.task}" for a in t.arms)}
         for t in outcome.techniques]
        + [{"technique": name, "what": what, "arms": f"{strategy} on {task_of[name]}"}
           for name, strategy, what in searched_techniques(outcome.details)]
    )
    return write_report(out, ReportParts(
        title="ttscale lab: the training-inference compute tradeoff on tiny models",
        subtitle=(
            f"preset {preset.name}, run {outcome.run}: {len(outcome.cards)} models, "
            f"{preset.n_problems} test problems per task, {preset.n_samples} samples per problem"
        ),
        result=result,
        tradeoff_details=outcome.details,
        details=outcome.details,
        budget_note="Each line is one model; k samples per problem replayed exactly from one pool; bands are "
                    "95% bootstrap intervals over problems.",
        techniques=technique_rows,
        models=cards,
        variants=variants_frame(outcome.variants) if outcome.variants else None,
        meta={
            "wall seconds": f"{outcome.wall_seconds:.1f}",
            "training seconds": f"{outcome.train_seconds:.1f}",
            "sampling seconds": f"{outcome.sample_seconds:.1f}",
            "tree-search seconds (value models included)": f"{outcome.search_seconds:.1f}",
            "compression seconds (variants made; cached ones loaded)": f"{outcome.compress_seconds:.1f}",
            "torch threads": outcome.threads.describe(),
            "samples": f"{outcome.samples_total} ({outcome.samples_generated} generated in this invocation)",
            "store": str(out / "store.sqlite"),
        },
    ))
