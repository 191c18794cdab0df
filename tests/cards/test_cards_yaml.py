"""Hand-written cards (YAML/JSON): validated, and every error names the field and the value."""

from __future__ import annotations

import json

import pytest

from ttscale.cards import load_card
from ttscale.errors import InputError

GOOD = """\
name: some-api-model
params_total: 8030261248
params_non_embedding: 6979588096
n_layers: 32
d_model: 4096
n_heads: 32
n_kv_heads: 8
d_ff: 14336
vocab_size: 128256
context_length: 8192
train_tokens: 15e12
provenance: publisher's model card
"""


def write(tmp_path, text, name="card.yaml"):
    path = tmp_path / name
    path.write_text(text)
    return path


def test_good_card(tmp_path):
    loaded = load_card(str(write(tmp_path, GOOD)))
    card = loaded.card
    assert (card.name, card.params_total, card.n_kv_heads) == ("some-api-model", 8_030_261_248, 8)
    assert card.train_tokens == 15 * 10**12  # '15e12' is text to PyYAML: accepted as a number
    assert card.train_flops == 6.0 * 15e12 * (6_979_588_096 + 4096 * 128256)
    assert card.estimated is True and "estimated" in card.provenance
    assert loaded.source == "hand-written" and loaded.layer_windows == (None,) * 32


def test_given_train_flops_are_kept(tmp_path):
    card = load_card(str(write(tmp_path, GOOD + "train_flops: 1.0e+24\n"))).card
    assert card.train_flops == 1e24 and card.estimated is False


def test_sliding_window_pattern(tmp_path):
    loaded = load_card(str(write(tmp_path, GOOD.replace("n_layers: 32", "n_layers: 4")
                                 + "sliding_window: 1024\nsliding_window_pattern: 2\n")))
    assert loaded.layer_windows == (1024, None, 1024, None)
    # The card's own fields (what flops.py counts with) say the same: two of four layers global.
    assert (loaded.card.sliding_window, loaded.card.global_layers) == (1024, 2)


def test_global_layers_without_a_pattern_are_the_last_layers(tmp_path):
    loaded = load_card(str(write(tmp_path, GOOD.replace("n_layers: 32", "n_layers: 4")
                                 + "sliding_window: 512\nglobal_layers: 1\n")))
    assert loaded.layer_windows == (512, 512, 512, None) and loaded.card.global_layers == 1


def test_a_pattern_and_a_global_layer_count_that_disagree_are_refused(tmp_path):
    text = GOOD.replace("n_layers: 32", "n_layers: 4") + "sliding_window: 1024\nsliding_window_pattern: 2\n"
    with pytest.raises(InputError, match="field 'global_layers': 3 disagrees with 'sliding_window_pattern'"):
        load_card(str(write(tmp_path, text + "global_layers: 3\n")))


def test_json_card(tmp_path):
    import yaml

    path = write(tmp_path, json.dumps(yaml.safe_load(GOOD)), "api.json")
    assert load_card(str(path)).card.name == "some-api-model"


@pytest.mark.parametrize(("edit", "message"), [
    (("n_layers: 32", "n_layers: -3"), "field 'n_layers': -3 must be >= 1"),
    (("d_model: 4096", "d_model: wide"), "field 'd_model': 'wide' is not a number"),
    (("n_heads: 32", "n_heads: 32.5"), "field 'n_heads': 32.5 is not a whole number"),
    (("n_kv_heads: 8", "n_kv_heads: 5"), "field 'n_kv_heads': 5 must divide n_heads 32"),
    (("params_non_embedding: 6979588096", "params_non_embedding: 9e9"), "field 'params_non_embedding'"),
    (("n_layers: 32", "n_layer: 32"), "unknown field 'n_layer'; did you mean 'n_layers'\\?"),
    (("d_ff: 14336\n", ""), "missing field 'd_ff'"),
    (("name: some-api-model", "name: 7"), "field 'name': 7 must be a non-empty string"),
    (("provenance: publisher's model card", "estimated: maybe"), "field 'estimated': 'maybe' must be true or false"),
    (("provenance: publisher's model card", "bits_per_weight: 100"), "field 'bits_per_weight': 100 must be in"),
])
def test_bad_field_is_named(tmp_path, edit, message):
    path = write(tmp_path, GOOD.replace(*edit))
    with pytest.raises(InputError, match=message) as error:
        load_card(str(path))
    assert str(path) in str(error.value)


def test_not_a_mapping_and_bad_yaml(tmp_path):
    with pytest.raises(InputError, match="a card is a mapping"):
        load_card(str(write(tmp_path, "- 1\n- 2\n")))
    with pytest.raises(InputError, match="not valid YAML"):
        load_card(str(write(tmp_path, "name: [unclosed\n")))


@pytest.mark.parametrize(("spec", "message"), [
    ("gemma3-207m", "unknown built-in model 'gemma3-207m'; did you mean 'gemma3-270m'\\?.*gguf:PATH"),
    ("no-such-model", "unknown built-in model 'no-such-model'.*a model is gguf:PATH"),
    ("missing/model.gguf", "no such file 'missing/model.gguf'"),
    ("gguf:/nowhere/x.gguf", "no such GGUF file"),
    ("", "model must be"),
])
def test_unknown_model_spec(spec, message):
    with pytest.raises(InputError, match=message):
        load_card(spec)


def test_file_of_unknown_kind(tmp_path):
    with pytest.raises(InputError, match="not GGUF, .json or .yaml"):
        load_card(str(write(tmp_path, "hello", "weights.bin")))
