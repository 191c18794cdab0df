"""Train a TinyGPT on a stream of task demonstrations, counting every FLOP.

Data: documents (e.g. "F0391=17*23\\n") are packed as ``BOS doc BOS doc ...``
into one token stream, cut into contiguous (batch_size, context_length)
windows; the target of each position is the next token. The loss is plain
next-token cross-entropy on every position (prompt, completion and BOS alike):
simple, and it matches the FLOP count (every position is predicted). Windows
start anywhere in the stream and attention is not masked at document
boundaries; rotary positions make that harmless.

Optimiser: AdamW (betas 0.9/0.95, weight decay on matrices, gradient clipping
at 1.0), learning rate with linear warmup then cosine decay to a floor.

Determinism: the same (config, documents, train_tokens, seed, batch_size,
hyperparameters, threads) gives bit-identical weights: torch's RNG is seeded
for initialisation and there is no other randomness (no dropout; the data
order is the documents' order).

Compute: ``train_tokens`` is rounded up to whole steps; the card's
``train_tokens`` is what was actually trained on and its ``train_flops`` is
``flops.train_flops`` of that (6·N·D plus unembedding and attention terms).
"""

from __future__ import annotations

import copy
import math
import time
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass

import numpy as np
import torch
import torch.nn.functional as F

from ttscale import flops
from ttscale.errors import InputError
from ttscale.tiny import tokenizer
from ttscale.tiny.model import TinyConfig, TinyGPT, model_card
from ttscale.types import ModelCard

Documents = Iterable[str] | Callable[[], Iterable[str]]
ProgressFn = Callable[[int], None]  # called with the number of tokens just trained on

DEFAULT_BATCH_SIZE = 64


@dataclass(frozen=True)
class TrainHyper:
    """Optimiser settings. Part of the checkpoint cache key."""

    lr: float = 3e-3  # peak learning rate
    min_lr_ratio: float = 0.1  # the cosine decays to lr·min_lr_ratio
    warmup_fraction: float = 0.05  # of all steps (at least one step)
    weight_decay: float = 0.1  # on matrices only
    beta1: float = 0.9
    beta2: float = 0.95
    grad_clip: float = 1.0

    def __post_init__(self) -> None:
        for name in ("lr", "grad_clip"):
            if not getattr(self, name) > 0:
                raise InputError(f"TrainHyper.{name} must be positive, got {getattr(self, name)!r}")
        for name in ("min_lr_ratio", "warmup_fraction", "beta1", "beta2"):
            if not 0 <= getattr(self, name) <= 1:
                raise InputError(f"TrainHyper.{name} must be in [0, 1], got {getattr(self, name)!r}")
        if not self.weight_decay >= 0:
            raise InputError(f"TrainHyper.weight_decay must be >= 0, got {self.weight_decay!r}")

    def to_dict(self) -> dict:
        return asdict(self)


DEFAULT_HYPER = TrainHyper()


@dataclass(frozen=True)
class TrainResult:
    """A trained model and what it cost.

    ``achieved_flops_per_second`` is the card's counted ``train_flops`` over
    the wall time of the training loop (data packing included).
    ``final_loss`` is the mean loss of the last (up to) 10 steps;
    ``loss_curve`` holds (tokens trained so far, loss of that step) per step.
    ``cached`` is true when the result was loaded from a checkpoint (the
    timings are then those of the original training).
    """

    model: TinyGPT
    card: ModelCard
    config: TinyConfig
    seed: int
    batch_size: int
    steps: int
    wall_seconds: float
    achieved_flops_per_second: float
    final_loss: float
    loss_curve: tuple[tuple[int, float], ...]
    cached: bool = False

    def state_dict(self) -> dict[str, torch.Tensor]:
        return self.model.state_dict()


def batches(documents: Documents, batch_size: int, seq_len: int) -> Iterator[tuple[torch.Tensor, torch.Tensor]]:
    """(x, y) pairs of shape (batch_size, seq_len), y = x shifted by one token, from the packed stream."""
    docs = iter(documents() if callable(documents) else documents)
    need = batch_size * seq_len + 1  # one extra token: the last target
    buffer = np.empty(0, dtype=np.int64)
    consumed = 0
    while True:
        pending: list[str] = []
        have = buffer.size
        while have < need:
            try:
                doc = next(docs)
            except StopIteration:
                raise InputError(
                    f"documents: ran out after {consumed + buffer.size} tokens; "
                    f"a step needs {need - 1} more (pass an endless or longer stream)"
                ) from None
            pending.append(doc)
            have += len(doc) + 1
        if pending:
            buffer = np.concatenate([buffer, tokenizer.pack_documents(pending)])
        chunk = torch.from_numpy(buffer[:need].copy())
        yield chunk[:-1].view(batch_size, seq_len), chunk[1:].view(batch_size, seq_len)
        buffer = buffer[need - 1 :]  # the last target is the next window's first input
        consumed += need - 1


def lr_at(step: int, steps: int, hyper: TrainHyper) -> float:
    """Linear warmup to hyper.lr, then cosine decay to hyper.lr·min_lr_ratio at the last step."""
    warmup = max(1, round(hyper.warmup_fraction * steps))
    if step < warmup:
        return hyper.lr * (step + 1) / warmup
    progress = (step - warmup) / max(1, steps - warmup - 1)
    floor = hyper.lr * hyper.min_lr_ratio
    return floor + (hyper.lr - floor) * 0.5 * (1.0 + math.cos(math.pi * min(progress, 1.0)))


def optimizer_for(model: TinyGPT, hyper: TrainHyper) -> torch.optim.AdamW:
    decay = [p for p in model.parameters() if p.dim() >= 2]
    no_decay = [p for p in model.parameters() if p.dim() < 2]
    groups = [{"params": decay, "weight_decay": hyper.weight_decay}, {"params": no_decay, "weight_decay": 0.0}]
    return torch.optim.AdamW(groups, lr=hyper.lr, betas=(hyper.beta1, hyper.beta2), foreach=True)


@contextmanager
def torch_threads(threads: int | None) -> Iterator[None]:
    """torch's intra-op threads set to ``threads`` for the block (unchanged when None), restored after."""
    previous = torch.get_num_threads()
    if threads:
        torch.set_num_threads(threads)
    try:
        yield
    finally:
        torch.set_num_threads(previous)


def fit(module: torch.nn.Module, loss_of: Callable[[torch.Tensor, torch.Tensor], torch.Tensor], documents: Documents,
        batch_size: int, seq_len: int, steps: int, hyper: TrainHyper,
        progress: ProgressFn | None = None) -> tuple[list[float], float]:
    """The optimisation loop every trainer here shares: ``steps`` AdamW steps on ``module``'s parameters,
    each on the next (x, y) window of ``documents``, with the warmup-cosine rate and gradient clipping;
    ``loss_of(x, y)`` is the step's loss. Returns each step's loss and the loop's wall seconds."""
    module.train()
    optimizer = optimizer_for(module, hyper)
    losses: list[float] = []
    started = time.perf_counter()
    data = batches(documents, batch_size, seq_len)
    for step in range(steps):
        x, y = next(data)
        for group in optimizer.param_groups:
            group["lr"] = lr_at(step, steps, hyper)
        loss = loss_of(x, y)
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(module.parameters(), hyper.grad_clip, foreach=True)
        optimizer.step()
        losses.append(loss.item())
        if progress:
            progress(batch_size * seq_len)
    return losses, time.perf_counter() - started


def train(
    config: TinyConfig,
    documents: Documents,
    train_tokens: int,
    seed: int,
    batch_size: int = DEFAULT_BATCH_SIZE,
    hyper: TrainHyper = DEFAULT_HYPER,
    progress: ProgressFn | None = None,
    threads: int | None = None,
    name: str | None = None,
    *,
    init: TinyGPT | None = None,
) -> TrainResult:
    """Train a TinyGPT(config), fresh or from ``init``, on at least ``train_tokens`` tokens of ``documents``.

    ``documents`` is an iterable of strings or a zero-argument callable making
    one. ``threads`` sets torch's intra-op threads for the run (restored
    afterwards). ``name`` names the card (default: from the shape).

    ``init`` continues training from a copy of that model's weights instead
    (``init`` itself is untouched; its config must equal ``config``), e.g. to
    retrain a pruned model briefly. The optimiser and learning
    rate schedule start afresh, and ``seed`` then has no effect on the weights.
    The card's ``train_tokens`` and ``train_flops`` count this run only, as
    for a fresh model: whatever made ``init`` is the caller's to add.
    """
    if isinstance(train_tokens, bool) or not isinstance(train_tokens, int) or train_tokens <= 0:
        raise InputError(f"train_tokens must be a positive int, got {train_tokens!r}")
    if isinstance(batch_size, bool) or not isinstance(batch_size, int) or batch_size <= 0:
        raise InputError(f"batch_size must be a positive int, got {batch_size!r}")
    if init is not None and not isinstance(init, TinyGPT):
        raise InputError(f"init must be a TinyGPT or None, got {type(init).__name__}")
    if init is not None and init.config != config:
        raise InputError(f"init: its config {init.config} differs from config {config}")
    seq_len = config.context_length
    tokens_per_step = batch_size * seq_len
    steps = math.ceil(train_tokens / tokens_per_step)
    with torch_threads(threads):
        if init is None:
            with torch.random.fork_rng(devices=[]):
                torch.manual_seed(seed)
                model = TinyGPT(config)
        else:
            model = copy.deepcopy(init)

        def loss_of(x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
            logits, _ = model(x)  # (B, T, vocab)
            return F.cross_entropy(logits.view(-1, logits.shape[-1]), y.view(-1))

        losses, wall = fit(model, loss_of, documents, batch_size, seq_len, steps, hyper, progress)
    model.eval()
    trained = steps * tokens_per_step
    name = name or f"tiny-d{config.d_model}-l{config.n_layers}-{trained // 1000}k"
    card = model_card(config, name=name, train_tokens=trained, train_flops=None)
    card = model_card(config, name=name, train_tokens=trained, train_flops=flops.train_flops(card, trained, seq_len))
    tail = losses[-10:]
    return TrainResult(
        model=model,
        card=card,
        config=config,
        seed=seed,
        batch_size=batch_size,
        steps=steps,
        wall_seconds=wall,
        achieved_flops_per_second=card.train_flops / wall if wall > 0 else float("nan"),
        final_loss=float(sum(tail) / len(tail)),
        loss_curve=tuple(((i + 1) * tokens_per_step, loss) for i, loss in enumerate(losses)),
    )
