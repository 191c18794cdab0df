"""In-process llama.cpp backend (``gguf:PATH``, ``gemma3-270m``): pools decoded as a batch.

For each prompt, all its samples decode together: the prompt is prefilled once
with every sample's sequence id (its KV cells are shared), then each step feeds
one token per live sequence in one ``llama_decode``. Several prompts are packed
into one wave while the wave's sequences fit ``max_seqs`` and its cells fit the
context. Tokens are chosen in ``token_sampling`` with one generator per sample
seed, so a sample depends on (model, prompt, seed, settings) — up to the float
rounding of llama.cpp's batched kernels, which can differ slightly with the
batch's shape.

A sequence ends at the first stop string, at an end-of-generation token, or at
``max_new_tokens`` (``llama_cpp_sequences``).

``generate`` starts every wave from an empty cache. ``generate_reusing`` (``prefix_reuse``)
keeps the previous wave's cells: waves alternate between two halves of the sequence ids,
so a new wave copies what it shares with the last one (``copy_prefix``) before dropping it.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Sequence

import numpy as np

from ttscale.backends import Stop, token_sampling
from ttscale.backends.chat_posing import PromptStyle, chat_template_of
from ttscale.backends.llama_cpp_engine import Entry, LlamaEngine
from ttscale.backends.llama_cpp_sequences import DecodingSequence, append_token
from ttscale.backends.prefix_reuse import longest_held_prefix
from ttscale.backends.streaming import FinishedSample, SampleSink
from ttscale.backends.threads import MAX_AUTO_THREADS, threads_or_free
from ttscale.errors import InputError
from ttscale.types import Generation, ModelCard, SamplingConfig


def _kept(prompt_index: int) -> bool:
    return False


class LlamaCppBackend:
    prefill_shared = True

    def __init__(
        self,
        name: str,
        card: ModelCard,
        model_path: str | os.PathLike,
        n_threads: int | None = None,
        max_seqs: int = 16,
        n_ctx: int = 8192,
        prompt_style: PromptStyle = PromptStyle.raw,
    ):
        if not isinstance(max_seqs, int) or not 1 <= max_seqs <= 128:
            # two waves' sequence ids (2 x max_seqs) must fit llama.cpp's 256
            raise InputError(f"max_seqs must be an integer in 1..128, got {max_seqs!r}")
        self.name = name
        self.card = card
        self.model_path = str(model_path)
        self.n_threads = threads_or_free(n_threads, cap=MAX_AUTO_THREADS)
        self.max_seqs = max_seqs
        self.prompt_style = PromptStyle(prompt_style)
        self.chat = None
        self._posed: dict[str, str] = {}
        if self.prompt_style is PromptStyle.chat:
            self.chat = chat_template_of(model_path)
            if self.chat is None:
                raise InputError(f"model {name!r}: its GGUF has no chat template (tokenizer.chat_template), so its "
                                 "prompts can only be posed raw")
        self.engine = LlamaEngine(model_path, n_ctx=n_ctx, max_seqs=max_seqs, n_threads=self.n_threads,
                                  seq_ids=2 * max_seqs)
        # The tokens whose cells each sequence of the last wave holds, and the half of the ids it used.
        self._held: dict[int, list[int]] = {}
        self._half = 0
        # Token choice runs between llama.cpp calls, on the cores llama.cpp just left idle.
        self._choosers = ThreadPoolExecutor(self.n_threads, thread_name_prefix="ttscale-choose") if self.n_threads > 1 else None

    @classmethod
    def from_gguf(cls, path: str, **kwargs) -> "LlamaCppBackend":
        from ttscale.cards import card_from_gguf

        card = kwargs.pop("card", None) or card_from_gguf(path).card
        return cls(card.name, card, path, **kwargs)

    @classmethod
    def gemma3_270m(cls, **kwargs) -> "LlamaCppBackend":
        from ttscale.cards import gemma3_270m, gemma3_270m_path

        card = kwargs.pop("card", None) or gemma3_270m().card
        return cls(card.name, card, gemma3_270m_path(), **kwargs)

    def close(self) -> None:
        if self._choosers is not None:
            self._choosers.shutdown()
        self.engine.close()

    def pose(self, prompt: str) -> str:
        """A task's prompt as this model decodes from it (``chat_posing``)."""
        if self.chat is None:
            return prompt
        if prompt not in self._posed:  # the same prompt is posed for every draw and tree-search node
            self._posed[prompt] = self.chat.user_turn(prompt)
        return self._posed[prompt]

    @property
    def choosers(self) -> ThreadPoolExecutor | None:
        """The threads that choose tokens between llama.cpp calls (None: one thread)."""
        return self._choosers

    def token_ids(self, text: str) -> list[int]:
        """The tokens this model prefills for ``text`` (posed text: special-token strings read as tokens)."""
        return self._tokenize(text)

    def _tokenize(self, text: str) -> list[int]:
        if self.chat is None:
            return self.engine.tokenize(text)
        return self.engine.tokenize(text, add_bos=not self.chat.writes_bos(text), special=True)

    def count_tokens(self, text: str) -> int:
        return len(self._tokenize(text))

    # ------------------------------------------------------------------
    def generate(
        self, prompts: Sequence[str], seeds: Sequence[Sequence[int]], config: SamplingConfig, stop: Stop
    ) -> list[list[Generation]]:
        return self.generate_streaming(prompts, seeds, config, stop, lambda finished: None)

    def generate_streaming(
        self, prompts: Sequence[str], seeds: Sequence[Sequence[int]], config: SamplingConfig, stop: Stop,
        finished: SampleSink,
    ) -> list[list[Generation]]:
        """``generate``; each decode step's finished samples also go to ``finished`` at once (see
        ``backends.streaming``): a slow wave is stored sample by sample, not when the call returns."""
        return self._generate(prompts, seeds, config, stop, finished, reuse=False)[0]

    def generate_dropping(
        self, prompts: Sequence[str], seeds: Sequence[Sequence[int]], config: SamplingConfig, stop: Stop,
        dropped: Callable[[int], bool],
    ) -> list[list[Generation]]:
        """``generate``, where a prompt for which ``dropped(index)`` turns true stops decoding at the next step
        (its sequences leave the batch, the others go on); a dropped prompt's list holds only the samples that
        finished before. A server drops the prompts of a request whose client went away."""
        return self._generate(prompts, seeds, config, stop, lambda finished: None, reuse=False, dropped=dropped)[0]

    def generate_reusing(
        self, prompts: Sequence[str], seeds: Sequence[Sequence[int]], config: SamplingConfig, stop: Stop
    ) -> tuple[list[list[Generation]], list[tuple[int, ...]]]:
        """``generate`` from the cells the last wave left (``prefix_reuse.PrefixReusingBackend``)."""
        return self._generate(prompts, seeds, config, stop, lambda finished: None, reuse=True)

    def forget_cache(self) -> None:
        self.engine.clear()
        self._held = {}

    def _generate(self, prompts, seeds, config: SamplingConfig, stop: Stop, finished: SampleSink, reuse: bool,
                  dropped: Callable[[int], bool] = _kept) -> tuple[list[list[Generation]], list[tuple[int, ...]]]:
        if len(prompts) != len(seeds):
            raise InputError(f"generate: {len(prompts)} prompts but {len(seeds)} seed lists")
        encoded = [self._tokenize(p) for p in prompts]
        for i, ids in enumerate(encoded):
            if len(ids) + config.max_new_tokens > self.engine.n_ctx:
                raise InputError(
                    f"prompt {i} has {len(ids)} tokens; with max_new_tokens={config.max_new_tokens} it exceeds "
                    f"the context of {self.engine.n_ctx}"
                )
        results: list[list[Generation | None]] = [[None] * len(s) for s in seeds]
        cached: list[list[int]] = [[] for _ in prompts]
        for wave in self._waves(encoded, seeds, config.max_new_tokens):
            wave = [part for part in wave if not dropped(part[0])]  # a dropped prompt's later waves never start
            if not wave:
                continue
            try:
                decoded = self._decode_wave(wave, encoded, config, stop, finished, reuse, cached, dropped)
            except BaseException:  # the cache is in an unknown state: the next call must not trust it
                self.forget_cache()
                raise
            for seq in decoded:
                if not seq.dropped:
                    results[seq.prompt_index][seq.slot] = seq.generation()
        return [[g for g in pool if g is not None] for pool in results], [tuple(c) for c in cached]

    def _waves(self, encoded, seeds, max_new: int) -> list[list[tuple[int, int, list[int]]]]:
        """Groups of (prompt index, first slot, seeds) whose sequences and cells fit one context.

        A prompt with more samples than ``max_seqs`` is split across waves (its
        prefill is then paid once per wave: the accounting in ``flops`` charges
        it once per pool, an undercount only when n > max_seqs).
        """
        waves: list[list[tuple[int, int, list[int]]]] = []
        current: list[tuple[int, int, list[int]]] = []
        seqs = cells = 0
        for index, (ids, pool_seeds) in enumerate(zip(encoded, seeds)):
            pool_seeds = list(pool_seeds)
            for start in range(0, len(pool_seeds), self.max_seqs):
                part = pool_seeds[start : start + self.max_seqs]
                need = len(ids) + len(part) * max_new
                if current and (seqs + len(part) > self.max_seqs or cells + need > self.engine.n_ctx):
                    waves.append(current)
                    current, seqs, cells = [], 0, 0
                current.append((index, start, part))
                seqs += len(part)
                cells += need
        if current:
            waves.append(current)
        return waves

    def _decode_wave(self, wave, encoded, config: SamplingConfig, stop: Stop, finished: SampleSink,
                     reuse: bool, cached: list[list[int]], dropped: Callable[[int], bool]) -> list[DecodingSequence]:
        """Decode one wave; ``cached[prompt]`` gets the tokens its samples found in the cache."""
        engine = self.engine
        held = self._held if reuse else {}
        if not reuse:
            engine.clear()
        base = self._half * self.max_seqs  # the last wave used the other half of the ids
        sequences: list[DecodingSequence] = []
        prefill: list[Entry] = []
        first_rows: list[list[DecodingSequence]] = []
        for prompt_index, first_slot, part in wave:
            ids = encoded[prompt_index]
            owned = [
                DecodingSequence(prompt_index, first_slot + j, seed, base + len(sequences) + j, np.random.default_rng(seed),
                          pos=len(ids))
                for j, seed in enumerate(part)
            ]
            sequences.extend(owned)
            shared, source = longest_held_prefix(ids, held)
            if shared and not engine.holds_from_start(source, shared):
                shared = 0  # its early cells were reused (a sliding-window cache): prefill it all
            for s in owned:
                if shared:
                    engine.copy_prefix(source, s.seq_id, shared)
            cached[prompt_index].append(shared)
            seq_ids = tuple(s.seq_id for s in owned)
            for pos in range(shared, len(ids)):
                prefill.append(Entry(ids[pos], pos, seq_ids, wants_logits=pos == len(ids) - 1))
            first_rows.append(owned)
        for seq_id in held:  # after the copies: cells still shared stay
            engine.drop_sequence(seq_id)
        logits = engine.decode(prefill)
        # Every sample of a prompt draws its first token from the prompt's last logits.
        rows = [row for row, owned in zip(logits, first_rows) for _ in owned]
        live = [s for owned in first_rows for s in owned]
        step_logits = np.stack(rows)
        while live:
            tokens, logprobs = token_sampling.choose(
                step_logits, [s.rng for s in live], config.temperature, config.top_p, self._choosers
            )
            for seq, token, logprob in zip(live, tokens, logprobs):
                append_token(engine, seq, int(token), float(logprob), stop, config.max_new_tokens)
            for s in live:
                if not s.done and dropped(s.prompt_index):
                    s.done = s.dropped = True
            done = [s for s in live if s.done and not s.dropped]
            if done:
                finished([FinishedSample(s.prompt_index, s.slot, s.generation()) for s in done])
            live = [s for s in live if not s.done]
            if not live:
                break
            entries = [Entry(s.tokens[-1], s.pos, (s.seq_id,), True) for s in live]
            for s in live:
                s.pos += 1
            step_logits = engine.decode(entries, copy=False)  # read before the next decode
        # A finished sequence's last token was chosen, never decoded: its cells end one token before.
        self._held = {s.seq_id: encoded[s.prompt_index] + s.tokens[:-1] for s in sequences}
        self._half = 1 - self._half
        return sequences
