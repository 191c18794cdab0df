"""Model specs: ``openai:BASE_URL#MODEL`` parsing, the backend registry, and
what the sweep must do with a failed generation (docs/RELIABILITY.md 3 and 9)."""

import pytest

from ttscale.backends.openai import OpenAIBackend, parse_openai_spec
from ttscale.backends.registry import backend_from_spec
from ttscale.errors import InputError
from ttscale.store import Store
from ttscale.sampling.draw import run_sweep
from ttscale.tasks import get_task
from ttscale.types import ModelCard, SamplingConfig

CARD = ModelCard(
    name="spec-model", params_total=1000, params_non_embedding=800, n_layers=2, d_model=16,
    n_heads=2, d_ff=64, vocab_size=256, context_length=512,
)  # fmt: skip


@pytest.mark.parametrize(
    "spec, root, model",
    [
        ("openai:http://127.0.0.1:8080/v1#gemma-3-270m", "http://127.0.0.1:8080", "gemma-3-270m"),
        ("openai:http://127.0.0.1:8080#gemma", "http://127.0.0.1:8080", "gemma"),
        ("openai:https://gpu.example:443/llm/v1/#org/Model-7B", "https://gpu.example:443/llm", "org/Model-7B"),
        ("openai:http://localhost:8000/#m#1", "http://localhost:8000", "m#1"),
    ],
)
def test_spec_parses(spec, root, model):
    parsed = parse_openai_spec(spec)
    assert (parsed.root_url, parsed.model) == (root, model)


@pytest.mark.parametrize(
    "spec, why",
    [
        ("http://127.0.0.1:8080/v1#m", "not an openai spec"),
        ("openai:http://127.0.0.1:8080/v1", "MODEL is missing"),
        ("openai:http://127.0.0.1:8080/v1#", "MODEL is missing"),
        ("openai:http://127.0.0.1:8080/v1# m", "spaces"),
        ("openai:ftp://127.0.0.1/v1#m", "http:// or https://"),
        ("openai:127.0.0.1:8080#m", "http:// or https://"),
        ("openai:http://:8080/v1#m", "no host"),
        ("openai:http://127.0.0.1:99999/v1#m", "bad port"),
        ("openai:http://127.0.0.1:8080/v1?x=1#m", "query"),
    ],
)
def test_bad_spec_is_named(spec, why):
    with pytest.raises(InputError) as caught:
        parse_openai_spec(spec)
    assert repr(spec) in str(caught.value) and why in str(caught.value)


def test_registry_builds_backends_by_kind():
    backend = backend_from_spec("openai:http://127.0.0.1:9/v1#m", card=CARD)
    assert isinstance(backend, OpenAIBackend) and backend.spec.model == "m" and backend.name == CARD.name
    backend.close()
    with pytest.raises(InputError, match="did you mean 'openai'"):
        backend_from_spec("opena:http://127.0.0.1:9/v1#m", card=CARD)
    with pytest.raises(InputError, match="KIND:"):
        backend_from_spec("no-kind-here")


def test_sweep_stores_failed_generations_as_errors(fake_server, make_backend, tmp_path):
    server = fake_server("500-k-times")
    backend = make_backend(server, max_attempts=1)
    task = get_task("arith:digits=2,operands=3,scratchpad=0")
    problems = task.problems(2, seed=0)
    config = SamplingConfig(temperature=1.0, max_new_tokens=8)
    with Store(tmp_path / "s.sqlite") as store:
        run_sweep(store, "r", backend, task, problems, n=1, config=config, run_seed=0)
        assert store.samples("r") == []
        errors = store.samples("r", status="error")
        assert len(errors) == 2 and all("HTTP 500" in s.error and s.completion == "" for s in errors)
        assert store.done_keys("r", backend.name, task.name, config.key) == set()  # retried on resume
