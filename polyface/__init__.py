"""polyface: pareidolia portraits from random polygons and neural face detectors."""

__version__ = "0.1.0"
