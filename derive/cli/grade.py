"""``derive grade CLAIMS``: a solution's claims against the derived answers; exit status 0
when grading ran, whatever the verdicts."""

from __future__ import annotations

import argparse

from derive.grade import grade, json_report, latex_report, text_report


def add(sub) -> None:
    p = sub.add_parser("grade", help="grade a claims file against the derived answers")
    p.add_argument("claims")
    p.add_argument("--format", choices=["text", "json", "latex"], default="text")
    p.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    graded = grade(args.claims)
    print({"json": json_report, "latex": latex_report}.get(args.format, text_report)(graded))
    return 0
