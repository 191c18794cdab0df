"""Weight-only round-to-nearest (RTN) quantization of a TinyGPT, simulated in float32.

Why simulated: the lab measures how accuracy trades against model size, not
int kernels. Each weight is replaced by the value its quantized code decodes
to, so the model still runs in float32 and its FLOPs are unchanged; what
shrinks is the number of bytes the weights would need (``weight_bytes``).

The grid: every ``nn.Linear`` weight in the blocks is cut into groups of
``group_size`` consecutive entries along its input dimension (a row of
``weight``, shape (out, in)). Each group stores one fp16 minimum and one fp16
scale, and its entries become ``min + q·scale`` with q in 0 .. 2**bits - 1
(asymmetric min-max: the grid spans the group's own range, so a group whose
weights are all positive wastes no levels on negatives). A row whose width is
not a multiple of the group size ends in one shorter group; a group size
wider than a row is cut to the row (``groups_clamped`` says it happened).

The token embedding, which is also the unembedding (tied), is kept at 16 bits
(rounded through fp16), as weight-only quantization schemes commonly leave it.
"""

from __future__ import annotations

import copy
import math
from dataclasses import dataclass

import torch
from torch import nn

from ttscale.errors import InputError
from ttscale.tiny.model import TinyGPT, count_parameters

EMBEDDING_BITS = 16
CONSTANT_BYTES = 2  # one fp16 number: a group's minimum or its scale


@dataclass(frozen=True)
class QuantizeSettings:
    """How to quantize: ``bits`` per weight (2..8) and ``group_size`` weights per (min, scale) pair."""

    bits: int
    group_size: int

    def __post_init__(self) -> None:
        if isinstance(self.bits, bool) or not isinstance(self.bits, int) or not 2 <= self.bits <= 8:
            raise InputError(f"quantize: bits must be an int in 2..8, got {self.bits!r}")
        if isinstance(self.group_size, bool) or not isinstance(self.group_size, int) or self.group_size <= 0:
            raise InputError(f"quantize: group_size must be a positive int, got {self.group_size!r}")


@dataclass(frozen=True)
class QuantizedModel:
    """A quantized copy of a model and what its weights would occupy.

    ``weight_bytes`` counts every quantized matrix at ``bits`` per entry plus
    two fp16 constants per group, and the embedding at 16 bits;
    ``bits_per_weight`` is that over all parameters (embedding included), so
    it is comparable with the 16 of an unquantized fp16 model.
    """

    model: TinyGPT
    bits_per_weight: float
    weight_bytes: float
    groups_clamped: bool


def _toward(values: torch.Tensor, direction: float) -> torch.Tensor:
    """``values`` rounded to fp16 in the given direction (-inf or +inf), returned as float32."""
    half = values.half()
    target = torch.full_like(half, direction)
    wrong_side = half.float() > values if direction < 0 else half.float() < values
    return torch.where(wrong_side, torch.nextafter(half, target), half).float()


def quantize_rows(weights: torch.Tensor, bits: int) -> torch.Tensor:
    """Dequantized values of ``weights`` (rows, width): one min-max grid of 2**bits levels per row.

    The stored minimum is rounded down and the stored scale up to fp16, so the
    grid always covers the row's range: no value is clamped and each lies
    within half a stored step of its original.
    """
    levels = 2**bits - 1
    low = _toward(weights.amin(dim=1, keepdim=True), -math.inf)
    high = weights.amax(dim=1, keepdim=True)
    scale = _toward((high - low) / levels, math.inf)
    # A constant row has scale 0: every entry is code 0, i.e. the (rounded) minimum.
    safe = torch.where(scale > 0, scale, torch.ones_like(scale))
    codes = torch.clamp(torch.round((weights - low) / safe), 0, levels)
    return low + codes * scale


def quantize_matrix(weight: torch.Tensor, bits: int, group_size: int) -> tuple[torch.Tensor, int]:
    """(dequantized weight, number of groups) for a (out, in) weight grouped along ``in``."""
    out_features, in_features = weight.shape
    width = min(group_size, in_features)
    pieces = [quantize_rows(chunk, bits) for chunk in torch.split(weight, width, dim=1)]
    return torch.cat(pieces, dim=1), out_features * math.ceil(in_features / width)


def quantize_rtn(model: TinyGPT, settings: QuantizeSettings) -> QuantizedModel:
    """A copy of ``model`` with every block's linear weights RTN-quantized (``model`` is untouched)."""
    if not isinstance(model, TinyGPT):
        raise InputError(f"quantize: model must be a TinyGPT, got {type(model).__name__}")
    if not isinstance(settings, QuantizeSettings):
        raise InputError(f"quantize: settings must be QuantizeSettings, got {type(settings).__name__}")
    quantized = copy.deepcopy(model)
    weight_bits = 0.0
    clamped = False
    with torch.no_grad():
        for module in quantized.blocks.modules():
            if not isinstance(module, nn.Linear):
                continue
            weight = module.weight
            clamped |= settings.group_size > weight.shape[1]
            values, groups = quantize_matrix(weight.float(), settings.bits, settings.group_size)
            weight.copy_(values)
            weight_bits += weight.numel() * settings.bits + groups * 2 * CONSTANT_BYTES * 8
        embedding = quantized.wte.weight
        embedding.copy_(embedding.half().float())
        weight_bits += embedding.numel() * EMBEDDING_BITS
    total, _ = count_parameters(quantized)
    return QuantizedModel(
        model=quantized,
        bits_per_weight=weight_bits / total,
        weight_bytes=weight_bits / 8,
        groups_clamped=clamped,
    )
