"""The `fabscore` command: one parser, each subcommand registered by the module that runs it.

`score` (score.py), `index` and `check` (evidence.py) and `serve` (serve.py) come from this package;
`train`, `evaluate` and any other subcommand from the `fabscore.commands` entry points, so scoring never
imports the training code. Each front end loads its detector through loading.py.
"""
from __future__ import annotations

import argparse
import sys

from fabscore.cli.evidence import add_check_parser, add_index_parser
from fabscore.cli.score import add_score_parser
from fabscore.cli.serve import add_serve_parser
from fabscore.io.output import PROG


def _unavailable(subparsers, name: str, why: str) -> None:
    """A subcommand whose extra is not installed: listed, and says how to install it."""
    def run(_args) -> int:
        print(f"{PROG}: error: {why}", file=sys.stderr)
        return 2

    # No option prefix: whatever follows the command name is taken as is, and the run says why it cannot start.
    p = subparsers.add_parser(name, help=f"(not installed) {why}", add_help=False, prefix_chars="\x00")
    p.add_argument("rest", nargs="*")
    p.set_defaults(func=run)


def build_parser() -> argparse.ArgumentParser:
    """`score` from this package; `train`, `evaluate` (and any other subcommand) from the
    `fabscore.commands` entry points, so scoring never imports the training code."""
    from importlib.metadata import entry_points

    from fabscore import __version__

    parser = argparse.ArgumentParser(
        prog=PROG, description="Score news articles, and every sentence in them, for likely machine-written "
                               "or fabricated content.")
    parser.add_argument("--version", action="version", version=f"{PROG} {__version__}")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    add_score_parser(sub)
    add_index_parser(sub)  # evidence mode: fabscore.cli.evidence
    add_check_parser(sub)
    add_serve_parser(sub)  # the web page and HTTP API: fabscore.cli.serve
    for ep in sorted(entry_points(group="fabscore.commands"), key=lambda e: e.name):
        try:
            register = ep.load()
        except ImportError as e:  # the extra that the command needs is missing
            _unavailable(sub, ep.name, str(e))
            continue
        register(sub)
    for command in sub.choices.values():
        command.set_defaults(_parser=command)  # so a bad option is reported with its command's usage
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args, unknown = parser.parse_known_args(argv)
    if unknown:
        getattr(args, "_parser", parser).error(f"unrecognized arguments: {' '.join(unknown)}")
    return args.func(args)


if __name__ == "__main__":
    sys.exit(main())
