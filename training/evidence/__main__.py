"""`python -m fabscore.training.evidence`: train the consistency head (train.py)."""
import sys

from fabscore.training.evidence.train import main

sys.exit(main())
