"""The ttscale vocabulary as small frozen types.

Every module speaks these words and only these (docs/ARCHITECTURE.md, "Vocabulary"):
a ``ModelCard`` says what a model is and what it cost to train; a ``Task`` hands
out ``Problem``s and judges completions; a ``Sample`` is one completion with its
verdicts and its compute; a ``Point`` is (training compute, inference compute,
performance) for one model x technique x budget.

FLOPs are plain floats (counts, not rates). ``None`` means "unknown", never 0.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import asdict, dataclass, field
from typing import Mapping, Protocol, runtime_checkable


@dataclass(frozen=True)
class ModelCard:
    """What is known about a model; enough to count its FLOPs.

    ``train_flops`` is the whole training compute (pretraining plus any
    fine-tuning / distillation / calibration); ``estimated`` marks cards whose
    figures were inferred rather than counted.
    """

    name: str
    params_total: int
    params_non_embedding: int
    n_layers: int
    d_model: int
    n_heads: int
    d_ff: int
    vocab_size: int
    context_length: int
    n_kv_heads: int | None = None
    head_dim: int | None = None
    sliding_window: int | None = None
    global_layers: int = 0  # layers that attend globally although sliding_window is set
    quantization: str | None = None
    bits_per_weight: float | None = None
    train_tokens: int | None = None
    train_flops: float | None = None
    provenance: str = ""
    estimated: bool = False

    def to_dict(self) -> dict:
        return asdict(self)


@dataclass(frozen=True)
class ModelVariant:
    """A model derived from another one (quantized, pruned, distilled, given an early exit):
    the training side of the trade bought after pretraining.

    Its training compute is the base model's plus what deriving it cost, so a variant sits on
    the same training x inference map as the models it was made from.
    """

    base: ModelCard
    derivation: str  # how it was derived, as a spec: ``quantize:type=q4_k_m``
    card: ModelCard  # the derived model: its parameters and bits are what inference pays for
    derive_flops: float  # compute spent deriving it (calibration, fine-tuning); 0.0 for plain rounding

    def __post_init__(self) -> None:
        if not (self.derive_flops >= 0.0):
            raise ValueError(f"derive_flops must be >= 0, got {self.derive_flops!r}")

    @property
    def train_flops(self) -> float | None:
        """The base's training compute plus the derivation's; None when the base's is unknown."""
        if self.base.train_flops is None:
            return None
        return self.base.train_flops + self.derive_flops


@dataclass(frozen=True)
class Problem:
    """One problem of a task. ``reference`` is for the grader only."""

    task: str
    problem_id: str
    prompt: str
    reference: str
    difficulty: int = 0
    meta: Mapping[str, object] = field(default_factory=dict)


@runtime_checkable
class Task(Protocol):
    """Problems plus the ways to judge a completion.

    - ``grade`` uses the reference (for scoring, never at inference time);
    - ``verify`` checks a candidate *without* the reference (usable at inference
      time); tasks without a cheap verifier have ``has_verifier = False`` and
      return ``None``;
    - ``extract_answer`` normalises a completion to the answer that votes.
    """

    family: str  # the registry name (``arith``), the spec before the ':'
    name: str  # the canonical spec: what the store keys samples by
    has_verifier: bool
    stop: str  # the one stop string, for backends that take one
    stop_sequences: tuple[str, ...]  # every string that ends a completion (``stop`` first)
    # SHA-256 of the data file a task reads (a resumed sweep must find it unchanged);
    # None for a task generated from its spec alone, whose name says everything.
    fingerprint: str | None

    def split_size(self, split: str) -> int:
        """How many problems ``split`` ("train" / "calib" / "test") holds."""
        ...

    def problems(self, count: int, seed: int, split: str = "test") -> list[Problem]: ...

    def extract_answer(self, completion: str) -> str | None: ...

    def grade(self, problem: Problem, completion: str) -> bool: ...

    def verify(self, problem: Problem, completion: str) -> bool | None: ...

    def verifier_flops(self, problem: Problem, completion: str) -> float:
        """Model FLOPs one ``verify`` call costs (0.0 for a verifier that runs plain code)."""
        ...


@dataclass(frozen=True)
class SamplingConfig:
    """How samples are drawn. ``key`` names the config in the store."""

    temperature: float = 1.0
    top_p: float = 1.0
    max_new_tokens: int = 32

    def __post_init__(self) -> None:
        if not (self.temperature >= 0.0):
            raise ValueError(f"temperature must be >= 0, got {self.temperature!r}")
        if not (0.0 < self.top_p <= 1.0):
            raise ValueError(f"top_p must be in (0, 1], got {self.top_p!r}")
        if not (isinstance(self.max_new_tokens, int) and self.max_new_tokens > 0):
            raise ValueError(f"max_new_tokens must be a positive int, got {self.max_new_tokens!r}")

    @property
    def key(self) -> str:
        return f"t{self.temperature:g}-p{self.top_p:g}-m{self.max_new_tokens}"


@dataclass(frozen=True)
class SampleKey:
    """The primary key of a stored sample."""

    run: str
    model: str
    task: str
    problem_id: str
    config: str
    sample_index: int


@dataclass(frozen=True)
class Generation:
    """One completion from a backend, or a failure to produce one.

    ``text`` excludes the stop string; ``token_ids`` include its tokens when it
    was produced; ``logprob`` is the sum of the model's token log-probabilities
    (NaN where a server gives none); ``finished`` is true when a stop string ended
    the sample (false at the token limit). ``error`` is set when the backend
    failed to produce this sample: an infrastructure failure, not a result
    (stored with status 'error', never graded).
    """

    text: str
    token_ids: tuple[int, ...]
    logprob: float
    finished: bool
    seed: int
    error: str | None = None
    # FLOPs this sample's decoding actually spent, counted by the backend, for backends whose cost per
    # token varies (an early exit stops at a shallower layer); None: the card's formula for every token.
    decode_flops: float | None = None


@dataclass(frozen=True)
class Sample:
    """One completion for one problem, with its verdicts and its compute.

    Compute: ``prefill_flops`` is the full cost of prefilling this sample's
    prompt; when ``prefill_shared`` is true the backend prefilled the prompt once
    for the whole pool, so a strategy drawing k samples pays it once, not k
    times. ``decode_flops`` and ``verifier_flops`` are this sample's own.
    ``status`` is ``"ok"`` for a finished completion, or ``"error"`` for an
    infrastructure failure, which is not a result and is retried on resume.
    """

    key: SampleKey
    seed: int
    completion: str
    tokens: tuple[int, ...]
    logprob: float
    answer: str | None
    correct: bool
    verified: bool | None
    prompt_tokens: int
    prefill_flops: float
    decode_flops: float
    verifier_flops: float
    prefill_shared: bool
    wall_seconds: float
    status: str = "ok"
    error: str | None = None

    @property
    def n_tokens(self) -> int:
        return len(self.tokens)

    @property
    def mean_logprob(self) -> float:
        return self.logprob / max(1, len(self.tokens))


@dataclass(frozen=True)
class Point:
    """(TC, IC, performance) for one model x technique x budget.

    ``infer_flops`` is per problem. ``budget`` describes what produced the
    point (e.g. ``"k=8"``); it is informational.
    """

    technique: str
    model: str
    train_flops: float
    infer_flops: float
    performance: float
    ci_low: float | None = None
    ci_high: float | None = None
    budget: str = ""


@dataclass(frozen=True)
class SearchOutcome:
    """One problem's search: the answer it chose and everything it spent."""

    problem_id: str
    completion: str  # without the final stop string
    answer: str | None
    correct: bool
    value: float  # the scorer's value of the chosen solution
    complete: bool  # the chosen solution ended with the final step
    generation_flops: float  # prefill + decode
    prefill_flops: float  # of which prefilling contexts
    scorer_flops: float
    seconds: float
    step_samples: int
    regenerations: int
    generated_tokens: int
    prefill_tokens: int
    calls: int
    expansions: int
    cached_tokens: int = 0  # context tokens found in the backend's KV cache, not prefilled (results stored before the cache: 0)

    @property
    def infer_flops(self) -> float:
        return self.generation_flops + self.scorer_flops

    @property
    def draws(self) -> int:
        """Every step the backend generated, re-draws included."""
        return self.step_samples + self.regenerations

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict) -> SearchOutcome:
        return cls(**data)


def stable_hash(obj: object, length: int = 12) -> str:
    """A short content hash of a JSON-able object (config hashes, cache keys)."""
    text = json.dumps(obj, sort_keys=True, default=str)
    return hashlib.sha256(text.encode()).hexdigest()[:length]

