"""Model cards from a Hugging Face ``config.json`` (dense decoder-only families we know the layout of).

A config holds hyperparameters, not weights, so parameters are counted from the
layout of the family (``FAMILIES``), per layer:

    attention   d·(h·hd) + 2·d·(kv·hd) + (h·hd)·d        q, k, v, o   (+ biases where the family has them)
    MLP         3·d·ff                                    gated: gate, up, down (+ biases with mlp_bias)
    norms       norms_per_layer·d (+ 2·hd for q/k norms)
  + final norm d, + embedding V·d (+ V·d more when the output matrix is not tied)

with d = hidden_size, h/kv = attention / key-value heads, hd = head_dim, ff =
intermediate_size, V = vocab_size. A family not in the table (or a mixture of
experts) is refused rather than guessed. Multimodal configs count their
``text_config`` only (the vision tower is not part of the card).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

from ttscale.cards.loaded import LoadedCard, window_fields
from ttscale.errors import InputError
from ttscale.types import ModelCard


@dataclass(frozen=True)
class Family:
    """What a ``model_type`` builds, where config.json does not say it."""

    tied_default: bool  # tie_word_embeddings when the config omits it
    norms_per_layer: int  # RMSNorm vectors of width d in each block
    qkv_bias: bool = False  # always-on q/k/v biases (Qwen2)
    qk_norm: bool = False  # per-head RMSNorm of queries and keys (Qwen3, Gemma 3)
    swa_period: int = 0  # interleaved sliding window: of every n layers the last is global


FAMILIES = {
    "llama": Family(tied_default=False, norms_per_layer=2),
    "mistral": Family(tied_default=False, norms_per_layer=2),
    "qwen2": Family(tied_default=False, norms_per_layer=2, qkv_bias=True),
    "qwen3": Family(tied_default=False, norms_per_layer=2, qk_norm=True),
    "gemma": Family(tied_default=True, norms_per_layer=2),
    "gemma2": Family(tied_default=True, norms_per_layer=4, swa_period=2),
    "gemma3_text": Family(tied_default=True, norms_per_layer=4, qk_norm=True, swa_period=6),
}

# Bits per weight of unquantized checkpoints, by stored dtype.
_DTYPE_BITS = {"float32": 32.0, "float16": 16.0, "bfloat16": 16.0}


def _read(path: Path) -> dict:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise InputError(f"no such config file: {str(path)!r}") from None
    except (OSError, UnicodeDecodeError, ValueError) as exc:
        raise InputError(f"{path}: not a readable JSON config ({exc})") from None
    if not isinstance(data, dict):
        raise InputError(f"{path}: expected a JSON object, got {type(data).__name__}")
    return data


def _int(config: dict, key: str, path: Path, default: int | None = None) -> int:
    value = config.get(key, default)
    if value is None:
        raise InputError(f"{path}: config has no {key!r}")
    if isinstance(value, bool) or not isinstance(value, int) or value <= 0:
        raise InputError(f"{path}: config field {key!r} must be a positive integer, got {value!r}")
    return value


def layer_windows(config: dict, family: Family, n_layers: int, path: Path) -> tuple[int | None, ...]:
    """Per layer: its sliding window, or ``None`` for global attention.

    ``layer_types`` ("sliding_attention" / "full_attention") when the config has it;
    otherwise the family's period (``sliding_window_pattern`` overrides it); Qwen's
    ``use_sliding_window`` windows the layers from ``max_window_layers`` on; Mistral's
    ``sliding_window`` applies to every layer.
    """
    window = config.get("sliding_window")
    if config.get("model_type", "").startswith("qwen") and not config.get("use_sliding_window", False):
        window = None
    if not window:
        return (None,) * n_layers
    layer_types = config.get("layer_types")
    if layer_types is not None:
        if not isinstance(layer_types, list) or len(layer_types) != n_layers:
            raise InputError(f"{path}: layer_types must list {n_layers} layers, got {layer_types!r}")
        return tuple(window if kind == "sliding_attention" else None for kind in layer_types)
    if config.get("model_type", "").startswith("qwen"):
        first = config.get("max_window_layers", 0)
        return tuple(window if i >= first else None for i in range(n_layers))
    period = config.get("sliding_window_pattern", family.swa_period)
    return tuple(window if not period or (i + 1) % period else None for i in range(n_layers))


def card_from_hf_config(path: str | Path, name: str | None = None) -> LoadedCard:
    """A ``LoadedCard`` from a config.json; ``name`` defaults to ``_name_or_path`` or the folder name."""
    path = Path(path)
    config = _read(path)
    outer = config
    notes = []
    if isinstance(config.get("text_config"), dict):
        config = {**config["text_config"]}
        config.setdefault("model_type", f"{outer.get('model_type', '')}_text")
        notes.append("multimodal config: the card counts the text model only")
    model_type = config.get("model_type")
    if any(key in config for key in ("num_local_experts", "num_experts", "n_routed_experts")):
        raise InputError(f"{path}: mixture-of-experts configs are not supported (model_type {model_type!r})")
    family = FAMILIES.get(model_type)
    if family is None:
        raise InputError(f"{path}: model_type {model_type!r} is not a family ttscale can count "
                         f"(known: {', '.join(sorted(FAMILIES))}); write a YAML card instead")

    d = _int(config, "hidden_size", path)
    n_layers = _int(config, "num_hidden_layers", path)
    heads = _int(config, "num_attention_heads", path)
    kv_heads = _int(config, "num_key_value_heads", path, default=heads)
    head_dim = _int(config, "head_dim", path, default=d // heads)
    d_ff = _int(config, "intermediate_size", path)
    vocab = _int(config, "vocab_size", path)
    context = _int(config, "max_position_embeddings", path)
    tied = bool(outer.get("tie_word_embeddings", config.get("tie_word_embeddings", family.tied_default)))

    q_width, kv_width = heads * head_dim, kv_heads * head_dim
    attention = d * q_width + 2 * d * kv_width + q_width * d
    if config.get("attention_bias", False):  # Llama-style: q, k, v and o all get biases
        attention += q_width + 2 * kv_width + d
    elif family.qkv_bias:
        attention += q_width + 2 * kv_width
    mlp = 3 * d * d_ff + (2 * d_ff + d if config.get("mlp_bias", False) else 0)
    norms = family.norms_per_layer * d + (2 * head_dim if family.qk_norm else 0)
    non_embedding = n_layers * (attention + mlp + norms) + d
    embedding = vocab * d * (1 if tied else 2)

    quant = outer.get("quantization_config") or config.get("quantization_config")
    dtype = outer.get("torch_dtype") or outer.get("dtype") or config.get("torch_dtype") or config.get("dtype")
    if isinstance(quant, dict):
        method, bits = quant.get("quant_method", "quantized"), quant.get("bits")
        quantization, bits_per_weight = (f"{method}-{bits}bit" if bits else str(method)), None
    else:
        quantization, bits_per_weight = dtype, _DTYPE_BITS.get(dtype)

    windows = layer_windows(config, family, n_layers, path)
    card = ModelCard(
        name=name or str(outer.get("_name_or_path") or path.resolve().parent.name),
        params_total=non_embedding + embedding, params_non_embedding=non_embedding, n_layers=n_layers,
        d_model=d, n_heads=heads, d_ff=d_ff, vocab_size=vocab, context_length=context, n_kv_heads=kv_heads,
        head_dim=head_dim, **window_fields(windows), quantization=quantization, bits_per_weight=bits_per_weight,
        provenance=f"Hugging Face config {path.name} (model_type {model_type}): parameters counted from "
                   f"the {model_type} layout, not from weights",
    )
    details = {"architecture": model_type, "tied_embeddings": tied, "notes": notes}
    return LoadedCard(card, windows, "hf-config", str(path), details)
