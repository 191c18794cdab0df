"""A lab TinyGPT sampled with early exit (``ttscale.tiny.early_exit``) as a backend.

Like ``TinyBackend`` (prompt prefilled once per pool, every layer), but each
decoded token may stop at an exit head, so the cost per token varies: every
Generation carries the ``decode_flops`` it actually spent, and the store keeps
that instead of the card's formula. The card still counts the prefill, with the
base model's parameters (the prefill never evaluates a head).

``layers_used`` accumulates, over every call, the decoded tokens and the blocks
each ran in full; ``layers_used.mean_layer_fraction`` is the mean fraction of
the depth used per token.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from dataclasses import dataclass, field

from ttscale.backends import Stop
from ttscale.backends.tiny import by_sample_count
from ttscale.tiny import tokenizer
from ttscale.tiny.early_exit import (
    ExitHeads,
    ExitHeadsResult,
    ExitStats,
    check_threshold,
    sample_pools_early_exit,
)
from ttscale.tiny.exit_heads import check_heads
from ttscale.tiny.model import TinyGPT
from ttscale.types import Generation, ModelCard, SamplingConfig


@dataclass
class EarlyExitBackend:
    name: str
    card: ModelCard
    model: TinyGPT
    heads: ExitHeads
    threshold: float
    max_batch_rows: int = 1024
    prefill_shared: bool = True
    layers_used: ExitStats = field(init=False)

    def __post_init__(self) -> None:
        check_heads(self.model, self.heads)
        self.threshold = check_threshold(self.threshold)
        self.layers_used = ExitStats(n_layers=self.model.config.n_layers)

    def count_tokens(self, text: str) -> int:
        # What the sampler prefills: BOS + the prompt's characters.
        return len(tokenizer.encode_prompt(text))

    def generate(
        self, prompts: Sequence[str], seeds: Sequence[Sequence[int]], config: SamplingConfig, stop: Stop
    ) -> list[list[Generation]]:
        return by_sample_count(prompts, seeds, stop, lambda group, seed_lists, n, one_stop: sample_pools_early_exit(
            self.model, self.heads, self.threshold, tokenizer, group, n=n, config=config, seeds=seed_lists,
            stop=one_stop, max_batch_rows=self.max_batch_rows, stats=self.layers_used))

    def close(self) -> None:
        """Nothing to free: the model and heads belong to the caller."""


def early_exit_backend(
    model: TinyGPT, card: ModelCard, heads: ExitHeadsResult, threshold: float,
    name: str | None = None, max_batch_rows: int = 1024,
) -> EarlyExitBackend:
    """An EarlyExitBackend over a trained model (its ``card``) and trained heads.

    The card is the base card renamed (default ``{card.name}@exit{threshold:g}``),
    with the heads' training FLOPs added to ``train_flops`` and their layers and
    parameters (d_model² each) in the provenance; its parameter counts stay the
    base model's, which is what the prefill runs.
    """
    threshold = check_threshold(threshold)
    name = name or f"{card.name}@exit{threshold:g}"
    extra = (f"early exit at threshold {threshold:g} after layers {list(heads.layers)} "
             f"({len(heads.layers)} x d_model² head parameters, {heads.train_flops:.3g} FLOPs to train them)")
    exit_card = dataclasses.replace(
        card, name=name,
        train_flops=None if card.train_flops is None else card.train_flops + heads.train_flops,
        provenance=f"{card.provenance}; {extra}" if card.provenance else extra,
    )
    return EarlyExitBackend(name=name, card=exit_card, model=model, heads=heads.heads,
                            threshold=threshold, max_batch_rows=max_batch_rows)
