"""How good the colour and the restoration are, measured on held-out photos
(`python -m colorizer.evaluate`), and the damage model and old emulsions that training and
evaluation share. Inference never imports this package."""

from colorizer.evaluate.cli import Options, main, parse_args
from colorizer.evaluate.photos import ImageResult, Report, Scores, evaluate

__all__ = ["ImageResult", "Options", "Report", "Scores", "evaluate", "main", "parse_args"]
