"""The lab's technique table: which strategies, on which task, at which settings.

Every technique becomes a row of the tradeoff summary and a set of points on
the iso-performance diagram. Uniform strategies (k samples for every problem)
are the baselines; the adaptive ones spend inference where it pays (adaptive
votes, difficulty-aware allocation) or across models (cascades, ensembles), and
are read against the baselines on the same stored pools.

Settings scale with the pool size N, so the smoke preset (N = 8) and the
default (N = 64) run the same table. Voting techniques use the scratchpad sums
(the direct form is right far less often on these models, so votes have less
to settle there).
"""

from __future__ import annotations

from ttscale.lab.mixture import FACTOR, SUMS, SUMS_COT
from ttscale.techniques import Arm, TechniqueSpec, budgets_up_to


def _settings(**columns) -> tuple[dict, ...]:
    """Rows of settings from equal-length columns."""
    names = list(columns)
    return tuple(dict(zip(names, values)) for values in zip(*columns.values()))


def uniform_techniques(n: int) -> tuple[TechniqueSpec, ...]:
    ks = budgets_up_to(n)
    return (
        TechniqueSpec(
            "repeated sampling, cheap verification",
            (Arm.uniform(FACTOR, "first-verified", ks),),
            "factoring: sample until the product checks out",
        ),
        TechniqueSpec(
            "repeated sampling, majority vote",
            (Arm.uniform(SUMS_COT, "majority", ks),),
            "answer-only sums (no verifier; scratchpad form): plurality answer of k samples",
        ),
        TechniqueSpec(
            "best-of-n, log-prob scorer",
            (Arm.uniform(SUMS_COT, "best-of-n", ks),),
            "answer-only sums (scratchpad form): the sample with the highest mean token log-probability",
        ),
        TechniqueSpec(
            "chain of thought",
            (Arm.uniform(SUMS, "majority", (1,)), Arm.uniform(SUMS_COT, "majority", (1,))),
            "the same sums answered directly or after a scratchpad",
        ),
        TechniqueSpec(
            "scaling policy",
            (Arm.uniform(SUMS_COT, "majority", (1,)),),
            "one sample per problem from each model (scratchpad sums): size N and tokens D traded",
        ),
    )


def adaptive_techniques(n: int) -> tuple[TechniqueSpec, ...]:
    caps = [k for k in budgets_up_to(n) if k >= 2]
    confs = (0.8, 0.9, 0.99)
    budgets = sorted({b for b in (1.5, 2, 3, 4, 6, 8, 12, 16, 24, 32) if b <= n})
    return (
        TechniqueSpec(
            "adaptive vote",
            (Arm(SUMS_COT, "adaptive-vote", tuple({"conf": 0.95, "cap": k} for k in caps)
                 + tuple({"conf": c, "cap": n} for c in confs)),),  # fmt: skip
            "scratchpad sums: sample until P(leader is the true mode) >= conf (Beta posterior), at most cap",
        ),
        TechniqueSpec(
            "difficulty-aware allocation, votes",
            (Arm(SUMS_COT, "allocate", tuple({"budget": b, "probe": 1 if b < 2 else 2} for b in budgets)),),
            "scratchpad sums: a probe per problem, then the rest of a fixed total where the expected gain in "
            "vote accuracy per FLOP is highest (baseline: majority vote)",
        ),
        TechniqueSpec(
            "difficulty-aware allocation, verifier",
            (Arm(FACTOR, "allocate", tuple({"budget": b, "probe": 1} for b in budgets)),),
            "factoring: a probe per problem, then the rest where the verifier is likeliest to pass next "
            "(baseline: repeated sampling with cheap verification)",
        ),
        TechniqueSpec(
            "cascade",
            (Arm(SUMS_COT, "cascade", _settings(k_small=(1, 2, 4, 4, 8, 8), k_large=(1, 1, 1, 4, 4, 8),
                                                tol=(0.01,) * 6)),),  # fmt: skip
            "small model's vote first; escalate to the large one when its agreement falls below a threshold "
            "chosen on the calibration split",
        ),
        TechniqueSpec(
            "ensemble",
            (Arm(SUMS_COT, "ensemble", tuple({"k": k} for k in budgets_up_to(min(n, 16)))),),
            "k samples from each model, one plurality vote over all of them",
        ),
    )


def lab_techniques(n: int) -> tuple[TechniqueSpec, ...]:
    return uniform_techniques(n) + adaptive_techniques(n)


# What each compression row says it maps (lab/compression.py makes the variants).
COMPRESSION_WORDS = {
    "quantization": "the ladder and its weight-quantized variants, one sample each (scratchpad sums): "
                    "no FLOP saved, weight bytes are (read it in bytes)",
    "pruning": "the ladder and pruned variants of its top rung (MLP neurons or layers, by magnitude or "
               "activations, with and without retraining), one sample each",
    "distillation": "the ladder, students distilled from its top rung (teacher forward passes counted) and the "
                    "same students from scratch at equal marginal compute, one sample each",
    "early exit": "the ladder and its top rung with exit heads (per-token exit when confident; FLOPs counted "
                  "per token as spent), one sample each",
}


def compression_techniques(ladder: tuple[str, ...], variants: dict[str, tuple[str, ...]],
                           n_variant_samples: int) -> tuple[TechniqueSpec, ...]:
    """One row per compression technique that has variants (the ladder plus its variants, k = 1), and the
    combination row: quantized models with a vote next to the full-precision ladder's own votes."""
    rows = []
    for technique, names in variants.items():
        if names:
            rows.append(TechniqueSpec(technique, (Arm.uniform(SUMS_COT, "majority", (1,)),),
                                      COMPRESSION_WORDS[technique], models=ladder + names))
    quantized = variants.get("quantization", ())
    if quantized:
        rows.append(TechniqueSpec(
            "quantization + vote", (Arm.uniform(SUMS_COT, "majority", budgets_up_to(n_variant_samples)),),
            f"the ladder and its quantized variants with a majority vote of up to {n_variant_samples} samples "
            "(scratchpad sums): a compressed model voting against the full one at equal cost",
            models=ladder + quantized))
    return tuple(rows)
