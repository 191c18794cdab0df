"""Early exit (dynamic depth) sampling from a trained TinyGPT with exit heads.

Each decoded token runs the blocks one at a time. After a layer that has an
exit head (``ExitHeads``, trained by ``train_exit_heads``), a row whose head is
confident, i.e. whose largest softmax probability at temperature 1 is at least
``threshold``, takes its token from that head's logits and stops there. Its
hidden state is then copied forward unchanged (state propagation): the deeper
layers still need keys and values at this position for the tokens after it,
so they compute them from the frozen state; that costs each skipped layer its
K and V projections and nothing else. A row that never exits takes its token
from the model's own output. The prompt's prefill always runs every layer,
and its last position gives the first token, as in ``sample_pools``.

Token choice and seeding are ``sampler.choose_tokens`` with the same per-seed
keys and steps, and the batching (prompts grouped by length, one prefill per
prompt, rows compacted as they finish) is ``sample_pools``'s. With
``threshold > 1`` no head can ever be confident, so none is evaluated and the
samples are exactly ``sample_pools``'s.

Compute (``Generation.decode_flops``, per sample, in ``flops``' conventions):
each decoded pass over a token at context c (keys attended, itself included) adds

    per layer run in full:  2·N/n_layers + 4·c·d_attn     (flops' per-layer split)
    per layer skipped:      4·d_model·d_kv                 (its K and V projections)
    per exit head reached:  2·d_model² + 2·d_model·vocab   (its linear and the unembedding)
    if it did not exit:     2·d_model·vocab                (the model's unembedding)

so a sample that never exits costs exactly ``flops.decode_flops``. This is what
an implementation that exits per token spends. This batched CPU code runs each
block for every row of the batch and masks the exited rows' outputs, so it
computes more than it counts; the count is the method's cost, not this code's.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import torch
import torch.nn.functional as F

from ttscale.errors import InputError
from ttscale.tiny import sampler
from ttscale.tiny.exit_heads import (
    ExitHeads,
    ExitHeadsResult,
    check_heads,
    exit_heads_train_flops,
    head_losses,
    train_exit_heads,
)
from ttscale.tiny.model import KVCache, TinyGPT, model_card, rms_norm
from ttscale.tiny.sampler import DEFAULT_MAX_BATCH_ROWS
from ttscale.types import Generation, ModelCard, SamplingConfig

# The early-exit API in one place: the heads and their training are re-exported from exit_heads.
__all__ = [
    "DecodeCosts", "ExitHeads", "ExitHeadsResult", "ExitStats", "check_threshold", "exit_heads_train_flops",
    "exit_step", "head_losses", "sample_pools_early_exit", "train_exit_heads",
]


@dataclass(frozen=True)
class DecodeCosts:
    """FLOPs of the pieces of one decoded token (see the module docstring)."""

    layer: float  # one block's weight matmuls: 2·N/n_layers
    attention_per_key: float  # one layer's QK^T and A·V per key attended: 4·d_attn
    kv_projection: float  # one skipped layer's K and V projections: 4·d_model·d_kv
    head: float  # one exit head: 2·d_model² + 2·d_model·vocab
    unembedding: float  # the model's logits: 2·d_model·vocab

    @classmethod
    def of(cls, card: ModelCard) -> DecodeCosts:
        d, vocab = card.d_model, card.vocab_size
        head_dim = card.head_dim or d // card.n_heads
        d_kv = (card.n_kv_heads or card.n_heads) * head_dim
        return cls(
            layer=2.0 * card.params_non_embedding / card.n_layers,
            attention_per_key=4.0 * card.n_heads * head_dim,
            kv_projection=4.0 * d * d_kv,
            head=2.0 * d * d + 2.0 * d * vocab,
            unembedding=2.0 * d * vocab,
        )


@dataclass
class ExitStats:
    """Depth used by decoded tokens, accumulated over calls.

    ``tokens`` counts decoded passes (the first token of a sample comes from the
    prefill and is not one); ``layers`` sums the blocks each ran in full;
    ``exits[l]`` counts the passes that stopped after layer l (n_layers: no exit).
    """

    n_layers: int
    tokens: int = 0
    layers: int = 0
    exits: dict[int, int] = field(default_factory=dict)

    @property
    def mean_layer_fraction(self) -> float:
        """Mean fraction of the layers run per decoded token (NaN before any token)."""
        return self.layers / (self.tokens * self.n_layers) if self.tokens else math.nan

    def add(self, depth: torch.Tensor) -> None:
        self.tokens += depth.numel()
        self.layers += int(depth.sum())
        for layer, count in zip(*torch.unique(depth, return_counts=True)):
            self.exits[int(layer)] = self.exits.get(int(layer), 0) + int(count)


def check_threshold(threshold: object) -> float:
    """A threshold is a number >= 0 (> 1 never exits; 0 always exits at the first head)."""
    if isinstance(threshold, bool) or not isinstance(threshold, (int, float)) or not threshold >= 0:
        raise InputError(f"threshold: must be a number >= 0 (above 1: never exit), got {threshold!r}")
    return float(threshold)


def exit_step(
    model: TinyGPT, heads: ExitHeads, threshold: float, costs: DecodeCosts,
    cache: KVCache, tokens: torch.Tensor, pos: int,
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Feed one token per row (R,) at position ``pos``; write its keys and values into ``cache``.

    Returns (logits (R, vocab) of the next token, FLOPs spent (R,) float64,
    blocks run in full (R,) int64).
    """
    R = tokens.shape[0]
    dtype = model.wte.weight.dtype
    cos, sin = model.cos[pos : pos + 1].to(dtype), model.sin[pos : pos + 1].to(dtype)
    full_layer = costs.layer + costs.attention_per_key * (pos + 1)  # pos + 1 keys, itself included
    evaluate_heads = threshold <= 1.0  # above 1 no head can be confident: skip them, run the plain model
    exited = torch.zeros(R, dtype=torch.bool)
    depth = torch.full((R,), model.config.n_layers, dtype=torch.int64)
    spent = torch.zeros(R, dtype=torch.float64)
    exit_logits: torch.Tensor | None = None
    x = model.wte(tokens[:, None])  # (R, 1, C)
    for layer, block in enumerate(model.blocks):
        y, _ = block(x, cos, sin, cache, layer, pos)  # writes this layer's K/V from x for every row
        # An exited row keeps its frozen state; the block above wrote its K/V from that state.
        x = torch.where(exited[:, None, None], x, y) if exited.any() else y
        spent += torch.where(exited, costs.kv_projection, full_layer)
        run = layer + 1
        if evaluate_heads and run in heads.layers and not exited.all():
            head_logits = heads(x, run, model.wte.weight)[:, -1]  # (R, vocab)
            spent += torch.where(exited, 0.0, costs.head)
            confident = torch.softmax(head_logits.double(), dim=-1).amax(dim=-1) >= threshold
            newly = confident & ~exited
            if exit_logits is None:
                exit_logits = torch.zeros_like(head_logits)
            exit_logits[newly] = head_logits[newly]
            depth[newly] = run
            exited |= newly
    cache.length = pos + 1
    if exit_logits is not None and exited.all():
        return exit_logits, spent, depth
    logits = F.linear(rms_norm(x), model.wte.weight)[:, -1]  # (R, vocab), as TinyGPT.forward computes them
    spent += torch.where(exited, 0.0, costs.unembedding)
    if exit_logits is not None:
        logits = torch.where(exited[:, None], exit_logits, logits)
    return logits, spent, depth


def sample_pools_early_exit(
    model: TinyGPT,
    heads: ExitHeads,
    threshold: float,
    tokenizer: Any,
    prompts: Sequence[str],
    n: int,
    config: SamplingConfig,
    seeds: Sequence[Sequence[int]],
    stop: str = "\n",
    max_batch_rows: int = DEFAULT_MAX_BATCH_ROWS,
    compact_fraction: float = 0.125,
    stats: ExitStats | None = None,
) -> list[list[Generation]]:
    """``sampler.sample_pools`` with early exit: n samples per prompt, in seed order.

    Each Generation's ``decode_flops`` is what its decoding spent (module
    docstring); the prefill is not in it (the card counts it). ``stats``, when
    given, accumulates the depth of every decoded token.
    """
    check_heads(model, heads)
    threshold = check_threshold(threshold)
    costs = DecodeCosts.of(model_card(model.config, name="early-exit", train_tokens=None, train_flops=None))

    def step(cache: KVCache, tokens: torch.Tensor, pos: int, live: torch.Tensor):
        logits, spent, depth = exit_step(model, heads, threshold, costs, cache, tokens, pos)
        if stats is not None:
            stats.add(depth[live])
        return logits, spent

    return sampler.sample_pools(model, tokenizer, prompts, n, config, seeds, stop=stop,
                                max_batch_rows=max_batch_rows, compact_fraction=compact_fraction, step_fn=step)
