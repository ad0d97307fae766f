"""`python -m fabscore ...` is the `fabscore` command."""
import sys

from .cli import main

sys.exit(main())
