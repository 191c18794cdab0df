"""The lab's compression variants (issue 13): each one's training compute against a count written here
from the shapes, its bits and size, and that what was trained once is loaded, not trained again."""

from __future__ import annotations

import functools

import pytest
import torch

from ttscale.lab import compression
from ttscale.lab.compression import (DISTILLATION, EARLY_EXIT, PRUNING, QUANTIZATION, CompressionPreset, Making,
                                     distillation_marginal, make_variants)
from ttscale.lab.pipeline import ladder_documents
from ttscale.tiny.model import TinyConfig, TinyGPT, model_card
from ttscale.tiny.quantize import QuantizeSettings, quantize_rtn

SEQ = 32
CONFIG = TinyConfig(d_model=32, n_layers=2, n_heads=1, d_ff=128, context_length=SEQ)
PARENT_TC = 1e12
TOKENS = 2 * 4 * SEQ  # two steps of batch 4
PRESET = CompressionPreset(
    quantize_parents=("p",), quantize=((4, 32), (2, 16)), prune_parent="p", prune_fractions=(0.5,), layer_drops=(1,),
    retrain_tokens=TOKENS, teacher="p", students=((16, 1, TOKENS),), exit_parent="p", exit_layers=(1,),
    exit_tokens=TOKENS, exit_thresholds=(0.5,), n_samples=2, calibration_windows=4)


def _train_flops(d: int, layers: int, d_ff: int, vocab: int, tokens: int, seq: int = SEQ) -> float:
    """Training FLOPs written out: 3 x forward, forward = 2 per weight per token, the tied unembedding
    2·d·vocab, and attention 4·d per attended position per layer (mean context (seq + 1) / 2)."""
    n = layers * (4 * d * d + 2 * d * d_ff)
    return 3 * tokens * (2 * n + 2 * d * vocab + 4 * layers * d * (seq + 1) / 2)


@pytest.fixture(scope="module")
def made(tmp_path_factory):
    torch.set_num_threads(1)
    torch.manual_seed(0)
    parent = TinyGPT(CONFIG).eval()
    card = model_card(CONFIG, "p", 10_000, PARENT_TC)
    cache = tmp_path_factory.mktemp("variants")
    making = Making({"p": parent}, {"p": card}, functools.partial(ladder_documents, 0),
                    functools.partial(ladder_documents, 1), 0, cache, batch_size=4)
    variants, _ = make_variants(making, PRESET)
    return making, card, {v.card.name: v for v in variants}


def test_quantized_variants_keep_the_parent_training_compute_and_report_their_bits(made):
    making, card, variants = made
    q = variants["p@rtn4g32"]
    assert q.technique == QUANTIZATION and q.marginal_flops == 0.0
    assert q.card.train_flops == PARENT_TC
    assert q.card.params_total == card.params_total  # the same arithmetic per token: no FLOP saved
    expected = quantize_rtn(making.models["p"], QuantizeSettings(bits=4, group_size=32)).bits_per_weight
    assert q.card.bits_per_weight == pytest.approx(expected) and q.card.bits_per_weight < 8
    assert variants["p@rtn2g16"].card.bits_per_weight < q.card.bits_per_weight


def test_pruned_variants_are_smaller_and_retraining_is_counted(made):
    _, card, variants = made
    half = variants["p@mlp50-act"]
    assert half.technique == PRUNING and half.card.train_flops == PARENT_TC
    assert half.card.params_non_embedding == 2 * (4 * 32 * 32 + 2 * 32 * 64)
    retrained = variants["p@mlp50-act-rt"]
    assert retrained.card.train_flops - PARENT_TC == pytest.approx(_train_flops(32, 2, 64, CONFIG.vocab_size,
                                                                                TOKENS))
    dropped = variants["p@drop1-act"]
    assert dropped.card.n_layers == 1 and dropped.card.params_non_embedding == card.params_non_embedding // 2
    assert "p@mlp50-mag-rt" not in variants  # retraining is measured on the activation-scored prunes only


def test_the_distilled_student_pays_its_teacher_and_the_scratch_student_the_same_marginal(made):
    _, _, variants = made
    student = next(v for v in variants.values() if v.card.name.endswith("@distilled"))
    assert student.technique == DISTILLATION and student.parent == "p"
    vocab = CONFIG.vocab_size
    own = _train_flops(16, 1, 64, vocab, TOKENS)
    teacher_forward = _train_flops(32, 2, 128, vocab, TOKENS) / 3
    assert student.marginal_flops == pytest.approx(own + teacher_forward)
    assert student.card.train_flops == pytest.approx(PARENT_TC + own + teacher_forward)
    # Known before training, so that the scratch twin trains side by side with the student.
    config = TinyConfig(d_model=16, n_layers=1, n_heads=1, d_ff=64, context_length=SEQ)
    assert distillation_marginal(made[0], "p", config, TOKENS)[1] == pytest.approx(student.marginal_flops)
    scratch = next(v for v in variants.values() if v.card.name.endswith("@scratch"))
    assert scratch.parent is None and scratch.card.train_flops == scratch.marginal_flops
    # As many tokens as the marginal buys, rounded up to whole steps of batch 4 x SEQ.
    assert scratch.marginal_flops >= student.marginal_flops * 0.999
    assert scratch.marginal_flops - student.marginal_flops < _train_flops(16, 1, 64, vocab, 4 * SEQ)


def test_early_exit_adds_the_heads_training_and_counts_per_token(made):
    _, card, variants = made
    exit_variant = variants["p@exit0.5"]
    assert exit_variant.technique == EARLY_EXIT
    # One head after layer 1: the trunk's first layer forward, the head's linear (forward and weight
    # gradient) and the unembedding (forward and input gradient), per token.
    d, vocab = 32, CONFIG.vocab_size
    per_token = 2 * (4 * d * d + 2 * d * 128) + 4 * d * (SEQ + 1) / 2 + 4 * d * d + 4 * d * vocab
    assert exit_variant.marginal_flops == pytest.approx(TOKENS * per_token, rel=1e-9)
    assert exit_variant.card.train_flops == pytest.approx(PARENT_TC + exit_variant.marginal_flops)
    backend = exit_variant.open()
    assert backend.threshold == 0.5


def test_a_second_making_loads_what_the_first_trained(made, monkeypatch):
    making, _, variants = made

    def no_training(*args, **kwargs):
        raise AssertionError("a cached variant was trained again")

    for name in ("train", "distill", "train_exit_heads"):
        monkeypatch.setattr(compression, name, no_training)
    again, _ = make_variants(making, PRESET, workers=1)
    assert {v.card.name: v.card for v in again} == {name: v.card for name, v in variants.items()}
