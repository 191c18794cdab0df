"""The summary of a tradeoff, one row per technique, read from the engine's JSON
so that the terminal table, the report's table and tradeoff.json never disagree.

Each row reports the level at which the technique's efficient span is widest
(TC + IC), with the exchange rate there: a number with its interval where the
data measure one, otherwise "none" and the reason in words. A span cut by the
data's edge says so.
"""

from __future__ import annotations

import pandas as pd

WORDS = {
    "rate": "exchange rate: OOM of inference compute (IC) paid per OOM of training compute (TC) saved, "
            "|d log IC / d log TC| along the iso-performance curve (its median over the curve's length, and its "
            "values at the low-TC and high-TC ends)",
    "span": "span of efficient exchange: the part of the curve where the rate lies between 1/r and r, "
            "measured in orders of magnitude (OOM, factors of 10) of TC and of IC",
}


def _interval(ci) -> str:
    return "" if not ci else f" [{ci[0]:.2f}, {ci[1]:.2f}]"


def _rate_text(level: dict) -> str:
    rate = level.get("exchange_rate")
    if rate is None:
        return "none: " + (level.get("exchange_rate_reason") or "not measured")
    ci = level.get("exchange_rate_ci")
    text = f"median {rate:.3g}" + ("" if not ci else f" [{ci[0]:.3g}, {ci[1]:.3g}]")
    ends = level.get("exchange_rate_range")
    if ends:
        text += f"; {ends[0]:.2g} to {ends[1]:.2g} along the curve"
    return text


def best_level(tech: dict) -> tuple[str, dict] | None:
    """(key, level) with the widest span (TC + IC); ties and no-span cases go to the first measured rate."""
    levels = tech.get("levels", {})
    if not levels:
        return None
    with_rate = [(k, v) for k, v in levels.items() if v.get("exchange_rate") is not None]
    pool = with_rate or list(levels.items())
    return max(pool, key=lambda item: (item[1].get("span_oom_train", 0.0) + item[1].get("span_oom_infer", 0.0)))


def technique_rows(result: dict) -> list[dict]:
    rows = []
    for name, tech in result.get("techniques", {}).items():
        found = best_level(tech)
        if found is None:
            continue
        key, level = found
        notes = [n for n in (level.get("span_note"),) if n]
        scale = tech.get("summary", {}).get("effect_of_scale", "")
        if level.get("exchange_rate") is not None and scale and not scale.startswith("unknown"):
            notes.append(f"effect of scale: {scale}")
        extrapolated = level.get("extrapolated") or {}
        if "span_oom_train" in extrapolated:
            at_least = "at least " if extrapolated.get("reaches_extrapolation_limit") else ""
            notes.append(f"extrapolated ({extrapolated['smoother']}): {at_least}"
                         f"{extrapolated['span_oom_train']:.2f} / {extrapolated['span_oom_infer']:.2f} OOM")
        rows.append({
            "technique": name,
            "level": key,
            "span_tc": level.get("span_oom_train", 0.0),
            "span_tc_ci": level.get("span_oom_train_ci"),
            "span_ic": level.get("span_oom_infer", 0.0),
            "span_ic_ci": level.get("span_oom_infer_ci"),
            "rate": _rate_text(level),
            "note": "; ".join(notes),
            "points": tech.get("n_points"),
        })
    return rows


def summary_frame(result: dict) -> pd.DataFrame:
    rows = technique_rows(result)
    return pd.DataFrame(
        [
            {
                "technique": r["technique"],
                "level": r["level"],
                "span in TC (OOM)": f"{r['span_tc']:.2f}{_interval(r['span_tc_ci'])}",
                "span in IC (OOM)": f"{r['span_ic']:.2f}{_interval(r['span_ic_ci'])}",
                "exchange rate": r["rate"],
                "note": r["note"],
                "points": r["points"],
            }
            for r in rows
        ],
        columns=["technique", "level", "span in TC (OOM)", "span in IC (OOM)", "exchange rate", "note", "points"],
    )


def techniques_with_rate(result: dict) -> list[str]:
    """Techniques with a measured exchange rate at one level at least."""
    return [name for name, tech in result.get("techniques", {}).items()
            if any(level.get("exchange_rate") is not None for level in tech.get("levels", {}).values())]


def techniques_with_span(result: dict, min_oom: float) -> list[str]:
    """Techniques whose span reaches ``min_oom`` in both TC and IC at some level, its interval excluding 0."""
    names = []
    for name, tech in result.get("techniques", {}).items():
        for level in tech.get("levels", {}).values():
            wide = level.get("span_oom_train", 0.0) >= min_oom and level.get("span_oom_infer", 0.0) >= min_oom
            cis = [level.get("span_oom_train_ci"), level.get("span_oom_infer_ci")]
            if wide and all(ci is not None and ci[0] > 0 for ci in cis):
                names.append(name)
                break
    return names
