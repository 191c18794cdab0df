"""Layer-pruned variants of a real GGUF model (SmolLM2-135M, 30 layers): blocks dropped and renumbered with the
gguf package, a smaller model that llama.cpp loads and runs, at its base's training compute."""

from __future__ import annotations

import re

import pytest

from ttscale import flops
from ttscale.backends.registry import backend_from_spec
from ttscale.cards import load_card
from ttscale.errors import InputError
from ttscale.types import SamplingConfig
from ttscale.variants.prune_layers import drop_text, parse_drop
from ttscale.variants.spec import load_variant


def blocks(path) -> dict[int, int]:
    """Tensors per block index in a GGUF file, read independently of the writer."""
    import gguf

    counts: dict[int, int] = {}
    for tensor in gguf.GGUFReader(str(path)).tensors:
        match = re.match(r"blk\.(\d+)\.", tensor.name)
        if match:
            counts[int(match.group(1))] = counts.get(int(match.group(1)), 0) + 1
    return counts


def test_dropped_blocks_leave_a_smaller_model_at_the_same_training_compute(cache):
    base = load_card("smollm2-135m").card
    made = load_variant("smollm2-135m@drop=26-29", cache)
    card = made.variant.card
    assert card.n_layers == base.n_layers - 4 == 26 and made.variant.derivation == "prune-layers:drop=26-29"
    per_block = (base.params_non_embedding) // base.n_layers
    assert card.params_total == pytest.approx(base.params_total - 4 * per_block, rel=0.01)
    assert flops.forward_flops_per_token(card, 512) < flops.forward_flops_per_token(base, 512)
    assert card.train_flops == base.train_flops and made.variant.derive_flops == 0.0
    counts = blocks(made.path)
    assert sorted(counts) == list(range(26)) and len(set(counts.values())) == 1  # renumbered, whole blocks
    backend = backend_from_spec("smollm2-135m@drop=26-29", threads=1, max_seqs=2, n_ctx=512)
    try:
        (pool,) = backend.generate(["The capital of France is"], [[1, 2]], SamplingConfig(max_new_tokens=6), "\n")
        assert backend.card.n_layers == 26 and all(g.token_ids for g in pool)
    finally:
        backend.close()


def test_bad_drops_are_one_line_and_leave_no_file(cache):
    with pytest.raises(InputError, match="has layers 0-29; 30, 31: not among them"):
        load_variant("smollm2-135m@drop=28-31", cache)
    with pytest.raises(InputError, match="drops every one of the 30 layers"):
        load_variant("smollm2-135m@drop=0-29", cache)
    with pytest.raises(InputError, match="expected layers like 20-23"):
        parse_drop("x")
    assert not (cache / "variants").exists() or not list((cache / "variants").glob("*.gguf*"))
    assert drop_text(parse_drop("7-9,3,5,8")) == "3,5,7-9"
