"""What every strategy is: typed settings in, a per-problem ledger out.

A strategy turns stored pools into answers. It sees one list of pools per model
(aligned: ``cells[m][i]`` is problem ``i`` for model ``m``), optionally the
pools of a calibration split (for strategies that choose a threshold), and its
settings (``k``, ``conf``, ``budget`` ...). It returns an ``Evaluation``: per
problem, the expected score and the expected compute it spent, every model's
work included. ``summarize`` adds the bootstrap CI over problems.

Strategies are parsed from ``NAME[:param=value,...]`` specs; every parameter is
typed and bounded, and an error names the strategy, the parameter and the value.
"""

from __future__ import annotations

import difflib
from dataclasses import dataclass, field
from typing import Mapping, Protocol, Sequence

import numpy as np

from ttscale import estimators
from ttscale.errors import InputError
from ttscale.pools import Pool

Settings = Mapping[str, float]


@dataclass(frozen=True)
class Param:
    """One setting of a strategy, accepted in ``low..high``."""

    name: str
    kind: type  # int or float
    low: float
    high: float
    default: float | None  # None: required
    doc: str

    def check(self, strategy: str, value: object) -> float:
        if isinstance(value, str):
            try:
                value = self.kind(value) if self.kind is float else int(value)
            except ValueError:
                raise InputError(
                    f"strategy {strategy!r}: parameter {self.name!r} must be {self.kind.__name__} "
                    f"in {self.low:g}..{self.high:g}, got {value!r}"
                ) from None
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise InputError(f"strategy {strategy!r}: parameter {self.name!r} must be a number, got {value!r}")
        if self.kind is int and float(value) != int(value):
            raise InputError(f"strategy {strategy!r}: parameter {self.name!r} must be an integer, got {value!r}")
        if not self.low <= value <= self.high:
            raise InputError(
                f"strategy {strategy!r}: parameter {self.name!r} must be in {self.low:g}..{self.high:g}, got {value!r}"
            )
        return self.kind(value)


@dataclass(frozen=True)
class Evaluation:
    """One strategy at one setting over a set of problems, per problem."""

    performance: np.ndarray  # expected score in [0, 1]
    infer_flops: np.ndarray  # expected inference FLOPs: every model, verifier and scorer
    infer_seconds: np.ndarray  # expected measured seconds
    draws: np.ndarray  # expected samples drawn (all models together)
    extra_train_flops: float = 0.0  # spent before deployment, e.g. training a learned verifier
    notes: Mapping[str, float] = field(default_factory=dict)  # e.g. chosen threshold, escalation rate


class Strategy(Protocol):
    name: str
    description: str
    params: tuple[Param, ...]
    n_models: int | None  # 1; 2 for (small, large) cascades; None for any number >= 2
    uses_verifier: bool

    def needs_calibration(self, settings: Settings) -> bool:
        """Whether these settings choose something on calibration pools (so the calls need them)."""
        ...

    def evaluate(
        self,
        cells: Sequence[Sequence[Pool]],
        settings: Settings,
        calibration: Sequence[Sequence[Pool]] | None,
        seed: int,
    ) -> Evaluation: ...


@dataclass(frozen=True)
class StrategyResult:
    """An evaluation summarised over problems (means, bootstrap CI)."""

    strategy: str  # canonical spec, e.g. "adaptive-vote:cap=32,conf=0.95"
    settings: Settings
    performance: float
    ci_low: float
    ci_high: float
    infer_flops: float  # mean per problem
    infer_seconds: float  # mean per problem
    mean_draws: float
    extra_train_flops: float
    notes: Mapping[str, float]

    @property
    def k(self) -> int:
        """The uniform budget, or the cap, or the rounded mean number of draws."""
        for name in ("k", "cap"):
            if name in self.settings:
                return int(self.settings[name])
        return int(round(self.mean_draws))


def summarize(name: str, settings: Settings, evaluation: Evaluation, n_boot: int = 500, seed: int = 0) -> StrategyResult:
    low, high = estimators.bootstrap_ci(evaluation.performance, n_boot=n_boot, seed=seed)
    return StrategyResult(
        strategy=format_spec(name, settings),
        settings=dict(settings),
        performance=float(np.mean(evaluation.performance)),
        ci_low=float(low),
        ci_high=float(high),
        infer_flops=float(np.mean(evaluation.infer_flops)),
        infer_seconds=float(np.mean(evaluation.infer_seconds)),
        mean_draws=float(np.mean(evaluation.draws)),
        extra_train_flops=float(evaluation.extra_train_flops),
        notes=dict(evaluation.notes),
    )


def resolve_settings(strategy: Strategy, given: Mapping[str, object]) -> dict[str, float]:
    """Checked settings with defaults filled in; unknown names get "did you mean"."""
    params = {p.name: p for p in strategy.params}
    for name in given:
        if name not in params:
            close = difflib.get_close_matches(name, params, n=1)
            hint = f"; did you mean {close[0]!r}?" if close else ""
            known = ", ".join(sorted(params)) or "none"
            raise InputError(f"strategy {strategy.name!r}: unknown parameter {name!r}{hint} (known: {known})")
    settings: dict[str, float] = {}
    for name, param in params.items():
        if name in given:
            settings[name] = param.check(strategy.name, given[name])
        elif param.default is None:
            raise InputError(f"strategy {strategy.name!r}: parameter {name!r} is required ({param.doc})")
        else:
            settings[name] = param.kind(param.default)
    return settings


def parse_spec(spec: str) -> tuple[str, dict[str, str]]:
    """``"name:a=1,b=2"`` -> ``("name", {"a": "1", "b": "2"})`` (values unchecked)."""
    if not isinstance(spec, str) or not spec.strip():
        raise InputError(f"--strategy: expected 'NAME' or 'NAME:param=value,...', got {spec!r}")
    name, _, rest = spec.strip().partition(":")
    raw: dict[str, str] = {}
    for item in filter(None, (part.strip() for part in rest.split(","))):
        key, eq, value = item.partition("=")
        key, value = key.strip(), value.strip()
        if not eq or not key or not value:
            raise InputError(f"--strategy {spec!r}: expected param=value, got {item!r}")
        if key in raw:
            raise InputError(f"--strategy {spec!r}: parameter {key!r} is given twice")
        raw[key] = value
    return name.strip(), raw


def format_spec(name: str, settings: Settings) -> str:
    if not settings:
        return name
    return name + ":" + ",".join(f"{k}={settings[k]:g}" for k in sorted(settings))


def check_aligned(name: str, cells: Sequence[Sequence[Pool]], n_models: int | None) -> None:
    """Every model's pools must cover the same problems in the same order."""
    if not cells or not cells[0]:
        raise InputError(f"strategy {name!r}: no pools to evaluate")
    if n_models is not None and len(cells) != n_models:
        raise InputError(f"strategy {name!r}: needs {n_models} model(s), got {len(cells)}")
    if n_models is None and len(cells) < 2:
        raise InputError(f"strategy {name!r}: needs at least 2 models, got {len(cells)}")
    ids = [p.problem_id for p in cells[0]]
    for cell in cells[1:]:
        if [p.problem_id for p in cell] != ids:
            raise InputError(
                f"strategy {name!r}: models {cells[0][0].model!r} and {cell[0].model!r} were not sampled on the same problems"
            )
