"""An independent re-derivation of a scratchpad, shared by the arith tests (a module of its own,
imported by name, so that no test module imports another)."""

import re

STEP = re.compile(r"(\d(?:\+\d)+)=(\d\d)")


def check_scratchpad(prompt: str, completion: str, digits: int) -> int:
    """Re-derive a scratchpad independently; returns its final answer."""
    operands = [int(x) for x in prompt[1:-1].split("+")]
    body, answer = completion.rstrip("\n").split("#")
    steps = body.split(";")
    assert steps[-1] == "" and len(steps) == digits + 1
    carry, answer_digits = 0, []
    for col, step in enumerate(steps[:-1]):
        match = STEP.fullmatch(step)
        assert match, step
        terms = [int(t) for t in match.group(1).split("+")]
        assert terms[:-1] == [(x // 10**col) % 10 for x in operands]  # copied the right digits
        assert terms[-1] == carry  # the carry in is the last step's tens digit
        assert sum(terms) == int(match.group(2))  # the column adds up
        carry, digit = divmod(int(match.group(2)), 10)
        answer_digits.append(str(digit))
    assert int(answer) == int(str(carry) + "".join(reversed(answer_digits)))
    assert int(answer) == sum(operands)
    return int(answer)
