import pytest
import torch

from ttscale.errors import InputError
from ttscale.tiny import tokenizer
from ttscale.tiny.sampler import (
    Generation,
    choose_tokens,
    sample_one_at_a_time_no_cache,
    sample_pools,
    seed_key,
    uniforms,
)
from ttscale.types import SamplingConfig

PROMPTS = ["A12+34=", "F0391=", "A1+2=", "B99+1=", "A5+5="]  # lengths 8, 7, 6, 7, 6 with BOS
HOT = SamplingConfig(temperature=1.0, top_p=1.0, max_new_tokens=10)
NUCLEUS = SamplingConfig(temperature=0.7, top_p=0.9, max_new_tokens=10)


def seeds_for(prompts, n, base=0):
    return [[base + 1000 * i + j for j in range(n)] for i in range(len(prompts))]


def by_seed(pools):
    return {g.seed: g for pool in pools for g in pool}


def test_same_seed_same_sample_whatever_the_batch(random_model):
    n = 6
    seeds = seeds_for(PROMPTS, n)
    alone = {}
    for prompt, s in zip(PROMPTS, seeds):  # each prompt on its own, rows split 4 at a time
        alone.update(by_seed(sample_pools(random_model, tokenizer, [prompt], n, HOT, [s], max_batch_rows=4)))
    together = by_seed(sample_pools(random_model, tokenizer, PROMPTS, n, HOT, seeds, max_batch_rows=64))
    order = [4, 2, 0, 3, 1]  # reversed-ish order, and each pool's seeds reversed
    shuffled = by_seed(
        sample_pools(random_model, tokenizer, [PROMPTS[i] for i in order], n, HOT,
                     [seeds[i][::-1] for i in order], max_batch_rows=13, compact_fraction=0.0)
    )
    assert alone.keys() == together.keys() == shuffled.keys()
    for seed, g in alone.items():
        for other in (together[seed], shuffled[seed]):
            assert other.token_ids == g.token_ids and other.text == g.text and other.finished == g.finished
            assert other.logprob == pytest.approx(g.logprob, abs=1e-4)


def test_pools_come_back_in_seed_order(random_model):
    seeds = [[5, 3, 9]]
    (pool,) = sample_pools(random_model, tokenizer, ["A1+2="], 3, HOT, seeds)
    assert [g.seed for g in pool] == [5, 3, 9] and all(isinstance(g, Generation) for g in pool)


def test_distinct_seeds_give_distinct_samples(random_model):
    (pool,) = sample_pools(random_model, tokenizer, ["A1+2="], 32, HOT, [list(range(32))])
    assert len({g.token_ids for g in pool}) == 32  # a near-uniform untrained model


def test_temperature_zero_is_greedy(random_model):
    config = SamplingConfig(temperature=0.0, max_new_tokens=8)
    (pool,) = sample_pools(random_model, tokenizer, ["A1+2="], 4, config, [[1, 2, 3, 4]], stop="#")
    assert len({g.token_ids for g in pool}) == 1
    ids = tokenizer.encode_prompt("A1+2=")
    expected = []
    with torch.no_grad():
        for _ in range(len(pool[0].token_ids)):
            logits, _ = random_model(torch.tensor([ids + expected]))
            logits = logits[0, -1].clone()
            logits[list(tokenizer.SPECIAL_IDS)] = float("-inf")
            expected.append(int(logits.argmax()))
            if expected[-1] == tokenizer.encode("#")[0]:
                break
    assert list(pool[0].token_ids) == expected


@pytest.mark.parametrize("stop", ["\n", "3", "2+"])
def test_stop_string_handling(random_model, stop):
    config = SamplingConfig(temperature=1.0, max_new_tokens=24)
    n = 48
    (pool,) = sample_pools(random_model, tokenizer, ["A1+2="], n, config, [list(range(n))], stop=stop)
    stop_ids = tuple(tokenizer.encode(stop))
    if len(stop) == 1:
        assert any(g.finished for g in pool) and any(not g.finished for g in pool)
    for g in pool:
        if g.finished:
            assert g.token_ids[-len(stop_ids):] == stop_ids
            assert g.text == tokenizer.decode(g.token_ids[: -len(stop_ids)])
            assert stop not in g.text  # it stopped at the first occurrence
        else:
            assert len(g.token_ids) == 24 and g.text == tokenizer.decode(g.token_ids)
            assert stop not in g.text
        assert all(t not in tokenizer.SPECIAL_IDS for t in g.token_ids)


def test_generation_stops_at_the_context_length(random_model):
    prompt = "A" * 44  # 45 tokens with BOS; context 48 leaves room for 4 new tokens
    config = SamplingConfig(temperature=1.0, max_new_tokens=20)
    (pool,) = sample_pools(random_model, tokenizer, [prompt], 8, config, [list(range(8))], stop="#")
    assert all(len(g.token_ids) <= 4 for g in pool)
    assert any(len(g.token_ids) == 4 and not g.finished for g in pool)
    with pytest.raises(InputError, match=r"prompts\[1\].*context_length"):
        sample_pools(random_model, tokenizer, ["A", "A" * 48], 1, config, [[0], [1]])


@pytest.mark.parametrize("config", [HOT, NUCLEUS, SamplingConfig(temperature=0.0, max_new_tokens=10)])
def test_batched_equals_reference_in_float64(random_model, config):
    model = random_model.double()
    seeds = seeds_for(PROMPTS, 4, base=77)
    pools = sample_pools(model, tokenizer, PROMPTS, 4, config, seeds, stop="3", max_batch_rows=10)
    for prompt, s, pool in zip(PROMPTS, seeds, pools):
        reference = sample_one_at_a_time_no_cache(model, tokenizer, prompt, s, config, stop="3")
        for got, want in zip(pool, reference, strict=True):
            assert got.token_ids == want.token_ids and got.text == want.text and got.finished == want.finished
            assert got.logprob == pytest.approx(want.logprob, abs=1e-9)


def test_batched_greedy_equals_reference_in_float32(random_model):
    config = SamplingConfig(temperature=0.0, max_new_tokens=12)
    pools = sample_pools(random_model, tokenizer, PROMPTS[:2], 2, config, seeds_for(PROMPTS[:2], 2))
    for prompt, pool in zip(PROMPTS[:2], pools):
        reference = sample_one_at_a_time_no_cache(random_model, tokenizer, prompt, [0], config)
        assert pool[0].token_ids == reference[0].token_ids
        assert pool[0].logprob == pytest.approx(reference[0].logprob, abs=1e-4)


def test_logprob_is_the_raw_model_score(random_model):
    config = SamplingConfig(temperature=0.5, top_p=0.5, max_new_tokens=3)
    (pool,) = sample_pools(random_model, tokenizer, ["A1+2="], 2, config, [[4, 5]], stop="#")
    ids = tokenizer.encode_prompt("A1+2=")
    for g in pool:
        with torch.no_grad():
            logits, _ = random_model(torch.tensor([ids + list(g.token_ids)]))
        logprobs = torch.log_softmax(logits[0].double(), dim=-1)
        expected = sum(float(logprobs[len(ids) - 1 + i, t]) for i, t in enumerate(g.token_ids))
        assert g.logprob == pytest.approx(expected, abs=1e-4)


def test_noise_is_a_pure_function_of_seed_step_and_token():
    keys = torch.tensor([seed_key(s) for s in (0, 1, 2**40 + 1, -5)])
    u = uniforms(keys, step=3, vocab=81)
    assert u.shape == (4, 81) and float(u.min()) > 0 and float(u.max()) < 1
    assert torch.equal(uniforms(keys[[2, 0]], 3, 81), u[[2, 0]])
    assert not torch.equal(uniforms(keys, 4, 81), u)
    assert len({seed_key(s) for s in range(10_000)}) == 10_000
    big = uniforms(torch.tensor([seed_key(s) for s in range(2000)]), 0, 81)
    assert abs(float(big.mean()) - 0.5) < 0.01  # roughly uniform


def test_top_p_keeps_the_nucleus_only():
    logits = torch.log(torch.tensor([[0.5, 0.3, 0.15, 0.05]]))
    keys = torch.tensor([seed_key(s) for s in range(400)])
    config = SamplingConfig(temperature=1.0, top_p=0.75, max_new_tokens=1)
    tokens, _ = choose_tokens(logits.expand(400, 4), keys, 0, config)
    assert set(tokens.tolist()) == {0, 1}  # 0.5 + 0.3 >= 0.75: tokens 2, 3 are cut
    share = float((tokens == 0).double().mean())
    assert 0.5 < share < 0.75  # renormalised: 0.5 / 0.8 = 0.625


def test_bad_arguments_are_named(random_model):
    with pytest.raises(InputError, match=r"seeds\[0\]"):
        sample_pools(random_model, tokenizer, ["A1="], 2, HOT, [[1]])
    with pytest.raises(InputError, match="seeds"):
        sample_pools(random_model, tokenizer, ["A1=", "A2="], 1, HOT, [[1]])
    with pytest.raises(InputError, match=r"prompts\[0\].*'\$'"):
        sample_pools(random_model, tokenizer, ["A$="], 1, HOT, [[1]])
    with pytest.raises(InputError, match="stop"):
        sample_pools(random_model, tokenizer, ["A1="], 1, HOT, [[1]], stop="")
