"""The log-probabilities switch (issue 11, item 6): ``logprobs=False`` never asks
for them, samples say NaN, and ``gives_logprobs`` tells a strategy up front."""

import math

import pytest
from fake_openai_server import completion_text

from ttscale.errors import InputError
from ttscale.types import SamplingConfig

CONFIG = SamplingConfig(temperature=1.0, top_p=0.9, max_new_tokens=6)


def test_logprobs_off_never_asks_and_samples_still_have_their_tokens(fake_server, make_backend):
    server = fake_server("ignore-n", logprobs="openai")  # would send them if asked
    backend = make_backend(server, logprobs=False)
    assert not backend.gives_logprobs
    pool = backend.generate(["p"], [[1, 2]], CONFIG, "\n")[0]
    assert all("logprobs" not in r.body for r in server.completion_requests())
    for generation, seed in zip(pool, [1, 2]):
        text = completion_text("p", seed, 0)[: CONFIG.max_new_tokens]
        assert generation.error is None and generation.text == text
        assert generation.token_ids == tuple(ord(c) for c in text)  # from the tokenize endpoint
        assert math.isnan(generation.logprob)


def test_logprobs_on_by_default_until_the_server_refuses_them(fake_server, make_backend):
    server = fake_server("400", times=1, error_message="logprobs is not supported")
    backend = make_backend(server)
    assert backend.gives_logprobs
    [[generation]] = backend.generate(["p"], [[5]], CONFIG, "\n")
    assert generation.error is None and not backend.gives_logprobs


def test_logprobs_must_be_a_bool(fake_server, make_backend):
    with pytest.raises(InputError, match="logprobs must be True or False, got 'no'"):
        make_backend(fake_server("ok"), logprobs="no")
