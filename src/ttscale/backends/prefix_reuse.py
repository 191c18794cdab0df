"""Keeping a call's KV cache for the next call: the optional capability tree search needs.

A tree search asks for steps from ``prompt + prefix`` again and again, each context its
parent's plus one step. A backend without state prefills every context anew (on HumanEval
that was over 90 % of a beam's inference compute). A ``PrefixReusingBackend`` keeps the KV
cells of the sequences it decoded last, and a new context whose tokens begin with one of
them copies those cells and prefills only the tokens past the shared prefix.

Copying cells changes no arithmetic: a cell holds the keys and values of its token at its
position given the tokens before it, the same numbers a fresh prefill computes (up to the
float rounding of llama.cpp's kernels, which can differ with a batch's shape). So the
samples are those of a re-prefill for the same seeds; only the compute is smaller, and the
backend reports how many tokens each prompt found cached so the ledger charges only the rest.
"""

from __future__ import annotations

import os
from typing import Mapping, Protocol, Sequence, runtime_checkable

from ttscale.backends import Stop
from ttscale.types import Generation, SamplingConfig


@runtime_checkable
class PrefixReusingBackend(Protocol):
    max_seqs: int  # sequences decoded together in one wave (a call wider than this spans several)

    def generate_reusing(
        self, prompts: Sequence[str], seeds: Sequence[Sequence[int]], config: SamplingConfig, stop: Stop
    ) -> tuple[list[list[Generation]], list[tuple[int, ...]]]:
        """``generate``, starting from the KV cells the previous call left. Also returns, per prompt,
        the tokens found cached for each wave its samples were decoded in (prefilled: the rest)."""
        ...

    def forget_cache(self) -> None:
        """Start the next call from an empty cache: what a search draws must not depend on what the
        backend decoded before it (the cached cells change the batch shapes, and with them the rounding)."""
        ...


def longest_held_prefix(ids: Sequence[int], held: Mapping[int, Sequence[int]]) -> tuple[int, int]:
    """(length, sequence id) of the longest prefix of ``ids`` a held sequence's cells cover, at most
    ``len(ids) - 1`` tokens: the last token is always decoded, for the logits of the first new one.
    (0, -1) when nothing is shared."""
    best, source = 0, -1
    limit = len(ids) - 1
    for seq_id, tokens in held.items():
        shared = min(len(os.path.commonprefix([list(ids[:limit]), list(tokens[:limit])])), limit)
        if shared > best:
            best, source = shared, seq_id
    return best, source
