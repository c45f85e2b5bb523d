"""Rendering a graded claims file: plain text, JSON, and a LaTeX errata body for the reports."""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from fractions import Fraction
from typing import Any

import sympy as sp
from sympy.core.function import AppliedUndef

from derive.catalogue import PROBLEMS
from derive.grade.claims import ClaimsFile
from derive.grade.equivalence import as_basic
from derive.grade.parse import FUNCTIONS, GREEK, ParseError, SymbolTable, parse_formula
from derive.grade.verdicts import (
    CORRECT,
    ILLEGIBLE,
    JUDGED_RIGHT,
    JUDGED_WRONG,
    NOT_CHECKABLE,
    STATUSES,
    UNPARSEABLE,
    WRONG,
    Verdict,
)
from derive.printing.display import clip, latex_to_markdown
from derive.printing.latex import latex
from derive.printing.tex import latex_escape
from derive.printing.text import text

MAX_SHOWN = 300  # characters of a claim shown verbatim (hostile claims can be huge)


@dataclass
class Report:
    """The verdicts on every claim of one claims file."""

    claims_file: ClaimsFile
    verdicts: list[Verdict]

    def counts(self) -> dict[str, int]:
        return {s: sum(v.status == s for v in self.verdicts) for s in STATUSES}

    def __repr__(self) -> str:
        counts = ", ".join(f"{n} {s}" for s, n in self.counts().items() if n)
        return (f"<Report {clip(self.claims_file.title, 60)!r}: {len(self.verdicts)} claims"
                + (f" ({counts})>" if counts else ">"))

    def _repr_markdown_(self) -> str:
        """Jupyter: the errata of the reports (their LaTeX body), as Markdown."""
        return latex_to_markdown(latex_report(self))


def _clip(text: str, limit: int = MAX_SHOWN) -> str:
    text = str(text)
    return text if len(text) <= limit else f"{text[:limit]}... ({len(text)} characters)"


MAX_DERIVED = 4000  # characters of a derived answer's text shown (it is ours, not hostile)


def _sentences(text: str, limit: int = MAX_DERIVED) -> str:
    """A derived text in full, or cut at the last sentence end before ``limit``."""
    text = str(text)
    if len(text) <= limit:
        return text
    cut = max(text.rfind(". ", 0, limit), text.rfind(".\n", 0, limit))
    return text[:cut + 1] if cut > 0 else text[:limit]


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
        inner = _order_of(value)
        if inner is not None:
            return f"O({plain(inner)})"
        try:
            return _clip(text(value).replace("**", "^"))  # as on paper, not Python
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
            lines.append(f"      derived:  {_sentences(derived)}")
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
    expr = as_basic(v)
    out = _latex(expr)
    return rf"\left({out}\right)" if isinstance(expr, sp.Add) else out


_SQUARED = re.compile(r"^(sigma|s|v)2$")  # sigma2 is the variance sigma^2, as written on paper


def _readable(expr: sp.Basic) -> sp.Basic:
    """Names as a student reads them: ``sigma2`` is ``sigma^2``."""
    subs = {x: sp.Symbol(f"{_SQUARED.match(x.name).group(1)}^2")
            for x in expr.atoms(sp.Symbol) if _SQUARED.match(x.name)}
    return expr.xreplace(subs) if subs else expr


def _order_of(expr: Any) -> sp.Basic | None:
    """The argument of an order claim ``O(T^2)`` (kept as the function O), else None."""
    if isinstance(expr, AppliedUndef) and expr.func.__name__ == "O" and len(expr.args) == 1:
        return expr.args[0]
    return None


def _latex(expr: sp.Basic) -> str:
    inner = _order_of(expr)
    if inner is not None:  # O(T^2), not a time-indexed O^{(T**2)}
        return r"O\left(" + _latex(inner) + r"\right)"
    expr = _readable(expr)
    try:
        out = latex(expr)
    except Exception:  # noqa: BLE001 - SymPy's printer is the fallback
        out = sp.latex(expr)
    if len(out) > 1500:
        return r"\text{(a formula of " + str(len(out)) + " characters)}"
    return out


_MARK = {CORRECT: r"\textbf{right}", WRONG: r"\textbf{wrong}",
         JUDGED_RIGHT: r"\textbf{right} (judged)", JUDGED_WRONG: r"\textbf{wrong} (judged)",
         UNPARSEABLE: r"\textbf{unreadable}", ILLEGIBLE: r"\textbf{illegible}",
         NOT_CHECKABLE: r"\textit{not checked}"}


def latex_report(report: Report) -> str:
    """A LaTeX body (no preamble): per problem, what the solution got right, what is wrong and
    the correction, with the evidence."""
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
              f"{c[JUDGED_RIGHT]} right, {c[JUDGED_WRONG]} wrong; "
              f"{c[UNPARSEABLE] + c[ILLEGIBLE]} unreadable ({c[ILLEGIBLE]} illegible in the "
              f"source); "
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


_ASCII_MATH = re.compile(
    r"(?<![\w(])((?:[A-Za-z0-9_.]+(?:\([^()\n]*\))?|\([^()\n]*\))"
    r"(?:\s*(?:\*\*|[*/+\-^])\s*(?:[A-Za-z0-9_.]+(?:\([^()\n]*\))?|\([^()\n]*\)))+)")


def _formula_latex(text: str, textbook: bool = False) -> str | None:
    """``text`` typeset by the LaTeX printer when the safe parser reads it, else None. Every
    ``name(`` is a function here (a derived text writes ``h(t)`` for a signal)."""
    source = re.sub(r"(?<!\\)\bsum_", r"\\sum_", text)
    names = {n for n in re.findall(r"([A-Za-z][A-Za-z0-9_]*)\(", source) if n not in FUNCTIONS}
    table = SymbolTable(functions={n: sp.Function(n) for n in names})
    try:
        expr = parse_formula(source, table)
    except ParseError:
        return None
    if not _faithful(source, expr):
        return None
    if isinstance(expr, sp.Eq):
        return f"{_latex(expr.lhs)} = {_latex(expr.rhs)}"
    if isinstance(expr, sp.Basic) and not isinstance(expr, sp.core.relational.Relational):
        if textbook and not expr.atoms(AppliedUndef):  # highest degree first, as on paper
            return sp.latex(_readable(expr))
        return _latex(expr)
    return None


def _faithful(source: str, expr: object) -> bool:
    """Whether typesetting ``expr`` shows what ``source`` says: every word of the source is a
    name of the formula (``xhat`` split into letters, or ``sum`` read as a symbol, is not),
    and every indexed quantity is written with its index (``W_{j+m}`` is not ``W^{(j+m)}``)."""
    if not isinstance(expr, sp.Basic):
        return False
    names = {x.name for x in expr.free_symbols if isinstance(x, sp.Symbol)}
    functions = {f.func.__name__ for f in expr.atoms(AppliedUndef)}
    for name in names | functions:  # a word of prose ("is", "xhat", "x5x3") is no math name
        base = name.split("_")[0]
        if not (re.fullmatch(r"[A-Za-z]\d*", base) or base in GREEK or base == "bar"):
            return False
    parts = names | {p for n in names for p in n.split("_")}
    words = re.findall(r"(?<![\\A-Za-z_])[A-Za-z]{2,}", source)
    for word in words:
        if word in FUNCTIONS or word in GREEK or word in parts or word in functions:
            continue
        return False
    return all(re.search(rf"(?<![A-Za-z]){re.escape(f)}\s*[\[(]|{re.escape(f)}\^\{{\(", source)
               for f in functions)


def prose_latex(text: str) -> str:
    """A derived answer's text for the errata: prose escaped, its formulas typeset. A line that
    is a list of equations (``h(t) = sum_{i=0}^{k} a_i(t) v_i(t)  for i in ...``) becomes math;
    inside prose, an arithmetic span with ``*`` (``3*H*W*d*k**2 - H*d*k**2``) does."""
    out_lines = []
    for line in str(text).split("\n"):
        body, sep, tail = line.partition("  for ")
        pieces = [p.strip() for p in body.split(",  ")] if "=" in body else []
        rendered = [_formula_latex(p) for p in pieces]
        if pieces and all(r is not None and "=" in p for r, p in zip(rendered, pieces,
                                                                      strict=True)):
            math_line = ", ".join(f"${r}$" for r in rendered)
            out_lines.append(math_line + (f" for {_esc(tail, 400)}" if sep else ""))
            continue
        out, last = [], 0
        for m in _ASCII_MATH.finditer(line):
            span = m.group(1)
            # our own texts write products with "*"; a bare power only as k^2
            if "*" not in span and not re.fullmatch(r"[A-Za-z]\^\d+", span):
                continue
            order = re.fullmatch(r"O\((.*)\)", span)
            got = _formula_latex(order.group(1), textbook=True) if order else \
                _formula_latex(span, textbook=True)
            if got is not None and order:
                got = r"O\left(" + got + r"\right)"
            if got is None:
                continue
            out.append(_esc(line[last:m.start(1)], MAX_DERIVED))
            out.append(f"${got}$")
            last = m.end(1)
        out.append(_esc(line[last:], MAX_DERIVED))
        out_lines.append("".join(out))
    return r" \newline ".join(out_lines) if len(out_lines) > 1 else out_lines[0]


def _where_latex(where: str) -> str:
    """Where a claim is in the source: the student's math typeset when it parses (the whole
    passage, or its formulas inside quoted prose), else the passage as text."""
    whole = _formula_latex(where.strip().strip("'"), textbook=True) \
        if len(where) <= MAX_SHOWN and "=" in where else None
    if whole is not None:
        return f"${whole}$"
    out, last = [], 0
    for m in re.finditer(r"'([^']{3,200})'", where):  # a quoted formula of the solution
        got = _formula_latex(m.group(1), textbook=True) if "=" in m.group(1) else None
        if got is not None:
            out.append(_esc(where[last:m.start()]) + f"${got}$")
            last = m.end()
    return "".join(out) + _esc(where[last:])


def _point_list(evidence: str, limit: int = 12) -> str:
    """A counterexample's values, at most ``limit`` of them (the rest counted, not cut
    mid-word)."""
    m = re.match(r"(counterexample: at )(.*?)( the claim gives .*)$", evidence, re.S)
    if not m:
        return evidence
    values = re.split(r", (?=[A-Za-z_][\w(), ]*? = )", m.group(2))
    if len(values) <= limit:
        return evidence
    more = len(values) - limit
    return f"{m.group(1)}{', '.join(values[:limit])} (and {more} more " \
        f"value{'s' if more > 1 else ''}){m.group(3)}"


def _sentence(text: str) -> str:
    return text[:1].upper() + text[1:]


def _item(v: Verdict) -> str:
    parts = [rf"\item {_MARK[v.status]} --- {_esc(v.claim.title)}."]
    if v.claim.where:
        parts.append(rf"\emph{{({_where_latex(v.claim.where)})}}")
    if v.status == ILLEGIBLE:  # what can be read, in full: it is short and the transcriber's
        legible = str(v.claim.value).rstrip(". ")
        parts.append(rf"Legible: ``{_esc(legible, 1000)}''.")
        parts.append(_esc(_sentence(v.reason)) + ".")
    elif v.status == UNPARSEABLE:
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
                         _esc(v.reason, MAX_DERIVED) + ".")
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
                parts.append(_esc(_sentence(_point_list(e)), MAX_DERIVED) + ".")
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
    derived = v.explanation or (v.expected if v.claim.kind in ("text", "blank") and
                                isinstance(v.expected, str) else "")
    if derived:
        text = _sentences(derived)
        parts.append(r"Derived answer: " + prose_latex(text) + ("" if text.rstrip()
                                                               .endswith(".") else "."))
    if v.claim.note:
        parts.append(rf"\emph{{Note: {_esc(v.claim.note, 900)}}}")
    return " ".join(parts)
