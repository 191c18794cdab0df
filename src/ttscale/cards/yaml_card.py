"""Model cards written by hand (YAML or JSON), e.g. for a model behind an API.

The keys are ``ModelCard``'s fields. Required: the shape fields (``params_total``,
``params_non_embedding``, ``n_layers``, ``d_model``, ``n_heads``, ``d_ff``,
``vocab_size``, ``context_length``); ``name`` defaults to the file name. Optional:
the other ModelCard fields, and ``sliding_window_pattern`` for interleaved attention
(a period n: layer i uses the window unless (i+1) mod n = 0; or one boolean per
layer, true = windowed; without a pattern, the last ``global_layers`` layers are
global); the card's ``sliding_window`` and ``global_layers`` follow the layers'.
Values are normalised (PyYAML reads ``6e12`` as text, so numbers written as text are
accepted), then checked; every error names the field and the value. When ``train_flops`` is missing and ``train_tokens`` is given, the card
gets ``cards.pretrain_flops_estimate`` and ``estimated: true``.

    name: some-api-model
    params_total: 8030261248
    params_non_embedding: 6979588096
    n_layers: 32
    d_model: 4096
    n_heads: 32
    n_kv_heads: 8
    d_ff: 14336
    vocab_size: 128256
    context_length: 8192
    train_tokens: 15.0e+12
    provenance: "publisher's model card"
"""

from __future__ import annotations

import dataclasses
import json
import math
from pathlib import Path

import yaml

from ttscale.cards.loaded import LoadedCard, pretrain_flops_estimate, window_fields
from ttscale.cards.hf import card_from_hf_config
from ttscale.errors import InputError, did_you_mean
from ttscale.types import ModelCard

REQUIRED = ("params_total", "params_non_embedding", "n_layers", "d_model", "n_heads", "d_ff",
            "vocab_size", "context_length")
POSITIVE_INTS = REQUIRED[2:] + ("params_total", "n_kv_heads", "head_dim", "sliding_window")
FIELDS = tuple(f.name for f in dataclasses.fields(ModelCard))
EXTRA_FIELDS = ("sliding_window_pattern",)


def _number(field: str, value, where: str):
    if isinstance(value, str):
        try:
            value = float(value.replace("_", ""))
        except ValueError:
            raise InputError(f"{where}: field {field!r}: {value!r} is not a number") from None
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
        raise InputError(f"{where}: field {field!r}: {value!r} is not a number")
    return value


def _integer(field: str, value, where: str, minimum: int) -> int:
    number = _number(field, value, where)
    if number != int(number):
        raise InputError(f"{where}: field {field!r}: {value!r} is not a whole number")
    if number < minimum:
        raise InputError(f"{where}: field {field!r}: {value!r} must be >= {minimum}")
    return int(number)


def _windows(data: dict, n_layers: int, global_layers: int, where: str) -> tuple[int | None, ...]:
    """Each layer's window: from the pattern when one is given, else the last ``global_layers`` layers
    global and the rest windowed."""
    window = data.get("sliding_window")
    pattern = data.get("sliding_window_pattern")
    if pattern is not None and window is None:
        raise InputError(f"{where}: field 'sliding_window_pattern': {pattern!r} needs a 'sliding_window'")
    if isinstance(pattern, list):
        if len(pattern) != n_layers or not all(isinstance(flag, bool) for flag in pattern):
            raise InputError(f"{where}: field 'sliding_window_pattern': {pattern!r} must be {n_layers} "
                             f"booleans (one per layer) or a period")
        return tuple(window if flag else None for flag in pattern)
    if pattern is None:
        return tuple(window if i < n_layers - global_layers else None for i in range(n_layers))
    period = _integer("sliding_window_pattern", pattern, where, 1)
    return tuple(window if (i + 1) % period else None for i in range(n_layers))


def card_from_mapping(data: object, where: str, default_name: str) -> LoadedCard:
    """Validate a hand-written card and return a ``LoadedCard`` (source ``"hand-written"``)."""
    if not isinstance(data, dict):
        raise InputError(f"{where}: a card is a mapping of ModelCard fields, got {type(data).__name__}")
    for key in data:
        if key not in FIELDS and key not in EXTRA_FIELDS:
            hint = did_you_mean(key, FIELDS + EXTRA_FIELDS)
            raise InputError(f"{where}: unknown field {key!r}{hint}")
    missing = [key for key in REQUIRED if data.get(key) is None]
    if missing:
        raise InputError(f"{where}: missing field {missing[0]!r} (required: {', '.join(REQUIRED)})")

    values: dict[str, object] = {"name": default_name}
    for key, value in data.items():
        if value is None or key in EXTRA_FIELDS:
            continue
        if key in ("name", "quantization", "provenance"):
            if not isinstance(value, str) or (key == "name" and not value.strip()):
                kind = "a non-empty string" if key == "name" else "a string"
                raise InputError(f"{where}: field {key!r}: {value!r} must be {kind}")
            values[key] = value
        elif key == "estimated":
            if not isinstance(value, bool):
                raise InputError(f"{where}: field 'estimated': {value!r} must be true or false")
            values[key] = value
        elif key in ("bits_per_weight", "train_flops"):
            number = float(_number(key, value, where))
            if number < 0 or (key == "bits_per_weight" and not 0 < number <= 64):
                bound = "in (0, 64]" if key == "bits_per_weight" else ">= 0"
                raise InputError(f"{where}: field {key!r}: {value!r} must be {bound}")
            values[key] = number
        else:  # the integer fields
            values[key] = _integer(key, value, where, 1 if key in POSITIVE_INTS else 0)

    if values["params_non_embedding"] > values["params_total"]:
        raise InputError(f"{where}: field 'params_non_embedding': {values['params_non_embedding']!r} "
                         f"exceeds params_total {values['params_total']!r}")
    kv_heads = values.get("n_kv_heads")
    if kv_heads is not None and (kv_heads > values["n_heads"] or values["n_heads"] % kv_heads):
        raise InputError(f"{where}: field 'n_kv_heads': {kv_heads!r} must divide n_heads {values['n_heads']!r}")
    card = ModelCard(**values)
    if card.train_flops is None and card.train_tokens is not None:
        card = dataclasses.replace(
            card, train_flops=pretrain_flops_estimate(card, card.train_tokens), estimated=True,
            provenance=(card.provenance + "; " if card.provenance else "")
            + "train_flops estimated from train_tokens as 6*D*(params_non_embedding + d_model*vocab)")
    windows = _windows(data, card.n_layers, min(card.global_layers, card.n_layers), where)
    derived = window_fields(windows)
    given = data.get("global_layers")
    if data.get("sliding_window_pattern") is not None and given is not None and given != derived["global_layers"]:
        raise InputError(f"{where}: field 'global_layers': {data['global_layers']!r} disagrees with "
                         f"'sliding_window_pattern', which leaves {derived['global_layers']} layers global")
    # The card's one window and count of global layers (what flops.py counts with) follow the layers'.
    return LoadedCard(dataclasses.replace(card, **derived), windows, "hand-written", where)


def card_from_yaml(path: str | Path) -> LoadedCard:
    path = Path(path)
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError) as exc:
        raise InputError(f"{path}: cannot read ({exc})") from None
    except yaml.YAMLError as exc:
        raise InputError(f"{path}: not valid YAML ({exc})") from None
    return card_from_mapping(data, str(path), path.stem)


def card_from_json_or_hf(path: str | Path) -> LoadedCard:
    """A .json file: a hand-written card when it has ``params_total``, else a Hugging Face config."""
    path = Path(path)
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, ValueError) as exc:
        raise InputError(f"{path}: not a readable JSON file ({exc})") from None
    if isinstance(data, dict) and "params_total" in data:
        return card_from_mapping(data, str(path), path.stem)
    return card_from_hf_config(path)
