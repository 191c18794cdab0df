"""A small learned value model: from (prompt, partial scratchpad) to P(the final answer is right).

Model: a ``TinyGPT`` *body* (composition, not inheritance: used through its
public forward only) and a scalar *head*. Two readouts (``ValueConfig.readout``):

- ``"surprise"`` (default): at every token of the partial solution, the gap
  between the log-probability the body gives that token and its top token's
  (0 when the token is the body's own choice), scored by a head increasing in
  the gap (a positive slope and a bias) and pooled by a soft minimum
  (log-mean-exp). A scratchpad is as good as its worst digit, and a digit the
  body would not have written is a likely error: this bias is what makes a
  tiny model learn, and the monotone head means a fit can only calibrate the
  ranking, never invert it (an unconstrained two-feature head did, on the
  strongest models: held-out AUC 0.26). The prompt's tokens are left out
  (its digits are random by design).
- ``"last"``: a linear head on the last position's logits (the tied
  unembedding of the normalised last hidden state; with vocab 81 > d_model it
  has full rank, so any linear read-out of that state is expressible).

Two bodies (``ValueConfig.init``): ``"fresh"``, a new tiny body trained from
scratch, with an auxiliary next-token loss on the same texts (a label per text
alone is too little signal to learn the sums it must check); ``"policy"``, a
copy of the sampling model (``POLICY_BODY``: frozen, only the head learns, so
the value is a learned pooling of the model's own token log-probabilities).

Data: stored samples of a *calibration or train split*, never test problems
(``value_training.train_value_model`` refuses test problem ids). Every sample
gives one example per step boundary — exactly the prefixes a search scores
(the cut rule of ``StepFormat.cut``) — labelled with whether the sample's
final answer was correct: the sampling model's chance of ending right.

Compute: scoring a text costs the body's ``prefill_flops`` over its tokens
plus the head; batches are grouped by token length, so no FLOP goes to padding.
Training FLOPs: see ``value_training``.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from ttscale import flops
from ttscale.errors import InputError
from ttscale.tiny import tokenizer
from ttscale.tiny.model import TinyConfig, TinyGPT, model_card
from ttscale.strategies.step_search import StepFormat
from ttscale.types import ModelCard, Problem, Sample

CODE_VERSION = "value-tinygpt-v3"
READOUTS = ("last", "surprise")


@dataclass(frozen=True)
class ValueConfig:
    d_model: int = 32
    n_layers: int = 2
    n_heads: int = 2
    d_ff: int = 128
    context_length: int = 64
    steps: int = 3000
    batch_size: int = 64
    lr: float = 3e-3  # the body's peak learning rate; 0 freezes the body (no backward through it)
    head_lr: float = 5e-2  # the head has three weights and starts from nothing
    weight_decay: float = 0.01
    holdout_fraction: float = 0.1  # of the problems: held out to measure what was learned
    seed: int = 0
    # "fresh": a new body of the shape above, trained from scratch; "policy": a
    # copy of the sampling model's own weights and shape (it already reads the task).
    init: str = "fresh"
    # "last": a linear head on the last position's logits; "surprise": per
    # token, its log-probability gap to the body's top choice, scored
    # monotonically and pooled by a soft minimum (one wrong digit sinks a sum).
    readout: str = "surprise"
    # Weight of an auxiliary next-token loss on the same texts: the only way a
    # fresh body learns the arithmetic it must check (one label per text is too
    # little signal). Costs no extra FLOPs: the logits are computed anyway.
    lm_weight: float = 1.0

    def body(self) -> TinyConfig:
        return TinyConfig(self.d_model, self.n_layers, self.n_heads, self.d_ff, self.context_length)

    @property
    def label(self) -> str:
        """How technique names call a search scored by this value model."""
        return "learned value" if self.init == "fresh" else "learned value (policy body)"


DEFAULT_CONFIG = ValueConfig()
# The cheap alternative: the sampling model's own frozen body, whose token
# log-probabilities a learned head pools into a value (only the head trains).
POLICY_BODY = ValueConfig(init="policy", lr=0.0, steps=300, lm_weight=0.0)


class ValueModel(nn.Module):
    def __init__(self, body_config: TinyConfig, init_from: TinyGPT | None = None, readout: str = "surprise"):
        super().__init__()
        if readout not in READOUTS:
            raise InputError(f"value model: readout must be one of {READOUTS}, got {readout!r}")
        self.readout = readout
        self.body = TinyGPT(body_config)
        if init_from is not None:
            self.body.load_state_dict(init_from.state_dict())
        self.head = nn.Linear(body_config.vocab_size if readout == "last" else 1, 1)
        self.card: ModelCard = model_card(body_config, name="value-model", train_tokens=None, train_flops=None)

    def outputs(self, idx: torch.Tensor, starts: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """For equal-length rows idx (B, T) whose solution starts at token ``starts`` (B,):
        (logits of P(correct) (B,), log-probability of each next token (B, T-1), mask of solution tokens (B, T-1))."""
        logits, _ = self.body(idx)  # (B, T, vocab)
        logprobs = torch.log_softmax(logits[:, :-1].float(), dim=-1)  # (B, T-1, vocab): predicts tokens 1..T-1
        chosen = logprobs.gather(-1, idx[:, 1:, None]).squeeze(-1)  # (B, T-1)
        in_solution = torch.arange(1, idx.shape[1])[None, :] >= starts[:, None]  # (B, T-1)
        if self.readout == "last":
            return self.head(logits[:, -1]).squeeze(-1), chosen, in_solution
        # A token's score rises with its log-probability gap to the body's top
        # choice (0 when it is the top choice), monotonically by construction:
        # softplus keeps the slope positive, so no fit can rank a surprising
        # digit above an expected one.
        gap = chosen - logprobs.max(dim=-1).values  # (B, T-1), <= 0
        scores = F.softplus(self.head.weight[0, 0]) * gap + self.head.bias[0]  # (B, T-1)
        # Soft minimum over the solution's tokens only (the prompt's digits are
        # unpredictable by design and say nothing about the solution), as a
        # log-mean-exp so that a longer prefix of equally good tokens is not
        # scored lower for its length.
        scores = scores.masked_fill(~in_solution, 1e4)
        count = in_solution.sum(dim=1).clamp(min=1)
        return -torch.logsumexp(-scores, dim=1) + torch.log(count.float()), chosen, in_solution

    def head_flops(self, tokens: int = 1) -> float:
        """The head reads one position's logits, or one number at every position."""
        return 2.0 * self.head.in_features * (1 if self.readout == "last" else max(tokens - 1, 0))

    def encode(self, prompts: Sequence[str], prefixes: Sequence[str]) -> tuple[list[list[int]], list[int]]:
        """Token rows (BOS + prompt + prefix, cut to the context by its tail) and where each solution starts."""
        limit = self.body.config.context_length
        rows, starts = [], []
        for prompt, prefix in zip(prompts, prefixes, strict=True):
            ids = tokenizer.encode_prompt(prompt + prefix)
            cut = max(0, len(ids) - limit)
            rows.append(ids[cut:])
            starts.append(max(1, len(ids) - len(prefix) - cut))  # one token per character
        return rows, starts

    def predict(self, prompts: Sequence[str], prefixes: Sequence[str], batch: int = 512) -> np.ndarray:
        """P(correct) per (prompt, partial solution)."""
        rows, starts = self.encode(prompts, prefixes)
        out = np.zeros(len(rows))
        was_training = self.training
        self.eval()
        with torch.inference_mode():
            for group in length_groups(rows, batch):
                idx = torch.tensor([rows[i] for i in group], dtype=torch.int64)
                value, _, _ = self.outputs(idx, torch.tensor([starts[i] for i in group]))
                out[group] = torch.sigmoid(value).double().numpy()
        self.train(was_training)
        return out

    def scoring_flops(self, prompts: Sequence[str], prefixes: Sequence[str]) -> np.ndarray:
        rows, _ = self.encode(prompts, prefixes)
        return np.array([flops.prefill_flops(self.card, len(r)) + self.head_flops(len(r)) for r in rows])


def length_groups(encoded: Sequence[Sequence[int]], batch: int) -> list[list[int]]:
    """Indices grouped by token length (no padding), at most ``batch`` per group."""
    by_length: dict[int, list[int]] = {}
    for i, ids in enumerate(encoded):
        by_length.setdefault(len(ids), []).append(i)
    return [rows[s : s + batch] for _, rows in sorted(by_length.items()) for s in range(0, len(rows), batch)]


@dataclass(frozen=True)
class ValueExample:
    prompt: str
    prefix: str  # a partial solution
    label: bool  # the sample's final answer was correct
    problem_id: str


def step_prefixes(solution: str, step_format: StepFormat) -> list[str]:
    """The prefixes a search would score: up to each step's end, and the whole (possibly truncated) text."""
    prefixes, rest, done = [], solution, ""
    while rest:
        text, end, _ = step_format.cut(rest, False, "")
        done += text + end
        prefixes.append(done)
        rest = rest[len(text) + len(end):]
        if end in ("", step_format.final_end):
            break
    return prefixes


def value_examples(samples: Iterable[Sample], problems: Mapping[str, Problem], step_format: StepFormat) -> list[ValueExample]:
    """Examples from stored samples of the given (calibration / train) problems."""
    out: list[ValueExample] = []
    for sample in samples:
        problem = problems.get(sample.key.problem_id)
        if problem is None:
            raise InputError(f"value examples: sample of problem {sample.key.problem_id!r} is not among the given problems")
        finished = tokenizer.decode(sample.tokens).endswith(step_format.final_end)
        solution = sample.completion + (step_format.final_end if finished else "")
        out.extend(ValueExample(problem.prompt, p, bool(sample.correct), problem.problem_id)
                   for p in step_prefixes(solution, step_format))
    return out


