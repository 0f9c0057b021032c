"""digest: a weekly newsletter digest pipeline."""

__version__ = "0.1.0"
