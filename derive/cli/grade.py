"""``derive grade CLAIMS``: a solution's claims against the derived answers; exit status 0
when grading ran, whatever the verdicts. A progress line per problem goes to stderr
(``--quiet`` to silence); stdout holds only the report."""

from __future__ import annotations

import argparse
import sys
from collections import Counter

from derive.grade import Verdict, grade, json_report, latex_report, text_report


def add(sub) -> None:
    p = sub.add_parser("grade", help="grade a claims file against the derived answers")
    p.add_argument("claims")
    p.add_argument("--format", choices=["text", "json", "latex"], default="text")
    p.add_argument("--quiet", action="store_true", help="no progress lines on stderr")
    p.set_defaults(run=run)


def _progress(pid: str, verdicts: list[Verdict], seconds: float) -> None:
    counts = ", ".join(f"{n} {status}" for status, n in Counter(v.status for v in verdicts)
                       .items())
    print(f"  {pid:26s} {len(verdicts):3d} claim(s): {counts} ({seconds:.2f} s)",
          file=sys.stderr, flush=True)


def run(args: argparse.Namespace) -> int:
    graded = grade(args.claims, progress=None if args.quiet else _progress)
    print({"json": json_report, "latex": latex_report}.get(args.format, text_report)(graded))
    return 0
