"""``sums``: arith's problems asked in words — the same problems, ids, splits and answers as
``arith``, a question a real model can read, and an answer read leniently from its line."""

import pytest

from ttscale.errors import InputError
from ttscale.tasks import SPLITS, get_task
from ttscale.types import Task


def test_the_same_problems_as_arith_asked_in_words():
    sums, arith = get_task("sums:digits=3-4"), get_task("arith:digits=3-4,operands=2")
    asked, drawn = sums.problems(20, seed=3), arith.problems(20, seed=3)
    assert isinstance(sums, Task) and sums.name == "sums:digits=3-4,operands=2" and sums.stop == "\n"
    assert [(p.problem_id, p.reference) for p in asked] == [(p.problem_id, p.reference) for p in drawn]
    a, b = asked[0].meta["operands"]
    assert asked[0].prompt == f"Q: What is {a} + {b}?\nA:" and asked[0].task == sums.name
    assert {s: sums.split_size(s) for s in SPLITS} == {s: arith.split_size(s) for s in SPLITS}


def test_splits_stay_disjoint_and_demonstrations_come_from_train():
    task = get_task("sums:digits=2,operands=2")
    ids = {s: {p.problem_id for p in task.problems(200, seed=0, split=s)} for s in SPLITS}
    assert not ids["train"] & ids["test"] and not ids["calib"] & ids["test"]
    test_prompts = {p.prompt for p in task.problems(200, seed=0, split="test")}
    demos = task.demonstrations(200, seed=0)
    assert all(demo.endswith("\n") for demo in demos)
    assert not {demo[:demo.index("\nA:") + 3] for demo in demos} & test_prompts


@pytest.mark.parametrize("completion, answer", [
    (" 935", "935"), ("347 + 588 = 935.", "935"), (" 1,282", "1282"), (" 935\nB: 121", "935"),
    ("The answer is -12", "-12"), (" no idea", None), ("", None),
])
def test_the_answer_is_the_last_integer_of_the_line(completion, answer):
    assert get_task("sums").extract_answer(completion) == answer


def test_grading_compares_the_exact_sum():
    task = get_task("sums:digits=2")
    problem = task.problems(1, seed=0)[0]
    assert task.grade(problem, f" {problem.reference}") and not task.grade(problem, f" {int(problem.reference) + 1}")
    assert task.verify(problem, " 1") is None and task.verifier_flops(problem, " 1") == 0.0


def test_bad_parameters_are_named():
    with pytest.raises(InputError, match="'digits'"):
        get_task("sums:digits=9")
    with pytest.raises(InputError, match="unknown parameter 'scratchpad'"):
        get_task("sums:scratchpad=1")
