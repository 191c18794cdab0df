"""The compression half of the trade in the lab: variants of the trained ladder, made before deployment.

Four techniques buy cheaper inference with effort spent after pretraining (``tiny/``):

- **quantization**: weight-only round-to-nearest per group (no retraining: marginal TC 0). FLOPs per
  token do not change; weight bytes read do, so it shows on the bytes axis only.
- **pruning**: MLP neurons or whole layers removed, scored by weight magnitude or by activations on
  calibration text, with and without a short retraining (counted). The pruned model is smaller.
- **distillation**: a small student trained on a large teacher's logits; the teacher's forward passes
  are counted, and the same student is trained from scratch at the same marginal compute next to it.
- **early exit**: heads on intermediate layers (trained on the frozen model, counted); a token leaves
  at the first head confident enough, and the backend counts the FLOPs each token actually spent.

Every variant is a model with a card whose ``train_flops`` is its parent's plus its own (the
distilled student's parent is its teacher; the scratch student has no parent). Each is sampled on one
task only, with fewer samples (``VariantSampling``), and read only by its technique's row, which maps
the ladder and that technique's variants together: the scaling policy with the technique available.

Anything trained here is cached by content: the parent's weights (hashed), the technique's settings
and the seed, so a re-run loads it instead of training again. It trains on the ladder's fixed thread
count (``TRAIN_THREADS``), as the rungs do, so that one machine makes the same variants every time.
"""

from __future__ import annotations

import dataclasses
import functools
import hashlib
import math
import multiprocessing
import time
from collections.abc import Callable
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import torch

from ttscale import flops
from ttscale.backends import Backend
from ttscale.backends.tiny import TinyBackend
from ttscale.backends.tiny_early_exit import early_exit_backend
from ttscale.lab.ladder_training import available_cores
from ttscale.tiny.checkpoints import TRAIN_THREADS, save_atomically
from ttscale.tiny.distill import distill, teacher_forward_flops
from ttscale.tiny.exit_heads import ExitHeads, ExitHeadsResult, train_exit_heads
from ttscale.tiny.model import TinyConfig, TinyGPT, model_card
from ttscale.tiny.prune import prune_layers, prune_mlp
from ttscale.tiny.quantize import QuantizeSettings, quantize_rtn
from ttscale.tiny.trainer import DEFAULT_HYPER, TrainHyper, batches, train
from ttscale.types import ModelCard, ModelVariant, stable_hash

QUANTIZATION, PRUNING, DISTILLATION, EARLY_EXIT = "quantization", "pruning", "distillation", "early exit"
TECHNIQUES = (QUANTIZATION, PRUNING, DISTILLATION, EARLY_EXIT)
CODE_VERSION = 2  # bump when a variant's making changes, so cached ones are made again (2: one training thread)


@dataclass(frozen=True)
class CompressionPreset:
    """Which variants the lab makes, of which rungs (by name), and how many samples each draws."""

    quantize_parents: tuple[str, ...]
    quantize: tuple[tuple[int, int], ...]  # (bits, group size)
    prune_parent: str
    prune_fractions: tuple[float, ...]  # of MLP neurons, every block
    layer_drops: tuple[int, ...]  # whole blocks
    retrain_tokens: int  # the short retraining after pruning
    teacher: str
    students: tuple[tuple[int, int, int], ...]  # (d_model, n_layers, distillation tokens)
    exit_parent: str
    exit_layers: tuple[int, ...]
    exit_tokens: int
    exit_thresholds: tuple[float, ...]
    n_samples: int
    calibration_windows: int = 64  # windows of calibration text for activation scores


@dataclass(frozen=True)
class Variant:
    """One derived model: its technique, its card (total training compute), how to open it, what it cost."""

    technique: str
    parent: str | None  # None: trained from scratch (the distilled student's baseline)
    card: ModelCard
    open: Callable[[], Backend]
    marginal_flops: float
    description: str


def weights_digest(model: TinyGPT) -> str:
    """A content hash of a model's weights: what a cached variant of it is keyed by."""
    digest = hashlib.sha256()
    for name, tensor in sorted(model.state_dict().items()):
        digest.update(name.encode())
        digest.update(tensor.detach().contiguous().numpy().tobytes())
    return digest.hexdigest()[:16]


def _cached(cache_dir: Path, kind: str, identity: dict, make: Callable[[], dict]) -> dict:
    """``make()``'s payload, saved under a hash of ``identity`` (loaded instead when saved before)."""
    path = cache_dir / f"variant-{kind}-{stable_hash({**identity, 'code': CODE_VERSION}, length=16)}.pt"
    if path.exists():
        return torch.load(path, map_location="cpu", weights_only=False)
    payload = make()
    save_atomically(payload, path)
    return payload


def _model_from(state: dict) -> TinyGPT:
    model = TinyGPT(TinyConfig(**state["config"]))
    model.load_state_dict(state["state_dict"])
    return model.eval()


def _derived(base: ModelCard, name: str, derivation: str, card: ModelCard, derive_flops: float) -> ModelCard:
    """The variant's card: its own shape and bits, its parent's training compute plus what deriving it cost."""
    variant = ModelVariant(base=base, derivation=derivation, card=card, derive_flops=derive_flops)
    return dataclasses.replace(card, name=name, train_flops=variant.train_flops,
                               train_tokens=base.train_tokens,
                               provenance=f"{base.name} -> {derivation} ({derive_flops:.3g} FLOPs to derive)")


def _tiny(card: ModelCard, model: TinyGPT) -> Callable[[], Backend]:
    """The variant's opener: picklable, so a Ray worker can open it too (``ModelEntry.reopen``)."""
    return functools.partial(TinyBackend, name=card.name, card=card, model=model)


def calibration_tokens(documents: Callable, windows: int, context: int) -> torch.Tensor:
    """(windows, context) token ids of calibration text: the ladder's stream under another seed."""
    x, _ = next(batches(documents, windows, context))
    return x


@dataclass(frozen=True)
class Making:
    """What every technique needs: the trained ladder, its data, where to cache, how to train."""

    models: dict[str, TinyGPT]
    cards: dict[str, ModelCard]
    documents: Callable  # the ladder's training stream (a fresh iterator per call)
    calibration_documents: Callable  # the same mixture under another seed: never the training text
    seed: int
    cache_dir: Path
    batch_size: int
    hyper: TrainHyper = DEFAULT_HYPER


def quantized(m: Making, preset: CompressionPreset) -> list[Variant]:
    out = []
    for parent in preset.quantize_parents:
        for bits, group in preset.quantize:
            q = quantize_rtn(m.models[parent], QuantizeSettings(bits=bits, group_size=group))
            base = m.cards[parent]
            name = f"{parent}@rtn{bits}g{group}"
            card = dataclasses.replace(base, bits_per_weight=q.bits_per_weight, quantization=f"rtn{bits}g{group}")
            card = _derived(base, name, f"round-to-nearest {bits}-bit weights, groups of {group}", card, 0.0)
            clamped = " (groups clamped to rows narrower than the group)" if q.groups_clamped else ""
            out.append(Variant(QUANTIZATION, parent, card, _tiny(card, q.model), 0.0,
                               f"{bits}-bit round-to-nearest, groups of {group}, {q.bits_per_weight:.2f} bits/weight"
                               + clamped))
    return out


def _retrained(m: Making, model: TinyGPT, tokens: int, key: dict) -> tuple[TinyGPT, float]:
    def make() -> dict:
        result = train(model.config, m.documents, tokens, m.seed, m.batch_size, m.hyper, threads=TRAIN_THREADS,
                       init=model)
        return {"config": model.config.to_dict(), "state_dict": result.model.state_dict(),
                "flops": float(result.card.train_flops)}

    state = _cached(m.cache_dir, "retrain", {**key, "tokens": tokens, "seed": m.seed, "batch": m.batch_size,
                                             "hyper": m.hyper.to_dict()}, make)
    return _model_from(state), float(state["flops"])


def pruned(m: Making, preset: CompressionPreset) -> list[Variant]:
    parent = preset.prune_parent
    model, base = m.models[parent], m.cards[parent]
    calibration = calibration_tokens(m.calibration_documents, preset.calibration_windows, model.config.context_length)
    made: list[tuple[str, str, TinyGPT]] = []
    for fraction in preset.prune_fractions:
        for score in ("magnitude", "activation"):
            made.append((f"mlp{round(100 * fraction)}-{score[:3]}",
                         f"{fraction:.0%} of MLP neurons pruned by {score}",
                         prune_mlp(model, fraction, score, calibration)))
    for n_drop in preset.layer_drops:
        made.append((f"drop{n_drop}-act", f"{n_drop} of {model.config.n_layers} layers dropped by activation",
                     prune_layers(model, n_drop, "activation", calibration)))
    out = []
    digest = weights_digest(model)
    for tag, words, small in made:
        shape = model_card(small.config, "pruned", None, None)
        for retrain in (False, True):
            if retrain and "-mag" in tag:
                continue  # retraining is measured on the activation-scored prunes
            weights, extra, suffix = small, 0.0, ""
            if retrain:
                weights, extra = _retrained(m, small, preset.retrain_tokens,
                                            {"parent": digest, "prune": tag, "calibration": m.seed})
                suffix, words = "-rt", f"{words}, retrained on {preset.retrain_tokens:,} tokens"
            name = f"{parent}@{tag}{suffix}"
            card = _derived(base, name, words, dataclasses.replace(shape, bits_per_weight=base.bits_per_weight), extra)
            out.append(Variant(PRUNING, parent, card, _tiny(card, weights), extra,
                               f"{words}: {shape.params_non_embedding:,} of {base.params_non_embedding:,} "
                               "non-embedding parameters"))
    return out


def _student_config(teacher: TinyGPT, d_model: int, n_layers: int) -> TinyConfig:
    return dataclasses.replace(teacher.config, d_model=d_model, n_layers=n_layers, n_heads=max(1, d_model // 32),
                               d_ff=4 * d_model)


def distillation_marginal(m: Making, teacher_name: str, config: TinyConfig, tokens: int) -> tuple[int, float]:
    """(tokens trained, marginal FLOPs) of distilling ``config`` on ``tokens``: the student's training and the
    teacher's forward passes over the same whole steps (what ``tiny.distill`` counts), known before training
    so that the scratch student can be trained at the same marginal compute at the same time."""
    window = m.batch_size * config.context_length
    trained = math.ceil(tokens / window) * window
    student = model_card(config, "student", trained, None)
    return trained, (flops.train_flops(student, trained, config.context_length)
                     + teacher_forward_flops(m.cards[teacher_name], trained, config.context_length))


def distilled(m: Making, preset: CompressionPreset) -> list[Variant]:
    teacher, teacher_card = m.models[preset.teacher], m.cards[preset.teacher]
    digest = weights_digest(teacher)
    out = []
    for d_model, n_layers, tokens in preset.students:
        config = _student_config(teacher, d_model, n_layers)
        label = f"tiny-d{d_model}-l{n_layers}-{tokens // 1000}k"

        def make_student(config=config, tokens=tokens) -> dict:
            result = distill(config, teacher, m.documents, tokens, m.seed, m.batch_size, m.hyper,
                             threads=TRAIN_THREADS)
            return {"config": config.to_dict(), "state_dict": result.model.state_dict(),
                    "marginal": result.marginal_flops, "teacher_forward": result.teacher_forward_flops,
                    "tokens": result.tokens}

        state = _cached(m.cache_dir, "distill", {"teacher": digest, "config": config.to_dict(), "tokens": tokens,
                                                 "seed": m.seed, "batch": m.batch_size, "hyper": m.hyper.to_dict()},
                        make_student)
        marginal = float(state["marginal"])
        shape = model_card(config, label, state["tokens"], None)
        card = _derived(teacher_card, f"{label}@distilled", f"distilled from {preset.teacher}", shape, marginal)
        out.append(Variant(DISTILLATION, preset.teacher, card, _tiny(card, _model_from(state)), marginal,
                           f"student d{d_model}-l{n_layers} on {state['tokens']:,} tokens of the teacher's logits "
                           f"(teacher forward passes {state['teacher_forward']:.3g} FLOPs)"))
    return out


def from_scratch(m: Making, preset: CompressionPreset) -> list[Variant]:
    """Each distilled student's twin trained from scratch on as many tokens as the distillation's marginal
    compute buys: what the same compute does without a teacher."""
    out = []
    for d_model, n_layers, tokens in preset.students:
        config = _student_config(m.models[preset.teacher], d_model, n_layers)
        _, marginal = distillation_marginal(m, preset.teacher, config, tokens)
        shape = model_card(config, "scratch", None, None)
        per_token = flops.train_flops(shape, 1_000_000, config.context_length) / 1_000_000
        scratch_tokens = int(marginal / per_token)

        def make_scratch(config=config, scratch_tokens=scratch_tokens) -> dict:
            result = train(config, m.documents, scratch_tokens, m.seed, m.batch_size, m.hyper, threads=TRAIN_THREADS)
            return {"config": config.to_dict(), "state_dict": result.model.state_dict(),
                    "flops": float(result.card.train_flops), "tokens": int(result.card.train_tokens)}

        state = _cached(m.cache_dir, "scratch", {"config": config.to_dict(), "tokens": scratch_tokens, "seed": m.seed,
                                                 "batch": m.batch_size, "hyper": m.hyper.to_dict()}, make_scratch)
        name = f"tiny-d{d_model}-l{n_layers}-{state['tokens'] // 1000}k@scratch"
        card = dataclasses.replace(model_card(config, name, state["tokens"], float(state["flops"])),
                                   provenance=f"trained from scratch at the marginal compute of distilling "
                                              f"tiny-d{d_model}-l{n_layers}-{tokens // 1000}k")
        out.append(Variant(DISTILLATION, None, card, _tiny(card, _model_from(state)), float(state["flops"]),
                           f"the same student from scratch on {state['tokens']:,} tokens (equal marginal compute)"))
    return out


def early_exits(m: Making, preset: CompressionPreset) -> list[Variant]:
    parent = preset.exit_parent
    model, base = m.models[parent], m.cards[parent]

    def make() -> dict:
        result = train_exit_heads(model, preset.exit_layers, m.documents, preset.exit_tokens, m.seed, m.batch_size,
                                  m.hyper, threads=TRAIN_THREADS)
        return {"state_dict": result.heads.state_dict(), "layers": list(result.layers),
                "train_flops": result.train_flops, "tokens": result.tokens}

    state = _cached(m.cache_dir, "exit-heads", {"parent": weights_digest(model), "layers": list(preset.exit_layers),
                                                "tokens": preset.exit_tokens, "seed": m.seed, "batch": m.batch_size,
                                                "hyper": m.hyper.to_dict()}, make)
    heads = ExitHeads(model.config, state["layers"])
    heads.load_state_dict(state["state_dict"])
    trained = ExitHeadsResult(heads=heads.eval(), layers=tuple(state["layers"]), train_flops=state["train_flops"],
                              tokens=state["tokens"], final_losses={}, loss_curve=(), wall_seconds=0.0)
    out = []
    for threshold in preset.exit_thresholds:
        backend = early_exit_backend(model, base, trained, threshold)
        card = backend.card
        out.append(Variant(EARLY_EXIT, parent, card, lambda backend=backend: backend, float(state["train_flops"]),
                           f"exit after layers {list(state['layers'])} when the head's top token has probability "
                           f">= {threshold:g}"))
    return out


MAKERS = (quantized, pruned, distilled, from_scratch, early_exits)
# The makers that train (the rest only round or cut weights), longest first: run side by side they keep both
# cores busy while the longest one trains.
TRAINING_MAKERS = (distilled, from_scratch, pruned, early_exits)


def _fill_cache(maker: Callable, m: Making, preset: CompressionPreset) -> str:
    """Runs in a worker process: make one technique's variants into the cache; returns the maker's name."""
    torch.set_num_threads(TRAIN_THREADS)
    maker(m, preset)
    return maker.__name__


def make_variants(m: Making, preset: CompressionPreset, add_bar=None, workers: int | None = None
                  ) -> tuple[list[Variant], float]:
    """Every variant of the preset, in technique order, and the seconds it took.

    With more than one worker (default: the usable cores) the training makers fill the cache in worker
    processes side by side first (``m`` is pickled to them: its documents must be module-level callables or
    partials of them); then every maker runs here, loading what they trained. Cached variants load at once.
    """
    started = time.perf_counter()
    advance = add_bar("compression variants", len(MAKERS)) if add_bar else (lambda n: None)
    workers = min(workers or available_cores(), len(TRAINING_MAKERS))
    if workers > 1:
        context = multiprocessing.get_context("spawn")  # no fork of a process holding torch threads
        with ProcessPoolExecutor(workers, mp_context=context) as pool:
            for future in [pool.submit(_fill_cache, maker, m, preset) for maker in TRAINING_MAKERS]:
                future.result()  # a worker's error stops the lab here
    variants: list[Variant] = []
    for maker in MAKERS:
        variants += maker(m, preset)
        advance(1)
    return variants, time.perf_counter() - started
