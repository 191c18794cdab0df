"""One sample being decoded by llama.cpp, and the rule that ends it: shared by the wave decoder
(``llama_cpp``) and the continuous one (``llama_cpp_continuous``).

A sequence ends at the first stop string (cut from the text; its tokens are kept), at an
end-of-generation token (counted: it was decoded, but adds no text), or at ``max_new`` tokens.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from ttscale.backends import Stop, stop_strings
from ttscale.backends.llama_cpp_engine import LlamaEngine
from ttscale.types import Generation


@dataclass
class DecodingSequence:
    """One sample being decoded."""

    prompt_index: int
    slot: int  # the place of its seed in its prompt's seed list
    seed: int
    seq_id: int
    rng: np.random.Generator
    pos: int
    tokens: list[int] = field(default_factory=list)
    raw: bytearray = field(default_factory=bytearray)
    logprob: float = 0.0
    done: bool = False
    stopped: bool = False
    dropped: bool = False  # its prompt was dropped before it finished
    text: str = ""

    def generation(self) -> Generation:
        return Generation(self.text, tuple(self.tokens), self.logprob, self.stopped, self.seed)


def append_token(engine: LlamaEngine, seq: DecodingSequence, token: int, logprob: float, stop: Stop,
                 max_new: int) -> None:
    """``token`` chosen for ``seq``: its text grows, and the sequence ends if the rule above says so."""
    seq.tokens.append(token)
    seq.logprob += logprob
    if engine.is_end(token):
        seq.done = seq.stopped = True
        seq.text = seq.raw.decode("utf-8", errors="replace")
        return
    seq.raw += engine.piece(token)
    text = seq.raw.decode("utf-8", errors="replace")
    cut = min((i for s in stop_strings(stop) if (i := text.find(s)) >= 0), default=-1)
    if cut >= 0:
        seq.text, seq.done, seq.stopped = text[:cut], True, True
    elif len(seq.tokens) >= max_new:
        seq.text, seq.done = text, True
    else:
        seq.text = text
