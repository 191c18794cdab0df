"""The OpenAI-compatible backend against a real server: llama-cpp-python's own
server serving Gemma 3 270M on loopback (docs/RELIABILITY.md:  it ignores ``n``
and repeats a sample for a repeated seed); the log-probabilities switch and the
reachability check on it."""

from __future__ import annotations

import json
import math

import httpx

from ttscale.backends.openai import OpenAIBackend
from ttscale.cards import gemma3_270m
from ttscale.sampling.pools import pools_from_samples
from ttscale.store import Store
from ttscale.sampling.draw import run_sweep
from ttscale.tasks import get_task
from ttscale.types import SamplingConfig

CONFIG = SamplingConfig(temperature=1.0, max_new_tokens=12)


def _backend(url: str, model: str = "gemma", **options) -> OpenAIBackend:
    # top_k/min_p/repeat_penalty off: sample from the distribution the config names.
    return OpenAIBackend.from_spec(
        f"openai:{url}/v1#{model}", card=gemma3_270m().card, trust_env=False, max_concurrency=2, timeout_s=60,
        extra_body={"top_k": 0, "min_p": 0, "repeat_penalty": 1.0}, **options,
    )  # fmt: skip


class _RecordingTransport(httpx.BaseTransport):
    """The real HTTP transport, keeping each request's path and JSON body."""

    def __init__(self) -> None:
        self.inner = httpx.HTTPTransport()
        self.sent: list[tuple[str, dict]] = []

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        body = json.loads(request.read() or b"null")
        self.sent.append((request.url.path, body if isinstance(body, dict) else {}))
        return self.inner.handle_request(request)

    def close(self) -> None:
        self.inner.close()


def test_logprobs_off_asks_for_none_and_samples_keep_their_token_counts(llama_server):
    recorded = _RecordingTransport()
    config = SamplingConfig(temperature=1.0, max_new_tokens=4)
    with _backend(llama_server, logprobs=False, transport=recorded) as backend:
        assert not backend.gives_logprobs
        [[sample]] = backend.generate(["def add(a, b):\n"], [[3]], config, stop="\n\n")
    completions = [body for path, body in recorded.sent if path == "/v1/completions"]
    assert len(completions) == 1 and "logprobs" not in completions[0]
    assert sample.error is None and math.isnan(sample.logprob)
    assert 0 < len(sample.token_ids) <= config.max_new_tokens  # re-tokenized by the server


def test_the_real_server_is_reachable_under_its_alias_and_under_any_name(llama_server):
    with _backend(llama_server) as backend:
        backend.check_reachable()  # listed: "gemma"
    with _backend(llama_server, model="not-listed") as backend:
        backend.check_reachable()  # llama-cpp-python serves its one model under any name


def test_n_is_detected_as_ignored_and_samples_fan_out_with_their_own_seeds(llama_server):
    with _backend(llama_server) as backend:
        pool = backend.generate(["def add(a, b):\n"], [[11, 12, 13, 14]], CONFIG, stop="\n\n")[0]
        assert backend.n_mode == "fan-out" and not backend.prefill_shared
        assert [g.seed for g in pool] == [11, 12, 13, 14]
        assert all(g.error is None for g in pool)
        assert len({g.text for g in pool}) >= 2  # distinct seeds, distinct samples
        assert all(0 < len(g.token_ids) <= CONFIG.max_new_tokens for g in pool)
        # The server repeats a sample for a repeated seed: the fan-out is reproducible.
        again = backend.generate(["def add(a, b):\n"], [[12]], CONFIG, stop="\n\n")[0][0]
        assert again.text == pool[1].text
        assert backend.usage.completion_tokens >= sum(len(g.token_ids) for g in pool)
        assert backend.usage.prompt_tokens > 0


def test_a_sweep_on_the_real_server_stores_graded_samples_and_resumes(llama_server, tmp_path):
    task = get_task("arith:digits=1,operands=2,scratchpad=0")
    problems = task.problems(3, seed=0)
    with Store(tmp_path / "store.sqlite") as store, _backend(llama_server) as backend:
        first = run_sweep(store, "real", backend, task, problems, 2, CONFIG, run_seed=0)
        assert first.generated == 6
        again = run_sweep(store, "real", backend, task, problems, 2, CONFIG, run_seed=0)
        assert again.generated == 0 and again.backend_calls == 0
        samples = store.samples("real")
    assert len(samples) == 6 and all(s.status == "ok" for s in samples)
    assert all(s.prefill_flops > 0 and s.decode_flops > 0 for s in samples)
    (cell,) = pools_from_samples(samples).values()
    assert len(cell) == 3 and all(p.n == 2 for p in cell)


def test_ttscale_sweep_against_the_real_server_with_a_given_card(llama_server, tmp_path):
    import json

    from typer.testing import CliRunner

    from ttscale.cli import _load_commands, app

    _load_commands()

    out = tmp_path / "report"
    args = ["sweep", "--model", f"openai:{llama_server}/v1#gemma", "--card", "gemma=gemma3-270m",
            "--task", "arith:digits=1,operands=2,scratchpad=0", "--n", "2", "--limit", "2", "--max-tokens", "6",
            "--out", str(out), "--json", "-", "--quiet", "--n-boot", "20"]  # fmt: skip
    result = CliRunner().invoke(app, args)
    assert result.exit_code == 0, result.output
    sweep = json.loads(result.stdout)["sweep"]
    assert sweep["generated"] == 4 and (out / "index.html").is_file()


def test_a_card_for_a_model_not_swept_is_refused(tmp_path):
    from typer.testing import CliRunner

    from ttscale.cli import _load_commands, app

    _load_commands()

    args = ["sweep", "--model", "openai:http://127.0.0.1:9/v1#gemma", "--card", "other=gemma3-270m",
            "--task", "arith", "--n", "1", "--limit", "1", "--out", str(tmp_path)]  # fmt: skip
    result = CliRunner().invoke(app, args)
    assert result.exit_code != 0 and "'other' names none of the --model specs" in str(result.exception)
