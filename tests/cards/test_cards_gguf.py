"""Cards from GGUF headers: a tiny made-up model written with gguf.GGUFWriter gives exactly the expected card."""

from __future__ import annotations

from dataclasses import replace

import pytest
from tiny_gguf import write_tiny_gguf

from ttscale.cards import load_card
from ttscale.cards.gguf import read_header, tensor_bytes
from ttscale.errors import InputError
from ttscale.types import ModelCard

gguf = pytest.importorskip("gguf", reason="the 'cards' extra (gguf) is not installed")

# Hand count of the tiny model (conftest.write_tiny_gguf), per layer:
#   norms 2*32, q 32*32, k 16*32, v 16*32, o 32*32, gate/up/down 3*64*32      = 9,280 weights
#   bytes: norms 2*32*4 (F32), q 2,048 + k 1,024 + o 2,048 (F16),
#          v 512/32*34 = 544 and MLP 3*(2,048/32*34) = 6,528 (Q8_0)           = 12,448 bytes
LAYER_PARAMS, LAYER_BYTES = 9_280, 12_448
EMBED = 40 * 32  # token_embd, F32: 5,120 bytes; the untied output (F16): 2,560 bytes
NON_EMBEDDING = 2 * LAYER_PARAMS + 32  # + output_norm
UNTIED_BYTES = 5_120 + 2 * LAYER_BYTES + 128 + 2_560


def test_tiny_gguf_gives_exactly_the_expected_card(tiny_gguf):
    loaded = load_card(str(tiny_gguf))
    assert replace(loaded.card, provenance="") == ModelCard(
        name="tiny-llama",
        params_total=NON_EMBEDDING + 2 * EMBED,  # 21,152
        params_non_embedding=NON_EMBEDDING,  # 18,592
        n_layers=2,
        d_model=32,
        n_heads=4,
        d_ff=64,
        vocab_size=40,
        context_length=128,
        n_kv_heads=2,
        head_dim=8,
        sliding_window=None,
        quantization="Q8_0",
        bits_per_weight=UNTIED_BYTES * 8 / (NON_EMBEDDING + 2 * EMBED),
    )
    assert loaded.card.provenance.startswith("GGUF tiny-llama.gguf: architecture llama")
    assert loaded.layer_windows == (None, None)
    assert loaded.source == "gguf" and loaded.details["tied_embeddings"] is False
    assert loaded.details["tensor_types"]["Q8_0"] == {
        "params": 2 * (512 + 3 * 2048), "bytes": 2 * (544 + 6528),
        "share_of_bytes": 2 * (544 + 6528) / UNTIED_BYTES}


def test_tied_embedding_is_counted_once(tmp_path):
    loaded = load_card("gguf:" + str(write_tiny_gguf(tmp_path / "tied.gguf", tied=True)))
    assert loaded.card.params_total == NON_EMBEDDING + EMBED
    assert loaded.card.params_non_embedding == NON_EMBEDDING
    assert loaded.details["tied_embeddings"] is True
    assert loaded.card.bits_per_weight == pytest.approx((UNTIED_BYTES - 2_560) * 8 / (NON_EMBEDDING + EMBED))


def test_header_reader_agrees_with_gguf_reader(tmp_path):
    path = write_tiny_gguf(tmp_path / "t.gguf", extra=lambda w: (w.add_sliding_window(16),
                                                                  w.add_sliding_window_pattern([True, False])))
    ours, theirs = read_header(path), gguf.GGUFReader(path)
    assert [t.name for t in ours.tensors] == [t.name for t in theirs.tensors]
    for mine, ref in zip(ours.tensors, theirs.tensors):
        assert list(mine.shape) == [int(x) for x in ref.shape]
        assert mine.ggml_type == int(ref.tensor_type)
        assert tensor_bytes(mine) == int(ref.n_bytes)
    for key in ("llama.block_count", "llama.embedding_length", "llama.attention.head_count_kv",
                "llama.attention.sliding_window", "general.file_type"):
        assert ours.metadata[key] == theirs.fields[key].contents()
    assert ours.metadata["general.name"] == "tiny test model"
    assert ours.metadata["tokenizer.ggml.tokens"].count == 40
    assert list(ours.metadata["llama.attention.sliding_window_pattern"].items) == [True, False]


@pytest.mark.parametrize(("arch", "n_layers", "pattern", "expected"), [
    ("gemma3", 6, None, (16, 16, 16, 16, 16, None)),  # llama.cpp's period for gemma3: 5 local, 1 global
    ("gemma2", 2, None, (16, None)),
    ("llama", 3, 3, (16, 16, None)),  # a period in the file
    ("llama", 3, [False, True, True], (None, 16, 16)),  # one flag per layer
    ("llama", 2, None, (16, 16)),  # no pattern known: every layer windowed
])
def test_sliding_window_layers(tmp_path, arch, n_layers, pattern, expected):
    def extra(writer):
        writer.add_sliding_window(16)
        if pattern is not None:
            writer.add_sliding_window_pattern(pattern)

    loaded = load_card(str(write_tiny_gguf(tmp_path / "swa.gguf", arch=arch, n_layers=n_layers, extra=extra)))
    assert loaded.layer_windows == expected
    assert loaded.card.sliding_window == 16
    assert loaded.global_layers == [i for i, w in enumerate(expected) if w is None]


def test_not_a_gguf_file(tmp_path):
    bad = tmp_path / "bad.gguf"
    bad.write_bytes(b"GGML" + b"\0" * 64)
    with pytest.raises(InputError, match="not a GGUF file"):
        load_card(str(bad))


def test_truncated_gguf_file(tmp_path, tiny_gguf):
    cut = tmp_path / "cut.gguf"
    cut.write_bytes(tiny_gguf.read_bytes()[:300])
    with pytest.raises(InputError, match="cut.gguf: GGUF .*(truncated|past the end)"):
        load_card(str(cut))


def test_missing_hyperparameter_is_named(tmp_path):
    path = tmp_path / "nolayers.gguf"
    writer = gguf.GGUFWriter(str(path), "llama")
    writer.add_embedding_length(32)
    writer.write_header_to_file()
    writer.write_kv_data_to_file()
    writer.close()
    with pytest.raises(InputError, match="no 'llama.block_count'"):
        load_card(str(path))
