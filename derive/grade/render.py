"""Rendering a graded claims file: plain text, JSON, and a LaTeX errata body for the reports."""

from __future__ import annotations

import json
from dataclasses import dataclass
from fractions import Fraction
from typing import Any

import sympy as sp

from derive.grade.claims import ClaimsFile
from derive.grade.verdicts import (
    CORRECT,
    JUDGED_RIGHT,
    JUDGED_WRONG,
    NOT_CHECKABLE,
    STATUSES,
    UNPARSEABLE,
    WRONG,
    Verdict,
)

MAX_SHOWN = 300  # characters of a claim shown verbatim (hostile claims can be huge)


@dataclass
class Report:
    """The verdicts on every claim of one claims file."""

    claims_file: ClaimsFile
    verdicts: list[Verdict]

    def counts(self) -> dict[str, int]:
        return {s: sum(v.status == s for v in self.verdicts) for s in STATUSES}


def _clip(text: str, limit: int = MAX_SHOWN) -> str:
    text = str(text)
    return text if len(text) <= limit else f"{text[:limit]}... ({len(text)} characters)"


def plain(value: Any) -> str:
    """A claimed or derived value as one line of text."""
    if isinstance(value, Fraction):
        return str(value.numerator) if value.denominator == 1 else str(value)
    if isinstance(value, list | tuple):
        if value and all(not isinstance(v, list | tuple | dict) for v in value) and \
                any(isinstance(v, sp.Basic) for v in value):
            return " x ".join(f"({plain(v)})" if isinstance(v, sp.Add) else plain(v)
                              for v in value)
        return "[" + ", ".join(plain(v) for v in value) + "]"
    if isinstance(value, sp.Basic):
        try:
            from derive.latex import text

            return _clip(text(value))
        except Exception:  # noqa: BLE001 - fall back to SymPy's own printer
            return _clip(sp.sstr(value))
    return _clip(str(value))


def text_report(report: Report) -> str:
    cf = report.claims_file
    lines = [f"{cf.title}", f"claims: {cf.path}" + (f"  (source: {cf.source})" if cf.source
                                                     else "")]
    current = None
    for v in report.verdicts:
        if v.claim.problem != current:
            current = v.claim.problem
            lines.append("")
            lines.append(current)
        lines.append(f"  [{v.status.upper()}] {v.claim.title}"
                     + (f" (line {v.claim.line})" if v.claim.line else ""))
        if v.claim.kind == "blank":
            lines.append(f"      claimed:  (no answer: {v.claim.value})")
        elif v.claim.kind != "text" or v.status != NOT_CHECKABLE:
            shown = v.claimed if v.claimed is not None else v.claim.value
            lines.append(f"      claimed:  {plain(shown)}")
        if v.claim.convention:
            lines.append(f"      convention: {v.claim.convention}")
        if v.status in (WRONG,) and v.expected is not None:
            lines.append(f"      right:    {plain(v.expected)}")
        lines.append(f"      why:      {_clip(v.reason)}")
        for e in v.evidence:
            lines.append(f"      evidence: {_clip(e)}")
        if v.slip:
            lines.append(f"      slip:     {_clip(v.slip)}")
        derived = v.explanation or (v.expected if v.claim.kind == "text" and
                                    isinstance(v.expected, str) else "")
        if derived:
            lines.append(f"      derived:  {_clip(derived, 600)}")
        if v.method and v.method != "none":
            lines.append(f"      decided:  {v.method}")
    c = report.counts()
    lines.append("")
    lines.append("summary: " + ", ".join(f"{c[s]} {s}" for s in STATUSES))
    return "\n".join(lines)


def json_report(report: Report) -> str:
    cf = report.claims_file
    return json.dumps({
        "file": cf.path,
        "title": cf.title,
        "source": cf.source,
        "summary": report.counts(),
        "verdicts": [v.as_json() for v in report.verdicts],
    }, indent=2)


# -- LaTeX ---------------------------------------------------------------------------------

def _esc(text: Any, limit: int = MAX_SHOWN) -> str:
    from derive.report.render import latex_escape

    return latex_escape(_clip(str(text), limit))


def math(value: Any) -> str:
    """A value as inline LaTeX math (``$...$``), or escaped text when it is not math."""
    if isinstance(value, bool) or value is None:
        return _esc(value)
    if isinstance(value, Fraction):
        return f"${value.numerator}$" if value.denominator == 1 else \
            rf"$\frac{{{value.numerator}}}{{{value.denominator}}}$"
    if isinstance(value, int):
        return f"${value}$"
    if isinstance(value, float):
        return f"${value:g}$"
    if isinstance(value, sp.Basic):
        return f"${_latex(value)}$"
    if isinstance(value, dict) and value and all(isinstance(k, str) for k in value):
        return ", ".join(f"${_name_latex(k)} = {_array_latex(v)}$" for k, v in value.items())
    if isinstance(value, list | tuple):
        if value and all(isinstance(v, int | Fraction | sp.Basic) and not isinstance(v, bool)
                         for v in value) and any(isinstance(v, sp.Basic) for v in value):
            return "$" + r" \times ".join(_dim_latex(v) for v in value) + "$"
        if all(not isinstance(v, str | dict) for v in value) and len(value) <= 64:
            # one math group per entry, so a long list can break between entries
            return "(" + ", ".join(_entry(v) for v in value) + ")"
        return _esc(plain(value))
    return _esc(value)


def _name_latex(name: str) -> str:
    return sp.latex(sp.Symbol(name)) if name.replace("_", "").isalnum() else \
        r"\text{" + _esc(name) + "}"


def _array_latex(v: Any) -> str:
    """A weight (a number, a vector or a matrix) as compact LaTeX math."""
    def num(x: Any) -> str:
        return _esc(f"{x:g}" if isinstance(x, float) else x)

    if isinstance(v, list) and v and all(isinstance(r, list) for r in v):
        rows = r" \\ ".join(" & ".join(num(x) for x in r) for r in v)
        return r"\left(\begin{smallmatrix}" + rows + r"\end{smallmatrix}\right)"
    if isinstance(v, list):
        return r"\left(\begin{smallmatrix}" + " & ".join(num(x) for x in v) + \
            r"\end{smallmatrix}\right)"
    return num(v)


def _entry(v: Any) -> str:
    if isinstance(v, list | tuple):
        if all(isinstance(x, int | Fraction | sp.Basic) and not isinstance(x, bool) for x in v):
            return "$" + r" \times ".join(_dim_latex(x) for x in v) + "$"
        return _esc(plain(v))
    return math(v)


def _dim_latex(v: Any) -> str:
    """One dimension of a shape; a sum is parenthesised so ``\\times`` cannot bind into it."""
    from derive.grade.equivalence import as_basic

    expr = as_basic(v)
    out = _latex(expr)
    return rf"\left({out}\right)" if isinstance(expr, sp.Add) else out


def _latex(expr: sp.Basic) -> str:
    try:
        from derive.latex import latex

        out = latex(expr)
    except Exception:  # noqa: BLE001 - SymPy's printer is the fallback
        out = sp.latex(expr)
    if len(out) > 1500:
        return r"\text{(a formula of " + str(len(out)) + " characters)}"
    return out


_MARK = {CORRECT: r"\textbf{right}", WRONG: r"\textbf{wrong}",
         JUDGED_RIGHT: r"\textbf{right} (judged)", JUDGED_WRONG: r"\textbf{wrong} (judged)",
         UNPARSEABLE: r"\textbf{unreadable}", NOT_CHECKABLE: r"\textit{not checked}"}


def latex_report(report: Report) -> str:
    """A LaTeX body (no preamble): per problem, what the solution got right, what is wrong and
    the correction, with the evidence."""
    from derive.catalogue import PROBLEMS

    cf = report.claims_file
    c = report.counts()
    checked = c[CORRECT] + c[WRONG]
    out = [rf"\section*{{Errata: {_esc(cf.title)}}}"]
    intro = f"{len(report.verdicts)} claims transcribed"
    if cf.source:
        intro += f" from {cf.source}"
    intro += (f"; {checked} checked against the derived answers: {c[CORRECT]} right, "
              f"{c[WRONG]} wrong; {c[JUDGED_RIGHT] + c[JUDGED_WRONG]} explanations judged by "
              f"the transcriber against the derived answer (not machine-checked): "
              f"{c[JUDGED_RIGHT]} right, {c[JUDGED_WRONG]} wrong; {c[UNPARSEABLE]} unreadable; "
              f"{c[NOT_CHECKABLE]} not checked.")
    out.append(_esc(intro))
    out.append("")
    current = None
    for v in report.verdicts:
        if v.claim.problem != current:
            if current is not None:
                out.append(r"\end{itemize}")
            current = v.claim.problem
            title = PROBLEMS.get(current, "")
            out.append(rf"\subsection*{{\texttt{{{_esc(current)}}}: {_esc(title)}}}")
            out.append(r"\begin{itemize}")
        out.append(_item(v))
    if current is not None:
        out.append(r"\end{itemize}")
    return "\n".join(out) + "\n"


def _sentence(text: str) -> str:
    return text[:1].upper() + text[1:]


def _item(v: Verdict) -> str:
    parts = [rf"\item {_MARK[v.status]} --- {_esc(v.claim.title)}."]
    if v.claim.where:
        parts.append(rf"\emph{{({_esc(v.claim.where)})}}")
    if v.status == UNPARSEABLE:
        parts.append(rf"Claimed: \texttt{{{_esc(v.claim.value, 160)}}}.")
        parts.append(_esc(_sentence(v.reason)) + ".")
    elif v.claim.kind == "blank":
        parts.append(_esc(_sentence(v.reason)) + ".")
        if v.expected is not None:
            parts.append(f"Correction: {math(v.expected)}.")
    elif v.claim.kind == "text":
        parts.append(rf"Claimed: ``{_esc(v.claim.value, 400)}''.")
        if v.status in (JUDGED_RIGHT, JUDGED_WRONG):
            parts.append(r"\emph{Judged by the transcriber against the derived answer:} " +
                         _esc(v.reason) + ".")
        else:
            parts.append(_esc(_sentence(v.reason)) + ".")
    else:
        claimed = v.claimed if v.claimed is not None else v.claim.value
        table = v.claim.kind == "numbers" and isinstance(claimed, list) and len(claimed) > 6
        if table:  # a long column: the wrong rows are in the evidence, each with its correction
            parts.append(f"Claimed: {len(claimed)} values.")
        else:
            parts.append(f"Claimed: {math(claimed)}.")
        if v.status == WRONG and not table and v.expected is not None:
            lead = "Weights that pass the same verification (the derived answer's)" if \
                v.claim.kind == "weights" else "Correction"
            parts.append(f"{lead}: {math(v.expected)}.")
        if v.claim.convention:
            parts.append(r"\emph{Stated convention:} " + _esc(v.claim.convention) + ".")
        if v.status == CORRECT and v.evidence:
            parts.append(_esc(_sentence(v.reason)) + ".")
        if v.status == WRONG or (v.claim.filled and v.evidence):
            for e in v.evidence[:8]:
                parts.append(_esc(e[:1].upper() + e[1:]) + ".")
            if len(v.evidence) > 8:
                parts.append(_esc(f"(and {len(v.evidence) - 8} more)"))
            if v.slip and v.claim.kind != "numbers":  # per-row slips are in the evidence
                parts.append(r"Likely slip: " + _esc(v.slip) + ".")
        elif v.status == CORRECT and table:
            parts.append(_esc(_sentence(v.reason)) + ".")
        elif v.status == NOT_CHECKABLE:
            parts.append(_esc(_sentence(v.reason)) + ".")
        if v.method and v.status in (CORRECT, WRONG):
            parts.append(rf"\emph{{Decided by: {_esc(v.method)}.}}")
    derived = v.explanation or (v.expected if v.claim.kind == "text" and
                                isinstance(v.expected, str) else "")
    if derived:
        parts.append(r"Derived answer: " + _esc(derived, 700) + ("" if derived.rstrip()
                                                                 .endswith(".") else "."))
    if v.claim.note:
        parts.append(rf"\emph{{Note: {_esc(v.claim.note, 900)}}}")
    return " ".join(parts)
