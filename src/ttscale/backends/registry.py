"""Backends by model spec: ``KIND:REST`` → a backend, e.g.
``openai:http://127.0.0.1:8080/v1#gemma-3-270m``.

One constructor per kind, registered on ``BACKEND_KINDS``; each takes the spec's
REST and keyword arguments (``card=``, ``max_concurrency=`` ...). Constructors
import their module lazily, so a kind whose extra is not installed fails only
when it is used, with the install hint.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from ttscale.backends import Backend
from ttscale.errors import InputError
from ttscale.registry import Registry

BACKEND_KINDS: Registry[Callable[..., Backend]] = Registry("backend kind")


@BACKEND_KINDS.register("openai")
def _openai(rest: str, **kwargs: Any) -> Backend:
    from ttscale.backends.openai import OpenAIBackend

    return OpenAIBackend.from_spec(f"openai:{rest}", **kwargs)


def backend_from_spec(spec: str, **kwargs: Any) -> Backend:
    """The backend a model spec names; an unknown kind gets "did you mean ...?"."""
    kind, sep, rest = spec.partition(":") if isinstance(spec, str) else ("", "", "")
    if not sep or not kind:
        raise InputError(f"model spec {spec!r} must look like KIND:..., KIND one of {', '.join(BACKEND_KINDS.names())}")
    return BACKEND_KINDS.get(kind)(rest, **kwargs)
