"""Cards from Hugging Face config.json: parameters counted from the family's layout."""

from __future__ import annotations

import json

import pytest

from ttscale.cards import load_card
from ttscale.errors import InputError

# Shaped like meta-llama/Llama-3.2-1B's config.json (the keys the card reads, and a few it ignores).
LLAMA_1B = {
    "architectures": ["LlamaForCausalLM"], "model_type": "llama", "hidden_size": 2048,
    "num_hidden_layers": 16, "num_attention_heads": 32, "num_key_value_heads": 8, "head_dim": 64,
    "intermediate_size": 8192, "vocab_size": 128256, "max_position_embeddings": 131072,
    "tie_word_embeddings": True, "attention_bias": False, "mlp_bias": False, "torch_dtype": "bfloat16",
    "rms_norm_eps": 1e-05, "rope_theta": 500000.0, "hidden_act": "silu",
}

# Shaped like google/gemma-3-270m's config.json.
GEMMA3_270M = {
    "architectures": ["Gemma3ForCausalLM"], "model_type": "gemma3_text", "hidden_size": 640,
    "num_hidden_layers": 18, "num_attention_heads": 4, "num_key_value_heads": 1, "head_dim": 256,
    "intermediate_size": 2048, "vocab_size": 262144, "max_position_embeddings": 32768,
    "sliding_window": 512, "torch_dtype": "bfloat16", "query_pre_attn_scalar": 256,
    "layer_types": (["sliding_attention"] * 5 + ["full_attention"]) * 3,
}


def write(tmp_path, config, name="config.json"):
    path = tmp_path / name
    path.write_text(json.dumps(config))
    return path


def test_llama_config_gives_the_right_card(tmp_path):
    loaded = load_card(str(write(tmp_path, LLAMA_1B)))
    card = loaded.card
    layer = 2048 * 2048 + 2 * 2048 * 512 + 2048 * 2048 + 3 * 2048 * 8192 + 2 * 2048  # q, k, v, o, MLP, 2 norms
    assert card.params_non_embedding == 16 * layer + 2048
    assert card.params_total == 16 * layer + 2048 + 128256 * 2048 == 1_235_814_400  # Llama 3.2 1B's count
    assert (card.n_layers, card.d_model, card.n_heads, card.n_kv_heads, card.head_dim) == (16, 2048, 32, 8, 64)
    assert (card.d_ff, card.vocab_size, card.context_length) == (8192, 128256, 131072)
    assert card.sliding_window is None and loaded.layer_windows == (None,) * 16
    assert (card.quantization, card.bits_per_weight) == ("bfloat16", 16.0)
    assert card.train_flops is None and card.estimated is False
    assert loaded.source == "hf-config" and loaded.details["tied_embeddings"] is True


def test_untied_with_biases_and_directory_form(tmp_path):
    config = {"model_type": "llama", "hidden_size": 64, "num_hidden_layers": 2, "num_attention_heads": 4,
              "num_key_value_heads": 2, "intermediate_size": 128, "vocab_size": 100,
              "max_position_embeddings": 256, "attention_bias": True, "mlp_bias": True}
    write(tmp_path, config)
    card = load_card(str(tmp_path)).card  # the folder holding config.json
    # head_dim 16: q 64x64 (+64), k, v 64x32 (+32 each), o 64x64 (+64); MLP 3x64x128 + 2x128 + 64; 2 norms
    layer = (4096 + 64) + 2 * (2048 + 32) + (4096 + 64) + (3 * 8192 + 256 + 64) + 128
    assert card.params_non_embedding == 2 * layer + 64
    assert card.params_total == 2 * layer + 64 + 2 * 100 * 64  # llama defaults to an untied output
    assert card.name == tmp_path.name


def test_gemma3_config_agrees_with_the_gguf(tmp_path, gemma):
    loaded = load_card(str(write(tmp_path, GEMMA3_270M)))
    assert loaded.card.params_total == gemma.card.params_total
    assert loaded.card.params_non_embedding == gemma.card.params_non_embedding
    assert loaded.layer_windows == gemma.layer_windows
    # Older configs give the period instead of layer_types: same layers.
    older = {k: v for k, v in GEMMA3_270M.items() if k != "layer_types"} | {"sliding_window_pattern": 6}
    assert load_card(str(write(tmp_path, older, "old.json"))).layer_windows == gemma.layer_windows


def test_multimodal_config_counts_its_text_model(tmp_path):
    config = {"model_type": "gemma3", "text_config": {k: v for k, v in GEMMA3_270M.items() if k != "model_type"}}
    loaded = load_card(str(write(tmp_path, config)))
    assert loaded.card.params_non_embedding == 18 * (640 * 1024 + 2 * 640 * 256 + 1024 * 640 + 3 * 640 * 2048
                                                     + 4 * 640 + 2 * 256) + 640
    assert any("text model only" in note for note in loaded.details["notes"])


def test_window_rules_of_mistral_and_qwen(tmp_path):
    base = {"hidden_size": 64, "num_hidden_layers": 4, "num_attention_heads": 4, "intermediate_size": 128,
            "vocab_size": 100, "max_position_embeddings": 256, "sliding_window": 32}
    assert load_card(str(write(tmp_path, base | {"model_type": "mistral"}, "m.json"))).layer_windows == (32,) * 4
    qwen = base | {"model_type": "qwen2", "use_sliding_window": False}
    assert load_card(str(write(tmp_path, qwen, "q.json"))).layer_windows == (None,) * 4
    qwen_swa = qwen | {"use_sliding_window": True, "max_window_layers": 2}
    assert load_card(str(write(tmp_path, qwen_swa, "q2.json"))).layer_windows == (None, None, 32, 32)


@pytest.mark.parametrize(("change", "message"), [
    ({"model_type": "gpt2"}, "model_type 'gpt2' is not a family ttscale can count"),
    ({"num_local_experts": 8}, "mixture-of-experts"),
    ({"hidden_size": None}, "config has no 'hidden_size'"),
    ({"num_hidden_layers": "16"}, "'num_hidden_layers' must be a positive integer, got '16'"),
])
def test_bad_configs_are_refused_with_the_field(tmp_path, change, message):
    config = {k: v for k, v in (LLAMA_1B | change).items() if v is not None}
    with pytest.raises(InputError, match=message):
        load_card(str(write(tmp_path, config)))
