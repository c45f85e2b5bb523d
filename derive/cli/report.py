"""``derive report [SET ...]``: the answer keys (and errata of claims files) as PDFs."""

from __future__ import annotations

import argparse

from derive import report


def add(sub) -> None:
    p = sub.add_parser("report", help="render the solution reports (LaTeX, PDF)")
    p.add_argument("sets", nargs="*", metavar="SET")
    p.add_argument("--out", default="reports/out")
    p.add_argument("--no-pdf", action="store_true")
    p.add_argument("--claims", default="reports/claims", metavar="DIR",
                   help="claims files whose errata to build with their sets (errata-SET.pdf)")
    p.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    return report.build_reports(list(args.sets or []), args.out, pdf=not args.no_pdf,
                                claims=args.claims)
