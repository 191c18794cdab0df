"""A model card with each layer's attention window, and the FLOPs it implies.

Interleaved attention. Gemma 3 attends through a 512-token sliding window in five
layers of every six and globally in the sixth. A ``ModelCard`` holds one window and
the number of global layers (``global_layers``), which is what ``flops.py`` counts
with; the functions here take each layer's own window (so several distinct windows
would also be counted right) and equal ``flops.py`` whenever there is one window.

Training compute. When only the training tokens D are published, ``train_flops`` is
the estimate ``pretrain_flops_estimate``: 6·N·D with N the *non-embedding*
parameters (Kaplan's convention, as in flops.py), plus 6·d_model·vocab·D for the
unembedding matmul, which flops.py counts as its own term and the lab's trained
models include; the attention term is left out (it depends on the pretraining
sequence lengths, which are rarely published). Such cards have ``estimated=True``.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass, field, replace

from ttscale import flops
from ttscale.errors import InputError
from ttscale.types import ModelCard

# Context at which `ttscale card` reports per-token FLOPs unless told otherwise: a typical
# prompt-plus-completion length here, not the model's maximum (Gemma 3 270M: 32,768), where
# the global layers' attention would dominate a figure we rarely pay.
DEFAULT_CONTEXT = 2048


def window_fields(windows: tuple[int | None, ...]) -> dict[str, int | None]:
    """A card's one sliding window (the widest) and its count of global layers, from each layer's window."""
    return {"sliding_window": max((w for w in windows if w), default=None),
            "global_layers": sum(w is None for w in windows) if any(windows) else 0}


@dataclass(frozen=True)
class LoadedCard:
    """A ``ModelCard`` with the attention window of each layer and where it came from.

    ``layer_windows[i]`` is the sliding window of layer i, or ``None`` where the layer
    attends to the whole context. ``details`` holds source-specific facts for reports
    (architecture, tensor types, notes), JSON-ready.
    """

    card: ModelCard
    layer_windows: tuple[int | None, ...]
    source: str
    path: str | None = None
    details: Mapping[str, object] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if len(self.layer_windows) != self.card.n_layers:
            raise InputError(f"layer_windows has {len(self.layer_windows)} entries for "
                             f"n_layers={self.card.n_layers}")

    @classmethod
    def uniform(cls, card: ModelCard, source: str, path: str | None = None, **details) -> LoadedCard:
        """Every layer attends through ``card.sliding_window`` (or globally): flops.py's reading."""
        return cls(card, (card.sliding_window,) * card.n_layers, source, path, details)

    @property
    def global_layers(self) -> list[int]:
        """0-based indices of the layers with global attention."""
        return [i for i, window in enumerate(self.layer_windows) if window is None]


# ---------------------------------------------------------------- FLOPs with per-layer windows

def _attention_groups(loaded: LoadedCard) -> list[ModelCard]:
    """One card per distinct window, whose FLOPs are that group's attention term alone.

    Each has the group's layer count and window, and zero matmul weights
    (params_non_embedding = vocab_size = 0), so flops.py's formulas return only
    4·n_layers·d_attn·(keys attended) for it.
    """
    counts = Counter(loaded.layer_windows)
    return [replace(loaded.card, n_layers=n, sliding_window=window, global_layers=0, params_non_embedding=0, vocab_size=0)
            for window, n in sorted(counts.items(), key=lambda item: (item[0] is None, item[0] or 0))]


def forward_flops_per_token(loaded: LoadedCard, context: int) -> float:
    """One token's forward pass attending to ``context`` keys, each layer through its own window.

        2·N + 2·d_model·vocab + 4·d_attn·Σ_layers min(context, window_layer)

    (a global layer's window is the context). This is the cost of one decode step at
    that context. Leaves out what ``flops.forward_flops_per_token`` leaves out.
    """
    attention = sum(flops.forward_flops_per_token(group, context) for group in _attention_groups(loaded))
    return flops.matmul_flops_per_token(loaded.card) + attention


def prefill_flops(loaded: LoadedCard, prompt_tokens: int) -> float:
    """``flops.prefill_flops`` with each layer's window: P·(2N + 2·d·V) + 4·d_attn·Σ_layers Σ_p min(p, w)."""
    attention = sum(flops.prefill_flops(group, prompt_tokens) for group in _attention_groups(loaded))
    return prompt_tokens * flops.matmul_flops_per_token(loaded.card) + attention


def decode_flops(loaded: LoadedCard, prompt_tokens: int, new_tokens: int) -> float:
    """``flops.decode_flops`` with each layer's window (m-1 forward passes after a prefill of P)."""
    attention = sum(flops.decode_flops(group, prompt_tokens, new_tokens) for group in _attention_groups(loaded))
    return max(new_tokens - 1, 0) * flops.matmul_flops_per_token(loaded.card) + attention


def pretrain_flops_estimate(card: ModelCard, tokens: int) -> float:
    """Training compute from a published token count D: 6·N·D + 6·d_model·vocab·D.

    N is ``params_non_embedding`` (Kaplan et al. 2020); the second term is the
    unembedding matmul, forward and backward (flops.train_flops has it too). For a
    model with tied embeddings the sum equals 6·params_total·D. Left out: the attention
    term (pretraining sequence lengths are seldom published), distillation teachers'
    forward passes, and whatever flops.train_flops leaves out. An estimate: mark the
    card ``estimated``.
    """
    if isinstance(tokens, bool) or not isinstance(tokens, int) or tokens < 0:
        raise InputError(f"train_tokens must be a non-negative int, got {tokens!r}")
    return 6.0 * tokens * (card.params_non_embedding + card.d_model * card.vocab_size)


def check_context(card: ModelCard, context: int, name: str = "context") -> int:
    if isinstance(context, bool) or not isinstance(context, int) or not 1 <= context <= card.context_length:
        raise InputError(f"{name} must be an integer from 1 to the model's context_length "
                         f"{card.context_length}, got {context!r}")
    return context


def card_summary(loaded: LoadedCard, context: int | None = None) -> dict:
    """Every ModelCard field, plus per-token FLOPs at ``context`` and the source's details.

    ``decode_flops_per_token``: one decode step whose token attends to ``context`` keys
    (itself included). ``prefill_flops_per_token``: a ``context``-token prompt's prefill
    divided by its length. ``context`` defaults to min(DEFAULT_CONTEXT, context_length).
    """
    card = loaded.card
    context = min(DEFAULT_CONTEXT, card.context_length) if context is None else check_context(card, context)
    summary = card.to_dict()
    summary.update(
        source=loaded.source,
        path=loaded.path,
        params_embedding=card.params_total - card.params_non_embedding,
        windowed_layers=sum(window is not None for window in loaded.layer_windows),
        global_layers=loaded.global_layers,
        context=context,
        matmul_flops_per_token=flops.matmul_flops_per_token(card),
        decode_flops_per_token=forward_flops_per_token(loaded, context),
        prefill_flops_per_token=prefill_flops(loaded, context) / context,
    )
    summary.update(loaded.details)
    return summary
