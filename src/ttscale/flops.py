"""Compute formulas: FLOPs of a forward pass, a prefill, a decode and a training run.

All counts come from the model card and follow Kaplan et al. (2020, "Scaling
Laws for Neural Language Models", Table 1) and Hoffmann et al. (2022,
"Chinchilla", Appendix F): a multiply-add is 2 FLOPs, and only matrix
multiplications are counted. Per token, a forward pass costs

    2·N                     the weight matmuls (N = params_non_embedding)
  + 2·n_layers·c·d_attn·2   attention over c keys: QK^T and A·V
  + 2·d_model·vocab         the unembedding (logits)

Left out everywhere (each is O(d_model) per token against O(d_model²) above):
norms, softmax, activations, residual adds, rotary rotations, the embedding
lookup (a gather, no FLOPs), the optimizer update and sampling. Convention for
cards: ``params_non_embedding`` excludes the token embedding *and* the
unembedding (tied or not); the unembedding is the separate term above.

A FLOP count is a count, not a time: ``measure_matmul_flops`` measures what
this machine does per second, and ``seconds_at`` turns one into the other.
"""

from __future__ import annotations

import time

from ttscale.errors import InputError
from ttscale.types import ModelCard


def _attention_width(card: ModelCard) -> int:
    """d_attn = n_heads · head_dim (the query width; grouped KV heads do not shrink it)."""
    head_dim = card.head_dim or card.d_model // card.n_heads
    return card.n_heads * head_dim


def _window_groups(card: ModelCard) -> tuple[tuple[int, int | None], ...]:
    """(layers, window) groups: the windowed layers and the ones that attend globally.

    ``card.sliding_window`` caps every layer except ``card.global_layers`` of them
    (Gemma 3: five of every six layers windowed, the sixth global).
    """
    if not card.sliding_window:
        return ((card.n_layers, None),)
    global_layers = min(card.global_layers or 0, card.n_layers)
    return tuple((n, w) for n, w in ((card.n_layers - global_layers, card.sliding_window), (global_layers, None)) if n)


def _keys_sum(window: int | None, first: int, last: int) -> int:
    """Sum of min(c, window) for c = first .. last (0 if last < first), in closed form."""
    if last < first:
        return 0
    window = window or last
    low_end = min(last, window)  # contexts first..low_end attend to all their keys
    total = (first + low_end) * (low_end - first + 1) // 2 if low_end >= first else 0
    total += window * (last - max(first - 1, window)) if last > window else 0
    return total


def _layer_keys(card: ModelCard, context: int) -> int:
    """Keys attended, summed over layers, by a query at context length ``context``."""
    return sum(n * (min(context, w) if w else context) for n, w in _window_groups(card))


def _layer_keys_sum(card: ModelCard, first: int, last: int) -> int:
    """``_layer_keys`` summed over contexts first .. last."""
    return sum(n * _keys_sum(w, first, last) for n, w in _window_groups(card))


def _check_count(name: str, value: int) -> None:
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise InputError(f"{name} must be a non-negative int, got {value!r}")


def matmul_flops_per_token(card: ModelCard) -> float:
    """Context-independent part of a forward pass per token: 2·N + 2·d_model·vocab.

    Each non-embedding weight is used once per token in one multiply-add (2
    FLOPs): 2·N. The logits are a (d_model x vocab) matmul: 2·d_model·vocab.
    Leaves out everything ``forward_flops_per_token`` leaves out.
    """
    return 2.0 * card.params_non_embedding + 2.0 * card.d_model * card.vocab_size


def forward_flops_per_token(card: ModelCard, context: int) -> float:
    """FLOPs of one token's forward pass when it attends to ``context`` keys (itself included).

        2·N + 2·n_layers·c·d_attn·2 + 2·d_model·vocab,   c = min(context, sliding_window)

    Derivation of the attention term: in each layer and head the query (head_dim
    wide) is dotted with c keys, 2·c·head_dim FLOPs for QK^T, and the c
    attention weights combine c values, another 2·c·head_dim for A·V; over
    n_heads heads that is 2·c·d_attn twice, and n_layers layers make
    4·n_layers·c·d_attn (Chinchilla, App. F, "logits" + "softmax @ query
    reduction"). Leaves out softmax, masking and scaling (O(c) per head), norms,
    activations, residuals and rotary embeddings.
    """
    _check_count("context", context)
    return matmul_flops_per_token(card) + 4.0 * _layer_keys(card, context) * _attention_width(card)


def prefill_flops(card: ModelCard, prompt_tokens: int) -> float:
    """FLOPs to run a prompt of ``prompt_tokens`` tokens through the model once.

    Position p (1-based) attends to min(p, window) keys, so

        P·(2N + 2·d_model·vocab) + 4·n_layers·d_attn·Σ_{p=1..P} min(p, window)

    (without a window the sum is P(P+1)/2). Logits are counted at every prompt
    position, as the lab's model computes them. The logits at the last position
    give the first completion token, so that token costs nothing beyond this.
    Leaves out what ``forward_flops_per_token`` leaves out.
    """
    _check_count("prompt_tokens", prompt_tokens)
    attended = _layer_keys_sum(card, 1, prompt_tokens)
    return prompt_tokens * matmul_flops_per_token(card) + 4.0 * _attention_width(card) * attended


def decode_flops(card: ModelCard, prompt_tokens: int, new_tokens: int) -> float:
    """FLOPs to generate ``new_tokens`` tokens after a prefilled prompt, with a KV cache.

    Completion token i (0-based) comes from the logits of the forward pass over
    token i-1; token 0 comes from the prefill (see ``prefill_flops``), and the
    last token is never fed back. So a completion of m tokens costs m-1 forward
    passes, the one over token i (i = 0 .. m-2) at 0-based position P + i
    attending to P + i + 1 keys (or the window):

        (m-1)·(2N + 2·d_model·vocab) + 4·n_layers·d_attn·Σ_{c=P+1..P+m-1} min(c, window)

    Counted per sample: a pool of k samples pays this k times and the prefill
    once. Leaves out reading the KV cache (memory traffic, not FLOPs), sampling
    (top-p sort, noise) and what ``forward_flops_per_token`` leaves out.
    """
    _check_count("prompt_tokens", prompt_tokens)
    _check_count("new_tokens", new_tokens)
    passes = max(new_tokens - 1, 0)
    attended = _layer_keys_sum(card, prompt_tokens + 1, prompt_tokens + passes)
    return passes * matmul_flops_per_token(card) + 4.0 * _attention_width(card) * attended


def train_flops(card: ModelCard, tokens: int, seq_len: int) -> float:
    """FLOPs to train on ``tokens`` tokens in causal windows of ``seq_len`` tokens.

    Training = forward + backward, and the backward pass costs twice the
    forward (gradients with respect to activations and to weights, one matmul
    each, Kaplan §2.1), so 3 x forward. A window's forward is the prefill of
    seq_len tokens, whose average attended context is (seq_len + 1)/2; hence

        6·N·D + 6·d_model·vocab·D + 12·n_layers·d_attn·D·(seq_len + 1)/2

    for D = tokens (the first term is the familiar 6·N·D). ``tokens`` counts
    predicted positions (seq_len per window). Leaves out the optimizer update
    (O(N) per step, not per token), gradient clipping, the loss, and what
    ``forward_flops_per_token`` leaves out.
    """
    _check_count("tokens", tokens)
    if isinstance(seq_len, bool) or not isinstance(seq_len, int) or seq_len <= 0:
        raise InputError(f"seq_len must be a positive int, got {seq_len!r}")
    return 3.0 * tokens / seq_len * prefill_flops(card, seq_len)


def measure_matmul_flops(size: int = 1024, seconds: float = 1.0, threads: int | None = None) -> float:
    """This machine's dense fp32 matmul rate in FLOP/s, measured with torch.

    Times back-to-back ``size x size`` matmuls (2·size³ FLOPs each) in bursts
    of about 0.1 s for ``seconds`` in all, and returns the best burst: the
    machine may be shared, and the best burst is the closest to what it can do.
    ``threads`` sets torch's intra-op threads for the measurement (restored
    afterwards); None uses the current setting.
    """
    import torch

    if size <= 0 or seconds <= 0:
        raise InputError(f"size and seconds must be positive, got size={size!r}, seconds={seconds!r}")
    previous = torch.get_num_threads()
    if threads:
        torch.set_num_threads(threads)
    try:
        a, b = torch.randn(size, size), torch.randn(size, size)
        out = torch.empty(size, size)
        torch.mm(a, b, out=out)  # warm up
        best, deadline = 0.0, time.perf_counter() + seconds
        while True:
            start, count = time.perf_counter(), 0
            while True:
                torch.mm(a, b, out=out)
                count += 1
                elapsed = time.perf_counter() - start
                if elapsed >= 0.1:
                    break
            best = max(best, 2.0 * size**3 * count / elapsed)
            if time.perf_counter() >= deadline:
                return best
    finally:
        torch.set_num_threads(previous)


def seconds_at(flops: float, flops_per_second: float) -> float:
    """Seconds that ``flops`` take at a (measured) rate of ``flops_per_second``."""
    if not flops_per_second > 0:
        raise InputError(f"flops_per_second must be positive, got {flops_per_second!r}")
    return flops / flops_per_second
