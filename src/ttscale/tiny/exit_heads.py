"""Exit heads for early exit: a cheap next-token predictor after some intermediate blocks of a trained TinyGPT.

A head after layer l (l blocks run, 1 <= l < n_layers) maps the residual
stream h to logits as

    logits = rms_norm(W_l · h) · wte^T

with W_l a d_model x d_model matrix initialised to the identity and ``wte`` the
model's tied (un)embedding. At initialisation a head is therefore exactly the
"logit lens" (the final norm and unembedding applied early), and its only new
parameters are the d_model² of W_l. The model itself (the trunk) is frozen:
``train_exit_heads`` trains the heads alone, each on its own next-token
cross-entropy, with the trainer's batches, schedule and optimiser.

The sampler that uses the heads is ``ttscale.tiny.early_exit``.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn

from ttscale.errors import InputError
from ttscale.tiny import trainer
from ttscale.tiny.model import TinyConfig, TinyGPT, model_card, rms_norm
from ttscale.tiny.trainer import Documents, TrainHyper
from ttscale.types import ModelCard


def check_layers(config: TinyConfig, layers: Sequence[int]) -> tuple[int, ...]:
    """The exit layers, sorted; each must be an int in 1 .. n_layers-1, none repeated."""
    if isinstance(layers, (str, bytes)) or not isinstance(layers, Sequence) or not layers:
        raise InputError(f"layers: need a non-empty sequence of layer numbers, got {layers!r}")
    for layer in layers:
        if isinstance(layer, bool) or not isinstance(layer, int) or not 1 <= layer < config.n_layers:
            raise InputError(
                f"layers: each exit layer must be an int in 1..{config.n_layers - 1} "
                f"(the last layer exits through the model's own output), got {layer!r}"
            )
    if len(set(layers)) != len(layers):
        raise InputError(f"layers: an exit layer is repeated in {list(layers)!r}")
    return tuple(sorted(layers))


class ExitHeads(nn.Module):
    """One exit head per layer of ``layers`` (see the module docstring).

    ``heads(hidden, layer, unembedding)`` gives the logits of the head after
    ``layer`` for hidden states (..., d_model); ``unembedding`` is the model's
    ``wte.weight`` (passed in, not held, so the heads' parameters are theirs alone).
    """

    def __init__(self, config: TinyConfig, layers: Sequence[int]):
        super().__init__()
        self.d_model = config.d_model
        self.layers = check_layers(config, layers)
        self.linears = nn.ModuleDict({str(layer): nn.Linear(config.d_model, config.d_model, bias=False)
                                      for layer in self.layers})
        with torch.no_grad():
            for linear in self.linears.values():
                linear.weight.copy_(torch.eye(config.d_model))

    def forward(self, hidden: torch.Tensor, layer: int, unembedding: torch.Tensor) -> torch.Tensor:
        if layer not in self.layers:
            raise InputError(f"layer: no exit head after layer {layer!r}; the heads sit after {list(self.layers)}")
        return F.linear(rms_norm(self.linears[str(layer)](hidden)), unembedding)


def check_heads(model: TinyGPT, heads: ExitHeads) -> None:
    """Refuse heads made for another shape of model."""
    if heads.d_model != model.config.d_model:
        raise InputError(f"heads: made for d_model={heads.d_model}, the model has d_model={model.config.d_model}")
    check_layers(model.config, heads.layers)


def trunk_hidden(model: TinyGPT, idx: torch.Tensor, layers: Sequence[int]) -> dict[int, torch.Tensor]:
    """The residual stream (B, T, d_model) after each of ``layers`` blocks, without gradients.

    Runs only the blocks up to the deepest of ``layers`` (the rest of the model
    and its unembedding are not needed to train or score the heads).
    """
    T = idx.shape[1]
    dtype = model.wte.weight.dtype
    cos, sin = model.cos[:T].to(dtype), model.sin[:T].to(dtype)
    wanted = set(layers)
    out: dict[int, torch.Tensor] = {}
    with torch.no_grad():
        x = model.wte(idx)
        for layer, block in enumerate(model.blocks[: max(layers)]):
            x, _ = block(x, cos, sin, None, layer, 0)
            if layer + 1 in wanted:
                out[layer + 1] = x
    return out


def head_losses(model: TinyGPT, heads: ExitHeads, x: torch.Tensor, y: torch.Tensor) -> dict[int, float]:
    """Each head's mean next-token cross-entropy on inputs x and targets y (B, T)."""
    check_heads(model, heads)
    hidden = trunk_hidden(model, x, heads.layers)
    with torch.no_grad():
        return {layer: float(F.cross_entropy(heads(hidden[layer], layer, model.wte.weight).flatten(0, 1),
                                             y.flatten())) for layer in heads.layers}


def exit_heads_train_flops(card: ModelCard, layers: Sequence[int], tokens: int, seq_len: int) -> float:
    """FLOPs of ``train_exit_heads`` over ``tokens`` tokens in windows of ``seq_len``.

    Per window (position p attends to p keys), with L = max(layers), the trunk's
    forward up to layer L costs

        seq_len · L · 2·N/n_layers + L · 4·d_attn · Σ_{p=1..seq_len} p

    (the per-layer split of ``flops.forward_flops_per_token``: every block holds
    N/n_layers weights; no unembedding, the trunk stops at L). Each head adds per
    token 4·d² for its linear (forward, and the weight gradient: its input is
    frozen, so no input gradient is computed) and 4·d·vocab for the unembedding
    (forward, and the gradient to its input; the embedding is frozen). Norms,
    losses and the optimiser update are left out, as everywhere in ``flops``.
    """
    d, vocab = card.d_model, card.vocab_size
    d_attn = card.n_heads * (card.head_dim or d // card.n_heads)
    deepest = max(layers)
    per_layer = 2.0 * card.params_non_embedding / card.n_layers
    per_window = seq_len * deepest * per_layer + deepest * 4.0 * d_attn * seq_len * (seq_len + 1) / 2
    per_token_heads = len(layers) * (4.0 * d * d + 4.0 * d * vocab)
    return tokens / seq_len * per_window + tokens * per_token_heads


@dataclass(frozen=True)
class ExitHeadsResult:
    """Trained heads and what they cost (``exit_heads_train_flops`` of the tokens trained on).

    ``final_losses`` maps each exit layer to its mean loss over the last (up to)
    10 steps; ``loss_curve`` holds (tokens so far, mean loss over the heads).
    """

    heads: ExitHeads
    layers: tuple[int, ...]
    train_flops: float
    tokens: int
    final_losses: dict[int, float]
    loss_curve: tuple[tuple[int, float], ...]
    wall_seconds: float


def train_exit_heads(
    model: TinyGPT,
    layers: Sequence[int],
    documents: Documents,
    train_tokens: int,
    seed: int,
    batch_size: int,
    hyper: TrainHyper,
    threads: int | None = None,
) -> ExitHeadsResult:
    """Train fresh ExitHeads(model.config, layers) on ``documents`` with the model frozen.

    The loss is the sum over heads of each head's next-token cross-entropy (the
    heads share no parameters, so each gets its own gradient; the gradient clip
    applies to all of them together). The heads start at the identity, which
    draws no random numbers; ``seed`` seeds torch for the run all the same, so
    the signature and the determinism match ``trainer.train``.
    """
    for arg, value in (("train_tokens", train_tokens), ("batch_size", batch_size)):
        if isinstance(value, bool) or not isinstance(value, int) or value <= 0:
            raise InputError(f"{arg} must be a positive int, got {value!r}")
    seq_len = model.config.context_length
    tokens_per_step = batch_size * seq_len
    steps = math.ceil(train_tokens / tokens_per_step)
    model.eval()
    unembedding = model.wte.weight.detach()  # frozen: gradients flow through it to the heads only
    with trainer.torch_threads(threads):
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(seed)
            heads = ExitHeads(model.config, layers).to(unembedding.dtype)
        per_head: dict[int, list[float]] = {layer: [] for layer in heads.layers}

        def loss_of(x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
            hidden = trunk_hidden(model, x, heads.layers)
            losses = {layer: F.cross_entropy(heads(hidden[layer], layer, unembedding).flatten(0, 1), y.flatten())
                      for layer in heads.layers}
            for layer, value in losses.items():
                per_head[layer].append(value.item())
            return sum(losses.values())

        totals, wall = trainer.fit(heads, loss_of, documents, batch_size, seq_len, steps, hyper)
        curve = [total / len(heads.layers) for total in totals]
    heads.eval()
    trained = steps * tokens_per_step
    card = model_card(model.config, name="trunk", train_tokens=None, train_flops=None)
    return ExitHeadsResult(
        heads=heads,
        layers=heads.layers,
        train_flops=exit_heads_train_flops(card, heads.layers, trained, seq_len),
        tokens=trained,
        final_losses={layer: sum(v[-10:]) / len(v[-10:]) for layer, v in per_head.items()},
        loss_curve=tuple(((i + 1) * tokens_per_step, v) for i, v in enumerate(curve)),
        wall_seconds=wall,
    )
