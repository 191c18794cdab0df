"""The tradeoff engine: points -> fitted surfaces -> iso-curves, exchange rates,
efficient spans, their bootstrap intervals, and combinations of techniques.

Entry points: ``analyse`` (the JSON), ``load_points_csv`` / ``points_from_records``
/ ``validate_points`` (input). Modules, in reading order: points, surface,
fitting, support, curves, uncertainty, scale, levels, technique, combine, analysis.
"""

from ttscale.tradeoff.analysis import SCHEMA_VERSION, analyse
from ttscale.tradeoff.points import load_points_csv, points_from_records, validate_points

__all__ = ["SCHEMA_VERSION", "analyse", "load_points_csv", "points_from_records", "validate_points"]
