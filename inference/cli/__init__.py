"""The command line: `fabscore score` (score.py; the parser in commands.py), `fabscore index` (evidence.py), and the
training commands, found through the `fabscore.commands` entry points."""
from fabscore.cli.commands import main

__all__ = ["main"]
