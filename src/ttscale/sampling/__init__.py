"""Sampling: samples drawn from backends into the store, gathered into pools, or drawn one by one.

Modules: draw.py (``run_sweep``: every (problem, index) of a plan, resumable;
``sample_seed``: sample i's seed; ``to_sample``: a generation graded and costed),
pools.py (stored samples as arrays for replay), sources.py (samples by index for
live strategies: from a backend, or from the store).
"""
