"""The lab's tiny torch models as a backend: batched, KV-cached sampling with
the prompt prefilled once per pool."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Sequence

from ttscale.lab import sampler, tokenizer
from ttscale.lab.model import TinyGPT
from ttscale.types import ModelCard, SamplingConfig


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
        self, prompts: Sequence[str], seeds: Sequence[Sequence[int]], config: SamplingConfig, stop: str
    ) -> list[list[sampler.Generation]]:
        # The sampler draws the same number of samples for every prompt of a
        # call; a resumed pool may miss different indices per problem, so
        # prompts are grouped by how many samples they still need.
        results: list[list[sampler.Generation] | None] = [None] * len(prompts)
        by_count: dict[int, list[int]] = {}
        for i, s in enumerate(seeds):
            by_count.setdefault(len(s), []).append(i)
        for count, indices in by_count.items():
            pools = sampler.sample_pools(
                self.model,
                tokenizer,
                [prompts[i] for i in indices],
                n=count,
                config=config,
                seeds=[list(seeds[i]) for i in indices],
                stop=stop,
                max_batch_rows=self.max_batch_rows,
            )
            for i, pool in zip(indices, pools):
                results[i] = pool
        return [r if r is not None else [] for r in results]
