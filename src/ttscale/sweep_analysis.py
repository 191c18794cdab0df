"""The sweep's technique table: built-in curves for every model, plus one technique per ``--strategy``.

Built-in curves at every budget k (all k up to 16, then powers of two and n):
pass@k (an oracle bound: solved if any of k samples is right), maj@k, best-of-n
by mean log-probability, and first-verified@k when the task has a verifier.
Every ``--strategy`` spec replayed from the pools is one more technique, at its
given settings. (The analysis itself is the pipeline's: ttscale.pipeline.analysis.)
"""

from __future__ import annotations

from typing import Sequence

from ttscale.strategies import resolve, spec_of
from ttscale.techniques import Arm, TechniqueSpec, budgets_up_to

BUILTIN = (
    ("pass@k (oracle)", "pass", "solved if any of k samples is correct: an upper bound, not deployable"),
    ("maj@k", "majority", "plurality answer of k samples"),
    ("best-of-n", "best-of-n", "the sample with the highest mean token log-probability of k"),
    ("first-verified@k", "first-verified", "sample until the task's verifier accepts (at most k)"),
)


def sweep_budgets(n: int) -> tuple[int, ...]:
    return tuple(sorted(set(range(1, min(n, 16) + 1)) | set(budgets_up_to(n))))


def sweep_techniques(task: str, n: int, has_verifier: bool, strategy_specs: Sequence[str],
                     logprobs: bool = True) -> list[TechniqueSpec]:
    """The built-in curves the task and the samples allow (a verifier; log-probabilities), then the specs."""
    ks = sweep_budgets(n)
    specs = [
        TechniqueSpec(name, (Arm.uniform(task, strategy, ks),), description)
        for name, strategy, description in BUILTIN
        if (strategy != "first-verified" or has_verifier) and (logprobs or not resolve(strategy)[0].traits.uses_logprobs)
    ]
    for spec in strategy_specs:
        strategy, settings = resolve(spec)
        name = spec_of(strategy.name, settings)
        if name not in {s.name for s in specs}:  # one spec given twice is one technique
            specs.append(TechniqueSpec(name, (Arm(task, strategy.name, (settings.values(),)),), strategy.traits.description))
    return specs
