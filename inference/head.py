"""`fabscore.head.LinearHead`, where users and saved notebooks import the head from
(it lives in fabscore.models.head, beside the other model pieces)."""
from fabscore.models.head import C_GRID, LinearHead, cv_splits

__all__ = ["C_GRID", "LinearHead", "cv_splits"]
