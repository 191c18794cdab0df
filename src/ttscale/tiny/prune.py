"""Structured pruning of a TinyGPT into a genuinely smaller TinyGPT.

Why structured: zeroing single weights leaves every matmul its full size, so
neither the parameter count nor the FLOPs of the card move. Removing whole
MLP neurons (``prune_mlp``) or whole blocks (``prune_layers``) gives a new
``TinyConfig`` with fewer parameters, whose weights are copied from the
original; ``model_card`` of the result counts its real size.

What is not pruned: attention heads. ``TinyConfig`` ties head_dim to
d_model / n_heads and the residual width d_model is shared by every block, so
dropping a head would change the shape of everything else. ``TinyConfig.d_ff``
is one width for all blocks, so ``prune_mlp`` keeps the same number of neurons
in each block, choosing which ones block by block.

Scores: "magnitude" needs only the weights; "activation" also looks at what the
model does on ``calibration``, a (B, T) LongTensor of token ids, and
is refused without it.
"""

from __future__ import annotations

from dataclasses import replace

import torch
import torch.nn.functional as F

from ttscale.errors import InputError
from ttscale.tiny.model import TinyConfig, TinyGPT

PRUNE_SCORES = ("magnitude", "activation")


def _check_inputs(model: TinyGPT, score: str, calibration: torch.Tensor | None) -> None:
    if not isinstance(model, TinyGPT):
        raise InputError(f"prune: model must be a TinyGPT, got {type(model).__name__}")
    if score not in PRUNE_SCORES:
        raise InputError(f"prune: score must be one of {', '.join(PRUNE_SCORES)}; got {score!r}")
    if score == "activation" and calibration is None:
        raise InputError("prune: calibration token ids are required for score 'activation', got None")
    if calibration is None:
        return
    if not isinstance(calibration, torch.Tensor) or calibration.dim() != 2 or calibration.dtype != torch.long:
        shape = tuple(calibration.shape) if isinstance(calibration, torch.Tensor) else type(calibration).__name__
        raise InputError(f"prune: calibration must be a (B, T) LongTensor of token ids, got {shape}")
    if calibration.numel() == 0 or calibration.min() < 0 or calibration.max() >= model.config.vocab_size:
        raise InputError(f"prune: calibration ids must lie in 0..{model.config.vocab_size - 1} and be non-empty")


def _rebuild(model: TinyGPT, config: TinyConfig, state: dict[str, torch.Tensor]) -> TinyGPT:
    """A TinyGPT(config) holding ``state``, on the model's device and dtype, in its train/eval mode."""
    # Building a model draws random initial weights; fork the RNG so pruning leaves
    # the caller's random stream where it was (those weights are overwritten anyway).
    with torch.random.fork_rng(devices=[]):
        pruned = TinyGPT(config)
    weight = model.wte.weight
    pruned = pruned.to(device=weight.device, dtype=weight.dtype)
    pruned.load_state_dict(state)  # strict: every shape must match the new config
    return pruned.train(model.training)


# --------------------------------------------------------------------------- MLP neurons


def neuron_scores(model: TinyGPT, score: str, calibration: torch.Tensor | None = None) -> list[torch.Tensor]:
    """Per block, a (d_ff,) tensor: how much each MLP neuron matters (higher = keep).

    "magnitude": ||fc row|| · ||proj column||, the size of the neuron's path
    from the residual stream back into it. "activation": mean |GELU(fc(x))|
    over the calibration tokens (x the block's normalized MLP input) times
    ||proj column||, in the manner of Wanda (Sun et al., 2023): a large weight
    on a neuron that is rarely active costs little to remove.
    """
    _check_inputs(model, score, calibration)
    out_norms = [block.mlp.proj.weight.detach().norm(dim=0) for block in model.blocks]  # (d_ff,) each
    if score == "magnitude":
        return [block.mlp.fc.weight.detach().norm(dim=1) * out for block, out in zip(model.blocks, out_norms)]
    # The input of mlp.proj is exactly GELU(fc(rms_norm(x))): capture it there.
    sums = [torch.zeros_like(out) for out in out_norms]
    hooks = [
        block.mlp.proj.register_forward_pre_hook(lambda _m, args, i=i: sums[i].add_(args[0].abs().sum(dim=(0, 1))))
        for i, block in enumerate(model.blocks)
    ]
    try:
        with torch.no_grad():
            model(calibration)
    finally:
        for hook in hooks:
            hook.remove()
    tokens = calibration.numel()
    return [total / tokens * out for total, out in zip(sums, out_norms)]


def prune_mlp(
    model: TinyGPT, fraction: float, score: str, calibration: torch.Tensor | None = None
) -> TinyGPT:
    """A copy of ``model`` keeping ``max(1, round(d_ff·(1 - fraction)))`` MLP neurons in every block.

    Each block keeps its highest-scoring neurons (``neuron_scores``), in their
    original order; everything else is copied unchanged.
    """
    if isinstance(fraction, bool) or not isinstance(fraction, (int, float)) or not 0 <= fraction < 1:
        raise InputError(f"prune: fraction must be a number in [0, 1), got {fraction!r}")
    scores = neuron_scores(model, score, calibration)
    d_ff = max(1, round(model.config.d_ff * (1 - fraction)))
    state = {k: v.detach().clone() for k, v in model.state_dict().items()}
    for i, neuron in enumerate(scores):
        keep = torch.topk(neuron, d_ff).indices.sort().values
        prefix = f"blocks.{i}.mlp."
        state[prefix + "fc.weight"] = state[prefix + "fc.weight"][keep]  # rows: (d_ff, d_model)
        state[prefix + "proj.weight"] = state[prefix + "proj.weight"][:, keep]  # columns: (d_model, d_ff)
    return _rebuild(model, replace(model.config, d_ff=d_ff), state)


# --------------------------------------------------------------------------- whole blocks


def block_scores(model: TinyGPT, score: str, calibration: torch.Tensor | None = None) -> torch.Tensor:
    """A (n_layers,) tensor: how much each block matters (higher = keep).

    "magnitude": the norm of all the block's weights together. "activation":
    1 - mean cosine similarity between the residual stream entering and
    leaving the block over the calibration tokens (as in ShortGPT, Men et al.,
    2024): a block that barely turns its input is the cheapest to skip.
    """
    _check_inputs(model, score, calibration)
    if score == "magnitude":
        norms = [torch.stack([p.detach().norm() for p in block.parameters()]).norm() for block in model.blocks]
        return torch.stack(norms)
    similarity = torch.zeros(len(model.blocks))

    def record(i: int):
        def hook(_module, args, output) -> None:  # Block.forward returns (x, kv)
            similarity[i] = F.cosine_similarity(args[0], output[0], dim=-1).mean()

        return hook

    hooks = [block.register_forward_hook(record(i)) for i, block in enumerate(model.blocks)]
    try:
        with torch.no_grad():
            model(calibration)
    finally:
        for hook in hooks:
            hook.remove()
    return 1.0 - similarity


def prune_layers(
    model: TinyGPT, n_drop: int, score: str, calibration: torch.Tensor | None = None
) -> TinyGPT:
    """A copy of ``model`` without its ``n_drop`` lowest-scoring blocks (``block_scores``).

    The remaining blocks keep their order and are renumbered; the embedding is
    copied unchanged.
    """
    _check_inputs(model, score, calibration)
    n_layers = model.config.n_layers
    if isinstance(n_drop, bool) or not isinstance(n_drop, int) or not 1 <= n_drop < n_layers:
        raise InputError(f"prune: n_drop must be an int in 1..{n_layers - 1} (n_layers={n_layers}), got {n_drop!r}")
    scores = block_scores(model, score, calibration)
    keep = sorted(torch.topk(scores, n_layers - n_drop).indices.tolist())
    original = model.state_dict()
    state = {k: v.detach().clone() for k, v in original.items() if not k.startswith("blocks.")}
    for new, old in enumerate(keep):
        prefix = f"blocks.{old}."
        for key, value in original.items():
            if key.startswith(prefix):
                state[f"blocks.{new}." + key[len(prefix):]] = value.detach().clone()
    return _rebuild(model, replace(model.config, n_layers=n_layers - n_drop), state)
