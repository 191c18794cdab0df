"""Docstring examples become asserts: each form parses, prose and guesses do not."""

from __future__ import annotations

from ttscale.tasks.docstring_examples import Example, examples_program, parse_examples


def prompt(doc: str, signature: str = "def f(x, y=0):") -> str:
    return f"import math\n\n\n{signature}\n    \"\"\"{doc}\n    \"\"\"\n"


def calls(found):
    return [(e.call, e.expected, e.form) for e in found]


def test_doctest_form_with_continuation_and_multi_line_output():
    found = parse_examples(prompt("""Adds.
    >>> f(1, 2)
    3
    >>> f([1,
    ...    2], [3])
    [1, 2,
     3]
    >>> f('a')  # a comment is dropped
    'a'
    """), "f")
    assert calls(found) == [("f(1, 2)", 3, "doctest"), ("f([1, 2], [3])", [1, 2, 3], "doctest"),
                            ("f('a')", "a", "doctest")]


def test_doctest_without_output_means_none_or_an_assertion():
    found = parse_examples(prompt("""
    >>> f([])
    >>> f(2) == 4
    >>> x = f(3)
    """), "f")
    assert calls(found) == [("f([])", None, "doctest"), ("f(2) == 4", True, "doctest")]


def test_inline_forms():
    found = parse_examples(prompt("""
    f(1) ==> 2
    f(2) => true
    f(3) -> [3]
    f(4) ➞ "four"
    f(5) == 5.0
    f(6) should return 6.
    f(7) returns (7, 7)
    f(8)   # returns "db8"
    f(9) # => 'Yes' (a note)
    """), "f")
    assert calls(found) == [("f(1)", 2, "==>"), ("f(2)", True, "=>"), ("f(3)", [3], "->"),
                            ("f(4)", "four", "➞"), ("f(5)", 5.0, "=="), ("f(6)", 6, "should return"),
                            ("f(7)", (7, 7), "returns"), ("f(8)", "db8", "returns"), ("f(9)", "Yes", "=>")]


def test_described_forms_use_the_signature():
    found = parse_examples(prompt("""
    For x = [1,2] the output should be 3
    Example:
        Input: x = [4], y = 1
        Output: [5]
        Input: 7
        Output: 8 # seven plus one
    For z = 1 the output should be 2
    """), "f")
    assert calls(found) == [("f(x=[1, 2])", 3, "for-output"), ("f(x=[4], y=1)", [5], "input-output"),
                            ("f(7)", 8, "input-output")]  # z is not a parameter


def test_what_is_not_parsed():
    assert parse_examples(prompt("""
    f(a) => False
    f(1) -> 19 - 5 - 6 = 8
    g(1) ==> 2
    f(1) is called often
    For lst = [1,2,3] the output should be 14
    """), "f") == ()
    # A recurrence written with '=' makes '=' lines definitions, not examples.
    assert parse_examples(prompt("""
    f(1) = 3
    f(n) = f(n - 1) + 1
    f(2) -> 4
    """), "f") == (Example("f(2)", 4, "->", 8),)


def test_examples_of_other_functions_are_left_out():
    text = "def helper(x):\n    \"\"\"\n    >>> helper(1)\n    2\n    \"\"\"\n    return x + 1\n\n\n" + prompt(
        "\n    >>> f(helper(1))\n    2")
    assert calls(parse_examples(text, "f")) == [("f(helper(1))", 2, "doctest")]


def test_examples_program_compares_with_float_tolerance():
    examples = (Example("f(1)", 0.3, "doctest", 1), Example("f(2)", [0.1, (0.2,)], "doctest", 2),
                Example("f(3)", "x", "doctest", 3))
    source = "def f(n):\n    return {1: 0.1 + 0.2, 2: [0.1, (0.2 + 1e-9,)], 3: 'x'}[n]\n" + examples_program(examples)
    exec(compile(source, "<examples>", "exec"), {})
    wrong = "def f(n):\n    return 0.31\n" + examples_program(examples[:1])
    try:
        exec(compile(wrong, "<examples>", "exec"), {})
    except AssertionError as exc:
        assert "f(1) -> 0.3" in str(exc)
    else:
        raise AssertionError("0.31 should not pass for 0.3")


def test_equals_lines_with_string_arguments_are_examples():
    # Letters inside a string argument do not make "f('ab') = 'AB'" a recurrence.
    found = parse_examples(prompt("""
    f("ab") = "AB"
    f("1234") = "4321"
    """, "def f(s):"), "f")
    assert calls(found) == [('f("ab")', "AB", "="), ('f("1234")', "4321", "=")]
