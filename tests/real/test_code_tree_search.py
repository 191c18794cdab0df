"""Tree search over lines of code: HumanEval on the real Gemma 3 270M (kept to a few short lines)."""

import dataclasses

from ttscale.strategies.beam import BeamSettings
from ttscale.strategies.mcts import MCTSSettings
from ttscale.strategies.step_scorers import LogProbScorer
from ttscale.strategies.step_search import CodeLines, step_format_for
from ttscale.strategies.tree_search import run_search
from ttscale.tasks import get_task

LINES = 3  # steps per solution at most: enough to see lines chosen and graded, quick on one thread


def humaneval_lines():
    task = get_task("humaneval")
    fmt = dataclasses.replace(step_format_for(task), max_depth=LINES, max_step_tokens=16)
    return task, task.problems(1, 0, "test"), fmt


def test_a_beam_over_lines_of_gemma_code_is_graded_and_repeatable(gemma):
    task, problems, fmt = humaneval_lines()
    settings = BeamSettings(width=2, expansions=2, scorer="logprob")
    first = run_search(gemma, task, problems, settings, LogProbScorer(), run_seed=0, step_format=fmt)
    again = run_search(gemma, task, problems, settings, LogProbScorer(), run_seed=0, step_format=fmt)
    (outcome,) = first
    assert outcome.step_samples <= settings.max_step_samples(LINES)
    assert outcome.generated_tokens > 0 and outcome.generation_flops > outcome.prefill_flops > 0
    # At most LINES lines, each cut at its newline; graded by the hidden tests in the sandbox.
    assert outcome.completion.count("\n") <= LINES
    assert outcome.correct == task.grade(problems[0], outcome.completion)
    # Same seeds, same lines (llama.cpp at one thread, same batch shapes).
    assert [dataclasses.replace(o, seconds=0.0) for o in again] == [dataclasses.replace(o, seconds=0.0) for o in first]


def test_mcts_over_lines_respects_its_budget(gemma):
    task, problems, fmt = humaneval_lines()
    settings = MCTSSettings(expansions=2, branch=2, scorer="logprob")
    (outcome,) = run_search(gemma, task, problems, settings, LogProbScorer(), run_seed=1, step_format=fmt)
    assert outcome.expansions <= 2 and outcome.step_samples <= settings.max_step_samples(LINES)
    assert isinstance(outcome.correct, bool)


def test_the_code_format_is_the_tasks_stop_sequences():
    fmt = step_format_for(get_task("humaneval"))
    assert isinstance(fmt, CodeLines) and "\ndef " in fmt.ends
