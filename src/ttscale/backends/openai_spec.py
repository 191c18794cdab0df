"""The openai backend's plain data: the model spec that names a server and model
(``openai:BASE_URL#MODEL``), the records the backend hands out (generations,
usage), the tokenize endpoint dialects and the placeholder card. No I/O here.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from urllib.parse import urlsplit, urlunsplit

from ttscale.errors import InputError
from ttscale.types import Generation, ModelCard

SPEC_PREFIX = "openai:"
_SPEC_HELP = "expected 'openai:BASE_URL#MODEL', e.g. 'openai:http://127.0.0.1:8080/v1#gemma-3-270m'"


# ------------------------------------------------------------------ spec


@dataclass(frozen=True)
class OpenAISpec:
    """``root_url``: scheme://host:port[/prefix] without a trailing ``/v1``; ``model``: the server's model name."""

    root_url: str
    model: str

    def __str__(self) -> str:
        """The spec as the user would write it: ``openai:ROOT/v1#MODEL``."""
        return f"{SPEC_PREFIX}{self.root_url}/v1#{self.model}"


def parse_openai_spec(spec: str) -> OpenAISpec:
    """``openai:BASE_URL#MODEL`` → OpenAISpec. BASE_URL may end in ``/v1`` or not."""
    if not isinstance(spec, str) or not spec.startswith(SPEC_PREFIX):
        raise InputError(f"model spec {spec!r} is not an openai spec; {_SPEC_HELP}")
    base, sep, model = spec[len(SPEC_PREFIX) :].partition("#")

    def bad(why: str) -> InputError:
        return InputError(f"model spec {spec!r}: {why}; {_SPEC_HELP}")

    if not sep or not model.strip():
        raise bad("MODEL is missing after '#'")
    if model != model.strip():
        raise bad(f"MODEL {model!r} has leading or trailing spaces")
    parts = urlsplit(base)
    if parts.scheme not in ("http", "https"):
        raise bad(f"BASE_URL {base!r} must start with http:// or https://")
    if not parts.hostname:
        raise bad(f"BASE_URL {base!r} has no host")
    try:
        _ = parts.port  # urlsplit checks the port only when asked
    except ValueError:
        raise bad(f"BASE_URL {base!r} has a bad port") from None
    if parts.query:
        raise bad(f"BASE_URL {base!r} must not have a query string")
    path = parts.path.rstrip("/").removesuffix("/v1")
    return OpenAISpec(urlunsplit((parts.scheme, parts.netloc, path, "", "")), model)


# ------------------------------------------------------------ generations


def failed_generation(seed: int, error: str) -> Generation:
    """A sample the server did not produce (after retries): stored with status 'error', never graded."""
    return Generation(text="", token_ids=(), logprob=math.nan, finished=False, seed=seed, error=error)


@dataclass
class Usage:
    """What this backend asked of the server, summed over its lifetime."""

    requests: int = 0  # HTTP attempts sent (completions and tokenize, retries included)
    failed_requests: int = 0  # attempts that ended in a transport error, a bad status or a bad body
    prompt_tokens: int = 0  # from the server's `usage`, over successful completions
    completion_tokens: int = 0
    completions_without_usage: int = 0  # successful completions whose response had no usable `usage`
    tokenize_requests: int = 0
    estimated_token_counts: int = 0  # count_tokens answers that are estimates
    concurrency_cuts: int = 0  # times the server's saturation halved the concurrency limit


# Tokenize endpoints, tried in this order; each answers {"tokens": [ids]}.
TOKENIZE_DIALECTS: tuple[tuple[str, str, Callable[[str, str], dict]], ...] = (
    ("llama-cpp-python", "/extras/tokenize", lambda text, model: {"input": text, "model": model}),
    ("llama-server", "/tokenize", lambda text, model: {"content": text, "add_special": True}),
    ("vllm", "/tokenize", lambda text, model: {"model": model, "prompt": text, "add_special_tokens": True}),
)


# ------------------------------------------------------------------ cards


def placeholder_card(name: str, params: int) -> ModelCard:
    """An estimated card from a parameter count alone: 2·params FLOPs per token.

    Layers, width and vocabulary are unknown, so the attention and unembedding
    terms of ``flops`` come out 0 (an undercount, larger for long contexts and
    large vocabularies); ``estimated=True`` says so.
    """
    if isinstance(params, bool) or not isinstance(params, int) or params <= 0:
        raise InputError(f"params must be a positive int, got {params!r}")
    return ModelCard(
        name=name, params_total=params, params_non_embedding=params, n_layers=0, d_model=0, n_heads=1,
        d_ff=0, vocab_size=0, context_length=0, estimated=True,
        provenance="placeholder from params only: 2*params FLOPs per token; attention and unembedding not counted",
    )  # fmt: skip

