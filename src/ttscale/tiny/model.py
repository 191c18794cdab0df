"""TinyGPT: the lab's decoder-only transformer, small enough to train on a CPU.

Read top to bottom: config -> rotary positions -> KV cache -> attention ->
MLP -> block -> model -> model card. Shapes are in the comments
(B batch, T tokens this call, S tokens attended to, H heads, D head dim).

Choices, and why:
- **Pre-norm** blocks with a parameter-free RMSNorm (``F.rms_norm``): every
  parameter outside the embedding is a matmul weight, so the card's
  ``params_non_embedding`` is exactly the N in the 2·N FLOPs per token.
- **Rotary positions** (no position embedding table): attention depends on
  relative offsets only, so a demonstration is processed the same wherever it
  lands in a packed training window, and a prompt sampled at position 0 looks
  like any document start seen in training.
- **Tied embeddings**: the unembedding is the token embedding matrix. The card
  counts it once (``params_total = vocab·d_model + params_non_embedding``); its
  FLOPs are counted separately as the unembedding term (see ``flops.py``).
- **No biases**, GELU MLP with hidden width ``d_ff``, attention through
  ``F.scaled_dot_product_attention`` (a single decoded token uses two small
  batched matmuls instead: about 2x faster than the CPU flash kernel there).
- **KV cache** with preallocated buffers written in place, so a decode step
  costs one token's compute (plus reading the cache), not a copy of the cache.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass

import torch
import torch.nn.functional as F
from torch import nn

from ttscale.errors import InputError
from ttscale.tiny import tokenizer
from ttscale.types import ModelCard


@dataclass(frozen=True)
class TinyConfig:
    """Shape of a TinyGPT. Every field is a positive int."""

    d_model: int  # residual width
    n_layers: int  # transformer blocks
    n_heads: int  # attention heads; head_dim = d_model // n_heads, must be even (rotary)
    d_ff: int  # MLP hidden width
    context_length: int  # longest sequence the model is trained on and may attend over
    vocab_size: int = tokenizer.vocab_size

    def __post_init__(self) -> None:
        for name in ("d_model", "n_layers", "n_heads", "d_ff", "context_length", "vocab_size"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or value <= 0:
                raise InputError(f"TinyConfig.{name} must be a positive int, got {value!r}")
        if self.d_model % self.n_heads:
            raise InputError(
                f"TinyConfig.n_heads must divide d_model={self.d_model}, got {self.n_heads!r}"
            )
        if (self.d_model // self.n_heads) % 2:
            raise InputError(
                f"TinyConfig.n_heads: head_dim = d_model/n_heads must be even for rotary positions, "
                f"got {self.d_model}/{self.n_heads} = {self.d_model // self.n_heads}"
            )

    @property
    def head_dim(self) -> int:
        return self.d_model // self.n_heads

    def to_dict(self) -> dict:
        return asdict(self)


# --------------------------------------------------------------------------- rotary


def rotary_tables(length: int, head_dim: int, base: float = 10_000.0) -> tuple[torch.Tensor, torch.Tensor]:
    """cos, sin of shape (length, head_dim/2) for rotary position embeddings."""
    inv_freq = 1.0 / (base ** (torch.arange(0, head_dim, 2, dtype=torch.float64) / head_dim))
    angles = torch.outer(torch.arange(length, dtype=torch.float64), inv_freq)  # (length, D/2)
    return angles.cos().float(), angles.sin().float()


def apply_rotary(x: torch.Tensor, cos: torch.Tensor, sin: torch.Tensor) -> torch.Tensor:
    """Rotate pairs (x[..., i], x[..., i + D/2]) by the position's angle. x: (B, H, T, D)."""
    half = x.shape[-1] // 2
    x1, x2 = x[..., :half], x[..., half:]
    return torch.cat((x1 * cos - x2 * sin, x1 * sin + x2 * cos), dim=-1)


# --------------------------------------------------------------------------- KV cache


class KVCache:
    """Keys and values of every layer: buffers of shape (B, H, capacity, D), valid up to ``length``.

    ``model(idx, kv_cache=cache, start_pos=cache.length)`` writes the new keys
    and values into the buffers in place (growing them if they are full) and
    returns the same cache. A cache made by a call without one has exactly the
    prompt's length as capacity; ``select`` / ``repeat_interleave`` copy it into
    roomier buffers, one row per sample.
    """

    def __init__(self, keys: list[torch.Tensor], values: list[torch.Tensor], length: int):
        self.keys, self.values, self.length = keys, values, length

    @property
    def batch_size(self) -> int:
        return self.keys[0].shape[0]

    @property
    def capacity(self) -> int:
        return self.keys[0].shape[2]

    def _map(self, fn) -> KVCache:
        return KVCache([fn(k) for k in self.keys], [fn(v) for v in self.values], self.length)

    def select(self, rows: torch.Tensor, capacity: int | None = None) -> KVCache:
        """A new cache whose row i is this cache's row ``rows[i]`` (a 1-D index tensor).

        Used to give every sample of a prompt its own copy of the prompt's
        cache (``rows`` = prompt index repeated n times) and to drop finished
        samples. ``capacity`` sizes the new buffers (default: unchanged).
        """
        capacity = max(capacity or self.capacity, self.length)

        def gather(t: torch.Tensor) -> torch.Tensor:
            if capacity == t.shape[2]:  # one copy (unused capacity included) beats two
                return t.index_select(0, rows)
            out = t.new_empty(rows.numel(), t.shape[1], capacity, t.shape[3])
            out[:, :, : self.length] = t[:, :, : self.length].index_select(0, rows)
            return out

        return self._map(gather)

    def repeat_interleave(self, repeats: int, capacity: int | None = None) -> KVCache:
        """Each row repeated ``repeats`` times (rows i*repeats .. i*repeats+repeats-1 copy row i)."""
        rows = torch.arange(self.batch_size, device=self.keys[0].device).repeat_interleave(repeats)
        return self.select(rows, capacity)

    def write(self, layer: int, start: int, k: torch.Tensor, v: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Store k, v (B, H, T, D) at positions start..start+T; return all keys/values so far."""
        end = start + k.shape[2]
        if end > self.keys[layer].shape[2]:
            grown = max(end, 2 * self.keys[layer].shape[2])
            for store in (self.keys, self.values):
                old = store[layer]
                new = old.new_empty(old.shape[0], old.shape[1], grown, old.shape[3])
                new[:, :, :start] = old[:, :, :start]
                store[layer] = new
        self.keys[layer][:, :, start:end] = k
        self.values[layer][:, :, start:end] = v
        return self.keys[layer][:, :, :end], self.values[layer][:, :, :end]


# --------------------------------------------------------------------------- layers


class CausalSelfAttention(nn.Module):
    def __init__(self, config: TinyConfig):
        super().__init__()
        self.n_heads, self.head_dim = config.n_heads, config.head_dim
        self.qkv = nn.Linear(config.d_model, 3 * config.d_model, bias=False)
        self.proj = nn.Linear(config.d_model, config.d_model, bias=False)

    def forward(self, x, cos, sin, cache: KVCache | None, layer: int, start_pos: int):
        B, T, C = x.shape
        q, k, v = self.qkv(x).split(C, dim=2)  # 3 x (B, T, C)
        q = q.view(B, T, self.n_heads, self.head_dim).transpose(1, 2)  # (B, H, T, D)
        k = k.view(B, T, self.n_heads, self.head_dim).transpose(1, 2)  # (B, H, T, D)
        v = v.view(B, T, self.n_heads, self.head_dim).transpose(1, 2)  # (B, H, T, D)
        q, k = apply_rotary(q, cos, sin), apply_rotary(k, cos, sin)
        if cache is None:
            y = F.scaled_dot_product_attention(q, k, v, is_causal=T > 1)  # (B, H, T, D)
        else:
            keys, values = cache.write(layer, start_pos, k, v)  # (B, H, S, D), S = start_pos + T
            if T == 1:
                # One new query attends to every cached position. Two small batched
                # matmuls beat the CPU flash kernel (built for long queries) about 2x here.
                scores = (q @ keys.transpose(-1, -2)) * (1.0 / math.sqrt(self.head_dim))  # (B, H, 1, S)
                y = torch.softmax(scores, dim=-1) @ values  # (B, H, 1, D)
            else:  # query i sits at start_pos + i and sees keys 0 .. start_pos + i
                mask = torch.ones(T, keys.shape[2], dtype=torch.bool, device=x.device).tril(diagonal=start_pos)
                y = F.scaled_dot_product_attention(q, keys, values, attn_mask=mask)  # (B, H, T, D)
        y = y.transpose(1, 2).contiguous().view(B, T, C)  # (B, T, C)
        return self.proj(y), (k, v)


class MLP(nn.Module):
    def __init__(self, config: TinyConfig):
        super().__init__()
        self.fc = nn.Linear(config.d_model, config.d_ff, bias=False)
        self.proj = nn.Linear(config.d_ff, config.d_model, bias=False)

    def forward(self, x):  # (B, T, C) -> (B, T, d_ff) -> (B, T, C)
        return self.proj(F.gelu(self.fc(x), approximate="tanh"))


def rms_norm(x: torch.Tensor) -> torch.Tensor:
    return F.rms_norm(x, (x.shape[-1],))


class Block(nn.Module):
    def __init__(self, config: TinyConfig):
        super().__init__()
        self.attn = CausalSelfAttention(config)
        self.mlp = MLP(config)

    def forward(self, x, cos, sin, cache, layer, start_pos):
        a, kv = self.attn(rms_norm(x), cos, sin, cache, layer, start_pos)
        x = x + a
        x = x + self.mlp(rms_norm(x))
        return x, kv


# --------------------------------------------------------------------------- model


class TinyGPT(nn.Module):
    def __init__(self, config: TinyConfig):
        super().__init__()
        self.config = config
        self.wte = nn.Embedding(config.vocab_size, config.d_model)  # also the unembedding (tied)
        self.blocks = nn.ModuleList(Block(config) for _ in range(config.n_layers))
        cos, sin = rotary_tables(config.context_length, config.head_dim)
        self.register_buffer("cos", cos, persistent=False)  # (context_length, D/2)
        self.register_buffer("sin", sin, persistent=False)
        self.apply(self._init_weights)
        # GPT-2 style: scale the residual projections by 1/sqrt(2·n_layers).
        for name, p in self.named_parameters():
            if name.endswith("proj.weight"):
                nn.init.normal_(p, mean=0.0, std=0.02 / math.sqrt(2 * config.n_layers))

    @staticmethod
    def _init_weights(module: nn.Module) -> None:
        if isinstance(module, (nn.Linear, nn.Embedding)):
            nn.init.normal_(module.weight, mean=0.0, std=0.02)

    def forward(
        self, idx: torch.Tensor, kv_cache: KVCache | None = None, start_pos: int = 0
    ) -> tuple[torch.Tensor, KVCache]:
        """Logits (B, T, vocab) for token ids idx (B, T) at positions start_pos .. start_pos+T-1.

        Without ``kv_cache`` the call attends causally within ``idx`` and returns
        a fresh cache of its keys and values; with one, ``idx`` continues the
        cached sequence (``start_pos`` must equal ``kv_cache.length``) and the
        cache is updated in place and returned.
        """
        T = idx.shape[1]
        if start_pos + T > self.config.context_length:
            raise InputError(
                f"idx: positions up to {start_pos + T} exceed context_length={self.config.context_length}"
            )
        if kv_cache is not None and start_pos != kv_cache.length:
            raise InputError(f"start_pos: must equal the cache length {kv_cache.length}, got {start_pos}")
        if kv_cache is None and start_pos != 0:
            raise InputError(f"start_pos: must be 0 without a kv_cache, got {start_pos}")
        cos = self.cos[start_pos : start_pos + T].to(self.wte.weight.dtype)  # (T, D/2)
        sin = self.sin[start_pos : start_pos + T].to(self.wte.weight.dtype)
        x = self.wte(idx)  # (B, T, C)
        fresh: list[tuple[torch.Tensor, torch.Tensor]] = []
        for layer, block in enumerate(self.blocks):
            x, kv = block(x, cos, sin, kv_cache, layer, start_pos)
            fresh.append(kv)
        logits = F.linear(rms_norm(x), self.wte.weight)  # (B, T, vocab)
        if kv_cache is None:
            kv_cache = KVCache([k for k, _ in fresh], [v for _, v in fresh], T)
        else:
            kv_cache.length = start_pos + T
        return logits, kv_cache


def count_parameters(model: TinyGPT) -> tuple[int, int]:
    """(params_total, params_non_embedding); tied weights are counted once."""
    total = sum(p.numel() for p in model.parameters())  # parameters() yields each tensor once
    return total, total - model.wte.weight.numel()


def model_card(
    config: TinyConfig, name: str, train_tokens: int | None, train_flops: float | None, provenance: str = ""
) -> ModelCard:
    """The card of a TinyGPT of this shape; parameters are counted from the module."""
    with torch.device("meta"):
        model = TinyGPT(config)
    total, non_embedding = count_parameters(model)
    return ModelCard(
        name=name,
        params_total=total,
        params_non_embedding=non_embedding,
        n_layers=config.n_layers,
        d_model=config.d_model,
        n_heads=config.n_heads,
        d_ff=config.d_ff,
        vocab_size=config.vocab_size,
        context_length=config.context_length,
        n_kv_heads=config.n_heads,
        head_dim=config.head_dim,
        bits_per_weight=32.0,  # float32 weights: what one forward pass reads
        train_tokens=train_tokens,
        train_flops=train_flops,
        provenance=provenance or "ttscale.lab TinyGPT (pre-norm, rotary, tied embeddings)",
    )
