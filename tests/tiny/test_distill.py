import math

import pytest
import torch
import torch.nn.functional as F
from exit_distill_models import HYPER, documents, held_out, trained

from ttscale.errors import InputError
from ttscale.tiny import tokenizer
from ttscale.tiny.distill import distill
from ttscale.tiny.model import TinyConfig, TinyGPT
from ttscale.tiny.trainer import train

STUDENT = TinyConfig(d_model=16, n_layers=1, n_heads=2, d_ff=32, context_length=32)


@pytest.fixture(scope="module")
def teacher():
    """A 2-layer d32 model trained on a few thousand tokens (one thread: the CPUs are shared)."""
    previous = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        return trained(32, 2, 32, seed=1)
    finally:
        torch.set_num_threads(previous)


def forward_per_window(config: TinyConfig, seq_len: int) -> float:
    """Forward FLOPs of one window, counted from the shape: weights, attention, logits at every position."""
    d, layers, vocab = config.d_model, config.n_layers, config.vocab_size
    weights = layers * (d * 3 * d + d * d + d * config.d_ff + config.d_ff * d)  # qkv, proj, fc, proj
    total = 0.0
    for position in range(1, seq_len + 1):
        total += 2 * weights + layers * 2 * 2 * position * d + 2 * d * vocab
    return total


def test_flops_are_the_students_training_plus_the_teachers_forward_passes(teacher):
    result = distill(STUDENT, teacher.model, documents, 1000, seed=0, batch_size=4, hyper=HYPER, alpha=0.5)
    assert result.tokens == result.card.train_tokens == 1024  # 1000 rounded up to 8 steps of 4 windows of 32
    windows = 32
    assert result.student_train_flops == 3 * windows * forward_per_window(STUDENT, 32)
    assert result.teacher_forward_flops == windows * forward_per_window(teacher.config, 32)
    assert result.marginal_flops == result.student_train_flops + result.teacher_forward_flops
    assert result.card.train_flops == result.marginal_flops
    assert result.card.d_model == 16 and "distilled" in result.card.provenance
    assert math.isfinite(result.final_loss)


def test_alpha_zero_is_plain_training(teacher):
    plain = train(STUDENT, documents, 1024, seed=3, batch_size=4, hyper=HYPER)
    hard = distill(STUDENT, teacher.model, documents, 1024, seed=3, batch_size=4, hyper=HYPER, alpha=0.0)
    for (name, a), (_, b) in zip(plain.model.state_dict().items(), hard.model.state_dict().items()):
        assert torch.equal(a, b), name
    assert hard.final_loss == plain.final_loss
    assert [loss for _, loss in hard.loss_curve] == [loss for _, loss in plain.loss_curve]
    assert hard.teacher_forward_flops == 0.0  # the teacher is never run
    assert hard.card.train_flops == plain.card.train_flops


def kl_to_teacher(student: TinyGPT, teacher: TinyGPT, x: torch.Tensor) -> float:
    with torch.no_grad():
        s, _ = student(x)
        t, _ = teacher(x)
    return float(F.kl_div(F.log_softmax(s, -1).flatten(0, 1), F.log_softmax(t, -1).flatten(0, 1),
                          log_target=True, reduction="batchmean"))


@pytest.mark.parametrize("temperature", [1.0, 2.0])
def test_alpha_one_pulls_the_student_toward_the_teacher(teacher, temperature):
    x, _ = held_out(32)
    torch.manual_seed(5)
    untrained = TinyGPT(STUDENT).eval()
    soft = distill(STUDENT, teacher.model, documents, 3072, seed=5, batch_size=4, hyper=HYPER,
                   alpha=1.0, temperature=temperature)
    before, after = kl_to_teacher(untrained, teacher.model, x), kl_to_teacher(soft.model, teacher.model, x)
    assert after < 0.5 * before


def test_teacher_is_left_unchanged(teacher):
    before = {k: v.clone() for k, v in teacher.model.state_dict().items()}
    distill(STUDENT, teacher.model, documents, 256, seed=0, batch_size=4, hyper=HYPER, alpha=0.7, temperature=2.0)
    assert all(torch.equal(before[k], v) for k, v in teacher.model.state_dict().items())


@pytest.mark.parametrize("alpha", [-0.1, 1.5, float("nan")])
def test_alpha_outside_the_unit_interval_is_refused(teacher, alpha):
    with pytest.raises(InputError, match=rf"alpha.*{alpha!r}"):
        distill(STUDENT, teacher.model, documents, 256, seed=0, batch_size=4, hyper=HYPER, alpha=alpha)


@pytest.mark.parametrize("temperature", [0.0, -1.0, float("inf")])
def test_non_positive_temperature_is_refused(teacher, temperature):
    with pytest.raises(InputError, match=rf"temperature.*{temperature!r}"):
        distill(STUDENT, teacher.model, documents, 256, seed=0, batch_size=4, hyper=HYPER, temperature=temperature)


def test_a_teacher_with_a_shorter_context_or_another_vocabulary_is_refused(teacher):
    longer = TinyConfig(d_model=16, n_layers=1, n_heads=2, d_ff=32, context_length=64)
    with pytest.raises(InputError, match="context_length"):
        distill(longer, teacher.model, documents, 256, seed=0, batch_size=4, hyper=HYPER)
    other = TinyConfig(d_model=16, n_layers=1, n_heads=2, d_ff=32, context_length=32,
                       vocab_size=tokenizer.vocab_size + 1)
    with pytest.raises(InputError, match="vocab_size"):
        distill(other, teacher.model, documents, 256, seed=0, batch_size=4, hyper=HYPER)
