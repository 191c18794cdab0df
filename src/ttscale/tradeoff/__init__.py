"""The tradeoff engine: points -> the data's frontier at each performance level -> a
curve through it, the exchange rate along it and the efficient span; their bootstrap
intervals; optional smoothers (checked against the frontier); combinations of techniques.

Entry points: ``analyse`` (the JSON), ``load_points_csv`` / ``points_from_records``
/ ``validate_points`` (input). Modules, in reading order: points, support, frontier,
frontier_curve, curves, technique, uncertainty, levels, scale, smoother (surface,
fitting, observations, powerlaw), combine, analysis; laws holds the published laws
the tests check the engine against.
"""

from ttscale.tradeoff.analysis import SCHEMA_VERSION, analyse
from ttscale.tradeoff.points import load_points_csv, points_from_records, validate_points

__all__ = ["SCHEMA_VERSION", "analyse", "load_points_csv", "points_from_records", "validate_points"]
