"""``humaneval-chat``: HumanEval as a chat turn, its code read after the opening fence the task writes."""

from __future__ import annotations

import json

import pytest
from typer.testing import CliRunner

from ttscale.cli import _load_commands, app

from ttscale.errors import InputError
from ttscale.strategies.step_search import CodeLines, step_format_for
from ttscale.sweep_checks import check_settings
from ttscale.sweep_settings import SweepSettings
from ttscale.tasks import get_task


@pytest.fixture(scope="module")
def chat(humaneval):
    _load_commands()
    return get_task("humaneval-chat")


def whole_function(problem) -> str:
    """What an instruct model answers: the whole function (without the prompt's own imports)."""
    prompt = problem.meta["function_prompt"]
    body = "".join(line + "\n" for line in prompt.splitlines() if not line.startswith(("import ", "from ")))
    return body + problem.meta["canonical_solution"]


def test_the_question_shows_the_function_and_the_answer_starts_in_a_code_block(chat, humaneval):
    (problem,) = [p for p in chat.problems(164, 0) if p.problem_id == "HumanEval/0"]
    original = humaneval.problem("HumanEval/0")
    assert original.prompt.strip() in problem.prompt and problem.prompt.endswith("```")
    assert problem.meta["answer_start"] == "```python\n" and chat.stop_sequences == ("\n```",)
    assert [p.problem_id for p in chat.problems(10, 3)] == [p.problem_id for p in humaneval.problems(10, 3)]


def test_whole_functions_pass_and_a_wrong_one_fails(chat):
    problems = chat.problems(164, 0)[:6]
    for problem in problems:  # the prompt's imports are given: HumanEval/0 uses List without importing it
        assert chat.grade(problem, whole_function(problem)), problem.problem_id
    broken = whole_function(problems[0]).replace("return", "return None and", 1)
    assert not chat.grade(problems[0], broken)
    assert not chat.grade(problems[0], "print('no function')")


def test_the_docstring_examples_verify_it_and_votes_ignore_formatting(chat):
    problem = chat.problems(164, 0)[0]
    code = whole_function(problem)
    assert chat.verify(problem, code) is True
    assert chat.extract_answer(code) == chat.extract_answer("# first, the imports\n\n" + code + "\n\n# done\n")
    assert chat.extract_answer("def broken(:") is None


def test_it_is_posed_only_as_a_chat_turn_and_searched_line_by_line(chat):
    with pytest.raises(InputError, match="--prompt raw: task 'humaneval-chat' is written as a chat turn"):
        check_settings(SweepSettings(models=("qwen2.5-coder-0.5b",), task="humaneval-chat", n=1), chat)
    with pytest.raises(InputError, match="pose it raw, or use humaneval-chat"):
        check_settings(SweepSettings(models=("qwen2.5-coder-0.5b",), task="humaneval", n=1, prompt="chat"),
                       get_task("humaneval"))
    fmt = step_format_for(chat)
    assert isinstance(fmt, CodeLines) and fmt.ends == ("\n```",)


def test_a_script_with_blank_lines_is_one_solution_and_verify_grades_it(chat, tmp_path):
    fmt = step_format_for(chat)
    prefix = "from typing import List\n\n"  # two blank lines before a definition do not end a script
    assert fmt.split("", finished=True, stop="\n", prefix=prefix) == ("", "\n", False, True)
    assert fmt.split("```", finished=True, stop="\n", prefix=prefix)[2]  # the closing fence does
    problem = chat.problems(164, 0)[0]
    samples = tmp_path / "samples.jsonl"
    samples.write_text(json.dumps({"task_id": problem.problem_id, "completion": whole_function(problem)}) + "\n")
    result = CliRunner().invoke(app, ["verify", "--task", "humaneval-chat", "--samples", str(samples),
                                      "--json", str(tmp_path / "verdicts.json")])
    assert result.exit_code == 0, result.output
    assert json.loads((tmp_path / "verdicts.json").read_text())["pass_at_k"]["pass@1"] == 1.0
