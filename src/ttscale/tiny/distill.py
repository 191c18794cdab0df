"""Knowledge distillation: train a smaller TinyGPT student on a trained teacher's soft targets.

The student sees the same packed document stream, windows, learning-rate
schedule and optimiser as ``trainer.train`` (its helpers are reused, so the two
stay in step). Per step the loss is

    alpha · T² · KL(teacher_T || student_T) + (1 - alpha) · CE(student, next token)

where ``_T`` means logits divided by the temperature T before the softmax.
The T² factor keeps the soft term's gradient on the same scale as the hard
term's whatever T is (the softened gradients shrink as 1/T²; Hinton et al.,
2015). The KL is averaged over predicted positions, like the cross-entropy.

Determinism: the student starts from ``TinyGPT(student_config)`` under
``torch.manual_seed(seed)`` exactly as ``trainer.train`` does, and the teacher
adds no randomness, so ``alpha = 0`` gives the very weights ``train`` gives
(the teacher is not even run then).

Compute: the student's own training is ``flops.train_flops`` of the tokens it
trained on; the teacher adds one forward pass over the same windows, counted
as ``flops.forward_flops_per_token`` summed over each window's positions (the
same convention ``train_flops`` uses for its forward third). The card's
``train_flops`` is their sum: the marginal cost of the student given an
already-trained teacher (the teacher's own training is not included).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch
import torch.nn.functional as F

from ttscale import flops
from ttscale.errors import InputError
from ttscale.tiny import trainer
from ttscale.tiny.model import TinyConfig, TinyGPT, model_card
from ttscale.tiny.trainer import Documents, TrainHyper
from ttscale.types import ModelCard


@dataclass(frozen=True)
class DistillResult:
    """A distilled student and what it cost (FLOPs; see the module docstring).

    ``final_loss`` is the mean combined loss of the last (up to) 10 steps;
    ``loss_curve`` holds (tokens trained so far, combined loss of that step).
    """

    model: TinyGPT
    card: ModelCard
    student_train_flops: float
    teacher_forward_flops: float
    marginal_flops: float
    tokens: int
    final_loss: float
    loss_curve: tuple[tuple[int, float], ...]
    wall_seconds: float


def _check_positive_int(name: str, value: object) -> None:
    if isinstance(value, bool) or not isinstance(value, int) or value <= 0:
        raise InputError(f"{name} must be a positive int, got {value!r}")


def _check_arguments(
    student_config: TinyConfig, teacher: TinyGPT, train_tokens: int, batch_size: int, temperature: float, alpha: float
) -> None:
    _check_positive_int("train_tokens", train_tokens)
    _check_positive_int("batch_size", batch_size)
    # `not (a <= x <= b)` also refuses NaN, which every comparison fails.
    if isinstance(alpha, bool) or not isinstance(alpha, (int, float)) or not 0.0 <= alpha <= 1.0:
        raise InputError(f"alpha must be a number in [0, 1], got {alpha!r}")
    if isinstance(temperature, bool) or not isinstance(temperature, (int, float)) or not 0.0 < temperature < math.inf:
        raise InputError(f"temperature must be a positive finite number, got {temperature!r}")
    if not isinstance(teacher, TinyGPT):
        raise InputError(f"teacher must be a TinyGPT, got {type(teacher).__name__}")
    if teacher.config.vocab_size != student_config.vocab_size:
        raise InputError(
            f"teacher: vocab_size {teacher.config.vocab_size} differs from the student's {student_config.vocab_size}"
        )
    if teacher.config.context_length < student_config.context_length:
        raise InputError(
            f"teacher: context_length {teacher.config.context_length} is shorter than the student's training "
            f"windows ({student_config.context_length} tokens)"
        )


def teacher_forward_flops(teacher_card: ModelCard, tokens: int, seq_len: int) -> float:
    """Forward FLOPs of the teacher over ``tokens`` tokens cut into windows of ``seq_len``.

    Each window's position p (1-based) attends to p keys, so a window costs
    Σ_{p=1..seq_len} forward_flops_per_token(card, p); ``tokens`` is a whole
    number of windows in training.
    """
    per_window = sum(flops.forward_flops_per_token(teacher_card, p) for p in range(1, seq_len + 1))
    return tokens / seq_len * per_window


def distillation_loss(
    student_logits: torch.Tensor, teacher_logits: torch.Tensor | None, targets: torch.Tensor,
    temperature: float, alpha: float,
) -> torch.Tensor:
    """The combined loss of one batch; logits (B, T, vocab), targets (B, T).

    A term whose weight is 0 is not computed at all, so alpha = 0 is exactly
    ``trainer.train``'s loss and alpha = 1 needs no targets' cross-entropy.
    """
    vocab = student_logits.shape[-1]
    flat = student_logits.reshape(-1, vocab)
    terms: list[torch.Tensor] = []
    if alpha > 0:
        if teacher_logits is None:
            raise InputError(f"teacher_logits: needed when alpha > 0, got None (alpha={alpha!r})")
        student_log = F.log_softmax(flat / temperature, dim=-1)
        teacher_log = F.log_softmax(teacher_logits.reshape(-1, vocab) / temperature, dim=-1)
        # batchmean: KL summed over the vocabulary, averaged over positions (the CE's average).
        kl = F.kl_div(student_log, teacher_log, log_target=True, reduction="batchmean")
        terms.append(alpha * temperature**2 * kl)
    if alpha < 1:
        ce = F.cross_entropy(flat, targets.reshape(-1))
        terms.append(ce if alpha == 0 else (1 - alpha) * ce)
    return terms[0] if len(terms) == 1 else terms[0] + terms[1]


def distill(
    student_config: TinyConfig,
    teacher: TinyGPT,
    documents: Documents,
    train_tokens: int,
    seed: int,
    batch_size: int,
    hyper: TrainHyper,
    temperature: float = 1.0,
    alpha: float = 0.5,
    threads: int | None = None,
    name: str | None = None,
) -> DistillResult:
    """Train a fresh TinyGPT(student_config) on ``documents`` against ``teacher``'s logits.

    Arguments as ``trainer.train``, plus the teacher (any trained TinyGPT with
    the same vocabulary and a context at least the student's), the softening
    ``temperature`` (> 0) and the weight ``alpha`` in [0, 1] of the soft term.
    The teacher is put in eval mode and never changed.
    """
    _check_arguments(student_config, teacher, train_tokens, batch_size, temperature, alpha)
    seq_len = student_config.context_length
    tokens_per_step = batch_size * seq_len
    steps = math.ceil(train_tokens / tokens_per_step)
    teacher.eval()
    with trainer.torch_threads(threads):
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(seed)
            student = TinyGPT(student_config)

        def loss_of(x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
            teacher_logits = None
            if alpha > 0:
                with torch.no_grad():
                    teacher_logits, _ = teacher(x)  # (B, T, vocab)
            logits, _ = student(x)  # (B, T, vocab)
            return distillation_loss(logits, teacher_logits, y, temperature, alpha)

        losses, wall = trainer.fit(student, loss_of, documents, batch_size, seq_len, steps, hyper)
    student.eval()
    trained = steps * tokens_per_step
    name = name or f"tiny-d{student_config.d_model}-l{student_config.n_layers}-{trained // 1000}k-distilled"
    bare = model_card(student_config, name=name, train_tokens=trained, train_flops=None)
    student_flops = flops.train_flops(bare, trained, seq_len)
    teacher_card = model_card(teacher.config, name="teacher", train_tokens=None, train_flops=None)
    # alpha = 0 never runs the teacher, so it costs nothing.
    teacher_flops = teacher_forward_flops(teacher_card, trained, seq_len) if alpha > 0 else 0.0
    provenance = (
        f"ttscale.lab TinyGPT distilled from a d{teacher.config.d_model}-l{teacher.config.n_layers} teacher "
        f"(alpha={alpha:g}, temperature={temperature:g}); train_flops = student training + teacher forward passes"
    )
    card = model_card(student_config, name=name, train_tokens=trained,
                      train_flops=student_flops + teacher_flops, provenance=provenance)
    tail = losses[-10:]
    return DistillResult(
        model=student,
        card=card,
        student_train_flops=student_flops,
        teacher_forward_flops=teacher_flops,
        marginal_flops=student_flops + teacher_flops,
        tokens=trained,
        final_loss=float(sum(tail) / len(tail)),
        loss_curve=tuple(((i + 1) * tokens_per_step, v) for i, v in enumerate(losses)),
        wall_seconds=wall,
    )
