"""Continuous batching on one llama.cpp engine: calls join the running batch at any decode step.

``LlamaCppBackend.generate`` decodes a fixed set of prompts from start to end, so a call that arrives
while it runs waits for the whole of it; two clients that take turns then never share a step. Here a
call's prompts are admitted as soon as sequence ids and KV cells are free: each step's batch holds the
newly admitted prompts' tokens (prefilled once, tagged with every sample's sequence id, as the wave
decoder does) next to one token of every running sequence, in one ``llama_decode``. A finished
sequence gives its id and cells back at once. Each call keeps its own sampling settings and stop
strings (tokens are chosen per group of equal temperature and top-p), so unlike settings share steps.

A sample depends on (model, prompt, seed, settings) as in the wave decoder, up to the float rounding
of llama.cpp's batched kernels, which can differ with the batch's shape.

Driven by one thread (the server's batching worker): ``add`` queues a call, ``step`` admits what fits
and decodes one step, returning the calls it completed; ``drop`` takes a call's sequences out at the
next step. The engine's cache is this decoder's while sequences run; a step from idle empties it first.
"""

from __future__ import annotations

from collections.abc import Hashable, Sequence
from dataclasses import dataclass, field

import numpy as np

from ttscale.backends import Stop, token_sampling
from ttscale.backends.llama_cpp import LlamaCppBackend
from ttscale.backends.llama_cpp_engine import Entry
from ttscale.backends.llama_cpp_sequences import DecodingSequence, append_token
from ttscale.errors import InputError
from ttscale.types import Generation, SamplingConfig


@dataclass
class _Part:
    """Up to ``max_seqs`` samples of one prompt of one call: prefilled together, their cells reserved together."""

    call: Hashable
    prompt_index: int
    first_slot: int
    ids: list[int]
    seeds: list[int]
    cells: int  # reserved: the prompt's cells plus max_new for each sample
    sequences: list[DecodingSequence] = field(default_factory=list)


@dataclass
class _Call:
    key: Hashable
    config: SamplingConfig
    stop: Stop
    results: list[list[Generation | None]]
    unfinished: int  # samples not yet finished


class ContinuousDecoder:
    """Continuous batching over ``backend``'s engine (module note). Not thread-safe: one driving thread."""

    def __init__(self, backend: LlamaCppBackend) -> None:
        self.backend, self.engine = backend, backend.engine
        self.max_seqs = backend.max_seqs
        self._calls: dict[Hashable, _Call] = {}
        self._waiting: list[_Part] = []
        self._running: list[_Part] = []
        self._free_ids = list(range(self.max_seqs))
        self._cells = 0

    @property
    def busy(self) -> bool:
        return bool(self._waiting or self._running)

    @property
    def running(self) -> bool:
        return bool(self._running)

    @property
    def running_calls(self) -> int:
        return len({part.call for part in self._running})

    @property
    def running_sequences(self) -> int:
        return sum(1 for part in self._running for s in part.sequences if not s.done)

    def add(self, key: Hashable, prompts: Sequence[str], seeds: Sequence[Sequence[int]], config: SamplingConfig,
            stop: Stop) -> None:
        """Queue a call; a prompt that cannot fit the context is refused here (InputError), before any work."""
        if len(prompts) != len(seeds):
            raise InputError(f"generate: {len(prompts)} prompts but {len(seeds)} seed lists")
        encoded = [self.backend.token_ids(p) for p in prompts]
        for i, ids in enumerate(encoded):
            if len(ids) + config.max_new_tokens > self.engine.n_ctx:
                raise InputError(f"prompt {i} has {len(ids)} tokens; with max_new_tokens={config.max_new_tokens} it "
                                 f"exceeds the context of {self.engine.n_ctx}")
        call = _Call(key, config, stop, [[None] * len(s) for s in seeds], sum(len(s) for s in seeds))
        self._calls[key] = call
        for index, (ids, pool_seeds) in enumerate(zip(encoded, seeds)):
            pool_seeds = list(pool_seeds)
            for start in range(0, len(pool_seeds), self.max_seqs):
                part = pool_seeds[start : start + self.max_seqs]
                self._waiting.append(_Part(key, index, start, ids, part, len(ids) + len(part) * config.max_new_tokens))
        if call.unfinished == 0:
            self._waiting = [p for p in self._waiting if p.call != key]

    def drop(self, key: Hashable) -> None:
        """Forget a call: its waiting prompts never start, its running sequences leave at the next step."""
        self._calls.pop(key, None)
        self._waiting = [p for p in self._waiting if p.call != key]
        for part in [p for p in self._running if p.call == key]:
            self._release(part)

    def step(self, admit: bool = True) -> list[tuple[Hashable, list[list[Generation]]]]:
        """Admit what fits (unless ``admit`` is false: the running sequences drain), decode one step; the calls
        completed by it, with their generations."""
        if not self._running:  # from idle: whoever used the engine meanwhile (a search, a direct call) left cells
            self.backend.forget_cache()
        admitted = self._admit() if admit else []
        entries: list[Entry] = []
        for part in admitted:
            seq_ids = tuple(s.seq_id for s in part.sequences)
            entries.extend(Entry(token, pos, seq_ids, wants_logits=pos == len(part.ids) - 1)
                           for pos, token in enumerate(part.ids))
        running = [s for part in self._running if part not in admitted for s in part.sequences if not s.done]
        entries.extend(Entry(s.tokens[-1], s.pos, (s.seq_id,), True) for s in running)
        for s in running:
            s.pos += 1
        if not entries:
            return []
        logits = self.engine.decode(entries, copy=False)
        # Rows: one per admitted prompt (its last token: every sample's first draw), then one per running sequence.
        rows = [row for row, part in zip(logits[: len(admitted)], admitted) for _ in part.sequences]
        live = [s for part in admitted for s in part.sequences] + running
        step_logits = np.concatenate([np.stack(rows), logits[len(admitted):]]) if rows else logits
        self._choose(live, step_logits)
        return self._collect()

    # ------------------------------------------------------------------
    def _admit(self) -> list[_Part]:
        admitted = []
        while self._waiting:
            part = self._waiting[0]
            if len(part.seeds) > len(self._free_ids) or self._cells + part.cells > self.engine.n_ctx:
                break  # in arrival order: a large prompt is not overtaken for ever by small ones
            self._waiting.pop(0)
            self._cells += part.cells
            part.sequences = [
                DecodingSequence(part.prompt_index, part.first_slot + j, seed, self._free_ids.pop(0),
                                 np.random.default_rng(seed), pos=len(part.ids))
                for j, seed in enumerate(part.seeds)
            ]
            self._running.append(part)
            admitted.append(part)
        return admitted

    def _choose(self, live: list[DecodingSequence], step_logits: np.ndarray) -> None:
        owner = {id(s): part for part in self._running for s in part.sequences}
        groups: dict[tuple[float, float], list[int]] = {}
        for row, s in enumerate(live):
            config = self._calls[owner[id(s)].call].config
            groups.setdefault((config.temperature, config.top_p), []).append(row)
        for (temperature, top_p), rows in groups.items():
            tokens, logprobs = token_sampling.choose(step_logits[rows], [live[r].rng for r in rows], temperature,
                                                     top_p, self.backend.choosers)
            for r, token, logprob in zip(rows, tokens, logprobs):
                s = live[r]
                call = self._calls[owner[id(s)].call]
                append_token(self.engine, s, int(token), float(logprob), call.stop, call.config.max_new_tokens)

    def _collect(self) -> list[tuple[Hashable, list[list[Generation]]]]:
        completed = []
        for part in list(self._running):
            call = self._calls[part.call]
            for s in part.sequences:
                if s.done and call.results[s.prompt_index][s.slot] is None:
                    call.results[s.prompt_index][s.slot] = s.generation()
                    call.unfinished -= 1
            if all(s.done for s in part.sequences):
                self._release(part)
            if call.unfinished == 0 and part.call in self._calls:
                completed.append((part.call, [[g for g in pool if g is not None] for pool in call.results]))
                del self._calls[part.call]
        return completed

    def _release(self, part: _Part) -> None:
        for s in part.sequences:
            self.engine.drop_sequence(s.seq_id)
            self._free_ids.append(s.seq_id)
        self._free_ids.sort()
        self._cells -= part.cells
        self._running.remove(part)

    def lend_engine(self) -> None:
        """Before another user of the engine (a tree search's reusing call): nothing may be running (the next
        step from idle starts from an empty cache)."""
        if self._running:
            raise RuntimeError("the continuous decoder is running sequences")
