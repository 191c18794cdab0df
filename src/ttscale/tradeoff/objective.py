"""The least-squares objective: residuals (predicted - measured) / sigma and
their analytic Jacobian, for the parameter vector of surface.py."""

from __future__ import annotations

import numpy as np

from ttscale.tradeoff.observations import Observations
from ttscale.tradeoff.surface import Saturation, Variant, sigmoid, softplus, surface_from_vector


def residuals(variant: Variant, obs: Observations, x0: float, y0: float):
    def residual(theta):
        surface = surface_from_vector(variant, theta, x0, y0)
        return (surface.predict(obs.x, obs.y) - obs.perf) / obs.sigma

    return residual


def _saturation_columns(u, sat: Saturation | None, slope: float, centre: float):
    """g(u) - centre, and dz/ds, dz/dk for a saturating axis (empty when unsaturated).

    With w = k (s - u) and g = s - softplus(w)/k:
    dg/ds = 1 - sigmoid(w),  dg/dk = softplus(w)/k**2 - sigmoid(w) (s - u)/k.
    """
    if sat is None:
        return u - centre, []
    s, k = sat.point, sat.sharpness
    w = k * (s - u)
    sp, sg = softplus(w), sigmoid(w)
    g = s - sp / k
    return g - centre, [slope * (1.0 - sg), slope * (sp / k**2 - sg * (s - u) / k)]


def jacobian(variant: Variant, obs: Observations, x0: float, y0: float):
    """Analytic d residual / d theta (twice as fast as finite differences, and exact).

    p = floor + (1 - floor) h sigmoid(z): dp/dz = (ceiling - floor) sigmoid'(z),
    dp/dfloor = 1 - h sigmoid(z), dp/dh = (1 - floor) sigmoid(z).
    """

    def jacobian(theta):
        surface = surface_from_vector(variant, theta, x0, y0)
        gx, train_cols = _saturation_columns(obs.x, surface.sat_train, surface.slope_train, x0)
        gy, infer_cols = _saturation_columns(obs.y, surface.sat_infer, surface.slope_infer, y0)
        z = surface.slope_train * gx + surface.slope_infer * gy + surface.offset
        sg = sigmoid(z)
        dp_dz = (surface.ceiling - surface.floor) * sg * (1.0 - sg)
        columns = [dp_dz * gx, dp_dz * gy, dp_dz] + [dp_dz * col for col in train_cols + infer_cols]
        if variant.free_bounds:
            h = theta[-1]
            columns += [1.0 - h * sg, (1.0 - surface.floor) * sg]
        return np.column_stack(columns) / obs.sigma[:, None]

    return jacobian
