"""``derive grade``: check a solution's claimed answers against the derived answers.

    >>> from derive.grade import grade, errata_latex
    >>> report = grade("reports/claims/rnn-cnn-hw.toml")
    >>> report.counts()            # {'correct': ..., 'wrong': ..., ...}
    >>> errata_latex("reports/claims/rnn-cnn-hw.toml")   # a LaTeX body for the reports

The claims file format is documented in :mod:`derive.grade.claims`; formulas are read by the
safe parser of :mod:`derive.grade.parse` (never ``eval``'d) and compared by
:mod:`derive.grade.equivalence`.
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

from derive.grade.claims import Claim, ClaimsFile, load_claims
from derive.grade.render import Report, json_report, latex_report, text_report
from derive.grade.verdicts import NOT_CHECKABLE, Verdict, grade_claim

BUDGET_SECONDS = 300  # per claims file; each claim is bounded too (parse limits, simplify timeout)

__all__ = ["Claim", "ClaimsFile", "Report", "Verdict", "errata_latex", "grade", "main"]


def grade(path: str | Path) -> Report:
    """Grade every claim of the claims file at ``path`` (a ``DeriveError`` if it is malformed)."""
    claims_file = load_claims(path)
    deadline = time.monotonic() + BUDGET_SECONDS
    verdicts = []
    for claim in claims_file.claims:
        if time.monotonic() > deadline:  # a file of many slow claims still finishes
            verdicts.append(Verdict(claim, NOT_CHECKABLE, f"not graded: the file's time budget "
                                    f"of {BUDGET_SECONDS} s is spent", claimed=claim.value))
        else:
            verdicts.append(grade_claim(claim))
    _carried_totals(verdicts)
    return Report(claims_file, verdicts)


def _carried_totals(verdicts: list[Verdict]) -> None:
    """A wrong total that is the sum of the solution's own (wrong) rows inherits their errors:
    say so, rather than guess a slip in the total itself."""
    from fractions import Fraction

    for v in verdicts:
        if v.claim.kind != "number" or v.status != "wrong" or v.slip:
            continue
        for other in verdicts:
            rows = other.claimed
            if other is v or other.claim.problem != v.claim.problem or \
                    other.claim.kind != "numbers" or not isinstance(rows, list) or \
                    not all(isinstance(r, Fraction) for r in rows):
                continue
            if sum(rows) == v.claimed and other.status == "wrong":
                v.slip = (f"carried over: the claimed total is the sum of the solution's own "
                          f"rows ({other.claim.title}), so it inherits their errors")
                break


def errata_latex(path: str | Path) -> str:
    """The errata of one solution as a LaTeX body: what is right, what is wrong, corrections."""
    return latex_report(grade(path))


def main(args: argparse.Namespace) -> int:
    """``derive grade CLAIMS --format text|json|latex``: 0 when grading ran, whatever the
    verdicts; a malformed claims file is a ``DeriveError`` (exit status 2)."""
    report = grade(args.claims)
    fmt = getattr(args, "format", "text")
    print({"json": json_report, "latex": latex_report}.get(fmt, text_report)(report))
    return 0
