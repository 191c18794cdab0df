"""FLOPs with a window per layer: one window reproduces flops.py; a mix adds each group's attention."""

from __future__ import annotations

import pytest

from ttscale import flops
from ttscale.cards import LoadedCard, decode_flops, forward_flops_per_token, prefill_flops, pretrain_flops_estimate
from ttscale.errors import InputError
from ttscale.types import ModelCard

CARD = ModelCard(name="m", params_total=1_000, params_non_embedding=600, n_layers=4, d_model=10, n_heads=2,
                 d_ff=40, vocab_size=40, context_length=64, n_kv_heads=1, head_dim=6)


@pytest.mark.parametrize("window", [None, 1, 8, 64])
def test_one_window_equals_flops_py(window):
    card = ModelCard(**{**CARD.to_dict(), "sliding_window": window})
    loaded = LoadedCard.uniform(card, "test")
    for context in (1, 7, 8, 9, 64):
        assert forward_flops_per_token(loaded, context) == flops.forward_flops_per_token(card, context)
        assert prefill_flops(loaded, context) == flops.prefill_flops(card, context)
        for new in (0, 1, 5):
            assert decode_flops(loaded, context, new) == flops.decode_flops(card, context, new)


def test_mixed_windows_by_hand():
    # Layers 0-2 attend through a window of 8, layer 3 globally; d_attn = 2 heads x 6 = 12.
    loaded = LoadedCard(CARD, (8, 8, 8, None), "test")
    matmul = 2 * 600 + 2 * 10 * 40
    assert forward_flops_per_token(loaded, 20) == matmul + 4 * 12 * (3 * 8 + 20)
    assert prefill_flops(loaded, 10) == 10 * matmul + 4 * 12 * (3 * (36 + 8 + 8) + 55)


@pytest.mark.parametrize(("prompt", "new"), [(1, 1), (5, 4), (8, 9), (30, 20)])
def test_prefill_then_decode_equals_a_longer_prefill(prompt, new):
    loaded = LoadedCard(CARD, (8, None, 8, None), "test")
    assert prefill_flops(loaded, prompt) + decode_flops(loaded, prompt, new) == prefill_flops(loaded, prompt + new - 1)


def test_layer_windows_must_match_the_layers():
    with pytest.raises(InputError, match="layer_windows has 3 entries for n_layers=4"):
        LoadedCard(CARD, (8, 8, None), "test")


def test_pretrain_estimate_uses_non_embedding_params_plus_the_unembedding():
    assert pretrain_flops_estimate(CARD, 1_000) == 6 * 1_000 * (600 + 10 * 40)
    with pytest.raises(InputError, match="train_tokens"):
        pretrain_flops_estimate(CARD, -1)
