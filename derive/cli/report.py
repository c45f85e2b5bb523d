"""``derive report [SET ...]``: the answer keys (and errata of claims files) as PDFs; an
argument ending in ``.toml`` that names a file is an instructor's problem file."""

from __future__ import annotations

import argparse
from pathlib import Path

from derive import report
from derive.core.errors import DeriveError
from derive.report.problemset import build_problemset, is_problem_file

# The claims folder of the source tree: used when it is there, silently skipped elsewhere
# (an installed ``derive`` run from any folder); a --claims that does not exist is an error.
DEFAULT_CLAIMS = "reports/claims"


def add(sub) -> None:
    p = sub.add_parser("report", help="render the solution reports (LaTeX, PDF)")
    p.add_argument("sets", nargs="*", metavar="SET",
                   help="catalogue set ids, or a problem file path/to/set.toml")
    p.add_argument("--out", default="reports/out",
                   help="the folder of the PDFs (default reports/out)")
    p.add_argument("--no-pdf", action="store_true", help="write the .tex only (no TeX needed)")
    p.add_argument("--tex", action="store_true", help="keep each PDF's .tex beside it")
    p.add_argument("--claims", default=None, metavar="DIR",
                   help="claims files whose errata to build with their sets (errata-STEM.pdf; "
                   f"default {DEFAULT_CLAIMS} when it exists, for catalogue sets; a problem "
                   "file's errata only when given)")
    p.add_argument("--quiet", action="store_true", help="no progress lines on stderr")
    p.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    files = [name for name in args.sets or [] if is_problem_file(name)]
    if files:
        if len(files) != len(args.sets):
            raise DeriveError("give either problem files (*.toml) or catalogue set ids, not "
                              "both in one command")
        status = 0
        for path in files:  # errata only when asked: no default claims folder for a file
            status = max(status, build_problemset(path, args.out, pdf=not args.no_pdf,
                                                  keep_tex=args.tex, quiet=args.quiet,
                                                  claims=args.claims))
        return status
    missing = [n for n in args.sets or [] if n.endswith(".toml")]
    if missing:
        raise DeriveError(f"problem file {missing[0]!r} not found (a problem file is a "
                          "path/to/set.toml; 'derive new-set PATH' writes a template)")
    claims = args.claims
    if claims is None and Path(DEFAULT_CLAIMS).is_dir():
        claims = DEFAULT_CLAIMS
    return report.build_reports(list(args.sets or []), args.out, pdf=not args.no_pdf,
                                claims=claims, keep_tex=args.tex, quiet=args.quiet)
