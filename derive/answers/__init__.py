"""Answers to catalogue problems, and the registry that maps a problem id to its answer."""

from __future__ import annotations

import difflib
import functools
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from derive._registry import discover
from derive.catalogue import PROBLEMS, problem_ids
from derive.checks.check import Check
from derive.core.errors import DeriveError
from derive.printing.display import latex_to_markdown, markdown_escape, name_list
from derive.printing.templates import environment
from derive.printing.text import latex_to_text


@dataclass
class Answer:
    """The answer to one problem id.

    ``results`` is the machine-readable answer (the ``derive answer --format json``
    contract: integers, shapes as lists, arrays as nested lists, formulas as SymPy
    objects that are printed with ``str()``, text as strings). ``latex`` is the body a
    report typesets; ``text`` the plain-text rendering; ``checks`` what verified it.
    """

    id: str
    results: dict[str, Any]
    text: str
    latex: str
    checks: list[Check] = field(default_factory=list)
    figures: dict[str, str] = field(default_factory=dict)  # name -> TikZ/pgfplots source

    @property
    def passed(self) -> bool:
        return all(c.passed for c in self.checks)

    def __repr__(self) -> str:
        failed = sum(not c.passed for c in self.checks)
        checks = f"{len(self.checks)} checks, " + (f"{failed} failed" if failed else "all passed")
        return f"<Answer {self.id}: results {name_list(self.results, 120)}; {checks}>"

    def _repr_markdown_(self) -> str:
        """Jupyter: the prose as Markdown with its math in ``$...$`` (the LaTeX body has tables,
        lists and code, which MathJax cannot typeset as ``text/latex``), then the checks."""
        title = PROBLEMS.get(self.id, "")
        head = f"**{markdown_escape(self.id)}**" + (f": {markdown_escape(title)}" if title
                                                    else "")
        failed = [c.name for c in self.checks if not c.passed]
        if failed:
            checks = f"**{len(failed)} of {len(self.checks)} checks failed:** " + \
                markdown_escape(name_list(failed))
        else:
            checks = f"*{len(self.checks)} checks, all passed.*"
        return f"{head}\n\n{latex_to_markdown(self.latex)}\n{checks}\n"


Verifier = Callable[[dict[str, Any]], tuple[bool, str, list[str]]]


@dataclass(frozen=True)
class Grading:
    """What grading needs of a problem beyond its results, declared where it is registered.

    ``model``: the registered model whose forward equations define the gates the results
    name (``i(t)`` is ``sigma(w_ix x(t) + w_ih h(t-1))``), so a claim written through the
    definitions is compared fairly. ``verifier``: ``fn(weights) -> (ok, reason, evidence)``
    for claims with many right answers (a weight set), run instead of compared."""

    model: str | None = None
    verifier: Verifier | None = None


_PROBLEMS: dict[str, Callable[[], Answer]] = {}
_GRADING: dict[str, Grading] = {}


def from_template(pid: str, results: dict[str, Any], checks: list[Check] | None = None,
                  figures: dict[str, str] | None = None, template: str | None = None,
                  **context: Any) -> Answer:
    """The answer to ``pid`` with its prose from its template, written once in LaTeX
    (``derive/answers/templates/SET/ID.tex``, e.g. ``csc421-hw4/3a.tex``, or ``template``
    when two ids share one), rendered with ``results`` and ``context``; the plain text is
    read from the same LaTeX."""
    body = environment("derive.answers").get_template(template or f"{pid}.tex").render(
        results=results, **context).strip("\n")
    return Answer(pid, results, latex_to_text(body), body, list(checks or []), figures or {})


def problem(*ids: str, model: str | None = None, verifier: Verifier | None = None) -> Callable:
    """Register ``fn(id) -> Answer`` as the answer of each of ``ids``, with what grading
    needs of them (see :class:`Grading`)."""

    def register(fn: Callable[[str], Answer]) -> Callable[[str], Answer]:
        for pid in ids:
            if pid in _PROBLEMS:
                raise RuntimeError(f"problem {pid!r} registered twice")
            _PROBLEMS[pid] = functools.partial(fn, pid)
            _GRADING[pid] = Grading(model, verifier)
        return fn

    return register


def grading(pid: str) -> Grading:
    """What grading needs of ``pid`` (nothing special for most problems)."""
    discover()
    return _GRADING.get(pid, Grading())


def registered_problems() -> list[str]:
    discover()
    return sorted(_PROBLEMS)


@functools.cache
def answer(pid: str) -> Answer:
    """The answer to problem ``pid`` (e.g. ``"csc421-hw4/1a"``), computed once."""
    discover()
    if pid not in _PROBLEMS:
        known = problem_ids()
        close = difflib.get_close_matches(pid, known, n=3, cutoff=0.5)
        hint = f"; did you mean {', '.join(close)}?" if close else "; see 'derive list'"
        if pid in known:
            raise DeriveError(f"problem {pid!r} is in the catalogue but not answered yet")
        raise DeriveError(f"unknown problem id {pid!r}{hint}")
    result = _PROBLEMS[pid]()
    if result.id != pid:
        raise RuntimeError(f"answer for {pid!r} carries id {result.id!r}")
    return result
