"""``derive new-set [PATH]``: a documented, working problem file to start from."""

from __future__ import annotations

import argparse
from importlib import resources
from pathlib import Path

from derive.core.errors import DeriveError

DEFAULT_PATH = "my-homework.toml"


def add(sub) -> None:
    p = sub.add_parser("new-set", help="write a template problem file (an instructor's own "
                       "problem set; 'derive report FILE.toml' builds its key)")
    p.add_argument("path", nargs="?", default=DEFAULT_PATH, metavar="PATH",
                   help=f"where to write it (default {DEFAULT_PATH}); never overwritten")
    p.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    path = Path(args.path)
    if not path.name.endswith(".toml"):
        raise DeriveError(f"new-set: {args.path!r} must end in .toml (the problem file "
                          "format)")
    if path.exists():
        raise DeriveError(f"new-set: {args.path!r} exists; it is not overwritten (give "
                          "another PATH)")
    text = resources.files("derive.problemset").joinpath("template.toml").read_text(
        encoding="utf-8")
    try:
        with path.open("x", encoding="utf-8") as out:  # "x": never replace a file
            out.write(text)
    except FileExistsError:
        raise DeriveError(f"new-set: {args.path!r} exists; it is not overwritten") from None
    except OSError as exc:
        raise DeriveError(f"new-set: cannot write {args.path!r}: {exc.strerror}") from None
    print(f"wrote {path}; build its answer key with: derive report {path} --out keys")
    return 0
