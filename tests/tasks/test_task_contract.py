"""Behaviour every built-in task shares: the Task protocol, determinism, disjoint
splits, the character set, fixed prompt lengths, clear errors on bad counts."""

import pytest

from ttscale.errors import InputError
from ttscale.tasks import SPLITS, get_task
from ttscale.tasks.humaneval import HumanEvalTask
from ttscale.tasks.sandbox import CodeTask
from ttscale.types import Problem, Task

# The lab tokenizer's fixed vocabulary (the brief's character set).
ALLOWED = set("\n 0123456789+-*=:;,.()<>?#abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ")

SPECS = [
    "factor:digits=3",
    "factor:digits=4",
    "arith:digits=2,operands=3,scratchpad=0",
    "arith:digits=2,operands=3,scratchpad=1",
    "arith:digits=1,operands=2,scratchpad=1",  # small enough to be enumerated
    "arith:digits=3,operands=4,scratchpad=1",
    "arith:digits=1-3,operands=2-4,scratchpad=0",  # mixed configs: a cell per (digits, operands)
    "arith:digits=1-3,operands=2-4,scratchpad=1",
    "factor:digits=3-5",
]


def draw(task, count, seed, split):
    """Up to ``count`` problems (all of a split smaller than that)."""
    return task.problems(min(count, task.split_size(split)), seed=seed, split=split)


@pytest.fixture(params=SPECS)
def task(request):
    return get_task(request.param)


def test_tasks_follow_the_protocol(task):
    assert isinstance(task, Task)
    assert task.stop == "\n"
    assert task.name == get_task(task.name).name  # the name is a spec that round-trips
    problems = task.problems(4, seed=0, split="test")
    assert all(isinstance(p, Problem) and p.task == task.name for p in problems)
    assert task.has_verifier == (task.verify(problems[0], "") is not None)
    assert task.stop_sequences[0] == task.stop
    assert task.family == task.name.partition(":")[0]
    assert task.fingerprint is None  # generated from the spec alone: the name says everything
    cost = task.verifier_flops(problems[0], task.solution(problems[0]))
    assert (cost > 0.0) == task.has_verifier  # only a task that verifies pays for it


def test_generated_tasks_are_not_code_tasks(task):
    assert not isinstance(task, CodeTask)


def test_humaneval_is_a_code_task_with_several_stop_strings():
    assert issubclass(HumanEvalTask, CodeTask)
    human_eval = HumanEvalTask()
    assert isinstance(human_eval, Task)
    assert human_eval.stop_sequences[0] == human_eval.stop and len(human_eval.stop_sequences) > 1


def test_same_arguments_give_the_same_problems(task):
    one = draw(task, 20, 3, "train")
    assert one == draw(task, 20, 3, "train")
    assert [p.problem_id for p in one] != [p.problem_id for p in draw(task, 20, 4, "train")]
    assert task.demonstrations(50, seed=1) == task.demonstrations(50, seed=1)


def test_asking_for_more_problems_extends_the_draw(task):
    few, more = draw(task, 10, 1, "test"), draw(task, 30, 1, "test")
    assert more[: len(few)] == few


def test_ids_are_unique_and_content_based(task):
    problems = draw(task, 300, 0, "train")
    ids = [p.problem_id for p in problems]
    assert len(set(ids)) == len(ids)
    assert len({p.prompt for p in problems}) == len(problems)
    # the same instance keeps its id whichever call drew it
    by_id = {p.problem_id: p for p in problems}
    for p in draw(task, 30, 9, "train"):
        if p.problem_id in by_id:
            assert by_id[p.problem_id] == p


def test_splits_are_disjoint(task):
    drawn = {
        split: {p.problem_id for p in draw(task, 200, 0, split)}
        for split in SPLITS
    }
    assert not drawn["train"] & drawn["test"]
    assert not drawn["train"] & drawn["calib"]
    assert not drawn["calib"] & drawn["test"]


def test_train_demonstrations_never_contain_a_test_or_calib_prompt(task):
    held_out = {
        p.prompt
        for split in ("test", "calib")
        for p in draw(task, 300, 0, split)
    }
    demos = task.demonstrations(2000, seed=0)
    assert len(demos) == 2000
    assert not any(demo.split("=", 1)[0] + "=" in held_out for demo in demos)


def test_every_character_is_in_the_vocabulary(task):
    texts = task.demonstrations(300, seed=2) + [p.prompt for p in draw(task, 50, 2, "test")]
    for text in texts:
        assert set(text) <= ALLOWED, text


def test_prompts_of_a_config_have_one_length(task):
    problems = draw(task, 100, 5, "train")
    if getattr(task, "mixed", False):  # sums of several sizes: prompt_length is the longest
        assert max(len(p.prompt) for p in problems) == task.prompt_length
    else:
        assert {len(p.prompt) for p in problems} == {task.prompt_length}


def test_demonstrations_are_prompt_plus_reference_completion_ending_in_the_stop(task):
    problems = draw(task, 50, 0, "train")
    for problem in problems:
        completion = task.solution(problem)
        assert completion.endswith(task.stop) and completion.count(task.stop) == 1
        assert len(completion) <= task.max_completion_length
        assert task.grade(problem, completion)
        assert task.grade(problem, completion[: -len(task.stop)])  # backends strip the stop
    for demo in task.demonstrations(200, seed=0):
        assert demo.endswith("\n") and demo.count("\n") == 1
        assert len(demo) <= task.prompt_length + task.max_completion_length


def test_a_count_beyond_the_split_is_a_clear_error(task):
    available = task.split_size("test")
    with pytest.raises(InputError, match="split 'test'") as info:
        task.problems(available + 1, seed=0, split="test")
    assert f"holds {available}" in str(info.value) or f"holds about {available}" in str(info.value)


def test_bad_split_and_count_are_input_errors(task):
    with pytest.raises(InputError, match="did you mean 'test'"):
        task.problems(1, seed=0, split="tset")
    with pytest.raises(InputError, match="count"):
        task.problems(-1, seed=0)
    assert task.problems(0, seed=0) == []


def test_difficulty_varies_within_a_config(task):
    difficulties = {p.difficulty for p in draw(task, 100, 0, "train")}
    assert len(difficulties) > 1
