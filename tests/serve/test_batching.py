"""Concurrent requests on one in-process model decode together (issue 14): calls waiting for the engine are
joined into one engine call and each caller gets exactly what its own call gives; a cancelled request's
call never runs, or leaves the batch at the next step; one bad request in a joined call fails alone.
On the real SmolLM2-135M through llama.cpp."""

from __future__ import annotations

import threading
import time

import pytest

from ttscale.cards import installed_path
from ttscale.errors import InputError
from ttscale.serve.batching import BatchingBackend, RequestCancelled, cancelled_by
from ttscale.types import SamplingConfig

MODEL = "smollm2-135m"
pytestmark = pytest.mark.skipif(installed_path(MODEL) is None,
                                reason=f"{MODEL} is not installed (scripts/setup.sh pulls it)")
CONFIG = SamplingConfig(temperature=0.9, top_p=1.0, max_new_tokens=12)


@pytest.fixture(scope="module")
def model():
    from ttscale.backends.registry import backend_from_spec

    backend = backend_from_spec(MODEL, threads=1, max_seqs=8)
    yield backend
    backend.close()


class Gated:
    """The real backend behind a gate: each engine call is recorded, and waits until ``opened``."""

    def __init__(self, inner) -> None:
        self.inner = inner
        self.name, self.card, self.prefill_shared = inner.name, inner.card, inner.prefill_shared
        self.opened, self.entered = threading.Event(), threading.Event()
        self.calls: list[list[str]] = []

    def count_tokens(self, text: str) -> int:
        return self.inner.count_tokens(text)

    def generate_dropping(self, prompts, seeds, config, stop, dropped):
        self.calls.append(list(prompts))
        self.entered.set()
        assert self.opened.wait(60)
        return self.inner.generate_dropping(prompts, seeds, config, stop, dropped)

    def generate(self, prompts, seeds, config, stop):
        return self.generate_dropping(prompts, seeds, config, stop, lambda i: False)

    def close(self) -> None:
        pass


def in_thread(work):
    """Run ``work`` in a thread; returns (thread, box) where box holds its result or its exception."""
    box: dict = {}

    def run():
        try:
            box["result"] = work()
        except BaseException as exc:
            box["error"] = exc

    thread = threading.Thread(target=run)
    thread.start()
    return thread, box


def wait_for(condition, seconds: float = 30) -> None:
    deadline = time.monotonic() + seconds
    while not condition():
        assert time.monotonic() < deadline
        time.sleep(0.01)


def test_waiting_calls_are_decoded_together_and_each_gets_its_own_samples(model):
    gated = Gated(model)
    batcher = BatchingBackend(gated, observe=lambda requests, sequences: seen.append((requests, sequences)))
    seen: list[tuple[int, int]] = []
    first, first_box = in_thread(lambda: batcher.generate(["Once upon a time"], [[1]], CONFIG, ()))
    assert gated.entered.wait(30)  # the engine is busy with the first call
    second, second_box = in_thread(lambda: batcher.generate(["The sky is"], [[2, 3]], CONFIG, ()))
    third, third_box = in_thread(lambda: batcher.generate(["Water boils at"], [[4]], CONFIG, ()))
    wait_for(lambda: batcher.waiting == 2)
    gated.opened.set()
    for thread in (first, second, third):
        thread.join(60)
    assert gated.calls == [["Once upon a time"], ["The sky is", "Water boils at"]]  # the two waiting: one call
    assert seen == [(1, 1), (2, 3)]
    # Each caller got what its own call gives alone (same seeds, same settings).
    assert second_box["result"] == model.generate(["The sky is"], [[2, 3]], CONFIG, ())
    assert third_box["result"] == model.generate(["Water boils at"], [[4]], CONFIG, ())
    assert first_box["result"] == model.generate(["Once upon a time"], [[1]], CONFIG, ())
    batcher.close()


def test_a_cancelled_waiting_call_never_reaches_the_engine(model):
    gated = Gated(model)
    batcher = BatchingBackend(gated)
    first, _ = in_thread(lambda: batcher.generate(["Once upon a time"], [[1]], CONFIG, ()))
    assert gated.entered.wait(30)
    gone = threading.Event()

    def cancelled_request():
        with cancelled_by(gone):
            return batcher.generate(["Never decoded"], [[5, 6]], CONFIG, ())

    second, box = in_thread(cancelled_request)
    wait_for(lambda: batcher.waiting == 1)
    gone.set()  # its client went away while it waited
    gated.opened.set()
    first.join(60)
    second.join(60)
    assert isinstance(box["error"], RequestCancelled)
    assert gated.calls == [["Once upon a time"]]
    batcher.close()


def test_one_bad_request_in_a_joined_call_fails_alone(model):
    gated = Gated(model)
    batcher = BatchingBackend(gated)
    first, _ = in_thread(lambda: batcher.generate(["Once upon a time"], [[1]], CONFIG, ()))
    assert gated.entered.wait(30)
    too_long = "word " * 9000  # more tokens than the context holds
    bad, bad_box = in_thread(lambda: batcher.generate([too_long], [[7]], CONFIG, ()))
    good, good_box = in_thread(lambda: batcher.generate(["The sky is"], [[2]], CONFIG, ()))
    wait_for(lambda: batcher.waiting == 2)
    gated.opened.set()
    for thread in (first, bad, good):
        thread.join(60)
    assert isinstance(bad_box["error"], InputError) and "exceeds the context" in str(bad_box["error"])
    assert good_box["result"] == model.generate(["The sky is"], [[2]], CONFIG, ())
    assert gated.calls[1:] == [[too_long, "The sky is"], [too_long], ["The sky is"]]
    batcher.close()


def test_a_dropped_prompt_leaves_the_batch_and_the_others_finish(model):
    steps = {"n": 0}

    def dropped(index: int) -> bool:  # asked per live sequence per step: prompt 0 goes after a few steps
        if index == 0:
            steps["n"] += 1
        return index == 0 and steps["n"] > 8

    config = SamplingConfig(temperature=0.9, top_p=1.0, max_new_tokens=40)
    pools = model.generate_dropping(["Once upon a time", "The sky is"], [[1, 2, 3, 4], [5]], config, (), dropped)
    assert len(pools[0]) < 4  # its unfinished samples were dropped, not returned half-done
    assert all(len(g.token_ids) <= 3 for g in pools[0])
    assert len(pools[1]) == 1 and len(pools[1][0].token_ids) > 3


# -- continuous batching: the llama.cpp model itself behind the batcher ------------------------------------------


@pytest.fixture
def own_model():
    """A model of the test's own: closing its batcher closes it."""
    from ttscale.backends.registry import backend_from_spec

    return backend_from_spec(MODEL, threads=1, max_seqs=8)


def test_a_call_that_arrives_mid_decode_joins_the_running_batch_and_leaves_when_done(own_model):
    model = own_model
    steps: list[tuple[int, int]] = []
    first_step = threading.Event()

    def observe(requests: int, sequences: int) -> None:
        steps.append((requests, sequences))
        first_step.set()

    batcher = BatchingBackend(model, observe=observe)
    long_config = SamplingConfig(temperature=0.0, top_p=1.0, max_new_tokens=48)
    short_config = SamplingConfig(temperature=0.0, top_p=1.0, max_new_tokens=3)  # other settings: still joins
    finished: list[str] = []

    def call(name, prompt, seeds, config):
        def run():
            result = batcher.generate([prompt], [seeds], config, ())
            finished.append(name)
            return result
        return run

    long_thread, long_box = in_thread(call("long", "def fibonacci(n):", [1, 2], long_config))
    assert first_step.wait(30)  # the long call is decoding
    short_thread, short_box = in_thread(call("short", "The sky is", [3], short_config))
    short_thread.join(60)
    long_thread.join(60)
    long_pool = long_box["result"][0]
    assert all(len(g.token_ids) > 6 for g in long_pool)  # it was still running when the short call came
    assert finished == ["short", "long"]  # the short call did not wait for the long one to end
    assert (2, 3) in steps  # one decode step held both calls' sequences
    # A short greedy sample is the call's own alone. (A long one may part from it at a near tie: llama.cpp's
    # float rounding differs when a step also prefills another prompt; see backends.llama_cpp_continuous.)
    assert [g.text for g in short_box["result"][0]] == [g.text for g in model.generate(["The sky is"], [[3]],
                                                                                        short_config, ())[0]]
    batcher.close()


def test_a_running_call_whose_client_left_leaves_the_batch_at_the_next_step(own_model):
    model = own_model
    steps: list[tuple[int, int]] = []
    decoding = threading.Event()

    def observe(requests: int, sequences: int) -> None:
        steps.append((requests, sequences))
        decoding.set()

    batcher = BatchingBackend(model, observe=observe)
    gone = threading.Event()

    def cancelled_request():
        with cancelled_by(gone):
            return batcher.generate(["Once upon a time"], [[1, 2, 3, 4]],
                                    SamplingConfig(temperature=1.0, top_p=1.0, max_new_tokens=400), ())

    thread, box = in_thread(cancelled_request)
    assert decoding.wait(30)
    gone.set()
    thread.join(60)
    assert isinstance(box["error"], RequestCancelled)
    assert len(steps) < 400  # it stopped long before its 400 tokens
    # The engine is free and clean for the next call.
    config = SamplingConfig(temperature=0.0, top_p=1.0, max_new_tokens=5)
    assert batcher.generate(["The sky is"], [[3]], config, ()) == model.generate(["The sky is"], [[3]], config, ())
    batcher.close()
