"""Strategies: how a budget of samples is turned into one answer.

Uniform strategies are replayed from stored pools with exact estimators
(averaged over every k-subset of the pool), so a whole k = 1..N curve costs no
new generation. Each strategy reports, per problem, its expected performance and
the expected number of samples it draws (which fixes its inference compute).
"""

from ttscale.strategies.uniform import STRATEGIES, ReplayStrategy, replay

__all__ = ["STRATEGIES", "ReplayStrategy", "replay"]
