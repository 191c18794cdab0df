"""Mixed configs: ranged digits/operands (arith) and digits (factor) in one task."""

from collections import Counter

from scratchpad_check import check_scratchpad  # the same independent re-derivation

from ttscale.strategies.step_search import step_format_for
from ttscale.tasks import ArithTask, FactorTask, get_task, splits
from ttscale.tasks.arith import columns_of

MIXED_COT = get_task("arith:digits=1-3,operands=2-4,scratchpad=1")
MIXED_DIRECT = get_task("arith:operands=2-4,digits=1-3")
MIXED_FACTOR = get_task("factor:digits=3-5")
CONTEXT = 64  # the lab's tiny models: BOS + prompt + completion


def test_ranges_parse_validate_and_name_canonically():
    assert MIXED_DIRECT.name == "arith:digits=1-3,operands=2-4,scratchpad=0"
    assert MIXED_DIRECT == ArithTask(digits=(1, 3), operands=(2, 4))
    assert get_task(MIXED_COT.name) == MIXED_COT
    assert get_task("arith:digits=2-2,operands=3").name == "arith:digits=2,operands=3,scratchpad=0"
    assert ArithTask(digits=[2, 2]) == ArithTask(digits=2)
    assert get_task("factor:digits=3-5") == FactorTask(digits=(3, 5))
    assert MIXED_FACTOR.name == "factor:digits=3-5"


def test_every_cell_is_drawn_and_small_cells_are_passed_over_once_empty():
    problems = MIXED_COT.problems(600, 0, "test")
    cells = Counter((len(str(p.meta["operands"][0])), len(p.meta["operands"])) for p in problems)
    assert set(cells) == set(MIXED_COT.cells) and len(cells) == 9
    # 1-digit pairs: only the few test-split pairs exist, every one of them drawn, none twice
    pairs = [p for p in problems if len(p.prompt) == 5]
    assert len(pairs) == len({p.problem_id for p in pairs}) == get_task("arith:digits=1,operands=2").split_size("test")
    assert len({p.problem_id for p in problems}) == 600


def test_a_problem_lies_in_the_split_of_its_single_valued_config():
    for split in splits.SPLITS:
        for p in MIXED_DIRECT.problems(100, 3, split):
            assert splits.split_of("arith:" + "+".join(map(str, sorted(p.meta["operands"])))) == split
        for p in MIXED_FACTOR.problems(100, 3, split):
            assert splits.split_of(f"factor:{p.meta['n']}") == split
    five = get_task("factor:digits=5")
    single = {p.problem_id: p.prompt for p in five.problems(five.split_size("test"), 0, "test")}
    for p in MIXED_FACTOR.problems(200, 0, "test"):  # the same ids and prompts (padded alike)
        assert single[p.problem_id] == p.prompt


def test_both_forms_of_a_mixed_config_share_their_problems():
    direct, cot = MIXED_DIRECT.problems(100, 1, "test"), MIXED_COT.problems(100, 1, "test")
    assert [p.problem_id for p in direct] == [p.problem_id for p in cot]
    assert {d.prompt[1:] == c.prompt[1:] and (d.prompt[0], c.prompt[0]) == ("A", "S") for d, c in zip(direct, cot)} == {True}


def test_difficulty_spreads_wider_than_in_any_cell_and_grows_with_the_cell():
    problems = MIXED_COT.problems(400, 0, "test")
    spread = {p.difficulty for p in problems}
    assert min(spread) <= 1 and max(spread) >= 12
    by_work = {}
    for p in problems:
        by_work.setdefault(len(p.meta["operands"]) * len(str(p.meta["operands"][0])), []).append(p.difficulty)
    means = [sum(v) / len(v) for _, v in sorted(by_work.items())]
    assert means == sorted(means)
    assert max(len(set(v)) for v in by_work.values()) < len(spread)


def test_mixed_scratchpads_add_up_column_by_column_and_grade():
    for p in MIXED_COT.problems(200, 0, "test"):
        solution = MIXED_COT.solution(p)
        assert check_scratchpad(p.prompt, solution, columns_of(p)) == int(p.reference)
        assert MIXED_COT.grade(p, solution) and MIXED_COT.extract_answer(solution) == p.reference
        assert not MIXED_DIRECT.grade(p, solution)  # a scratchpad is malformed as a direct answer
        assert MIXED_DIRECT.grade(p, p.reference + "\n")
    for demo in MIXED_COT.demonstrations(500, seed=0):
        prompt, completion = demo.split("=", 1)[0] + "=", demo.split("=", 1)[1]
        check_scratchpad(prompt, completion, len(prompt[1:-1].split("+")[0]))


def test_the_lab_mixture_fits_the_tiny_models_context():
    assert MIXED_COT.prompt_length == 17 and MIXED_COT.max_completion_length == 45
    assert 1 + MIXED_COT.prompt_length + MIXED_COT.max_completion_length <= CONTEXT
    longest = max(len(d) for d in MIXED_COT.demonstrations(3000, seed=0))
    assert longest == MIXED_COT.prompt_length + MIXED_COT.max_completion_length
    assert 1 + MIXED_FACTOR.prompt_length + MIXED_FACTOR.max_completion_length <= CONTEXT


def test_tree_search_steps_follow_each_problems_columns():
    steps = step_format_for(MIXED_COT)
    for p in MIXED_COT.problems(100, 0, "test"):
        solution = MIXED_COT.solution(p)
        parts = solution.split(";")
        assert len(parts) - 1 == columns_of(p) == steps.intermediate_steps(p)
        assert steps.first_stop(p, columns_of(p)) == "\n" and steps.first_stop(p, 0) == ";"
        assert all(len(part) + 1 <= steps.max_step_tokens for part in parts)
        assert len(parts) <= steps.max_depth


def test_mixed_factoring_pads_to_the_largest_size_and_spreads_sizes():
    problems = MIXED_FACTOR.problems(300, 0, "test")
    assert {len(p.prompt) for p in problems} == {MIXED_FACTOR.prompt_length} == {7}
    sizes = Counter(len(str(p.meta["n"])) for p in problems)
    assert set(sizes) >= {2, 3, 4, 5}
    # the smallest class (n < 1000, about 30 test semiprimes) is drawn whole, then passed over
    assert sizes[2] + sizes[3] == get_task("factor:digits=3").split_size("test")
    assert abs(sizes[4] - sizes[5]) < 40
    assert {p.difficulty for p in problems} >= {2, 3, 5, 7}
    for p in problems[:50]:
        answer = p.reference + "\n"
        assert MIXED_FACTOR.grade(p, answer) and MIXED_FACTOR.verify(p, answer)
        assert not MIXED_FACTOR.verify(p, f"1*{p.meta['n']}")
    assert MIXED_FACTOR.split_size("test") == get_task("factor:digits=5").split_size("test")
