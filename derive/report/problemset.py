"""The answer key of an instructor's problem file: its parts answered, typeset in the set's
notation with the key's shared layout (``base.tex``), and compiled like the catalogue's keys."""

from __future__ import annotations

import sys
import time
from pathlib import Path

from derive.problemset import AnsweredPart, ProblemSet, answer_set, load
from derive.report import audit, latexmk, output_folder
from derive.report.document import Document, PartOutcome, _version, lead_lines
from derive.report.render import render, write_atomically
from derive.report.statements import inline

__all__ = ["build_problemset", "is_problem_file", "key_tex"]


def is_problem_file(name: str) -> bool:
    """Whether a ``derive report`` argument names a problem file: a path ending in ``.toml``
    that exists (anything else is a catalogue set id)."""
    return name.endswith(".toml") and Path(name).is_file()


def statement_latex(text: str) -> str:
    """A part's statement: paragraphs (blank lines) of prose with `code spans` as math."""
    paragraphs = [" ".join(p.split("\n")) for p in text.split("\n\n") if p.strip()]
    return "\n\n".join(inline(p.strip()) for p in paragraphs)


def _problems(answered: list[AnsweredPart]) -> tuple[list[dict], dict[str, int]]:
    problems = []
    totals = {"parts": 0, "answered": 0, "unanswered": 0, "broken": 0, "checks": 0, "failed": 0}
    for anchor, item in enumerate(answered, start=1):
        part, ans = item.part, item.answer
        # "error" too: the name the part template used for the measured value before "value"
        rows = [{"error": r["value"], **r} for r in map(audit.row, ans.checks)]
        summary = audit.note(list(ans.checks))
        failed = int(summary["failed"])  # type: ignore[call-overload]
        entry = {
            "pid": ans.id, "anchor": f"part{anchor}", "number": part.id,
            # each part is its own problem: its question goes under the problem's heading
            "merged": True, "lead": lead_lines(ans.latex),
            "title": inline(part.title or part.kind), "label": "",
            "statement": statement_latex(part.statement), "figure_missing": "",
            "status": "answered", "checks": rows, "note": summary["text"], "failed": failed,
            "figures": [{"caption": n.replace("_", " "), "source": s}
                        for n, s in ans.figures.items()],
            "body": ans.latex, "error": "",
        }
        problems.append({"number": part.id, "title": part.title or f"A {part.kind} problem",
                         "preamble": "", "figure_missing": "", "out_of_scope": [],
                         "parts": [entry]})
        totals["parts"] += 1
        totals["answered"] += 1
        totals["checks"] += len(rows)
        totals["failed"] += failed
    return problems, totals


def _conventions(problem_set: ProblemSet) -> str:
    """The notation the key speaks, for the kinds the set has."""
    n = problem_set.notation
    kinds = {p.kind for p in problem_set.parts}
    said = []
    if "bptt" in kinds:
        said.append(rf"Time is a superscript, $h^{{(t)}}$, for steps $t = 1, \dots, "
                    rf"{n['steps']}$; a bar is the gradient of the loss ${n['loss']}$, "
                    rf"$\overline{{v}} = \partial {n['loss']} / \partial v$; $\odot$ is the "
                    r"elementwise product and $\sigma$ the logistic sigmoid.")
    if "map" in kinds:
        said.append(r"An optimiser's iterations are superscripts, $\theta^{(k)}$; $I$ is the "
                    r"identity and $H$ the Hessian of the objective.")
    if kinds & {"cnn", "conv"}:
        said.append(r"Shapes are height $\times$ width $\times$ channels; receptive fields "
                    "are in input pixels.")
    return " ".join(said)


def key_tex(problem_set: ProblemSet, answered: list[AnsweredPart]) -> Document:
    """The LaTeX of the key and one outcome per part."""
    problems, totals = _problems(answered)
    context = {"set_id": problem_set.id, "set_summary": problem_set.title,
               "version": _version(), "conventions": _conventions(problem_set),
               "problems": problems, "totals": totals,
               "course": problem_set.course or problem_set.title,
               "preamble": statement_latex(problem_set.preamble)}
    tex = render("problemset.tex", audit=False, **context)
    audit_tex = render("problemset.tex", audit=True, **context)
    outcomes = [PartOutcome(a.answer.id, "answered", 0.0,
                            sum(not c.passed for c in a.answer.checks)) for a in answered]
    return Document(problem_set.id, tex, outcomes, audit_tex)


def build_problemset(path: str, out: str | Path, pdf: bool = True, keep_tex: bool = False,
                     quiet: bool = False) -> int:
    """Answer the problem file ``path`` and write ``OUT/SET.pdf`` (or its .tex). Nothing is
    written when the file is malformed. Exit status 1 when a check failed."""
    started = time.perf_counter()
    problem_set = load(path)

    def progress(part, ans, seconds) -> None:
        if not quiet:
            failed = sum(not c.passed for c in ans.checks)
            extra = f", {failed} check(s) FAILED" if failed else ""
            print(f"  {ans.id:26s} {'built':17s} {seconds:6.2f} s{extra}", file=sys.stderr,
                  flush=True)

    if not quiet:
        print(f"{problem_set.id} ({path}):", file=sys.stderr, flush=True)
    answered = answer_set(problem_set, progress)
    document = key_tex(problem_set, answered)
    folder = output_folder(out)  # created only now: a malformed file writes nothing
    want_pdf = pdf and latexmk.available()
    if pdf and not want_pdf:
        print(f"derive: {latexmk.INSTALL_HINT}", file=sys.stderr)
    # the key for students, and its audit (every check) for the instructor
    for source, stem in ((document.tex, problem_set.id),
                         (document.audit, f"{problem_set.id}-audit")):
        target = folder / f"{stem}.pdf"
        if want_pdf:
            made = latexmk.build_pdf(source, target, keep_tex=keep_tex)
        else:
            made = target.with_suffix(".tex")
            write_atomically(made, source)
        print(f"wrote {made}", flush=True)
    failed = document.failed_checks
    if not quiet:
        checks = sum(len(a.answer.checks) for a in answered)
        print(f"1 report, {len(answered)} parts answered; {checks} checks, {failed} failed; "
              f"{time.perf_counter() - started:.1f} s", file=sys.stderr)
    return 1 if failed else 0
