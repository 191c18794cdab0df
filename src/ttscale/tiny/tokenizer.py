"""The lab's character-level tokenizer, with a fixed vocabulary.

    id 0 = PAD, 1 = BOS, 2 = EOS, then one id per character of ``CHARS``.

The vocabulary never depends on data, so a checkpoint, a task and a sampler
always agree on it. Tasks write only these characters; their stop string is
"\\n", which is one token. Training streams are packed as
``BOS doc BOS doc ...`` and a prompt is sampled after a BOS (``encode_prompt``),
so a completion always starts where a demonstration's completion would.

Encoding runs through a 256-entry lookup table with numpy, so packing millions
of characters for training takes milliseconds rather than a Python loop.
"""

from __future__ import annotations

from collections.abc import Iterable

import numpy as np

from ttscale.errors import InputError

PAD, BOS, EOS = 0, 1, 2
SPECIAL_IDS = (PAD, BOS, EOS)  # never part of a completion: the sampler never draws them
SPECIAL_TOKENS = ("<pad>", "<bos>", "<eos>")
CHARS = "\n 0123456789+-*=:;,.()<>?#abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"
vocab_size = len(SPECIAL_TOKENS) + len(CHARS)  # 81

_ID_OF = {ch: i + len(SPECIAL_TOKENS) for i, ch in enumerate(CHARS)}
_CHAR_OF = [""] * len(SPECIAL_TOKENS) + list(CHARS)  # specials decode to ""
# Byte -> id table; -1 marks a byte outside the vocabulary.
_TABLE = np.full(256, -1, dtype=np.int64)
for _ch, _i in _ID_OF.items():
    _TABLE[ord(_ch)] = _i
# Internal separator for fast packing only (never a valid input character).
_SEP = "\x01"
_PACK_TABLE = _TABLE.copy()
_PACK_TABLE[ord(_SEP)] = BOS


def _bad_character(text: str, start: int = 0) -> InputError:
    for pos, ch in enumerate(text):
        if ch not in _ID_OF:
            return InputError(f"text: character {ch!r} at position {start + pos} is not in the tokenizer vocabulary")
    return InputError("text: not encodable")  # pragma: no cover - only called on bad text


def _encode_array(text: str, table: np.ndarray) -> np.ndarray:
    try:
        raw = np.frombuffer(text.encode("ascii"), dtype=np.uint8)
    except UnicodeEncodeError:
        raise _bad_character(text) from None
    ids = table[raw]
    if ids.size and ids.min() < 0:
        raise _bad_character(text)
    return ids


def encode(text: str) -> list[int]:
    """Token ids of ``text`` (no BOS). Raises InputError naming a bad character."""
    return _encode_array(text, _TABLE).tolist()


def encode_prompt(text: str) -> list[int]:
    """``[BOS] + encode(text)``: what the sampler feeds the model for a prompt."""
    return [BOS] + encode(text)


def decode(ids: Iterable[int]) -> str:
    """Text of ``ids``; the special tokens (PAD, BOS, EOS) decode to nothing."""
    chars = []
    for token in ids:
        token = int(token)
        if not 0 <= token < vocab_size:
            raise InputError(f"ids: token id {token} is outside the vocabulary (size {vocab_size})")
        chars.append(_CHAR_OF[token])
    return "".join(chars)


def pack_documents(documents: list[str]) -> np.ndarray:
    """``BOS doc BOS doc ...`` as one int64 array (the training stream format)."""
    for i, doc in enumerate(documents):
        if _SEP in doc:
            raise InputError(f"documents[{i}]: character {_SEP!r} is not in the tokenizer vocabulary")
    text = _SEP + _SEP.join(documents)
    try:
        return _encode_array(text, _PACK_TABLE)
    except InputError:
        for i, doc in enumerate(documents):  # find which document, for the message
            try:
                _encode_array(doc, _TABLE)
            except InputError as exc:
                raise InputError(f"documents[{i}]: {exc}") from None
        raise
