"""Backends by model spec: ``KIND:REST`` → a backend, e.g.
``openai:http://127.0.0.1:8080/v1#gemma-3-270m``, ``gguf:/models/x.gguf``,
or a bare built-in model such as ``gemma3-270m`` (in-process llama.cpp).

One constructor per kind, registered on ``BACKEND_KINDS``; each takes the spec's
REST and keyword arguments (``card=``, ``max_concurrency=`` ...). Every
constructor accepts ``threads=`` (CPU threads for local inference; None: the
library's default), ignoring it where it means nothing, so ``ttscale sweep
--threads`` can pass it to any kind. Constructors import their module lazily,
so a kind whose extra is not installed fails only when it is used, with the
install hint.

Kinds: ``openai:URL#MODEL`` (an OpenAI-compatible server), ``tiny:PATH[#NAME]``
(a lab checkpoint), ``gguf:PATH`` and the ladder of real models ``gemma3-270m``,
``smollm2-135m``, ``qwen2.5-coder-0.5b``, ``qwen2.5-coder-1.5b`` (in-process llama.cpp; the last
three once ``ttscale models pull NAME`` installed them).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from ttscale.backends import Backend
from ttscale.errors import InputError
from ttscale.registry import Registry

BACKEND_KINDS: Registry[Callable[..., Backend]] = Registry("backend kind")


@BACKEND_KINDS.register("openai")
def _openai(rest: str, threads: int | None = None, **kwargs: Any) -> Backend:
    """Every keyword goes to ``OpenAIBackend``: ``timeout_s=`` (one attempt), ``max_concurrency=`` (requests in
    flight at most), ``logprobs=`` (ask for them), ``card=`` ..."""
    from ttscale.backends.openai import OpenAIBackend

    # threads: the server decides how it computes; nothing to set here.
    return OpenAIBackend.from_spec(f"openai:{rest}", **kwargs)


@BACKEND_KINDS.register("tiny")
def _tiny(rest: str, threads: int | None = None, **kwargs: Any) -> Backend:
    from ttscale.errors import require_extra

    require_extra("torch", "lab")
    from ttscale.backends.tiny import load_checkpoint_backend

    return load_checkpoint_backend(rest, threads=threads, **kwargs)


@BACKEND_KINDS.register("gguf")
def _gguf(rest: str, threads: int | None = None, **kwargs: Any) -> Backend:
    from ttscale.backends.llama_cpp import LlamaCppBackend

    if not rest:
        raise InputError("model spec 'gguf:PATH' needs a path to a .gguf file")
    return LlamaCppBackend.from_gguf(rest, n_threads=threads, **kwargs)


@BACKEND_KINDS.register("gemma3-270m")
def _gemma3_270m(rest: str, threads: int | None = None, **kwargs: Any) -> Backend:
    from ttscale.backends.llama_cpp import LlamaCppBackend

    if rest:
        raise InputError(f"model spec 'gemma3-270m' takes nothing after it, got {rest!r}")
    return LlamaCppBackend.gemma3_270m(n_threads=threads, **kwargs)


def _ladder_model(name: str) -> Callable[..., Backend]:
    def construct(rest: str, threads: int | None = None, **kwargs: Any) -> Backend:
        from ttscale.backends.llama_cpp import LlamaCppBackend
        from ttscale.cards import load_card, model_path

        if rest:
            raise InputError(f"model spec {name!r} takes nothing after it, got {rest!r}")
        card = kwargs.pop("card", None) or load_card(name).card  # not installed: "run ttscale models pull"
        return LlamaCppBackend(card.name, card, model_path(name), n_threads=threads, **kwargs)

    return construct


LADDER_KINDS = ("smollm2-135m", "qwen2.5-coder-0.5b", "qwen2.5-coder-1.5b")
for _name in LADDER_KINDS:
    BACKEND_KINDS.register(_name)(_ladder_model(_name))

# Specs that are a whole model name, without KIND:REST.
BARE_KINDS = ("gemma3-270m", *LADDER_KINDS)
# Kinds whose backend poses prompts in the model's chat template (``prompt_style=``): llama.cpp in process.
POSING_KINDS = ("gguf", *BARE_KINDS)


def spec_kind(spec: str) -> str:
    """The kind a model spec names (``gguf`` for ``gguf:PATH``, the name for a bare one; a variant
    ``BASE@TYPE`` is of its base's kind)."""
    from ttscale.variants.spec import split_variant

    variant = split_variant(spec)
    if variant is not None:
        return spec_kind(variant[0])
    kind, sep, _ = spec.partition(":")
    return kind if sep or kind in BARE_KINDS else ""


def _variant(spec: str, threads: int | None = None, **kwargs: Any) -> Backend:
    """``BASE@TYPE``: the base's GGUF quantized to TYPE (made on first use), run in process."""
    from ttscale.backends.llama_cpp import LlamaCppBackend
    from ttscale.variants.spec import load_variant

    loaded = load_variant(spec, say=_say)
    card = kwargs.pop("card", None) or loaded.variant.card
    return LlamaCppBackend(spec, card, loaded.path, n_threads=threads, **kwargs)


def _say(line: str) -> None:
    import logging

    logging.getLogger("ttscale.variants").warning(line)


def backend_from_spec(spec: str, **kwargs: Any) -> Backend:
    """The backend a model spec names; an unknown kind gets "did you mean ...?"."""
    from ttscale.variants.spec import split_variant

    if split_variant(spec) is not None and spec_kind(spec) in POSING_KINDS:
        return _variant(spec, **kwargs)
    kind, sep, rest = spec.partition(":") if isinstance(spec, str) else ("", "", "")
    if not sep and kind in BARE_KINDS:
        return BACKEND_KINDS.get(kind)("", **kwargs)
    if not sep or not kind:
        raise InputError(f"model spec {spec!r} must look like KIND:..., KIND one of {', '.join(BACKEND_KINDS.names())}")
    return BACKEND_KINDS.get(kind)(rest, **kwargs)
