"""Structured pruning: the result is a smaller TinyGPT whose size matches its shapes, whose weights are
the original's (checked against the original with the dropped parts zeroed), and whose scores drop what
a hand-made dead neuron or identity block says they should."""

import copy

import pytest
import torch

from ttscale.errors import InputError
from ttscale.tiny.model import count_parameters, model_card
from ttscale.tiny.prune import PRUNE_SCORES, prune_layers, prune_mlp

VOCAB = 81


def shape_count(d_model: int, n_layers: int, d_ff: int) -> int:
    """Embedding + per block qkv (3d x d), attn proj (d x d), fc (d_ff x d) and mlp proj (d x d_ff)."""
    return VOCAB * d_model + n_layers * (4 * d_model * d_model + 2 * d_model * d_ff)


def logits(model, tokens):
    with torch.no_grad():
        return model(tokens)[0]


@pytest.mark.parametrize("score", PRUNE_SCORES)
def test_parameter_counts_match_the_shapes_and_shrink(small_model, tokens, score):
    original = model_card(small_model.config, "m", None, None).params_total
    assert original == shape_count(32, 3, 48)
    mlp = prune_mlp(small_model, 0.25, score, tokens)
    assert mlp.config.d_ff == 36  # round(48 * 0.75)
    assert count_parameters(mlp)[0] == shape_count(32, 3, 36)
    assert model_card(mlp.config, "m", None, None).params_total == shape_count(32, 3, 36) < original
    layers = prune_layers(small_model, 2, score, tokens)
    assert layers.config.n_layers == 1
    assert model_card(layers.config, "m", None, None).params_total == shape_count(32, 1, 48) < original
    assert count_parameters(prune_mlp(small_model, 0.999, score, tokens))[0] == shape_count(32, 3, 1)


@pytest.mark.parametrize("score", PRUNE_SCORES)
def test_pruning_nothing_gives_identical_logits(small_model, tokens, score):
    same = prune_mlp(small_model, 0.0, score, tokens)
    assert same.config == small_model.config
    assert torch.equal(logits(same, tokens), logits(small_model, tokens))


def zeroed_like_pruned(original, pruned):
    """The original with every MLP neuron that ``pruned`` lacks zeroed; kept neurons found by matching rows."""
    model = copy.deepcopy(original)
    with torch.no_grad():
        for old, new in zip(model.blocks, pruned.blocks):
            rows = old.mlp.fc.weight
            matches = (rows[None, :, :] == new.mlp.fc.weight[:, None, :]).all(dim=2)  # (kept, d_ff)
            assert (matches.sum(dim=1) == 1).all()  # every kept row is exactly one original row
            kept = matches.any(dim=0)
            # ... and its output column came along with it
            assert torch.equal(new.mlp.proj.weight, old.mlp.proj.weight[:, matches.float().argmax(dim=1)])
            rows[~kept] = 0.0
            old.mlp.proj.weight[:, ~kept] = 0.0
    return model


@pytest.mark.parametrize("score", PRUNE_SCORES)
def test_pruned_mlp_equals_the_original_with_dropped_neurons_zeroed(small_model, tokens, score):
    pruned = prune_mlp(small_model, 0.4, score, tokens)
    reference = zeroed_like_pruned(small_model, pruned)
    assert torch.allclose(logits(pruned, tokens), logits(reference, tokens), atol=1e-5)
    assert not torch.allclose(logits(pruned, tokens), logits(small_model, tokens), atol=1e-5)


@pytest.mark.parametrize("dead", [0, 17, 47])
def test_activation_score_drops_a_dead_neuron(small_model, tokens, dead):
    model = copy.deepcopy(small_model)
    with torch.no_grad():
        for i, block in enumerate(model.blocks):
            block.mlp.fc.weight[(dead + 5 * i) % 48] = 0.0  # a different dead neuron in each block
    pruned = prune_mlp(model, 1 / 48, "activation", tokens)
    assert pruned.config.d_ff == 47
    for i, (old, new) in enumerate(zip(model.blocks, pruned.blocks)):
        keep = [j for j in range(48) if j != (dead + 5 * i) % 48]
        assert torch.equal(new.mlp.fc.weight, old.mlp.fc.weight[keep])
        assert torch.equal(new.mlp.proj.weight, old.mlp.proj.weight[:, keep])
    assert torch.allclose(logits(pruned, tokens), logits(model, tokens), atol=1e-5)


@pytest.mark.parametrize("identity", [0, 1, 2])
def test_activation_score_drops_a_block_that_changes_nothing(small_model, tokens, identity):
    model = copy.deepcopy(small_model)
    with torch.no_grad():
        model.blocks[identity].attn.proj.weight.zero_()
        model.blocks[identity].mlp.proj.weight.zero_()
    pruned = prune_layers(model, 1, "activation", tokens)
    kept = [b for b in range(3) if b != identity]
    for new, old in zip(pruned.blocks, kept):
        assert all(torch.equal(a, b) for a, b in zip(new.parameters(), model.blocks[old].parameters()))
    assert torch.equal(pruned.wte.weight, model.wte.weight)
    assert torch.allclose(logits(pruned, tokens), logits(model, tokens), atol=1e-5)


def test_magnitude_score_drops_the_smallest_block(small_model):
    model = copy.deepcopy(small_model)
    with torch.no_grad():
        for p in model.blocks[1].parameters():
            p.mul_(0.1)
    pruned = prune_layers(model, 1, "magnitude", None)
    assert torch.equal(pruned.blocks[1].mlp.fc.weight, model.blocks[2].mlp.fc.weight)
    assert torch.equal(pruned.blocks[0].mlp.fc.weight, model.blocks[0].mlp.fc.weight)


def test_inputs_and_the_random_stream_are_untouched(small_model, tokens):
    before = {k: v.clone() for k, v in small_model.state_dict().items()}
    calibration = tokens.clone()
    torch.manual_seed(5)
    prune_mlp(small_model, 0.5, "activation", tokens)
    prune_layers(small_model, 1, "activation", tokens)
    drawn = torch.rand(3)
    torch.manual_seed(5)
    assert torch.equal(drawn, torch.rand(3))
    assert all(torch.equal(before[k], v) for k, v in small_model.state_dict().items())
    assert torch.equal(calibration, tokens)


@pytest.mark.parametrize(
    ("call", "pattern"),
    [
        (lambda m, t: prune_mlp(m, 0.5, "wanda", t), r"score .*magnitude, activation.*'wanda'"),
        (lambda m, t: prune_layers(m, 1, "random", t), r"score .*magnitude, activation.*'random'"),
        (lambda m, t: prune_mlp(m, 0.5, "activation", None), "calibration"),
        (lambda m, t: prune_layers(m, 1, "activation", None), "calibration"),
        (lambda m, t: prune_mlp(m, 0.5, "activation", t.float()), "calibration"),
        (lambda m, t: prune_mlp(m, 0.5, "activation", t[0]), "calibration"),
        (lambda m, t: prune_mlp(m, 0.5, "activation", t + 100), "calibration"),
        (lambda m, t: prune_mlp(m, 1.0, "magnitude", None), "fraction .*got 1.0"),
        (lambda m, t: prune_mlp(m, -0.1, "magnitude", None), "fraction .*got -0.1"),
        (lambda m, t: prune_layers(m, 3, "magnitude", None), "n_drop .*got 3"),
        (lambda m, t: prune_layers(m, 0, "magnitude", None), "n_drop .*got 0"),
        (lambda m, t: prune_layers(m, 1.0, "magnitude", None), "n_drop .*got 1.0"),
        (lambda m, t: prune_layers(m, True, "magnitude", None), "n_drop .*got True"),
    ],
)
def test_bad_input_is_refused(small_model, tokens, call, pattern):
    with pytest.raises(InputError, match=pattern):
        call(small_model, tokens)
