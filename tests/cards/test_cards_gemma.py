"""The real Gemma 3 270M (Q4_K_M GGUF from the 'gemma' extra): its card and FLOPs by hand."""

from __future__ import annotations

import pytest

from ttscale.cards import card_summary, decode_flops, forward_flops_per_token, prefill_flops

D, V, LAYERS, HEADS, HEAD_DIM, FF = 640, 262_144, 18, 4, 256, 2048
# Per layer, from the tensor shapes: q 640x1024, k and v 640x256, o 1024x640, gate/up/down 640x2048,
# four RMSNorms of 640 (attn, post-attn, ffn, post-ffn) and q/k norms of 256.
LAYER = D * 1024 + 2 * D * 256 + 1024 * D + 3 * D * FF + 4 * D + 2 * HEAD_DIM  # 5,573,632
NON_EMBEDDING = LAYERS * LAYER + D  # + output_norm = 100,326,016
EMBEDDING = D * V  # 167,772,160, tied: the only copy
MATMUL = 2 * NON_EMBEDDING + 2 * D * V  # weights + logits per token
D_ATTN = HEADS * HEAD_DIM  # 1,024 (wider than d_model)


def test_shape(gemma):
    card = gemma.card
    assert (card.n_layers, card.d_model, card.n_heads, card.n_kv_heads, card.head_dim) == (18, 640, 4, 1, 256)
    assert (card.vocab_size, card.d_ff, card.context_length, card.sliding_window) == (262_144, 2048, 32_768, 512)
    assert gemma.details["architecture"] == "gemma3"
    assert gemma.global_layers == [5, 11, 17]  # every sixth layer attends globally


def test_parameter_counts_match_the_tensor_shapes(gemma):
    assert gemma.card.params_total == EMBEDDING + NON_EMBEDDING == 268_098_176
    assert gemma.card.params_non_embedding == NON_EMBEDDING == 100_326_016
    assert gemma.details["tied_embeddings"] is True


def test_q4_k_m_is_really_about_7_4_bits(gemma):
    assert gemma.card.quantization == "Q4_K_M"
    assert 7.0 < gemma.card.bits_per_weight < 8.0
    assert gemma.card.bits_per_weight == pytest.approx(7.358, abs=1e-3)
    # ... because the tied embedding stays Q8_0 (34 bytes per 32 weights) and is ~72% of the file.
    assert gemma.details["embedding_share_of_bytes"] == pytest.approx(0.72, abs=0.01)
    q8 = gemma.details["tensor_types"]["Q8_0"]
    assert q8["params"] >= EMBEDDING and q8["bytes"] == q8["params"] // 32 * 34


def test_published_training_tokens_and_estimated_compute(gemma):
    card = gemma.card
    assert card.train_tokens == 6 * 10**12
    assert card.estimated is True
    # 6*D*(N_non_embedding + d_model*vocab); with tied embeddings that is 6*params_total*D.
    assert card.train_flops == 6.0 * 6e12 * (NON_EMBEDDING + D * V) == 6.0 * 6e12 * 268_098_176
    assert "6 trillion tokens" in card.provenance and "model_card_3" in card.provenance
    assert gemma.details["train_flops_terms"]["weights_6ND"] == 6.0 * 6e12 * NON_EMBEDDING


def test_flops_per_token_by_hand(gemma):
    # Decode at 2,048 keys: 15 local layers see 512 keys, 3 global layers see 2,048.
    assert forward_flops_per_token(gemma, 2048) == MATMUL + 4 * D_ATTN * (15 * 512 + 3 * 2048) == 592_819_456
    # Inside the window every layer sees all the keys.
    assert forward_flops_per_token(gemma, 300) == MATMUL + 4 * D_ATTN * 18 * 300
    # Prefill of 2,048 tokens: local layers sum min(p, 512), global layers sum p, over p = 1..2048.
    local = 512 * 513 // 2 + 512 * (2048 - 512)
    full = 2048 * 2049 // 2
    assert prefill_flops(gemma, 2048) == 2048 * MATMUL + 4 * D_ATTN * (15 * local + 3 * full)
    # A completion of 3 tokens after a 2,048-token prompt: 2 passes attending to 2,049 and 2,050 keys.
    assert decode_flops(gemma, 2048, 3) == 2 * MATMUL + 4 * D_ATTN * (15 * 2 * 512 + 3 * (2049 + 2050))


def test_summary_reports_the_default_context(gemma):
    summary = card_summary(gemma)
    assert summary["context"] == 2048
    assert summary["decode_flops_per_token"] == 592_819_456
    assert summary["prefill_flops_per_token"] == pytest.approx(
        (2048 * MATMUL + 4 * D_ATTN * (15 * (512 * 513 // 2 + 512 * 1536) + 3 * 2048 * 2049 // 2)) / 2048)
    assert summary["params_embedding"] == EMBEDDING
    assert card_summary(gemma, 32_768)["decode_flops_per_token"] == MATMUL + 4 * D_ATTN * (15 * 512 + 3 * 32_768)
