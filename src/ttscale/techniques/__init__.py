"""Techniques: ways to move along the tradeoff, turned into points.

replayed.py: (task, strategy, settings) arms replayed on stored pools over
models or model groups; searched.py: live tree searches on each model;
points.py: a point with what produced it.
"""

from ttscale.techniques.points import PointDetail
from ttscale.techniques.replayed import Arm, TechniqueSpec, budgets_up_to, default_groups, technique_points

__all__ = ["Arm", "PointDetail", "TechniqueSpec", "budgets_up_to", "default_groups", "technique_points"]
