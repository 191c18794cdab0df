"""Whether an ``openai:`` backend's server is there, asked once before sampling.

``GET {root}/v1/models`` once, with a short timeout and no retry: ``BackendUnreachable`` (one
line naming the spec and the reason: connection refused, host not found, no answer within a
few seconds) when nothing answers; any HTTP answer means a server is there. When the server
lists its models and this one is not among them, one 1-token completion asks whether it serves
the name anyway (llama-server and llama-cpp-python serve their one model under any name; vLLM
and OpenAI answer 404): a 400/404 that names the model is ``BackendUnreachable`` too.
``generate`` never asks.
"""

from __future__ import annotations

import json
import logging

from ttscale.backends.http_retry import (
    BackendUnreachable,
    NoAnswer,
    RetryingClient,
    error_message,
)
from ttscale.backends.openai_spec import OpenAISpec

REACHABILITY_TIMEOUT_S = 5.0  # the check waits at most this long (or the backend's timeout, if shorter)

log = logging.getLogger(__name__)


def check_reachable(http: RetryingClient, spec: OpenAISpec, timeout: float) -> None:
    """Raise ``BackendUnreachable`` unless a server answers at ``spec``'s root and may serve its model."""
    root = spec.root_url
    try:
        status, raw = http.answer_once("/v1/models", timeout)
    except NoAnswer as exc:
        raise BackendUnreachable(f"{spec}: no server answers at {root} ({exc.reason})") from None
    listed = _listed_models(status, raw)
    if not listed or spec.model in listed:
        return
    ask = {"model": spec.model, "prompt": "Hi", "max_tokens": 1, "temperature": 0.0, "stream": False}
    try:
        status, raw = http.answer_once("/v1/completions", timeout, body=ask)
    except NoAnswer:
        return  # busy: the models list did answer, so a server is there
    message = error_message(raw)
    if status in (400, 404) and spec.model in message:
        raise BackendUnreachable(
            f"{spec}: the server at {root} has no model {spec.model!r} (it lists {', '.join(sorted(listed))}): "
            f"{message}"
        )
    log.info("%s: model %r is not listed (%s) but the server answers for it", root, spec.model,
             ", ".join(sorted(listed)))


def _listed_models(status: int, raw: bytes) -> set[str]:
    """The model ids a ``/v1/models`` answer lists; empty when it is not a readable list."""
    if status != 200:
        return set()
    try:
        data = json.loads(raw)
    except ValueError:
        return set()
    entries = data.get("data") if isinstance(data, dict) else None
    if not isinstance(entries, list):
        return set()
    return {e["id"] for e in entries if isinstance(e, dict) and isinstance(e.get("id"), str)}
