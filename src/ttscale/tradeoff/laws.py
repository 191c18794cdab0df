"""Published laws as points, and their closed-form answers: what the engine is checked against.

Nothing in the engine imports this module; the tests and ``benchmarks/bench_published_laws.py`` do.
The laws are public equations; points are generated from them here, never copied from a paper.

- **Chinchilla** (Hoffmann et al. 2022, eq. 10 and Table A3's fit): L = E + A/N^alpha + B/D^beta with
  E 1.69, A 406.4, B 410.7, alpha 0.34, beta 0.28; TC = 6ND, IC = 2N FLOPs per token, performance
  = exp(-L). The 2024 replication's refit (Besiroglu et al.): E 1.8169, A 482.01, B 2085.43,
  alpha 0.3478, beta 0.3658.
- **Hex 9x9** (Jones 2021, the iso-Elo frontier): log10(test compute) = -1.2 log10(train compute)
  + 0.004 Elo + 29; performance = the win rate against a player at Elo 0.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from ttscale.types import Point


@dataclass(frozen=True)
class PowerLawLoss:
    irreducible: float
    a: float
    b: float
    alpha: float
    beta: float

    def loss(self, n: float, d: float) -> float:
        return self.irreducible + self.a / n**self.alpha + self.b / d**self.beta


CHINCHILLA = PowerLawLoss(1.69, 406.4, 410.7, 0.34, 0.28)
CHINCHILLA_REFIT = PowerLawLoss(1.8169, 482.01, 2085.43, 0.3478, 0.3658)


def closed_form_span(law: PowerLawLoss, ratio: float = 6.0) -> tuple[float, float]:
    """(OOM TC, OOM IC) of the efficient span at ratio r, the same at every loss level.

    Along an iso-loss curve, with a = A N^-alpha and b = B D^-beta (a + b = L - E), the rate
    |d log IC / d log TC| is 1 / (q - 1), q = alpha a / (beta b): efficient for q in [1 + 1/r, 1 + r].
    a = K c / (1 + c) with c = beta q / alpha, so N moves by log10(a2 / a1) / alpha OOM and D by
    log10(b1 / b2) / beta between the two ends, and TC = 6ND by their difference.
    """
    def shares(q: float) -> tuple[float, float]:
        c = law.beta * q / law.alpha
        return c / (1 + c), 1 / (1 + c)

    (a1, b1), (a2, b2) = shares(1 + 1 / ratio), shares(1 + ratio)
    d_log_n = math.log10(a2 / a1) / law.alpha
    d_log_d = math.log10(b1 / b2) / law.beta
    return d_log_d - d_log_n, d_log_n


def chinchilla_points(law: PowerLawLoss = CHINCHILLA, step: float = 0.25, log_n=(6.0, 12.0),
                      log_d=(8.0, 15.0), technique: str = "scaling policy") -> list[Point]:
    """One point per (N, D) on a grid of log10 N and log10 D."""
    points = []
    for ln in np.arange(log_n[0], log_n[1] + 1e-9, step):
        for ld in np.arange(log_d[0], log_d[1] + 1e-9, step):
            n, d = 10.0**ln, 10.0**ld
            points.append(Point(technique, f"N=1e{ln:.2f},D=1e{ld:.2f}", 6 * n * d, 2 * n,
                                float(math.exp(-law.loss(n, d)))))
    return points


HEX_RATE = 1.2


def hex_points(step: float = 0.5, technique: str = "MCTS (Hex 9x9)") -> list[Point]:
    """Agents trained with 1e13..1e17 FLOPs, each searching with 1e7..1e11 FLOPs per move."""
    points = []
    for log_train in np.arange(13.0, 17.0 + 1e-9, step):
        for log_test in np.arange(7.0, 11.0 + 1e-9, step):
            elo = (log_test + HEX_RATE * log_train - 29.0) / 0.004
            win = 1.0 / (1.0 + 10.0 ** (-elo / 400.0))
            points.append(Point(technique, f"agent-1e{log_train:.1f}", 10**log_train, 10**log_test, win))
    return points
