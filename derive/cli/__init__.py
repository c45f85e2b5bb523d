"""The ``derive`` command line, the only user of argparse: one module per command (list,
show, check, grad, answer, report, grade, schedule, cnn)."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence

from derive.cli import answer, check, cnn, grad, grade, listing, report, schedule, show
from derive.cli.arguments import Parser, parse_dims
from derive.core.errors import DeriveError

COMMANDS = (listing, show, check, grad, answer, report, grade, schedule, cnn)
__all__ = ["build_parser", "main", "parse_dims"]


def build_parser() -> argparse.ArgumentParser:
    parser = Parser(prog="derive", description=__doc__.splitlines()[0])
    parser.add_argument("--debug", action="store_true", help="show tracebacks")
    sub = parser.add_subparsers(dest="command", required=True, parser_class=Parser)
    for command in COMMANDS:
        command.add(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    debug = "--debug" in argv
    try:
        args = build_parser().parse_args(argv)
        return args.run(args)
    except DeriveError as exc:
        if debug:
            raise
        print(f"derive: error: {exc}", file=sys.stderr)
        return 2
    except BrokenPipeError:  # output piped into `head`: not an error of ours
        sys.stderr.close()
        return 0
    except KeyboardInterrupt:
        print("derive: error: interrupted", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
