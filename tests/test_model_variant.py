"""A model variant sits on the training axis at its base's compute plus what deriving it cost."""

import dataclasses

import pytest

from ttscale.types import ModelCard, ModelVariant

BASE = ModelCard(name="base", params_total=135_000_000, params_non_embedding=106_000_000, n_layers=30,
                 d_model=576, n_heads=9, d_ff=1536, vocab_size=49152, context_length=8192,
                 train_tokens=2_000_000_000_000, train_flops=1.6e21)


def test_a_variant_adds_its_derivation_to_the_base_training_compute():
    base = BASE
    quantized = dataclasses.replace(base, name=base.name + "-q4", quantization="Q4_K_M", bits_per_weight=4.85)
    variant = ModelVariant(base, "quantize:type=q4_k_m", quantized, derive_flops=2.5e15)
    assert variant.train_flops == pytest.approx(1.6e21 + 2.5e15)
    unknown = ModelVariant(dataclasses.replace(base, train_flops=None), "quantize:type=q4_k_m", quantized, 0.0)
    assert unknown.train_flops is None  # unknown stays unknown, never silently zero


def test_a_negative_derivation_cost_is_refused_by_name():
    base = BASE
    with pytest.raises(ValueError, match="derive_flops.*-1"):
        ModelVariant(base, "prune:sparsity=0.5", base, derive_flops=-1.0)
