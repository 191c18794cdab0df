"""Spec parsing: canonical names, defaults, and errors that name the field and value."""

import pytest

from ttscale.errors import InputError
from ttscale.tasks import TASKS, ArithTask, FactorTask, get_task


def test_registry_holds_both_families():
    assert {"arith", "factor"} <= set(TASKS.names())


def test_specs_build_tasks_with_canonical_names():
    task = get_task("arith:operands=3,digits=2,scratchpad=1")
    assert task == ArithTask(digits=2, operands=3, scratchpad=1)
    assert task.name == "arith:digits=2,operands=3,scratchpad=1"
    assert get_task("factor:digits=3").name == "factor:digits=3"
    assert get_task(" factor : digits = 4 ").name == "factor:digits=4"


def test_left_out_parameters_take_defaults():
    assert get_task("factor") == FactorTask()
    assert get_task("arith:scratchpad=1") == ArithTask(scratchpad=1)
    assert get_task("arith:").name == "arith:digits=2,operands=3,scratchpad=0"


@pytest.mark.parametrize(
    "spec, words",
    [
        ("factr:digits=3", ["'factr'", "did you mean 'factor'"]),
        ("arith:digit=2", ["'digit'", "did you mean 'digits'"]),
        ("arith:operand=3", ["'operand'", "did you mean 'operands'"]),
        ("factor:digits=x", ["'digits'", "'x'", "2..6"]),
        ("factor:digits=9", ["'digits'", "9", "2..6"]),
        ("arith:scratchpad=2", ["'scratchpad'", "2", "0..1"]),
        ("arith:digits=2.5", ["'digits'", "'2.5'", "1..5"]),
        ("arith:digits", ["param=value", "'digits'"]),
        ("arith:digits=2,digits=3", ["'digits'", "twice"]),
        ("", ["task spec"]),
        # ranges (mixed configs)
        ("arith:digits=3-1", ["'digits'", "backwards"]),
        ("arith:digits=1-7", ["'digits'", "1..5", "7"]),
        ("arith:operands=1-3", ["'operands'", "2..6", "1"]),
        ("arith:digits=1-x", ["'digits'", "'1-x'", "range"]),
        ("arith:scratchpad=0-1", ["'scratchpad'", "'0-1'", "0..1"]),  # not a ranged parameter
        ("factor:digits=-3", ["'digits'", "2..6"]),
    ],
)
def test_bad_specs_are_input_errors_naming_the_field_and_value(spec, words):
    with pytest.raises(InputError) as info:
        get_task(spec)
    for word in words:
        assert word in str(info.value)


def test_direct_construction_is_validated_too():
    with pytest.raises(InputError, match="'operands'"):
        ArithTask(operands=1)
    with pytest.raises(InputError, match="'digits'"):
        FactorTask(digits=True)
