"""fabscore inference: read, normalize, split and featurize text; score it with a saved model.

Never imports `training`: a model directory and this package are all a scorer needs.
"""
from .detector import ArticleScore, Detector, SentenceScore, load_detector

__all__ = ["load_detector", "Detector", "ArticleScore", "SentenceScore"]
