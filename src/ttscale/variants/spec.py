"""Variant specs: ``BASE@TYPE`` (a model spec, ``qwen2.5-coder-1.5b`` or ``gguf:PATH``, and a quantization
type) and ``BASE@drop=LAYERS`` (whole blocks dropped: ``@drop=20-23``).

``split_variant`` tells a variant spec from a plain one (a path may hold ``@``: only a final ``@name`` of
letters, digits and underscores is a type); ``load_variant`` makes the file if it is not cached and gives
the variant's card: read from the made file, named by the spec, with the base's training tokens and
compute plus the derivation's (``types.ModelVariant``; 0 FLOPs for rounding weights).
"""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from ttscale.cards.loaded import LoadedCard
from ttscale.errors import InputError
from ttscale.types import ModelCard, ModelVariant
from ttscale.variants.quant_types import check_quant_type

_TYPE = re.compile(r"[A-Za-z0-9_]+|drop=[0-9,-]+")


def split_variant(spec: str) -> tuple[str, str] | None:
    """(base spec, derivation: a quantization type or ``drop=LAYERS``) for a variant spec; None for a spec
    that names no variant."""
    base, at, qtype = spec.rpartition("@") if isinstance(spec, str) else ("", "", "")
    if not at or not base or not _TYPE.fullmatch(qtype):
        return None
    return base, qtype


@dataclass(frozen=True)
class LoadedVariant:
    variant: ModelVariant
    path: Path
    loaded: LoadedCard  # the made file's card (windows, details) with the variant's card in it


def base_file(base: str) -> Path:
    """The GGUF file a base spec names (only in-process GGUF models can be quantized)."""
    from ttscale.cards import gemma3_270m_path, model_path
    from ttscale.cards.ladder_models import LADDER_MODELS

    if base.startswith("gguf:"):
        path = Path(base.removeprefix("gguf:"))
        if not path.is_file():
            raise InputError(f"variant base {base!r}: no such GGUF file")
        return path
    if base == "gemma3-270m":
        return Path(gemma3_270m_path())
    if base in LADDER_MODELS.names():
        return model_path(base)  # not installed: one line saying how to pull it
    raise InputError(f"variant base {base!r}: only a GGUF model can be quantized (gguf:PATH or one of "
                     f"{', '.join(LADDER_MODELS.names())})")


def load_card_or_variant(spec: str) -> LoadedCard:
    """``cards.load_card``, and ``BASE@TYPE`` as its variant's card (made on first use)."""
    from ttscale.cards import load_card

    if split_variant(spec) is not None and not Path(spec).exists():
        return load_variant(spec).loaded
    return load_card(spec)


def load_variant(spec: str, cache_dir: Path | None = None, say: Callable[[str], None] = lambda line: None
                 ) -> LoadedVariant:
    from ttscale.cards import card_from_gguf, load_card
    from ttscale.cards.model_files import default_cache_dir
    from ttscale.variants.quantize import quantize

    found = split_variant(spec)
    if found is None:
        raise InputError(f"model spec {spec!r} is not a variant (BASE@TYPE or BASE@drop=LAYERS, e.g. "
                         "qwen2.5-coder-1.5b@q4_0)")
    base, how = found
    pruned = how.startswith("drop=")  # else a quantization type
    if pruned:
        from ttscale.variants.prune_layers import drop_text, parse_drop, prune_layers

        layers = parse_drop(how.removeprefix("drop="), option=f"model spec {spec!r}")
        derivation = f"prune-layers:drop={drop_text(layers)}"
    else:
        qtype = check_quant_type(how, option=f"model spec {spec!r}")
        derivation = f"quantize:type={qtype}"
    source = base_file(base)  # not a GGUF model, or not installed: one line, before anything is read
    base_card: ModelCard = load_card(base).card
    cache = cache_dir or default_cache_dir()
    path = prune_layers(source, layers, cache, say) if pruned else quantize(source, qtype, cache, say)
    loaded = card_from_gguf(path, name=spec)
    made = loaded.card
    derive_flops = 0.0  # rounding weights or dropping blocks: no training, no calibration passes
    what = (f"without layers {drop_text(layers)} of its {base_card.n_layers} (no retraining)" if pruned
            else f"quantized to {qtype} by llama.cpp (from its {base_card.quantization or 'unknown'} weights, "
                 f"{base_card.bits_per_weight or float('nan'):.2f} bits per weight, to "
                 f"{made.bits_per_weight or float('nan'):.2f})")
    card = dataclasses.replace(
        made, name=spec, train_tokens=base_card.train_tokens,
        train_flops=None if base_card.train_flops is None else base_card.train_flops + derive_flops,
        estimated=base_card.estimated or made.estimated,
        provenance=f"{base} {what}; training compute: the base's. {made.provenance}")
    variant = ModelVariant(base_card, derivation, card, derive_flops=derive_flops)
    return LoadedVariant(variant, path, dataclasses.replace(loaded, card=card))
