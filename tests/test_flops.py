"""FLOP formulas against hand calculations for a small card."""

import dataclasses

import pytest

from ttscale import flops
from ttscale.errors import InputError
from ttscale.types import ModelCard

# d_model 32, 2 layers of (4·32² + 2·32·64) = 8192 weights, vocab 81.
CARD = ModelCard(
    name="toy", params_total=81 * 32 + 16384, params_non_embedding=16384, n_layers=2, d_model=32,
    n_heads=2, d_ff=64, vocab_size=81, context_length=64,
)
MATMUL = 2 * 16384 + 2 * 32 * 81  # 2N + unembedding = 37952 per token
ATTN = 4 * 2 * 32  # QK^T + AV per attended key: 2·n_layers·d_attn·2 = 256


def test_forward_flops_per_token_by_hand():
    # 2N = 32768, attention 2·2·10·32·2 = 2560, unembedding 2·32·81 = 5184
    assert flops.forward_flops_per_token(CARD, 10) == 32768 + 2560 + 5184 == 40512


def test_prefill_is_the_sum_over_prompt_positions():
    # contexts 1..5 sum to 15
    assert flops.prefill_flops(CARD, 5) == 5 * MATMUL + ATTN * 15 == 193600
    assert flops.prefill_flops(CARD, 5) == sum(flops.forward_flops_per_token(CARD, c) for c in range(1, 6))
    assert flops.prefill_flops(CARD, 0) == 0


def test_decode_counts_one_pass_per_token_fed_back():
    # 4 new tokens: the first comes from the prefill, passes over tokens 0..2 attend to 6, 7, 8 keys
    assert flops.decode_flops(CARD, 5, 4) == 3 * MATMUL + ATTN * (6 + 7 + 8) == 119232
    assert flops.decode_flops(CARD, 5, 1) == 0 == flops.decode_flops(CARD, 5, 0)
    # prefill + decode = one causal pass over prompt and all but the last new token
    assert flops.prefill_flops(CARD, 5) + flops.decode_flops(CARD, 5, 4) == flops.prefill_flops(CARD, 8)


def test_train_flops_is_6ND_plus_unembedding_and_attention():
    D, seq = 128, 8
    six_nd = 6 * 16384 * D
    unembed = 6 * 32 * 81 * D
    attention = 3 * 4 * 2 * 32 * D * (seq + 1) / 2  # causal: average context (seq+1)/2
    assert flops.train_flops(CARD, D, seq) == pytest.approx(six_nd + unembed + attention, rel=1e-12)
    assert six_nd + unembed + attention == 15_015_936
    assert flops.train_flops(CARD, D, seq) == pytest.approx(3 * D / seq * flops.prefill_flops(CARD, seq))


def test_sliding_window_caps_attended_keys():
    card = dataclasses.replace(CARD, sliding_window=3)
    assert flops.forward_flops_per_token(card, 10) == 2 * 16384 + 4 * 2 * 3 * 32 + 2 * 32 * 81
    assert flops.prefill_flops(card, 5) == 5 * MATMUL + ATTN * (1 + 2 + 3 + 3 + 3)
    assert flops.decode_flops(card, 5, 4) == 3 * MATMUL + ATTN * 9
    for p in range(9):
        for m in range(6):
            brute = sum(flops.forward_flops_per_token(card, p + 1 + i) for i in range(max(m - 1, 0)))
            assert flops.decode_flops(card, p, m) == pytest.approx(brute)


def test_bad_counts_are_refused():
    with pytest.raises(InputError, match="prompt_tokens"):
        flops.prefill_flops(CARD, -1)
    with pytest.raises(InputError, match="seq_len"):
        flops.train_flops(CARD, 10, 0)
    with pytest.raises(InputError, match="flops_per_second"):
        flops.seconds_at(1.0, 0.0)


def test_matmul_rate_and_seconds():
    rate = flops.measure_matmul_flops(size=64, seconds=0.05)
    assert rate > 1e6
    assert flops.seconds_at(3e9, 1.5e9) == 2.0


def test_global_layers_attend_past_the_window():
    """Gemma-style interleaving: windowed layers cap their keys, global layers do not."""
    from dataclasses import replace

    base = ModelCard(name="w", params_total=1000, params_non_embedding=800, n_layers=6, d_model=8, n_heads=2,
                     d_ff=32, vocab_size=10, context_length=4096, sliding_window=4)  # fmt: skip
    mixed = replace(base, global_layers=1)
    d_attn = 8
    # At context 10: five layers see 4 keys, one sees 10.
    extra = flops.forward_flops_per_token(mixed, 10) - flops.forward_flops_per_token(base, 10)
    assert extra == 4.0 * d_attn * (10 - 4)
    # Prefill of 6 tokens: the global layer sums 1..6 = 21 keys, a windowed one 1+2+3+4+4+4 = 18.
    assert flops.prefill_flops(mixed, 6) - flops.prefill_flops(base, 6) == 4.0 * d_attn * (21 - 18)
    # Inside the window every layer sees every key: no difference.
    assert flops.decode_flops(mixed, 1, 3) == flops.decode_flops(base, 1, 3)
