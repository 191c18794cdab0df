"""RTN quantization: the byte count matches a hand count, every weight stays on its group's grid and
within half a step, and the logits move little at 8 bits and more at 2."""

import math

import pytest
import torch
from torch import nn

from ttscale.errors import InputError
from ttscale.tiny.quantize import QuantizeSettings, quantize_rtn

# The (out, in) shapes of one block's linear weights for the conftest model (d_model 32, d_ff 48):
# attn.qkv, attn.proj, mlp.fc, mlp.proj.
BLOCK_SHAPES = [(96, 32), (32, 32), (48, 32), (32, 48)]
LAYERS, VOCAB, D_MODEL = 3, 81, 32


def hand_count(bits: int, group_size: int) -> tuple[float, int]:
    """(weight bytes, parameters) counted from the shapes alone."""
    matrix_bits = 0
    for out_features, in_features in BLOCK_SHAPES:
        groups_per_row = math.ceil(in_features / min(group_size, in_features))
        matrix_bits += out_features * in_features * bits + out_features * groups_per_row * 2 * 16
    embedding = VOCAB * D_MODEL
    params = embedding + LAYERS * sum(o * i for o, i in BLOCK_SHAPES)
    return (LAYERS * matrix_bits + embedding * 16) / 8, params


@pytest.mark.parametrize(("bits", "group_size", "clamped"), [(4, 16, False), (3, 8, False), (8, 40, True)])
def test_bytes_and_bits_per_weight_match_a_hand_count(small_model, bits, group_size, clamped):
    result = quantize_rtn(small_model, QuantizeSettings(bits=bits, group_size=group_size))
    expected_bytes, params = hand_count(bits, group_size)
    assert result.weight_bytes == pytest.approx(expected_bytes, rel=1e-12)
    assert result.bits_per_weight == pytest.approx(8 * expected_bytes / params, rel=1e-12)
    assert result.groups_clamped is clamped  # 40 is wider than d_model's rows (32), not d_ff's (48)


def linear_pairs(original, quantized):
    for (name, a), (_, b) in zip(original.blocks.named_modules(), quantized.blocks.named_modules()):
        if isinstance(a, nn.Linear):
            yield name, a.weight.detach(), b.weight.detach()


@pytest.mark.parametrize(("bits", "group_size"), [(2, 16), (4, 40), (8, 32)])
def test_each_group_is_a_grid_within_half_a_step(small_model, bits, group_size):
    result = quantize_rtn(small_model, QuantizeSettings(bits=bits, group_size=group_size))
    checked = 0
    for name, before, after in linear_pairs(small_model, result.model):
        width = min(group_size, before.shape[1])
        for w, q in zip(torch.split(before, width, dim=1), torch.split(after, width, dim=1)):
            step = (w.amax(dim=1) - w.amin(dim=1)) / (2**bits - 1)  # (rows,)
            # 1% slack: the stored minimum and scale are fp16, rounded outward.
            assert ((q - w).abs() <= 0.505 * step[:, None] + 1e-7).all(), name
            for row in q:
                assert row.unique().numel() <= 2**bits, name
            checked += w.shape[0]
    assert checked > 0
    assert torch.equal(result.model.wte.weight, small_model.wte.weight.half().float())


def test_logits_move_little_at_8_bits_and_more_at_2(small_model, tokens):
    with torch.no_grad():
        reference, _ = small_model(tokens)
        eight, _ = quantize_rtn(small_model, QuantizeSettings(bits=8, group_size=16)).model(tokens)
        two, _ = quantize_rtn(small_model, QuantizeSettings(bits=2, group_size=16)).model(tokens)
    error_8 = (eight - reference).abs().max().item()
    error_2 = (two - reference).abs().max().item()
    assert error_8 < 0.02 * reference.abs().max().item()
    assert error_2 > 10 * error_8


def test_input_model_is_untouched_and_shapes_are_kept(small_model):
    before = {k: v.clone() for k, v in small_model.state_dict().items()}
    result = quantize_rtn(small_model, QuantizeSettings(bits=3, group_size=8))
    assert all(torch.equal(before[k], v) for k, v in small_model.state_dict().items())
    assert result.model is not small_model and result.model.config == small_model.config
    changed = [k for k, v in result.model.state_dict().items() if not torch.equal(before[k], v)]
    assert len(changed) == 1 + 4 * LAYERS  # the embedding (fp16) and every block linear


@pytest.mark.parametrize(
    ("kwargs", "field", "value"),
    [
        ({"bits": 9, "group_size": 8}, "bits", "9"),
        ({"bits": 1, "group_size": 8}, "bits", "1"),
        ({"bits": 4.0, "group_size": 8}, "bits", "4.0"),
        ({"bits": True, "group_size": 8}, "bits", "True"),
        ({"bits": 4, "group_size": 0}, "group_size", "0"),
        ({"bits": 4, "group_size": -3}, "group_size", "-3"),
    ],
)
def test_bad_settings_are_refused_naming_the_field(kwargs, field, value):
    with pytest.raises(InputError, match=rf"quantize: {field} .*got {value}"):
        QuantizeSettings(**kwargs)


def test_the_message_reads_as_documented():
    with pytest.raises(InputError) as caught:
        QuantizeSettings(bits=9, group_size=8)
    assert str(caught.value) == "quantize: bits must be an int in 2..8, got 9"


def test_a_model_that_is_not_a_tinygpt_is_refused():
    with pytest.raises(InputError, match="model"):
        quantize_rtn(nn.Linear(2, 2), QuantizeSettings(bits=4, group_size=8))
