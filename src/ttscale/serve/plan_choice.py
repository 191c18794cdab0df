"""What a ``ttscale plan --json`` file chose, as the model and strategy a server runs.

The plan's choice names a model and a budget (the strategy spec its point was measured with, e.g.
``majority:k=4``). An interpolated optimum lies between measured configurations and runs on no model
as such: the server takes the nearest measured configuration the plan names next to it, which is
what the plan says one would deploy.
"""

from __future__ import annotations

import json
from pathlib import Path

from ttscale.errors import InputError


def served_choice(path: Path) -> tuple[list[str], str, str]:
    """(model specs, strategy spec, words on where they came from) of the plan in ``path``; a choice that runs
    several models (a cascade's ``small+large``) names them in order."""
    try:
        plan = json.loads(Path(path).read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise InputError(f"--plan: {str(path)!r} does not exist (write one with ttscale plan ... --json FILE)") from None
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise InputError(f"--plan: {str(path)!r} is not a plan JSON ({exc})") from None
    choice = plan.get("choice") if isinstance(plan, dict) else None
    if not isinstance(choice, dict):
        raise InputError(f"--plan: {str(path)!r} has no 'choice' (write it with ttscale plan ... --json FILE)")
    config, words = choice, "the plan's choice"
    if choice.get("source") != "measured":
        config, words = choice.get("nearest_measured") or {}, "the measured configuration nearest the plan's choice"
    model, budget = config.get("model"), config.get("budget")
    if not model or not budget:
        raise InputError(f"--plan: {str(path)!r}: {words} names no model and strategy to serve")
    return str(model).split("+"), str(budget), f"{words} ({config.get('technique')}, performance {config.get('performance')})"
