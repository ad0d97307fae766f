"""`python -m fabscore ...` is the `fabscore` command."""
import sys

from fabscore.cli.commands import main

sys.exit(main())
