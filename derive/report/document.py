"""One problem set's solution document: the catalogue's statements joined with the answers."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from importlib import metadata

from derive._registry import discover_each
from derive.answers import Answer, answer, registered_problems
from derive.catalogue import PROBLEMS, SETS, problem_ids
from derive.checks.check import Check
from derive.printing.tex import latex_number
from derive.report.render import render
from derive.report.statements import catalogue, conventions, title

# How a part's answer is found: the registry in normal use, fakes in tests.
AnswerSource = Callable[[str], Answer | None]


@dataclass
class PartOutcome:
    """How building one part went, for the progress line and the summary."""

    pid: str
    status: str  # "answered", "unanswered" or "error"
    seconds: float
    failed_checks: int = 0
    error: str = ""


@dataclass
class Document:
    """A rendered set: its LaTeX source and what happened to each part."""

    set_id: str
    tex: str
    outcomes: list[PartOutcome] = field(default_factory=list)

    @property
    def unanswered(self) -> int:
        return sum(o.status == "unanswered" for o in self.outcomes)

    @property
    def broken(self) -> int:
        return sum(o.status == "error" for o in self.outcomes)

    @property
    def failed_checks(self) -> int:
        return sum(o.failed_checks for o in self.outcomes)


def load_answer_modules() -> list[str]:
    """Import every model and problem module, each on its own, so that one module that fails
    to import does not hide the answers of the others; the failures, as messages."""
    return discover_each()


def registry_answer(pid: str) -> Answer | None:
    """The registered answer to ``pid``, or None when no module answers it yet."""
    if pid not in registered_problems():
        return None
    return answer(pid)


def check_row(check: Check) -> dict[str, object]:
    """A check as the verification table prints it (numbers as LaTeX math)."""
    exact = check.tolerance == 0 and check.error in (0.0, 1.0)
    if exact:
        error = "agrees" if check.error == 0 else "differs"
        tolerance = "exact"
    else:
        error = f"${latex_number(check.error)}$"
        tolerance = f"${latex_number(check.tolerance, 1)}$"
    return {
        "name": check.name,
        "against": check.against,
        "detail": check.detail,
        "error": error,
        "tolerance": tolerance,
        "passed": check.passed,
    }


def _label(pid: str, number: str) -> str:
    """The part's heading: ``1a`` under problem 1; '' when the part is the whole problem."""
    suffix = pid.split("/", 1)[1]
    return "" if suffix == number else f"({suffix})"


def build(
    set_id: str,
    answers: AnswerSource = registry_answer,
    progress: Callable[[PartOutcome], None] | None = None,
) -> Document:
    """Render the document of ``set_id``; every catalogue id of the set gets a section."""
    problems = []
    outcomes: list[PartOutcome] = []
    totals = {"parts": 0, "answered": 0, "unanswered": 0, "broken": 0, "checks": 0, "failed": 0}
    wanted = set(problem_ids(set_id))
    for problem in catalogue()[set_id]:
        parts = []
        for pid, part in problem.parts.items():
            if pid not in wanted:
                continue
            start = time.perf_counter()
            entry: dict[str, object] = {
                "pid": pid,
                "title": title(PROBLEMS[pid]),  # LaTeX
                "label": _label(pid, problem.number),
                "statement": part.latex,
                "figure_missing": part.figure_missing,
                "status": "unanswered",
                "checks": [],
                "failed": 0,
                "figures": [],
                "body": "",
                "error": "",
            }
            try:
                ans = answers(pid)
            except Exception as exc:  # an answer module's bug: mark it, keep the document
                ans = None
                entry["status"] = "error"
                entry["error"] = f"{type(exc).__name__}: {exc}"
            if ans is not None:
                rows = [check_row(c) for c in ans.checks]
                entry.update(
                    status="answered",
                    body=ans.latex,
                    checks=rows,
                    failed=sum(not c.passed for c in ans.checks),
                    figures=[
                        # the name is the caption: ``gradient_norms`` reads as words
                        {"caption": name.replace("_", " "), "source": source}
                        for name, source in ans.figures.items()
                    ],
                )
            outcome = PartOutcome(
                pid,
                str(entry["status"]),
                time.perf_counter() - start,
                int(entry["failed"]),  # type: ignore[call-overload]
                str(entry["error"]),
            )
            outcomes.append(outcome)
            if progress:
                progress(outcome)
            totals["parts"] += 1
            totals["answered"] += outcome.status == "answered"
            totals["unanswered"] += outcome.status == "unanswered"
            totals["broken"] += outcome.status == "error"
            totals["checks"] += len(entry["checks"])  # type: ignore[arg-type]
            totals["failed"] += outcome.failed_checks
            parts.append(entry)
        problems.append(
            {
                "number": problem.number,
                "title": problem.title,
                "preamble": problem.preamble,
                "figure_missing": problem.figure_missing,
                "out_of_scope": problem.out_of_scope,
                "parts": parts,
            }
        )
    tex = render(
        f"{set_id}.tex",
        set_id=set_id,
        set_summary=SETS[set_id],
        version=_version(),
        conventions=conventions(),
        problems=problems,
        totals=totals,
    )
    return Document(set_id, tex, outcomes)


def _version() -> str:
    try:
        return metadata.version("derive")
    except metadata.PackageNotFoundError:
        return "(source tree)"
