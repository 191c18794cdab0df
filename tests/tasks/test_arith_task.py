"""arith: both forms, answer extraction, and scratchpads that add up."""

import pytest
from scratchpad_check import check_scratchpad

from ttscale.tasks import get_task
from ttscale.tasks.arith import scratchpad

DIRECT = get_task("arith:digits=2,operands=3,scratchpad=0")
COT = get_task("arith:digits=2,operands=3,scratchpad=1")


def test_example_prompts_and_completions():
    assert scratchpad((12, 34, 56), 2) == "2+4+6+0=12;1+3+5+1=10;#102\n"
    direct = DIRECT.problems(1, 0, "test")[0]
    ops = direct.meta["operands"]
    assert direct.prompt == "A" + "+".join(map(str, ops)) + "="
    assert direct.reference == str(sum(ops))
    assert DIRECT.solution(direct) == f"{sum(ops)}\n"
    assert COT.solution(direct).endswith(f"#{sum(ops)}\n")


def test_both_forms_draw_the_same_problems():
    direct, cot = DIRECT.problems(50, 7, "test"), COT.problems(50, 7, "test")
    assert [p.problem_id for p in direct] == [p.problem_id for p in cot]
    assert [p.reference for p in direct] == [p.reference for p in cot]
    for d, c in zip(direct, cot):
        assert (d.prompt[0], c.prompt[0], d.prompt[1:]) == ("A", "S", c.prompt[1:])


def test_every_ordering_of_a_sum_lies_in_one_split():
    small = get_task("arith:digits=1,operands=3")
    where = {}
    for split in ("train", "calib", "test"):
        for p in small.problems(small.split_size(split), 0, split):
            where.setdefault(tuple(sorted(p.meta["operands"])), set()).add(split)
    assert all(len(s) == 1 for s in where.values())
    assert sum(small.split_size(s) for s in ("train", "calib", "test")) == 9**3


@pytest.mark.parametrize(
    "spec",
    [
        "arith:digits=2,operands=3,scratchpad=1",
        "arith:digits=3,operands=4,scratchpad=1",
        "arith:digits=1,operands=2,scratchpad=1",
    ],
)
def test_scratchpad_demonstrations_are_internally_consistent(spec):
    task = get_task(spec)
    for demo in task.demonstrations(300, seed=0):
        prompt, completion = demo.split("=", 1)[0] + "=", demo.split("=", 1)[1]
        check_scratchpad(prompt, completion, task.digits)
    for problem in task.problems(min(100, task.split_size("test")), seed=0, split="test"):
        assert check_scratchpad(problem.prompt, task.solution(problem), task.digits) == int(problem.reference)


def test_scratchpad_stays_short():
    assert COT.max_completion_length == 27
    assert all(len(d) - COT.prompt_length <= 27 for d in COT.demonstrations(500, 0))


@pytest.mark.parametrize(
    "completion, answer",
    [
        ("102\n", "102"),
        ("102", "102"),
        ("0102", "102"),
        (" 102 ", "102"),
        ("", None),
        ("10 2", None),
        ("102;", None),
        ("#102", None),  # the scratchpad form is malformed for a direct answer
        ("2+4+6+0=12;#102", None),
        ("abc", None),
        ("\n102", None),
    ],
)
def test_extract_answer_direct_form(completion, answer):
    assert DIRECT.extract_answer(completion) == answer


@pytest.mark.parametrize(
    "completion, answer",
    [
        ("2+4+6+0=12;1+3+5+1=10;#102\n", "102"),
        ("2+4+6+0=12;1+3+5+1=10;#102", "102"),
        ("2+4+6+0=12;1+3+5+1=10;#0102", "102"),
        ("2+4+6+0=12;1+3+5+1=11;#999", "999"),  # wrong steps still vote their answer
        ("#102", "102"),  # skipping the steps is allowed
        ("102", None),  # no '#'
        ("2+4+6+0=12;1+3+5+1=10;#", None),
        ("2+4+6+0=12;1+3+5+1=10;", None),
        ("2+4+6+0=12;#1#02", None),
        ("2+4+x=12;#102", None),
        ("", None),
    ],
)
def test_extract_answer_scratchpad_form(completion, answer):
    assert COT.extract_answer(completion) == answer


def test_grader_accepts_right_answers_and_rejects_wrong_or_malformed():
    problem = next(p for p in COT.problems(50, 0, "test") if int(p.reference) > 100)
    right = COT.solution(problem)
    assert COT.grade(problem, right)
    assert not COT.grade(problem, right.replace("#", "#1"))
    assert not COT.grade(problem, problem.reference)  # the direct form is malformed here
    assert DIRECT.grade(problem, problem.reference)
    assert not DIRECT.grade(problem, str(int(problem.reference) + 1))
    assert not DIRECT.grade(problem, "1*" + problem.reference)


def test_no_verifier():
    problem = DIRECT.problems(1, 0)[0]
    assert DIRECT.has_verifier is False and COT.has_verifier is False
    assert DIRECT.verify(problem, problem.reference) is None
    assert COT.verifier_flops(problem, "x") == 0.0


def test_difficulty_counts_carries():
    task = get_task("arith:digits=2,operands=2")
    by_id = {
        p.problem_id: p.difficulty
        for split in ("train", "calib", "test")
        for p in task.problems(task.split_size(split), 0, split)
    }
    assert by_id["12+34"] == 0
    assert by_id["18+34"] == 1
    assert by_id["99+99"] == 2


def test_large_configs_are_sampled_without_enumeration():
    big = get_task("arith:digits=5,operands=6,scratchpad=1")
    problems = big.problems(200, seed=0, split="test")
    assert len({p.problem_id for p in problems}) == 200
    assert len(problems[0].prompt) == big.prompt_length == 1 + 6 * 6
