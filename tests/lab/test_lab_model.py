import pytest
import torch

from ttscale.errors import InputError
from ttscale.tiny.model import TinyConfig, TinyGPT, count_parameters, model_card


@pytest.mark.parametrize(
    "field, kwargs",
    [
        ("d_model", {"d_model": 0}),
        ("n_layers", {"n_layers": -1}),
        ("n_heads", {"n_heads": 3}),  # 16 % 3 != 0
        ("n_heads", {"n_heads": 16}),  # head_dim 1 is odd
        ("context_length", {"context_length": 2.5}),
        ("d_ff", {"d_ff": True}),
    ],
)
def test_config_errors_name_the_field(field, kwargs):
    base = {"d_model": 16, "n_layers": 1, "n_heads": 2, "d_ff": 32, "context_length": 16}
    with pytest.raises(InputError, match=field):
        TinyConfig(**{**base, **kwargs})


def test_card_counts_parameters_from_the_module():
    config = TinyConfig(d_model=32, n_layers=2, n_heads=2, d_ff=64, context_length=24, vocab_size=81)
    card = model_card(config, name="m", train_tokens=10, train_flops=5.0)
    per_layer = 4 * 32 * 32 + 2 * 32 * 64  # qkv + proj + mlp in/out; norms have no parameters
    assert card.params_non_embedding == 2 * per_layer
    assert card.params_total == 81 * 32 + 2 * per_layer  # tied: the embedding is counted once
    assert (card.params_total, card.params_non_embedding) == count_parameters(TinyGPT(config))
    assert (card.n_layers, card.d_model, card.n_heads, card.d_ff, card.context_length) == (2, 32, 2, 64, 24)
    assert (card.train_tokens, card.train_flops, card.head_dim) == (10, 5.0, 16)


@pytest.mark.parametrize("dtype, tol", [(torch.float64, 1e-12), (torch.float32, 1e-5)])
def test_kv_cached_forward_equals_full_forward(random_model, dtype, tol):
    model = random_model.to(dtype)
    idx = torch.randint(3, 81, (3, 30))
    with torch.no_grad():
        full, _ = model(idx)
        pieces = []
        logits, cache = model(idx[:, :10])  # prefill
        pieces.append(logits)
        logits, cache = model(idx[:, 10:14], kv_cache=cache, start_pos=10)  # a chunk
        pieces.append(logits)
        for t in range(14, 30):  # token by token
            logits, cache = model(idx[:, t : t + 1], kv_cache=cache, start_pos=t)
            pieces.append(logits)
    assert cache.length == 30
    torch.testing.assert_close(torch.cat(pieces, dim=1), full, atol=tol, rtol=tol)


def test_cache_rows_can_be_repeated_and_selected(random_model):
    idx = torch.randint(3, 81, (2, 6))
    nxt = torch.randint(3, 81, (2, 1))
    with torch.no_grad():
        full, _ = random_model(torch.cat([idx, nxt], dim=1))
        _, cache = random_model(idx)
        wide = cache.repeat_interleave(3, capacity=20)  # rows 0,0,0,1,1,1
        picked = wide.select(torch.tensor([4, 0]))  # rows 1, 0
        logits, _ = random_model(nxt[[1, 0]], kv_cache=picked, start_pos=6)
    torch.testing.assert_close(logits[:, -1], full[[1, 0], -1], atol=1e-5, rtol=1e-5)


def test_positions_past_the_context_are_refused(random_model):
    with pytest.raises(InputError, match="context_length"):
        random_model(torch.zeros(1, 49, dtype=torch.int64))
