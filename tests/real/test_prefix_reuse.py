"""Keeping the KV cache between tree-search steps (``backends.prefix_reuse``) on the real Gemma 3 270M.

What is exact and what is not: copying a sequence's cells changes no arithmetic, so a context
continued from copied cells gives bit-identical logits to one computed in the same batch shapes
without a copy. llama.cpp's CPU kernels round differently with a batch's shape (the logits of one
prompt prefilled in one batch or in two differ by up to about one logit on Gemma), so a search whose
contexts reuse cells made while decoding does not re-draw the same steps as one that prefills every
context in one batch: its searches are repeatable, not identical to the re-prefill's.
"""

from __future__ import annotations

import dataclasses

import numpy as np

from ttscale.backends.llama_cpp_engine import Entry
from ttscale.backends.prefix_reuse import PrefixReusingBackend, longest_held_prefix
from ttscale.strategies.beam import BeamSettings
from ttscale.strategies.step_scorers import LogProbScorer
from ttscale.strategies.step_search import step_format_for
from ttscale.strategies.tree_search import run_search
from ttscale.tasks import get_task

TEXT = "def add(a, b):\n    \"\"\"Add two numbers.\"\"\"\n    return a + b\n\ndef mul(a, b):\n    return"


def _logits_of_last(engine, ids, seq, start):
    rows = engine.decode([Entry(t, p, (seq,), p == len(ids) - 1) for p, t in enumerate(ids) if p >= start])
    return rows[-1].copy()


def test_copied_cells_give_the_logits_of_the_same_computation_without_a_copy(gemma):
    engine = gemma.engine
    ids = engine.tokenize(TEXT)
    cut = len(ids) - 7
    engine.clear()
    _logits_of_last(engine, ids[:cut], 0, 0)
    reference = _logits_of_last(engine, ids, 0, cut)  # the prefix, then the rest, on one sequence
    engine.clear()
    _logits_of_last(engine, ids[:cut], 3, 0)  # a parent: the same prefix, in the same batch ...
    for pos in range(cut, cut + 3):  # ... then a step of its own, decoded token by token
        engine.decode([Entry(ids[0], pos, (3,), True)])
    engine.copy_prefix(3, 5, cut)
    engine.drop_sequence(3)
    continued = _logits_of_last(engine, ids, 5, cut)
    assert np.array_equal(continued, reference)
    # Without the copy the same positions see no prefix at all: the logits are another distribution.
    engine.clear()
    missing = _logits_of_last(engine, ids, 6, cut)
    assert np.abs(missing - reference).max() > 5.0
    engine.clear()


def test_the_longest_held_prefix_leaves_the_last_token_to_decode():
    held = {4: [1, 2, 3, 9], 7: [1, 2, 3, 4, 5, 6]}
    assert longest_held_prefix([1, 2, 3, 4, 5], held) == (4, 7)
    assert longest_held_prefix([1, 2, 3, 4, 5, 6], held) == (5, 7)  # all held: the last one is decoded again
    assert longest_held_prefix([8, 2], held) == (0, -1)


class _Recording:
    """The real backend, recording each call: every context's tokens, and what the cache should hold after it
    (each sample's context and generated tokens but its last, which is chosen and never decoded)."""

    def __init__(self, backend):
        self.inner, self.contexts, self.expected = backend, [], []
        self.name, self.card, self.prefill_shared, self.max_seqs = (backend.name, backend.card,
                                                                    backend.prefill_shared, backend.max_seqs)
        self.held: list[list[int]] = []

    def count_tokens(self, text):
        return self.inner.count_tokens(text)

    def generate(self, prompts, seeds, config, stop):
        return self.inner.generate(prompts, seeds, config, stop)

    def generate_reusing(self, prompts, seeds, config, stop):
        ids = [self.inner.engine.tokenize(p) for p in prompts]
        for tokens in ids:  # counted here, token by token: the longest held prefix, the last token left out
            best = 0
            for held in self.held:
                n = 0
                while n < min(len(tokens) - 1, len(held)) and tokens[n] == held[n]:
                    n += 1
                best = max(best, n)
            self.expected.append((best,))
        gens, cached = self.inner.generate_reusing(prompts, seeds, config, stop)
        self.contexts += [(len(tokens), hits) for tokens, hits in zip(ids, cached)]
        self.held = [tokens + list(g.token_ids[:-1]) for tokens, pool in zip(ids, gens) for g in pool]
        return gens, cached

    def forget_cache(self):
        self.inner.forget_cache()
        self.held = []

    def close(self):
        pass


def _search(backend, reuse):
    task = get_task("humaneval")
    fmt = dataclasses.replace(step_format_for(task), max_depth=4, max_step_tokens=16)
    problems = task.problems(2, 0, "test")
    settings = BeamSettings(width=2, expansions=2, scorer="logprob")
    return run_search(backend, task, problems, settings, LogProbScorer(), run_seed=3, step_format=fmt,
                      reuse_cache=reuse)


def test_a_beam_that_keeps_its_cache_prefills_only_new_tokens_and_counts_the_rest(gemma):
    recording = _Recording(gemma)
    assert isinstance(recording, PrefixReusingBackend)
    outcomes = _search(recording, reuse=True)
    # Each call fits one wave: every context finds cached exactly what the call before left, counted apart.
    assert [hits for _, hits in recording.contexts] == recording.expected
    assert sum(hits[0] for hits in recording.expected) > 0
    # The ledger charges the rest: the contexts' tokens, less the cached ones.
    assert sum(o.prefill_tokens for o in outcomes) == sum(tokens - hits[0] for tokens, hits in recording.contexts)
    # Past the root, a step's context is its parent's plus one line: little is left to prefill (the
    # roots' prompts are most of it in a search this short).
    assert sum(o.prefill_tokens for o in outcomes) < 0.35 * sum(o.prefill_tokens + o.cached_tokens for o in outcomes)
    fresh = _search(gemma, reuse=False)
    assert all(o.cached_tokens == 0 for o in fresh)
    share = lambda runs: sum(o.prefill_flops for o in runs) / sum(o.infer_flops for o in runs)  # noqa: E731
    assert share(outcomes) < 0.7 < 0.85 < share(fresh)
    # The same seeds draw the same search again (the same calls, so the same batch shapes).
    again = _search(gemma, reuse=True)
    assert [dataclasses.replace(o, seconds=0.0) for o in again] == [dataclasses.replace(o, seconds=0.0)
                                                                     for o in outcomes]
