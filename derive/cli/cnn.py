"""``derive cnn SPEC --input HxWxC``: the accounting table of any layer list.

SPEC is a file with one layer per line, ``-`` for standard input, or the layers inline,
separated by ``;`` (``"conv 16 5x5 same; relu; pool 2x2/2"``). The text is only parsed.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from derive.core.errors import DeriveError
from derive.topics.cnn.accounting import CONVENTION, account, format_latex, format_text
from derive.topics.cnn.layers import ALIASES, KINDS


def add(sub) -> None:
    p = sub.add_parser("cnn", help="shapes, parameters, FLOPs, receptive fields of a layer list")
    p.add_argument("spec", help="a file (one layer per line), '-', or layers separated by ';'")
    p.add_argument("--input", required=True, metavar="HxWxC")
    p.add_argument("--format", choices=["text", "latex", "json"], default="text")
    p.set_defaults(run=run)


def _shown(name: str) -> str:
    return repr(name if len(name) <= 60 else name[:50] + "...")


def read_spec(spec: str) -> str:
    """The layer-list text named by ``spec``: a file, ``-``, or layers separated by ``;``.

    A spec with no ``;`` whose first word is no layer kind (``nosuchfile.txt``) names a
    file, so a missing one is reported as missing, not as an unknown layer."""
    if spec == "-":
        return sys.stdin.read()
    if ";" not in spec and "\n" not in spec:
        path = Path(spec)
        try:
            is_file, problem = path.is_file(), None
        except OSError as exc:  # e.g. a name longer than the file system allows
            is_file, problem = False, exc.strerror or str(exc)
        if is_file:
            try:
                return path.read_text(encoding="utf-8")
            except (OSError, UnicodeDecodeError) as exc:
                reason = exc.strerror if isinstance(exc, OSError) else str(exc)
                raise DeriveError(f"cannot read layer list {_shown(spec)}: {reason}") from None
        words = spec.lower().split()
        if words and words[0] not in KINDS and words[0] not in ALIASES:
            if problem is None:
                problem = "is a directory" if path.is_dir() else "no such file"
            raise DeriveError(f"layer list file {_shown(spec)}: {problem} (layers inline are "
                              "separated by ';', e.g. \"conv 16 3x3; relu\")")
    return "\n".join(part.strip() for part in spec.split(";"))


def run(args: argparse.Namespace) -> int:
    table = account(read_spec(args.spec), args.input)
    if args.format == "json":
        print(json.dumps({"convention": CONVENTION, **table.as_json()}, indent=2))
    elif args.format == "latex":
        print(format_latex(table))
    else:
        print(format_text(table))
        print(f"\n{CONVENTION}")
    return 0
