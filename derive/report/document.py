"""One problem set's solution document: the catalogue's statements joined with the answers."""

from __future__ import annotations

import re
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from importlib import metadata

from derive._registry import discover_each
from derive.answers import Answer, answer, registered_problems
from derive.catalogue import PROBLEMS, SETS, problem_ids
from derive.report import audit
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
    """A rendered set: its answer key's LaTeX, what happened to each part, and the LaTeX of its
    audit (every check, for the instructor; '' when no part is answered)."""

    set_id: str
    tex: str
    outcomes: list[PartOutcome] = field(default_factory=list)
    audit: str = ""

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


# What TeX cannot break at the start of a solution: a display (never separated from the line
# before it), a table, a picture.
_DISPLAY = re.compile(r"\\\[|\\begin\{(align|equation|gather|multline|alignat)\*?\}")
_BLOCK = re.compile(r"\\begin\{(tabular|array|tikzpicture|minipage)\}")


def lead_lines(body: str) -> int:
    """How many lines of a solution to keep on the page of its question: the first lines, and
    what opens within them that TeX cannot break: the first three rows of a display (the key
    lets a long display break between rows), a whole table, a picture."""
    head = body[:400]
    block = _BLOCK.search(head)
    display = _DISPLAY.search(head)
    if block and (not display or block.start() < display.start()):
        if block.group(1) in ("tikzpicture", "minipage"):
            return 20  # its height is unknown before TeX sets it: about a third of a page
        end = body.find(f"\\end{{{block.group(1)}}}", block.end())
        rows = body[block.start() : end if end != -1 else len(body)].count("\\\\") + 1
        return min(4 + rows, 40)
    if not display:
        return 5
    end = body.find(f"\\end{{{display.group(1)}" if display.group(1) else "\\]", display.end())
    rows = body[display.start() : end if end != -1 else len(body)].count("\\\\") + 1
    tall = any(cmd in body[display.start() : end] for cmd in
               ("\\frac", "\\sum", "\\prod", "\\begin{bmatrix"))
    return 4 + min(rows, 3) * (3 if tall else 2)


def _label(pid: str, number: str) -> str:
    """The part's heading in the course's words: ``Part (a)`` for ``1a`` under problem 1,
    ``2.1`` for a numbered part; '' when the part is the whole problem."""
    suffix = pid.split("/", 1)[1]
    if suffix == number:
        return ""
    rest = suffix[len(number):] if suffix.startswith(number) else ""
    return f"Part ({rest})" if rest.isalpha() else suffix


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
    anchor = 0
    for problem in catalogue()[set_id]:
        parts = []
        for pid, part in problem.parts.items():
            if pid not in wanted:
                continue
            start = time.perf_counter()
            anchor += 1
            entry: dict[str, object] = {
                "pid": pid,
                "anchor": f"part{anchor}",  # a LaTeX label for the overview's page numbers
                "number": pid.split("/", 1)[1],  # the course's number of the part: 1a, 2.1
                "title": title(PROBLEMS[pid]),  # LaTeX
                "label": _label(pid, problem.number),
                "statement": part.latex,
                "figure_missing": part.figure_missing,
                "status": "unanswered",
                "checks": [],
                "note": "",
                "lead": 5,  # lines of the solution kept with the question
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
                summary = audit.note(list(ans.checks))
                entry.update(
                    status="answered",
                    body=ans.latex,
                    checks=[audit.row(c) for c in ans.checks],
                    note=summary["text"],
                    lead=lead_lines(ans.latex),
                    failed=summary["failed"],
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
    context = {"set_id": set_id, "set_summary": SETS[set_id], "version": _version(),
               "conventions": conventions(), "problems": problems, "totals": totals}
    tex = render(f"{set_id}.tex", audit=False, **context)
    audit_tex = render(f"{set_id}.tex", audit=True, **context) if totals["answered"] else ""
    return Document(set_id, tex, outcomes, audit_tex)


def _version() -> str:
    try:
        return metadata.version("derive")
    except metadata.PackageNotFoundError:
        return "(source tree)"
