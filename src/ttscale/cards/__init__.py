"""Model cards: what a model is and what it cost, from GGUF metadata, a Hugging Face
``config.json``, a hand-written YAML card, or a model that ships as a package.

Modules: loaded.py (a card with per-layer attention windows; FLOPs per token),
gguf.py (the header reader), hf.py, yaml_card.py, packaged.py (built-in models and
their published training), spec.py (``load_card``: a model spec -> a card).
"""

from ttscale.cards.gguf import card_from_gguf
from ttscale.cards.loaded import (DEFAULT_CONTEXT, LoadedCard, card_summary, check_context, decode_flops,
                                  forward_flops_per_token, prefill_flops, pretrain_flops_estimate)
from ttscale.cards.packaged import BUILTINS, gemma3_270m, gemma3_270m_path
from ttscale.cards.spec import SPEC_FORMS, load_card

__all__ = [
    "BUILTINS",
    "DEFAULT_CONTEXT",
    "SPEC_FORMS",
    "LoadedCard",
    "card_from_gguf",
    "card_summary",
    "check_context",
    "decode_flops",
    "forward_flops_per_token",
    "gemma3_270m",
    "gemma3_270m_path",
    "load_card",
    "prefill_flops",
    "pretrain_flops_estimate",
]
