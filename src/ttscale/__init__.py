"""ttscale: measure, map and exploit the trade between training and inference compute."""

__version__ = "0.1.0"
