"""Early exit: never exiting is exactly sample_pools; exiting matches a slow reference that recomputes the
whole sequence with the exited positions' states frozen, token for token and FLOP for FLOP."""

import math

import pytest
import torch
import torch.nn.functional as F
from exit_distill_models import HYPER, documents, held_out, trained

from ttscale import flops
from ttscale.backends.tiny_early_exit import EarlyExitBackend, early_exit_backend
from ttscale.errors import InputError
from ttscale.tiny import tokenizer
from ttscale.tiny.early_exit import (
    ExitHeads,
    ExitStats,
    head_losses,
    sample_pools_early_exit,
    train_exit_heads,
)
from ttscale.tiny.model import TinyConfig, rms_norm
from ttscale.tiny.sampler import choose_tokens, sample_pools, seed_key
from ttscale.types import SamplingConfig

PROMPTS = ["A1+2=", "A7+8=", "B3+4="]
HOT = SamplingConfig(temperature=1.0, top_p=1.0, max_new_tokens=8)
GREEDY = SamplingConfig(temperature=0.0, max_new_tokens=8)
VOCAB = tokenizer.vocab_size


def seeds_for(n):
    return [[100 * i + j for j in range(n)] for i in range(len(PROMPTS))]


@pytest.fixture(scope="module")
def deep():
    """A 3-layer d32 model (exit heads after layers 1 and 2) and heads trained on it."""
    previous = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        # Trained long enough that many positions are near-certain (the digits' plus sign, the equals sign).
        result = trained(32, 3, 48, seed=2, tokens=24576, batch_size=4)
        heads = train_exit_heads(result.model, [1, 2], documents, 3072, seed=0, batch_size=4, hyper=HYPER)
        return result, heads
    finally:
        torch.set_num_threads(previous)


def layer_costs(config: TinyConfig, context: int) -> dict[str, float]:
    """Per-token FLOPs of the pieces, counted from the shape."""
    d, d_ff = config.d_model, config.d_ff
    weights = 3 * d * d + d * d + d * d_ff + d_ff * d  # qkv, attention proj, fc, mlp proj
    return {
        "layer": 2 * weights + 2 * 2 * context * d,  # matmuls + QK^T and A.V over `context` keys
        "kv": 2 * 2 * d * d,  # K and V projections of a skipped layer
        "head": 2 * d * d + 2 * d * VOCAB,
        "unembedding": 2 * d * VOCAB,
    }


def test_above_one_never_exits_and_is_exactly_sample_pools(deep):
    result, heads = deep
    model = result.model
    seeds = seeds_for(5)
    stats = ExitStats(n_layers=3)
    plain = sample_pools(model, tokenizer, PROMPTS, 5, HOT, seeds, max_batch_rows=7)
    early = sample_pools_early_exit(model, heads.heads, 1.5, tokenizer, PROMPTS, 5, HOT, seeds,
                                    max_batch_rows=7, stats=stats)
    for pool_a, pool_b, prompt in zip(plain, early, PROMPTS):
        for a, b in zip(pool_a, pool_b):
            assert b.token_ids == a.token_ids and b.text == a.text and b.finished == a.finished
            assert b.logprob == a.logprob and b.seed == a.seed
            prompt_tokens = len(tokenizer.encode_prompt(prompt))
            assert b.decode_flops == flops.decode_flops(result.card, prompt_tokens, len(b.token_ids))
    assert stats.exits.keys() == {3} and stats.mean_layer_fraction == 1.0
    assert stats.tokens == sum(len(g.token_ids) - 1 for pool in early for g in pool)


def test_threshold_zero_exits_every_token_at_the_first_head(deep):
    result, heads = deep
    stats = ExitStats(n_layers=3)
    pools = sample_pools_early_exit(result.model, heads.heads, 0.0, tokenizer, PROMPTS, 4, HOT, seeds_for(4),
                                    stats=stats)
    assert stats.exits.keys() == {1} and stats.mean_layer_fraction == pytest.approx(1 / 3)
    for prompt, pool in zip(PROMPTS, pools):
        P = len(tokenizer.encode_prompt(prompt))
        for g in pool:
            expected = 0.0
            for i in range(len(g.token_ids) - 1):  # the pass over completion token i sees P + i + 1 keys
                c = layer_costs(result.config, P + i + 1)
                expected += c["layer"] + 2 * c["kv"] + c["head"]  # layer 1 in full, 2 and 3 skipped, no unembedding
            assert g.decode_flops == expected


def reference(model, heads, threshold, prompt, seed, config):
    """One sample, recomputing the whole sequence every step without a cache; an exited position keeps
    its state from its exit layer on. Returns (token ids, decode FLOPs, exit depth per decoded pass)."""
    ids = tokenizer.encode_prompt(prompt)
    P, layers, wte = len(ids), model.config.n_layers, model.wte.weight
    key = torch.tensor([seed_key(seed)])
    exit_at: dict[int, int] = {}  # position -> blocks run
    out, spent, depths = [], 0.0, []
    stop = tokenizer.encode("\n")
    with torch.no_grad():
        for step in range(min(config.max_new_tokens, model.config.context_length - P + 1)):
            seq = torch.tensor([ids + out])
            T, last = seq.shape[1], seq.shape[1] - 1
            x = model.wte(seq)
            decided, logits = None, None
            for layer, block in enumerate(model.blocks):
                y, _ = block(x, model.cos[:T].to(wte.dtype), model.sin[:T].to(wte.dtype), None, layer, 0)
                frozen = torch.tensor([exit_at.get(p, layers) <= layer for p in range(T)])
                x = torch.where(frozen[None, :, None], x, y)
                if step > 0 and decided is None and layer + 1 in heads.layers and threshold <= 1:
                    head_logits = heads(x[:, last], layer + 1, wte)
                    if torch.softmax(head_logits.double(), -1).max() >= threshold:
                        decided, logits = layer + 1, head_logits
                        exit_at[last] = decided
            if step > 0:  # a decoded pass (step 0's logits come from the prefill)
                c = layer_costs(model.config, T)
                depth = decided or layers
                reached = [h for h in heads.layers if h <= depth] if threshold <= 1 else []
                spent += depth * c["layer"] + (layers - depth) * c["kv"] + len(reached) * c["head"]
                spent += 0 if decided else c["unembedding"]
                depths.append(depth)
            if logits is None:
                logits = F.linear(rms_norm(x[:, last]), wte)
            token, _ = choose_tokens(logits, key, step, config, tokenizer.SPECIAL_IDS)
            out.append(int(token))
            if out[-len(stop):] == stop:
                break
    return tuple(out), spent, depths


@pytest.mark.parametrize("threshold", [0.6, 0.0])
@pytest.mark.parametrize("config", [GREEDY, HOT], ids=["greedy", "sampled"])
def test_early_exit_matches_the_slow_reference(deep, config, threshold):
    result, heads = deep
    model = result.model.double()  # float64: the cached and uncached paths then agree to the last bit that matters
    try:
        head64 = heads.heads.double()
        stats = ExitStats(n_layers=3)
        pools = sample_pools_early_exit(model, head64, threshold, tokenizer, PROMPTS, 3, config, seeds_for(3),
                                        max_batch_rows=4, stats=stats)
        all_depths = []
        for prompt, pool in zip(PROMPTS, pools):
            for g in pool:
                ids, spent, depths = reference(model, head64, threshold, prompt, g.seed, config)
                assert g.token_ids == ids
                assert g.decode_flops == spent
                all_depths += depths
        assert stats.tokens == len(all_depths) and stats.layers == sum(all_depths)
        if threshold:  # 0.6 makes some tokens exit at either head and others run the whole model
            assert set(all_depths) == {1, 2, 3}
    finally:
        result.model.float()
        heads.heads.float()


def test_training_the_heads_lowers_their_loss(deep):
    result, heads = deep
    x, y = held_out(48)
    before = head_losses(result.model, ExitHeads(result.config, [1, 2]), x, y)
    after = head_losses(result.model, heads.heads, x, y)
    assert after.keys() == {1, 2}
    assert all(after[layer] < before[layer] for layer in (1, 2))
    assert heads.final_losses.keys() == {1, 2} and all(math.isfinite(v) for v in heads.final_losses.values())


def test_head_training_flops_match_a_count_from_the_shape(deep):
    result, heads = deep
    d, seq_len = 32, 48
    tokens = heads.tokens
    assert tokens == 3072  # 16 steps of 4 windows of 48
    trunk = 0.0
    for position in range(1, seq_len + 1):  # layers 1 and 2 forward; layer 3 and the logits are not run
        trunk += 2 * layer_costs(result.config, position)["layer"]
    # Its linear: forward and weight gradient (its input is frozen); the logits: forward and input gradient.
    per_head = 2 * 2 * d * d + 2 * 2 * d * VOCAB
    assert heads.train_flops == tokens / seq_len * trunk + tokens * 2 * per_head


def test_training_leaves_the_model_unchanged():
    result = trained(16, 2, 16, seed=4)
    before = {k: v.clone() for k, v in result.model.state_dict().items()}
    train_exit_heads(result.model, [1], documents, 256, seed=0, batch_size=4, hyper=HYPER)
    assert all(torch.equal(before[k], v) for k, v in result.model.state_dict().items())


def test_identity_heads_add_only_d_model_squared_parameters():
    heads = ExitHeads(TinyConfig(d_model=16, n_layers=4, n_heads=2, d_ff=32, context_length=16), [1, 3])
    assert sum(p.numel() for p in heads.parameters()) == 2 * 16 * 16
    assert all(torch.equal(lin.weight, torch.eye(16)) for lin in heads.linears.values())


@pytest.mark.parametrize("threshold", [-0.1, float("nan"), "high", True])
def test_a_bad_threshold_is_refused(deep, threshold):
    result, heads = deep
    with pytest.raises(InputError, match=rf"threshold.*{threshold!r}"):
        sample_pools_early_exit(result.model, heads.heads, threshold, tokenizer, PROMPTS, 1, HOT, seeds_for(1))


@pytest.mark.parametrize("layers", [[0], [3], [1, 1], [2.0]])
def test_exit_layers_outside_one_to_n_layers_minus_one_are_refused(deep, layers):
    result, _ = deep
    with pytest.raises(InputError, match=r"layers"):
        ExitHeads(result.config, layers)
    with pytest.raises(InputError, match=r"layers"):
        train_exit_heads(result.model, layers, documents, 256, seed=0, batch_size=4, hyper=HYPER)


def test_the_refusal_names_the_layer():
    config = TinyConfig(d_model=16, n_layers=3, n_heads=2, d_ff=32, context_length=16)
    with pytest.raises(InputError, match=r"1\.\.2.*got 3"):
        ExitHeads(config, [1, 3])


def test_the_backend_samples_with_early_exit_and_reports_the_depth_used(deep):
    result, heads = deep
    backend = early_exit_backend(result.model, result.card, heads, 0.6)
    assert isinstance(backend, EarlyExitBackend) and backend.prefill_shared
    assert backend.card.train_flops == result.card.train_flops + heads.train_flops
    assert backend.card.params_non_embedding == result.card.params_non_embedding
    assert backend.name == backend.card.name == f"{result.card.name}@exit0.6"
    seeds = [[1, 2], [3], [4, 5]]  # pools of different sizes, as a resumed run asks for
    pools = backend.generate(PROMPTS, seeds, HOT, ["\n"])
    assert [[g.seed for g in pool] for pool in pools] == seeds
    direct = sample_pools_early_exit(result.model, heads.heads, 0.6, tokenizer, PROMPTS[:1], 2, HOT, [[1, 2]])
    for a, b in zip(pools[0], direct[0]):  # another batch composition: float32 rounding may differ
        assert (a.token_ids, a.decode_flops, a.finished) == (b.token_ids, b.decode_flops, b.finished)
        assert a.logprob == pytest.approx(b.logprob, abs=1e-4)
    used = backend.layers_used
    assert used.tokens == sum(len(g.token_ids) - 1 for pool in pools for g in pool)
    assert 1 / 3 <= used.mean_layer_fraction <= 1
    assert backend.count_tokens("A1+2=") == 6
    backend.close()
