"""The summary table (technique | span in TC | span in IC | effect of scale),
read from the tradeoff engine's JSON so the page and tradeoff.json can never
disagree."""

from __future__ import annotations

import statistics

import pandas as pd


def techniques_with_finite_rate(result: dict) -> list[str]:
    """Techniques with at least one level whose iso-curve has a finite exchange rate."""
    names = []
    for name, tech in result.get("techniques", {}).items():
        if any(level.get("exchange_rate_median") is not None for level in tech.get("levels", {}).values()):
            names.append(name)
    return names


def summary_frame(result: dict) -> pd.DataFrame:
    rows = []
    for name, tech in result.get("techniques", {}).items():
        levels = tech.get("levels", {})
        spans_tc = [lv.get("span_oom_train") or 0.0 for lv in levels.values()]
        spans_ic = [lv.get("span_oom_infer") or 0.0 for lv in levels.values()]
        rates = [lv["exchange_rate_median"] for lv in levels.values() if lv.get("exchange_rate_median") is not None]
        summary = tech.get("summary", {})
        fit = tech.get("fit") or {}
        rows.append(
            {
                "technique": name,
                "span in TC (OOM)": round(max(spans_tc, default=0.0), 2),
                "span in IC (OOM)": round(max(spans_ic, default=0.0), 2),
                "exchange rate (median over levels)": float(f"{statistics.median(rates):.3g}") if rates else None,
                "effect of scale": summary.get("effect_of_scale", "n/a"),
                "fit R²": None if fit.get("r2") is None else round(fit["r2"], 3),
                "points": fit.get("n_points"),
                "note": tech.get("problem") or fit.get("quality") or "",
            }
        )
    return pd.DataFrame(rows)
