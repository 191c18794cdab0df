"""A power-law surface: performance = exp(-L), L a sum of power laws in IC and TC/IC.

    L(x, y) = E + 10^(a - alpha (y - y0)) + 10^(b - beta (x - y - r0))

with x = log10 TC, y = log10 IC and (y0, r0) the data's medians (centring keeps
a and b well-conditioned). This is the form of the Chinchilla law
L = E + A/N^alpha + B/D^beta read in the project's coordinates: IC per token
is 2N and TC/IC = 3D, so N and D are IC and TC/IC up to constants. For a
technique that is not a scaling policy it is a smoother like any other, kept
only where it agrees with the frontier (smoother.py).

Iso-curves are closed-form. With K = -ln(level) - E, t1 and t2 the two power
terms (t1 + t2 = K) and q = alpha t1 / (beta t2):

    dx/dy = 1 - q,    rate = |dy/dx| = 1 / (q - 1)  on the frontier (q > 1),

so the rate runs from infinity at the compute-optimal point (q = 1) to 0 at the
over-trained end (q -> infinity), and the span at ratio r is q from 1 + 1/r to
1 + r, at every level (the same OOM whatever the loss: the Chinchilla result).

Fitted on ln L by robust least squares (Huber with a small threshold, as the
2024 Chinchilla replication did), from a grid of starts.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
from scipy.optimize import least_squares

from ttscale.tradeoff.curves import IsoCurve

PERF_CLIP = 1e-6
HUBER_DELTA = 1e-3
MAX_EXPONENT = 5.0


@dataclass(frozen=True)
class PowerLaw:
    irreducible: float  # E
    a: float
    alpha: float
    b: float
    beta: float
    y0: float
    r0: float

    def loss(self, x, y):
        x, y = np.asarray(x, dtype=float), np.asarray(y, dtype=float)
        return self.irreducible + 10.0 ** (self.a - self.alpha * (y - self.y0)) + 10.0 ** (
            self.b - self.beta * (x - y - self.r0))

    def predict(self, x, y):
        return np.exp(-self.loss(x, y))

    def parameters(self) -> dict:
        return {"E": self.irreducible, "a": self.a, "alpha": self.alpha, "b": self.b, "beta": self.beta,
                "centre_log10_infer_flops": self.y0, "centre_log10_train_per_infer": self.r0,
                "form": "perf = exp(-(E + 10^(a - alpha (log10 IC - y0)) + 10^(b - beta (log10 TC/IC - r0))))"}

    def iso_curve(self, level: float, count: int = 2001, q_max: float = 1e4) -> IsoCurve | None:
        """The frontier part (q > 1) of the level's curve, from the compute-optimal end to rate 1/q_max."""
        k = -math.log(level) - self.irreducible
        if not k > 0:
            return None
        # q = (alpha t1) / (beta t2) with t1 + t2 = K: t1 = K c / (1 + c), c = beta q / alpha.
        q = np.geomspace(1.0 + 1e-4, q_max, count)
        c = self.beta * q / self.alpha
        t1 = k * c / (1.0 + c)
        t2 = k - t1
        y = self.y0 + (self.a - np.log10(t1)) / self.alpha
        x = y + self.r0 + (self.b - np.log10(t2)) / self.beta
        # Equal spacing in arc length (what a median over the curve's length needs), ordered by TC.
        arc = np.concatenate([[0.0], np.cumsum(np.hypot(np.diff(x), np.diff(y)))])
        even = np.linspace(0.0, arc[-1], count)
        log_rate = np.interp(even, arc, -np.log(q - 1.0))
        xs, ys = np.interp(even, arc, x), np.interp(even, arc, y)
        return IsoCurve(xs, ys, np.exp(log_rate), np.zeros(count, dtype=bool))


def _residual(x, y, log_loss):
    def residual(theta):
        e, a, alpha, b, beta = theta
        with np.errstate(over="ignore"):
            law = PowerLaw(e, a, alpha, b, beta, 0.0, 0.0)
            return np.log(law.loss(x, y)) - log_loss

    return residual


def fit_power_law(x: np.ndarray, y: np.ndarray, perf: np.ndarray) -> tuple[PowerLaw, float] | None:
    """The fitted law and its RMS residual in ln L, or None when no start converges."""
    loss = -np.log(np.clip(perf, PERF_CLIP, 1.0 - PERF_CLIP))
    y0, r0 = float(np.median(y)), float(np.median(x - y))
    xc, yc = x - (y0 + r0), y - y0  # centred: x - y - r0 = xc - yc
    log_loss = np.log(loss)
    lower = [0.0, -10.0, 1e-3, -10.0, 1e-3]
    upper = [max(1e-9, float(loss.min()) * (1 - 1e-9)), 10.0, MAX_EXPONENT, 10.0, MAX_EXPONENT]
    best = None
    for e_share in (0.0, 0.5, 0.9):
        e0 = e_share * upper[0]
        amplitude = math.log10(max(1e-9, float(np.median(loss)) - e0) / 2)
        for alpha in (0.1, 0.3, 0.8):
            for beta in (0.1, 0.3, 0.8):
                start = np.clip([e0, amplitude, alpha, amplitude, beta], np.array(lower) + 1e-12,
                                np.array(upper) - 1e-12)
                try:
                    sol = least_squares(_residual(xc, yc, log_loss), start, bounds=(lower, upper), loss="huber",
                                        f_scale=HUBER_DELTA, max_nfev=400)
                except (ValueError, np.linalg.LinAlgError):
                    continue
                if np.all(np.isfinite(sol.fun)) and (best is None or sol.cost < best.cost):
                    best = sol
    if best is None:
        return None
    e, a, alpha, b, beta = (float(v) for v in best.x)
    law = PowerLaw(e, a, alpha, b, beta, y0, r0)
    rms = float(np.sqrt(np.mean((np.log(law.loss(x, y)) - log_loss) ** 2)))
    return law, rms
