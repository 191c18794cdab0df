"""The performance surface: a monotone logistic family in (log10 TC, log10 IC).

With x = log10 TC and y = log10 IC (per problem) the surface is

    perf(x, y) = floor + (ceiling - floor) * sigmoid(z),
    z          = a * g_x(x) + b * g_y(y) + c,        a >= 0, b >= 0,

where each g is either the identity (compute keeps helping at a constant
logit rate) or a *smooth minimum* that saturates at a point s:

    g(u) = s - softplus(k (s - u)) / k      -> u  for u << s,  -> s  for u >> s,
    g'(u) = sigmoid(k (s - u))  in (0, 1)   (k > 0: how sharp the bend is).

Assumptions, and why:

- monotone non-decreasing in both kinds of compute: a, b >= 0 and g' > 0, so
  more TC or more IC never *lowers* predicted performance;
- saturation is allowed: past s_y extra inference stops helping (a model that
  cannot solve a problem does not start to by being sampled more), likewise
  s_x for training;
- a floor and a ceiling (chance level, or problems no configuration solves)
  may be fitted; otherwise they are 0 and 1;
- the two kinds of compute act additively on the logit. This is the smallest
  family in which iso-curves are analytic; interactions beyond that show up
  as a worse R² (reported), not as a silently wrong shape.

Analytic consequences (why this family):

- iso-curve at level P: z = z* = logit((P - floor) / (ceiling - floor)), i.e.
  a g_x(x) + b g_y(y) = z* - c, solved for y given x (or x given y) in closed
  form with g^{-1}(t) = s - log(expm1(k (s - t))) / k for t < s;
- exchange rate: along the level set dy/dx = -(dperf/dx) / (dperf/dy); the
  common factor (ceiling - floor) sigmoid'(z) cancels, leaving

      rate(x, y) = |d log IC / d log TC| = a g_x'(x) / (b g_y'(y)).

  It falls along an iso-curve as TC grows (g_x' falls, g_y' rises as y
  falls), so the efficient span is one connected piece.

x and y are centred (x0, y0: the data's mean) only to condition the fit.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class Saturation:
    """Where (``point``, log10 FLOPs) and how sharply (``sharpness``, per OOM) compute stops helping."""

    point: float
    sharpness: float


@dataclass(frozen=True)
class Variant:
    """Which parts of the family are switched on; each adds parameters."""

    saturate_train: bool
    saturate_infer: bool
    free_bounds: bool

    @property
    def name(self) -> str:
        parts = ["logistic"]
        if self.saturate_infer:
            parts.append("IC-saturation")
        if self.saturate_train:
            parts.append("TC-saturation")
        if self.free_bounds:
            parts.append("floor-ceiling")
        return "+".join(parts)

    @property
    def n_params(self) -> int:
        return 3 + 2 * self.saturate_train + 2 * self.saturate_infer + 2 * self.free_bounds


ALL_VARIANTS = tuple(
    Variant(saturate_train=st, saturate_infer=si, free_bounds=fb)
    for fb in (False, True)
    for si, st in ((False, False), (True, False), (False, True), (True, True))
)


def softplus(t):
    return np.logaddexp(0.0, t)


def sigmoid(t):
    return 0.5 * (1.0 + np.tanh(0.5 * np.asarray(t, dtype=float)))


def logit(p: float) -> float:
    return float(np.log(p) - np.log1p(-p))


def smooth_min(u, sat: Saturation | None):
    if sat is None:
        return np.asarray(u, dtype=float)
    k = sat.sharpness
    return sat.point - softplus(k * (sat.point - np.asarray(u, dtype=float))) / k


def smooth_min_slope(u, sat: Saturation | None):
    if sat is None:
        return np.ones_like(np.asarray(u, dtype=float))
    return sigmoid(sat.sharpness * (sat.point - np.asarray(u, dtype=float)))


def smooth_min_inverse(t, sat: Saturation | None):
    """u with smooth_min(u) = t; nan where t >= s (the saturated value is never reached)."""
    t = np.asarray(t, dtype=float)
    if sat is None:
        return t
    k = sat.sharpness
    v = k * (sat.point - t)  # softplus(k (s - u)) = v  =>  k (s - u) = log(expm1(v))
    with np.errstate(invalid="ignore", divide="ignore", over="ignore"):
        # log(expm1(v)) = v + log(1 - exp(-v)), stable for large v.
        inner = np.where(v > 0, v + np.log(-np.expm1(-np.where(v > 0, v, 1.0))), np.nan)
    return sat.point - inner / k


@dataclass(frozen=True)
class Surface:
    """A fitted surface; see the module docstring for the formula."""

    variant: Variant
    slope_train: float  # a, logit per OOM of TC (before saturation)
    slope_infer: float  # b, logit per OOM of IC (before saturation)
    offset: float  # c, the logit at the centre (x0, y0)
    x0: float
    y0: float
    sat_train: Saturation | None
    sat_infer: Saturation | None
    floor: float
    ceiling: float

    def logit_value(self, x, y):
        gx = smooth_min(x, self.sat_train) - self.x0
        gy = smooth_min(y, self.sat_infer) - self.y0
        return self.slope_train * gx + self.slope_infer * gy + self.offset

    def predict(self, x, y):
        return self.floor + (self.ceiling - self.floor) * sigmoid(self.logit_value(x, y))

    def exchange_rate(self, x, y):
        """a g_x'(x) / (b g_y'(y)); inf where IC does not help, 0 where TC does not."""
        num = self.slope_train * smooth_min_slope(x, self.sat_train)
        den = self.slope_infer * smooth_min_slope(y, self.sat_infer)
        # A vanishing IC slope overflows to inf: the rate is infinite there, as meant.
        with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
            rate = np.where(den > 0, num / np.where(den > 0, den, 1.0), np.where(num > 0, np.inf, np.nan))
        return rate

    def level_logit(self, level: float) -> float | None:
        """z* for a performance level, or None when the level lies outside (floor, ceiling)."""
        if not self.floor < level < self.ceiling:
            return None
        return logit((level - self.floor) / (self.ceiling - self.floor))

    def solve_infer(self, x, level: float):
        """log10 IC on the iso-curve at log10 TC = x (nan where there is none)."""
        return self._solve(x, level, given=(self.slope_train, self.sat_train, self.x0),
                           solved=(self.slope_infer, self.sat_infer, self.y0))

    def solve_train(self, y, level: float):
        """log10 TC on the iso-curve at log10 IC = y (nan where there is none)."""
        return self._solve(y, level, given=(self.slope_infer, self.sat_infer, self.y0),
                           solved=(self.slope_train, self.sat_train, self.x0))

    def _solve(self, given_values, level: float, given: tuple, solved: tuple):
        """One axis's coordinate on the iso-curve from the other's; each axis is (slope, saturation, centre)."""
        z = self.level_logit(level)
        values = np.asarray(given_values, dtype=float)
        (slope_given, sat_given, centre_given), (slope_solved, sat_solved, centre_solved) = given, solved
        if z is None or slope_solved <= 0:
            return np.full_like(values, np.nan)
        g = smooth_min(values, sat_given) - centre_given
        with np.errstate(over="ignore"):  # a near-zero slope: the curve runs off to infinite compute
            target = (z - self.offset - slope_given * g) / slope_solved + centre_solved
        return smooth_min_inverse(target, sat_solved)

    def parameters(self) -> dict:
        """Named parameters in log10-FLOP units, for the JSON."""
        out = {
            "slope_train_logit_per_oom": self.slope_train,
            "slope_infer_logit_per_oom": self.slope_infer,
            "logit_at_centre": self.offset,
            "centre_log10_train_flops": self.x0,
            "centre_log10_infer_flops": self.y0,
            "floor": self.floor,
            "ceiling": self.ceiling,
        }
        if self.sat_train is not None:
            out["saturation_log10_train_flops"] = self.sat_train.point
            out["saturation_sharpness_train"] = self.sat_train.sharpness
        if self.sat_infer is not None:
            out["saturation_log10_infer_flops"] = self.sat_infer.point
            out["saturation_sharpness_infer"] = self.sat_infer.sharpness
        return out


def surface_from_vector(variant: Variant, theta, x0: float, y0: float) -> Surface:
    """Unpack the optimiser's vector [a, b, c, (s_x, k_x), (s_y, k_y), (floor, h)].

    The ceiling is floor + (1 - floor) h with h in (0, 1], so floor < ceiling <= 1
    holds by construction (box bounds cannot say "ceiling > floor" directly).
    """
    theta = list(map(float, theta))
    a, b, c = theta[:3]
    rest = theta[3:]
    sat_train = sat_infer = None
    if variant.saturate_train:
        sat_train, rest = Saturation(rest[0], rest[1]), rest[2:]
    if variant.saturate_infer:
        sat_infer, rest = Saturation(rest[0], rest[1]), rest[2:]
    floor, ceiling = 0.0, 1.0
    if variant.free_bounds:
        floor = rest[0]
        ceiling = floor + (1.0 - floor) * rest[1]
    return Surface(variant, a, b, c, x0, y0, sat_train, sat_infer, floor, ceiling)
