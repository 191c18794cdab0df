"""Every kind of strategy served live (issue 14), on real in-process models: first-verified with the named
task's verifier (code run against the prompt's own examples in the sandbox), a cascade small -> large and an
ensemble over two served models, beam search over lines of code, and an allocation across the prompts of one
request. Each reports what it spent per model in usage.ttscale."""

from __future__ import annotations

import pytest

openai = pytest.importorskip("openai")
pytest.importorskip("uvicorn")

from live_server import running  # noqa: E402

from ttscale.cards import installed_path  # noqa: E402
from ttscale.serve.app import ServeConfig, create_app  # noqa: E402
from ttscale.serve.served_task import ServedTask  # noqa: E402

SMALL, LARGE = "smollm2-135m", "gemma3-270m"
pytestmark = pytest.mark.skipif(installed_path(SMALL) is None,
                                reason=f"{SMALL} is not installed (scripts/setup.sh pulls it)")
# The function begun for it, so a 135M base-style completion is code, not prose.
ADD = 'def add(a, b):\n    """Return the sum of a and b.\n    >>> add(1, 2)\n    3\n    """\n    return'



def served(spec: str):
    from ttscale.cli.serve_cmd import _served_model

    return _served_model(spec, threads=1, max_seqs=8)


def client(base: str):
    return openai.OpenAI(base_url=f"{base}/v1", api_key="unused", max_retries=0)


@pytest.fixture(scope="module")
def code_server():
    from ttscale.tasks import get_task

    small = served(SMALL)
    with running(create_app(small, ServeConfig(max_tokens=24), task=get_task("humaneval"))) as base:
        yield base, small
    small.close()


def test_first_verified_stops_at_the_first_sample_that_passes_the_prompts_examples(code_server):
    base, small = code_server
    reply = client(base).completions.create(model=small.name, prompt=ADD, temperature=0.0, seed=1,
                                            extra_body={"ttscale": {"strategy": "first-verified:k=4"}})
    extra = reply.usage.model_extra["ttscale"]
    assert reply.choices[0].text.split("\n")[0].strip() in ("a + b", "b + a", "(a + b)")
    assert extra["samples"] == 1 and extra["early_stop"] is True  # the first sample passed: no more drawn
    # The same sample checked by hand against the prompt's example, in the sandbox: it passes.
    from ttscale.tasks import get_task

    task = ServedTask(base=get_task("humaneval"))
    assert task.verify(task.problem(ADD), reply.choices[0].text) is True
    assert task.verify(task.problem(ADD), " a - b\n") is False


def test_a_prompt_that_defines_no_function_is_refused_by_name(code_server):
    base, small = code_server
    with pytest.raises(openai.BadRequestError) as bad:
        client(base).completions.create(model=small.name, prompt="Hello", max_tokens=4,
                                        extra_body={"ttscale": {"strategy": "first-verified:k=2"}})
    assert bad.value.body["param"] == "prompt"


def test_beam_search_over_lines_of_code_answers_with_its_chosen_solution(code_server):
    base, small = code_server
    reply = client(base).completions.create(model=small.name, prompt=ADD, temperature=1.0, seed=2,
                                            extra_body={"ttscale": {"strategy": "beam:width=2,expansions=2"}})
    extra = reply.usage.model_extra["ttscale"]
    assert extra["strategy"] == "beam:expansions=2,temperature=1,width=2"
    assert extra["samples"] >= 2 and extra["flops"]["total"] > 0
    assert extra["flops"]["by_model"].keys() == {small.name}
    assert reply.choices[0].text.strip()


def test_allocation_spends_one_budget_across_the_prompts_of_a_request(code_server):
    _, small = code_server
    with running(create_app(small, ServeConfig(max_tokens=4))) as base:  # free text: no task
        reply = allocated(base, small)
    assert [c.index for c in reply.choices] == [0, 1, 2]
    extra = reply.usage.model_extra["ttscale"]
    per_prompt = [p["samples"] for p in extra["prompts"]]
    assert sum(per_prompt) == extra["samples"] <= 9 and min(per_prompt) >= 2  # probe 2 each, 3 x 3 in all


def allocated(base, small):
    prompts = ["The capital of France is", "2 + 2 =", "The colour of the sky is"]
    return client(base).completions.create(model=small.name, prompt=prompts, max_tokens=4, seed=3,
                                           extra_body={"ttscale": {"strategy": "allocate:budget=3,probe=2"}})


@pytest.mark.skipif(installed_path(LARGE) is None, reason=f"{LARGE} is not installed")
def test_a_cascade_and_an_ensemble_answer_with_both_served_models():
    small, large = served(SMALL), served(LARGE)
    try:
        with running(create_app([small, large], ServeConfig(max_tokens=6))) as base:
            cascade = client(base).completions.create(
                model=small.name, prompt="Name a colour:", temperature=1.2, seed=4,
                extra_body={"ttscale": {"strategy": "cascade:k_small=2,k_large=1,threshold=1.0"}})
            extra = cascade.usage.model_extra["ttscale"]
            escalated = extra["prompts"][0]["notes"]["escalated"]
            assert extra["samples"] == (3 if escalated else 2)
            assert set(extra["flops"]["by_model"]) == ({small.name, large.name} if escalated else {small.name})
            ensemble = client(base).completions.create(
                model=large.name, prompt="Name a colour:", temperature=1.2, seed=4,
                extra_body={"ttscale": {"strategy": "ensemble:k=2"}})
            extra = ensemble.usage.model_extra["ttscale"]
            assert extra["samples"] == 4 and set(extra["flops"]["by_model"]) == {small.name, large.name}
            assert sum(extra["answers"].values()) == 4
    finally:
        small.close()
        large.close()


def test_a_cascade_on_one_served_model_is_refused_by_name(code_server):
    base, small = code_server
    with pytest.raises(openai.BadRequestError) as bad:
        client(base).completions.create(model=small.name, prompt="x", max_tokens=2, extra_body={
            "ttscale": {"strategy": "cascade:k_small=2,k_large=1,threshold=0.5"}})
    assert bad.value.body["param"] == "ttscale.strategy" and "2 served models" in bad.value.body["message"]
