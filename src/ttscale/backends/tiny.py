"""The lab's tiny torch models as a backend: batched, KV-cached sampling with
the prompt prefilled once per pool.

``load_checkpoint_backend("PATH[#NAME]")`` (model spec ``tiny:PATH[#NAME]``)
opens a lab checkpoint (``ttscale.tiny.checkpoints``: the weights and the model
card), so lab models can be swept like any other model; the backend is named
after the card, or NAME when given.
"""

from __future__ import annotations

import dataclasses
import pickle
from dataclasses import dataclass
from pathlib import Path
from typing import Sequence

import torch

from ttscale.errors import InputError
from ttscale.backends import Stop, stop_strings
from ttscale.backends.threads import threads_or_free
from ttscale.tiny import sampler, tokenizer
from ttscale.tiny.model import TinyGPT
from ttscale.types import Generation, ModelCard, SamplingConfig


def by_sample_count(prompts: Sequence[str], seeds: Sequence[Sequence[int]], stop: Stop, draw) -> list[list[Generation]]:
    """Generations of a call made of sampler calls: the tiny samplers draw the same number of samples for
    every prompt of a call, and a resumed pool may miss different indices per problem, so prompts are
    grouped by how many samples they still need; ``draw(prompts, seed lists, n, stop)`` draws one group.
    The samplers stop on one string; with several, samples stop at the first and the task cuts at the
    others when it grades."""
    one_stop = (stop_strings(stop) or ("",))[0]
    results: list[list[Generation] | None] = [None] * len(prompts)
    by_count: dict[int, list[int]] = {}
    for i, s in enumerate(seeds):
        by_count.setdefault(len(s), []).append(i)
    for count, indices in by_count.items():
        pools = draw([prompts[i] for i in indices], [list(seeds[i]) for i in indices], count, one_stop)
        for i, pool in zip(indices, pools):
            results[i] = pool
    return [r if r is not None else [] for r in results]


@dataclass
class TinyBackend:
    name: str
    card: ModelCard
    model: TinyGPT
    max_batch_rows: int = 1024
    prefill_shared: bool = True

    def count_tokens(self, text: str) -> int:
        # What the sampler prefills: BOS + the prompt's characters.
        return len(tokenizer.encode_prompt(text))

    def generate(
        self, prompts: Sequence[str], seeds: Sequence[Sequence[int]], config: SamplingConfig, stop: Stop
    ) -> list[list[Generation]]:
        return by_sample_count(prompts, seeds, stop, lambda group, seed_lists, n, one_stop: sampler.sample_pools(
            self.model, tokenizer, group, n=n, config=config, seeds=seed_lists, stop=one_stop,
            max_batch_rows=self.max_batch_rows))

    def close(self) -> None:
        """Nothing to free: the model belongs to the caller."""


def load_checkpoint_backend(rest: str, threads: int | None = None) -> TinyBackend:
    """The backend of ``tiny:PATH[#NAME]``; ``threads`` sets torch's CPU threads (None: the free cores)."""
    from ttscale.tiny.checkpoints import load_result

    path_text, _, name = rest.partition("#")
    path = Path(path_text.strip()).expanduser()
    if not path_text.strip():
        raise InputError(f"model spec 'tiny:{rest}': give a checkpoint file, e.g. 'tiny:~/.cache/ttscale/tinygpt-....pt'")
    if not path.is_file():
        raise InputError(f"model spec 'tiny:{rest}': no such checkpoint file {str(path)!r}")
    try:
        result = load_result(path, name.strip() or None)
    except (OSError, EOFError, RuntimeError, ValueError, KeyError, TypeError, pickle.UnpicklingError) as exc:
        raise InputError(f"model spec 'tiny:{rest}': {str(path)!r} is not a readable lab checkpoint ({exc})") from None
    # torch's default (every core) collapses when another process holds one (backends.threads).
    torch.set_num_threads(threads_or_free(threads))
    card = dataclasses.replace(result.card, provenance=f"{result.card.provenance}; checkpoint {path.resolve()}")
    return TinyBackend(name=card.name, card=card, model=result.model)
