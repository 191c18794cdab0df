"""Batched, KV-cached sampling of pools: n samples per prompt, one seed each.

Compute model (what ``flops.prefill_flops`` / ``flops.decode_flops`` count):
- each prompt is prefilled **once**; its KV cache is copied to its n sample
  rows, and its last-position logits give every sample's first token;
- prompts of equal token length are prefilled together (several problems per
  batch), and all rows of a batch decode together, one token per step;
- finished rows are dropped from the batch (and its KV cache) once at least
  ``compact_fraction`` of the rows have finished, so the compute spent tracks
  the compute counted (the waste is below that fraction of a step's rows).

Determinism: a sample depends only on (model, prompt, seed, config), never on
the batch it ran in. Token choice is Gumbel-max with counter-based noise: the
uniform for (seed, step, token) is a pure integer hash (murmur3's 32-bit
finaliser, computed in int64 with every product below 2^49), so no RNG state is
shared between rows. The sampling arithmetic runs in float64; bit-for-bit
equality across batch compositions then holds exactly for a float64 model and
up to float32 matmul rounding (a token flips only on a near-exact tie) for a
float32 one.

Token choice: temperature 0 is greedy (argmax); otherwise logits/temperature,
top-p (nucleus) filtering, then Gumbel-max — an exact draw from the truncated,
renormalised distribution. PAD/BOS/EOS are never drawn. ``Generation.logprob``
is the model's own log-probability of the chosen tokens at temperature 1 over
the full vocabulary (the raw scorer), whatever the sampling settings.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Sequence
from types import ModuleType
from typing import Any

import torch

from ttscale.errors import InputError
from ttscale.tiny.model import KVCache, TinyGPT
from ttscale.types import Generation, SamplingConfig

DEFAULT_MAX_BATCH_ROWS = 1024


# --------------------------------------------------------------------------- counter-based noise

_M32 = 0xFFFFFFFF


def _mul32(x: torch.Tensor, c: int) -> torch.Tensor:
    """(x · c) mod 2^32 for 0 <= x < 2^32, without int64 overflow (products < 2^48)."""
    lo, hi = c & 0xFFFF, c >> 16
    return (x * lo + (((x * hi) & 0xFFFF) << 16)) & _M32


def _fmix32(x: torch.Tensor) -> torch.Tensor:
    """murmur3's 32-bit finaliser on int64 tensors holding values in [0, 2^32)."""
    x = x ^ (x >> 16)
    x = _mul32(x, 0x85EBCA6B)
    x = x ^ (x >> 13)
    x = _mul32(x, 0xC2B2AE35)
    return x ^ (x >> 16)


def _fmix32_int(x: int) -> int:
    """The same finaliser on a Python int."""
    x &= _M32
    x ^= x >> 16
    x = (x * 0x85EBCA6B) & _M32
    x ^= x >> 13
    x = (x * 0xC2B2AE35) & _M32
    return x ^ (x >> 16)


def seed_key(seed: int) -> int:
    """Fold any Python int seed (mod 2^64) into a well-mixed 32-bit key."""
    s = seed & 0xFFFFFFFFFFFFFFFF
    return _fmix32_int((s & _M32) ^ _fmix32_int((s >> 32) ^ 0x5BD1E995))


def uniforms(keys: torch.Tensor, step: int, vocab: int) -> torch.Tensor:
    """Uniforms in (0, 1), shape (R, vocab), float64: a pure function of (key, step, token)."""
    step_key = _fmix32_int(step * 0x9E3779B9 + 0x7F4A7C15)
    row = _fmix32(keys ^ step_key)  # (R,)
    token = _fmix32(torch.arange(vocab, dtype=torch.int64, device=keys.device) + 0x632BE5AB)  # (vocab,)
    bits = _fmix32(row[:, None] ^ token[None, :])  # (R, vocab)
    return (bits.double() + 0.5) / 4294967296.0


def choose_tokens(
    logits: torch.Tensor, keys: torch.Tensor, step: int, config: SamplingConfig, banned: Sequence[int] = ()
) -> tuple[torch.Tensor, torch.Tensor]:
    """Pick one token per row. logits (R, vocab); keys (R,) int64 seed keys.

    Returns (tokens (R,) int64, log-probabilities (R,) float64 at temperature 1).
    """
    logits = logits.double()
    logprobs = torch.log_softmax(logits, dim=-1)  # the raw model, temperature 1
    scores = logits.clone()
    if banned:
        scores[:, list(banned)] = float("-inf")
    if config.temperature == 0:
        tokens = scores.argmax(dim=-1)
    else:
        scores = scores / config.temperature
        if config.top_p < 1.0:
            probs = torch.softmax(scores, dim=-1)
            sorted_probs, order = probs.sort(dim=-1, descending=True, stable=True)
            mass_before = sorted_probs.cumsum(dim=-1) - sorted_probs
            drop_sorted = mass_before >= config.top_p  # the top token always stays (mass_before = 0)
            drop = torch.zeros_like(drop_sorted).scatter(1, order, drop_sorted)
            scores = scores.masked_fill(drop, float("-inf"))
        gumbel = -torch.log(-torch.log(uniforms(keys, step, scores.shape[-1])))
        tokens = (scores + gumbel).argmax(dim=-1)
    return tokens, logprobs.gather(1, tokens[:, None]).squeeze(1)


# --------------------------------------------------------------------------- helpers


def prompt_ids_of(tokenizer: Any, prompt: str, index: int) -> list[int]:
    try:
        if hasattr(tokenizer, "encode_prompt"):
            return list(tokenizer.encode_prompt(prompt))
        return [tokenizer.BOS] + list(tokenizer.encode(prompt))
    except InputError as exc:
        raise InputError(f"prompts[{index}]: {exc}") from None


def stop_ids_of(tokenizer: Any, stop: str) -> list[int]:
    if not stop:
        raise InputError("stop: must be a non-empty string")
    try:
        return list(tokenizer.encode(stop))
    except InputError as exc:
        raise InputError(f"stop: {exc}") from None


def generation_of(tokenizer: Any, ids: list[int], logprob: float, stopped: bool, stop_len: int, seed: int) -> Generation:
    text_ids = ids[:-stop_len] if stopped else ids
    return Generation(tokenizer.decode(text_ids), tuple(ids), float(logprob), stopped, seed)


def max_steps(model: TinyGPT, prompt_len: int, config: SamplingConfig) -> int:
    """New tokens a row may produce: max_new_tokens, and no position past context_length."""
    return min(config.max_new_tokens, model.config.context_length - prompt_len + 1)


# --------------------------------------------------------------------------- batched sampler


# One decode step: feed each row's token (R,) at ``pos`` into the model and ``cache`` (written in place);
# return the next logits (R, vocab) and, for a step whose cost varies by row, each row's FLOPs (R,), else
# None. ``live`` marks the rows that still belong to a sample (the others are computed but not counted).
DecodeStep = Callable[[KVCache, torch.Tensor, int, torch.Tensor], tuple[torch.Tensor, torch.Tensor | None]]


def full_model_step(model: TinyGPT) -> DecodeStep:
    """The plain step: every layer for every row; its cost is the card's formula (None here)."""

    def step(cache: KVCache, tokens: torch.Tensor, pos: int, live: torch.Tensor):
        logits, _ = model(tokens[:, None], kv_cache=cache, start_pos=pos)
        return logits[:, -1], None  # (R_live, vocab)

    return step


def _decode_rows(
    model: TinyGPT,
    cache: KVCache,
    logits: torch.Tensor,
    keys: torch.Tensor,
    prompt_len: int,
    config: SamplingConfig,
    stop_ids: list[int],
    banned: Sequence[int],
    compact_fraction: float,
    step_fn: DecodeStep,
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor]:
    """Decode R rows that share a prompt length. logits (R, vocab) give each row's first token.

    Returns (tokens (R, steps), n_tokens (R,), logprob (R,), stopped (R,), decode FLOPs (R,) float64: what
    ``step_fn`` reported for each row's tokens, zeros when it reports none).
    """
    R = logits.shape[0]
    steps = max_steps(model, prompt_len, config)
    out = torch.zeros(R, steps, dtype=torch.int64)
    n_tokens = torch.zeros(R, dtype=torch.int64)
    total_logprob = torch.zeros(R, dtype=torch.float64)
    stopped = torch.zeros(R, dtype=torch.bool)
    decode = torch.zeros(R, dtype=torch.float64)
    stop = torch.tensor(stop_ids, dtype=torch.int64)
    rows = torch.arange(R)  # batch row -> output row
    live = torch.ones(R, dtype=torch.bool)  # batch rows still generating
    for step in range(steps):
        tokens, logprob = choose_tokens(logits, keys, step, config, banned)
        idx = rows[live]
        out[idx, step] = tokens[live]
        total_logprob[idx] += logprob[live]
        n_tokens[idx] = step + 1
        if step + 1 >= len(stop):
            hit = (out[rows, step + 1 - len(stop) : step + 1] == stop).all(dim=1) & live
            stopped[rows[hit]] = True
            live &= ~hit
        if step + 1 == steps or not live.any():
            break
        dead = int((~live).sum())
        if dead and dead >= compact_fraction * live.numel():
            keep = live.nonzero().squeeze(1)
            cache, rows, keys, tokens = cache.select(keep), rows[keep], keys[keep], tokens[keep]
            live = torch.ones(keep.numel(), dtype=torch.bool)
        logits, spent = step_fn(cache, tokens, prompt_len + step, live)
        if spent is not None:  # finished rows still in the batch belong to no sample: not counted
            decode[rows[live]] += spent[live]
    return out, n_tokens, total_logprob, stopped, decode


def sample_pools(
    model: TinyGPT,
    tokenizer: ModuleType | Any,
    prompts: Sequence[str],
    n: int,
    config: SamplingConfig,
    seeds: Sequence[Sequence[int]],
    stop: str = "\n",
    max_batch_rows: int = DEFAULT_MAX_BATCH_ROWS,
    compact_fraction: float = 0.125,
    step_fn: DecodeStep | None = None,
) -> list[list[Generation]]:
    """n samples for each prompt: one list of Generations per prompt, in seed order.

    ``step_fn`` replaces the plain decode step (``full_model_step``), e.g. by an early exit; a step that
    reports its FLOPs puts each sample's total in ``Generation.decode_flops``.

    ``seeds[i]`` holds the n seeds of prompt i. ``max_batch_rows`` bounds the
    rows decoded at once (memory: rows x n_layers x 2 x positions x d_model
    floats of KV cache). ``tokenizer`` is ``ttscale.tiny.tokenizer`` or anything
    with ``encode``/``decode``/``encode_prompt`` (or ``BOS``).
    """
    if isinstance(n, bool) or not isinstance(n, int) or n <= 0:
        raise InputError(f"n: must be a positive int, got {n!r}")
    if len(seeds) != len(prompts):
        raise InputError(f"seeds: need one list per prompt ({len(prompts)}), got {len(seeds)}")
    for i, s in enumerate(seeds):
        if len(s) != n:
            raise InputError(f"seeds[{i}]: need n={n} seeds, got {len(s)}")
    if max_batch_rows <= 0:
        raise InputError(f"max_batch_rows: must be positive, got {max_batch_rows!r}")
    stop_ids = stop_ids_of(tokenizer, stop)
    banned = tuple(getattr(tokenizer, "SPECIAL_IDS", ()))
    context = model.config.context_length
    encoded = [prompt_ids_of(tokenizer, p, i) for i, p in enumerate(prompts)]
    for i, ids in enumerate(encoded):
        if len(ids) > context:
            raise InputError(f"prompts[{i}]: {len(ids)} tokens (with BOS) exceed context_length={context}")

    by_length: dict[int, list[int]] = {}
    for i, ids in enumerate(encoded):
        by_length.setdefault(len(ids), []).append(i)
    results: list[list[Generation | None]] = [[None] * n for _ in prompts]
    prompts_per_batch = max(1, max_batch_rows // n)
    step = step_fn or full_model_step(model)
    with torch.inference_mode():
        for length, members in sorted(by_length.items()):
            capacity = min(context, length + config.max_new_tokens - 1)
            for start in range(0, len(members), prompts_per_batch):
                chunk = members[start : start + prompts_per_batch]
                idx = torch.tensor([encoded[i] for i in chunk], dtype=torch.int64)  # (g, P)
                logits, cache = model(idx)  # one prefill per prompt, every layer
                last = logits[:, -1]  # (g, vocab)
                # Row r of the chunk is sample r % n of prompt chunk[r // n].
                row_prompt = torch.arange(len(chunk)).repeat_interleave(n)
                for r0 in range(0, len(chunk) * n, max_batch_rows):
                    part = row_prompt[r0 : r0 + max_batch_rows]
                    owners = [(chunk[int(p)], (r0 + j) % n) for j, p in enumerate(part)]
                    keys = torch.tensor([seed_key(seeds[i][k]) for i, k in owners], dtype=torch.int64)
                    out, n_tok, logprob, stopped, decode = _decode_rows(
                        model, cache.select(part, capacity), last.index_select(0, part), keys,
                        length, config, stop_ids, banned, compact_fraction, step,
                    )
                    for j, (i, k) in enumerate(owners):
                        ids = out[j, : int(n_tok[j])].tolist()
                        made = generation_of(
                            tokenizer, ids, float(logprob[j]), bool(stopped[j]), len(stop_ids), seeds[i][k]
                        )
                        results[i][k] = made if step_fn is None else dataclasses.replace(
                            made, decode_flops=float(decode[j]))
    return [[g for g in pool if g is not None] for pool in results]


# --------------------------------------------------------------------------- reference


def sample_one_at_a_time_no_cache(
    model: TinyGPT,
    tokenizer: ModuleType | Any,
    prompt: str,
    seeds: Sequence[int],
    config: SamplingConfig,
    stop: str = "\n",
) -> list[Generation]:
    """The slow reference: one sequence at a time, the whole sequence recomputed every step.

    Same token-choice rule as ``sample_pools``, so for equal seeds the two agree
    (exactly for a float64 model or greedy decoding).
    """
    stop_ids = stop_ids_of(tokenizer, stop)
    banned = tuple(getattr(tokenizer, "SPECIAL_IDS", ()))
    prompt_ids = prompt_ids_of(tokenizer, prompt, 0)
    if len(prompt_ids) > model.config.context_length:
        raise InputError(
            f"prompt: {len(prompt_ids)} tokens (with BOS) exceed context_length={model.config.context_length}"
        )
    generations = []
    with torch.inference_mode():
        for seed in seeds:
            key = torch.tensor([seed_key(seed)], dtype=torch.int64)
            ids: list[int] = []
            total, stopped = 0.0, False
            for step in range(max_steps(model, len(prompt_ids), config)):
                logits, _ = model(torch.tensor([prompt_ids + ids], dtype=torch.int64))
                token, logprob = choose_tokens(logits[:, -1], key, step, config, banned)
                ids.append(int(token))
                total += float(logprob)
                if ids[-len(stop_ids) :] == stop_ids:
                    stopped = True
                    break
            generations.append(generation_of(tokenizer, ids, total, stopped, len(stop_ids), seed))
    return generations
