"""The answer key of an instructor's problem file: its parts answered, typeset in the set's
notation with the key's shared layout (``base.tex``), and compiled like the catalogue's keys;
with ``--claims DIR``, the errata of the students' claims files about the set beside it."""

from __future__ import annotations

import os
import sys
import time
from pathlib import Path

from derive.grade import AnswerSource
from derive.problemset import AnsweredPart, ProblemSet, answer_set, answer_source, load
from derive.problemset.answer import part_id
from derive.report import audit, claims_folder, latexmk, output_folder, shown
from derive.report.document import Document, PartOutcome, _version, lead_lines
from derive.report.errata import Errata, build_errata, claims_for_source
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


def set_errata(problem_set: ProblemSet, paths: list[Path], source: AnswerSource
               ) -> list[Errata]:
    """The errata of the claims files ``paths`` about ``problem_set``, graded against its
    answers (``source``), with its title and part titles."""
    titles = {part_id(problem_set, p): p.title for p in problem_set.parts}
    return [build_errata(p, problem_set.id, source=source, summary=problem_set.title,
                         titles=titles) for p in paths]


def build_problemset(path: str, out: str | Path, pdf: bool = True, keep_tex: bool = False,
                     quiet: bool = False, claims: str | os.PathLike | None = None) -> int:
    """Answer the problem file ``path`` and write ``OUT/SET.pdf`` (or its .tex); with
    ``claims``, a folder, also ``OUT/errata-STEM.pdf`` for each claims file there about the
    set (files about other sets are skipped). Nothing is written when the problem file or one
    of its claims files is malformed. Exit status 1 when a check failed."""
    started = time.perf_counter()
    problem_set = load(path)
    answers = answer_source(problem_set)  # the parts' ids, before anything is answered
    claims_files = [] if claims is None else \
        claims_for_source(claims_folder(claims, "problemsets/claims"), problem_set.id,
                          answers)

    def progress(part, ans, seconds) -> None:
        if not quiet:
            failed = sum(not c.passed for c in ans.checks)
            extra = f", {failed} check(s) FAILED" if failed else ""
            print(f"  {ans.id:26s} {'built':17s} {seconds:6.2f} s{extra}", file=sys.stderr,
                  flush=True)

    if not quiet:
        print(f"{problem_set.id} ({path}):", file=sys.stderr, flush=True)
    answered = answer_set(problem_set, progress)
    # graded against the key's own answers, before anything is written: a claims file whose
    # result path the answers do not have is malformed too
    errata = set_errata(problem_set, claims_files, answer_source(problem_set, answered))
    for one in errata if not quiet else []:
        graded = f"graded, {one.claims} claims"
        print(f"  {one.name:26s} {graded:17s} {one.seconds:6.2f} s", file=sys.stderr,
              flush=True)
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
    for one in errata:
        target = folder / f"{one.name}.pdf"
        if want_pdf:
            made = latexmk.build_pdf(one.tex, target, keep_tex=keep_tex)
        else:
            made = target.with_suffix(".tex")
            write_atomically(made, one.tex)
        print(f"wrote {made}", flush=True)
    if claims is not None and not claims_files and not quiet:
        print(f"derive: no claims file in {shown(claims)} is about {problem_set.id}",
              file=sys.stderr)
    failed = document.failed_checks
    if not quiet:
        checks = sum(len(a.answer.checks) for a in answered)
        print(f"1 report, {len(answered)} parts answered; {checks} checks, {failed} failed; "
              f"{time.perf_counter() - started:.1f} s", file=sys.stderr)
    return 1 if failed else 0
