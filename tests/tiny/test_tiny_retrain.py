"""train(..., init=model) continues from that model's weights (a copy) and counts only its own FLOPs."""

import random

import pytest
import torch
import torch.nn.functional as F

from ttscale import flops
from ttscale.errors import InputError
from ttscale.tiny.model import TinyConfig
from ttscale.tiny.trainer import batches, train

CONFIG = TinyConfig(d_model=16, n_layers=1, n_heads=2, d_ff=32, context_length=32)
BATCH = 4  # 128 tokens a step


def sums():
    rng = random.Random(0)
    while True:
        a, b = rng.randrange(10), rng.randrange(10)
        yield f"A{a}+{b}={a + b}\n"


@pytest.fixture(scope="module")
def pretrained():
    return train(CONFIG, sums, train_tokens=2048, seed=0, batch_size=BATCH, threads=1).model


def weights(model):
    return {k: v.clone() for k, v in model.state_dict().items()}


def test_training_starts_from_the_given_weights(pretrained):
    before = weights(pretrained)
    x, y = next(batches(sums, BATCH, CONFIG.context_length))
    with torch.no_grad():
        first = pretrained(x)[0]
    expected = F.cross_entropy(first.view(-1, first.shape[-1]), y.view(-1)).item()
    resumed = train(CONFIG, sums, train_tokens=512, seed=0, batch_size=BATCH, init=pretrained)
    fresh = train(CONFIG, sums, train_tokens=512, seed=0, batch_size=BATCH)
    assert resumed.loss_curve[0][1] == pytest.approx(expected, rel=1e-5)
    assert fresh.loss_curve[0][1] > expected + 0.5  # a fresh model starts near log(81)
    assert resumed.final_loss < fresh.final_loss
    assert any(not torch.equal(a, b) for a, b in zip(resumed.model.parameters(), fresh.model.parameters()))
    assert resumed.model is not pretrained
    assert all(torch.equal(before[k], v) for k, v in pretrained.state_dict().items())  # init untouched
    assert not resumed.model.training


def test_flops_are_those_of_this_run_as_for_a_fresh_model(pretrained):
    resumed = train(CONFIG, sums, train_tokens=300, seed=1, batch_size=BATCH, init=pretrained)
    fresh = train(CONFIG, sums, train_tokens=300, seed=1, batch_size=BATCH)
    assert resumed.card.train_tokens == 384  # 300 rounds up to 3 steps of 128
    assert resumed.card.train_flops == flops.train_flops(resumed.card, 384, CONFIG.context_length)
    assert resumed.card == fresh.card


def test_a_different_config_or_a_non_model_is_refused(pretrained):
    other = TinyConfig(d_model=16, n_layers=1, n_heads=2, d_ff=24, context_length=32)
    with pytest.raises(InputError, match="init"):
        train(other, sums, train_tokens=128, seed=0, batch_size=BATCH, init=pretrained)
    with pytest.raises(InputError, match="init"):
        train(CONFIG, sums, train_tokens=128, seed=0, batch_size=BATCH, init=object())
