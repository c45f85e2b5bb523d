"""Rendering a graded claims file: plain text, JSON, and a LaTeX errata body for the reports."""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from dataclasses import dataclass
from fractions import Fraction
from typing import Any

import sympy as sp
from sympy.core.function import AppliedUndef

from derive.catalogue import PROBLEMS
from derive.grade.claims import ClaimsFile
from derive.grade.equivalence import as_basic
from derive.grade.parse import FUNCTIONS, GREEK, ParseError, SymbolTable, parse_formula
from derive.grade.quote import quote_latex, space_latex
from derive.grade.verdicts import (
    CORRECT,
    ILLEGIBLE,
    JUDGED_PARTLY,
    JUDGED_REASON,
    JUDGED_RIGHT,
    JUDGED_WRONG,
    NOT_CHECKABLE,
    PARTLY,
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
        if v.status in (WRONG, PARTLY) and v.expected is not None:
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


def _indexed(expr: sp.Basic) -> sp.Basic:
    """``W(f, j, m)`` (a claim's ``W[f, j, m]`` as the parser reads it) as the indexed
    quantity ``W_{f,j,m}`` it is; a signal at one step, ``h(t)``, stays as it is."""
    subs = {a: sp.IndexedBase(a.func.__name__)[a.args] for a in expr.atoms(AppliedUndef)
            if len(a.args) > 1}
    return expr.xreplace(subs) if subs else expr


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
    # sigma2(t) is the variance at step t: (sigma^(t))^2, as the course writes it
    subs |= {f: sp.Pow(sp.Function(_SQUARED.match(f.func.__name__).group(1))(*f.args), 2,
                       evaluate=False)
             for f in expr.atoms(AppliedUndef) if _SQUARED.match(f.func.__name__)}
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
    expr = _readable(_indexed(expr))
    try:
        out = latex(expr)
    except Exception:  # noqa: BLE001 - SymPy's printer is the fallback
        out = sp.latex(expr)
    if len(out) > 1500:
        return r"\text{(a formula of " + str(len(out)) + " characters)}"
    return out


_MARK = {CORRECT: r"\textbf{right}", PARTLY: r"\textbf{partly right}",
         WRONG: r"\textbf{wrong}",
         JUDGED_RIGHT: r"\textbf{right} (judged)",
         JUDGED_PARTLY: r"\textbf{partly right} (judged)",
         JUDGED_REASON: r"\textbf{right answer, wrong reason} (judged)",
         JUDGED_WRONG: r"\textbf{wrong} (judged)",
         UNPARSEABLE: r"\textbf{unreadable}", ILLEGIBLE: r"\textbf{illegible}",
         NOT_CHECKABLE: r"\textit{not checked}"}


def summary_sentence(c: dict[str, int], claims: int) -> str:
    """The counts of a graded file in words, each verdict apart: what was checked (right,
    partly right, wrong), what was judged by the transcriber, what could not be read."""
    judged = c[JUDGED_RIGHT] + c[JUDGED_PARTLY] + c[JUDGED_REASON] + c[JUDGED_WRONG]
    return (f"{claims} claims: {c[CORRECT] + c[PARTLY] + c[WRONG]} checked against the "
            f"derived answers ({c[CORRECT]} right, {c[PARTLY]} partly right, {c[WRONG]} "
            f"wrong); {judged} explanations judged by the transcriber against the derived "
            f"answer, not machine-checked ({c[JUDGED_RIGHT]} right, {c[JUDGED_PARTLY]} partly "
            f"right, {c[JUDGED_REASON]} with the right answer for a wrong reason, "
            f"{c[JUDGED_WRONG]} wrong); {c[UNPARSEABLE] + c[ILLEGIBLE]} unreadable "
            f"({c[ILLEGIBLE]} illegible in the source); {c[NOT_CHECKABLE]} not checked")


def latex_report(report: Report, titles: Mapping[str, str] | None = None) -> str:
    """A LaTeX body (no preamble): per problem, what the solution got right, what is wrong and
    the correction, with the evidence. Problems are headed as the course names them (``Problem
    1c``), with their titles from ``titles`` (the catalogue's by default)."""
    titles = PROBLEMS if titles is None else titles
    cf = report.claims_file
    c = report.counts()
    out = [rf"\section*{{Errata: {_esc(cf.title)}}}"]
    intro = summary_sentence(c, len(report.verdicts)) + "."
    out.append(_esc(intro, 1000))
    out.append("")
    current = None
    for v in report.verdicts:
        if v.claim.problem != current:
            if current is not None:
                out.append(r"\end{itemize}")
            current = v.claim.problem
            title = titles.get(current, "")
            number = current.split("/")[-1]
            out.append(rf"\subsection*{{Problem {_esc(number)}"
                       + (rf": {text_with_math(title, MAX_SHOWN)}}}" if title else "}"))
            out.append(r"\begin{itemize}")
        out.append(_item(v))
    if current is not None:
        out.append(r"\end{itemize}")
    return "\n".join(out) + "\n"


_LETTER = "[cfgijklmnpqrstuv]"  # the letters of steps and indices (not x, y, z: variables)
_INDEX = rf"\s*(?:\d*{_LETTER}|\d+)(?:\s*[+-]\s*(?:\d*{_LETTER}|\d+))*\s*"
_INDEX_ARGS = rf"{_INDEX}(?:,{_INDEX})*"  # h(t - 1), x(i, j), W(f, c, m): steps and indices


def _formula_latex(text: str, textbook: bool = False) -> str | None:
    """``text`` typeset by the LaTeX printer when the safe parser reads it, else None. A
    ``name(`` whose argument is an index (``h(t-1)``, ``x(i, j)``) is a function here (a
    derived text writes ``h(t)`` for a signal); with any other argument (``f_W(x)``, ``r(T)``,
    ``D(K-1)``) the text is not typeset."""
    source = re.sub(r"(?<!\\)\bsum_", r"\\sum_", text)
    calls = [(n, arg) for n, arg in re.findall(r"([A-Za-z][A-Za-z0-9_]*)\(([^()]*)\)", source)
             if n not in FUNCTIONS]
    if any("_" in arg for _, arg in calls):
        return None  # F(x_l): an application the printer would show as a time index
    if any(not re.fullmatch(_INDEX_ARGS, arg) for _, arg in calls):
        # f_W(x), r(T), F(T), D(K-1): a function of a variable, a signal at the last step or
        # a product: which one, the text does not say, so it is not typeset at all
        return None
    names = {n for n, _ in calls}
    table = SymbolTable(functions={n: sp.Function(n) for n in names})
    try:
        expr = parse_formula(source, table)
    except ParseError:
        return None
    if not _faithful(source, expr):
        return None
    if isinstance(expr, sp.Basic) and not expr.free_symbols and \
            re.search(r"\d\s*[-+*/]\s*\d", source) and \
            not re.fullmatch(r"\s*-?\d+\s*/\s*\d+\s*", source) or re.search(r"\d\.\d", source):
        return None  # the student's arithmetic evaluated, -1.5 as -3/2: a misquote
    if isinstance(expr, sp.Eq):
        return f"{_latex(expr.lhs)} = {_latex(expr.rhs)}"
    relation = {sp.Ge: r"\geq", sp.Le: r"\leq", sp.Gt: ">", sp.Lt: "<"}.get(type(expr))
    if relation:
        return f"{_latex(expr.lhs)} {relation} {_latex(expr.rhs)}"
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
    if any(m.group(1) in GREEK for m in re.finditer(r"_([A-Za-z]{2,})\b", source)):
        return False  # w_xi is the weight from x to i, not w with the subscript xi
    if re.search(r"_\{[^{}]*,", source) and not any(
            len(a.args) > 1 for a in expr.atoms(AppliedUndef, sp.Indexed)):
        return False  # y_{1,2,3} read as one name y_123
    names = {x.name for x in expr.free_symbols if isinstance(x, sp.Symbol)}
    functions = {f.func.__name__ for f in expr.atoms(AppliedUndef)}
    for name in names | functions:  # a word of prose ("is", "xhat", "x5x3") is no math name
        base = name.split("_")[0]
        if not (re.fullmatch(r"[A-Za-z]\d*(?:hat|bar)?", base) or base in GREEK or
                base in ("bar", "dL")):
            return False
    parts = names | {p for n in names | functions for p in n.split("_")}
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
    inside prose, each formula as written (``3*H*W*d*k**2 - H*d*k**2``) does."""
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
        out_lines.append(text_with_math(line))
    return r" \newline ".join(out_lines) if len(out_lines) > 1 else out_lines[0]


_SEPARATOR = re.compile(r",\s+|;\s+|:\s+|\.\s+|\.$|\s+(?:and|or|with|for|is|are|when|where|against|"
                        r"at|of|from|as|not|but|so|then|while|to|in|by|than|has|because|"
                        r"which|that|if|else)(?=\s)")
_MATHY = re.compile(r"[=_^*/<>]|[A-Za-z]\(|\\[A-Za-z]|\bsigma2\b|\b[a-z]hat\b|[A-Za-z]\[|"
                    r"\w\s+[-+]\s+\w")
_PROSE_WORD = re.compile(r"[A-Z]?[a-z]{2,}(?:'s)?")  # "Now", "answer's": words


def _pieces(text: str) -> list[tuple[int, int]]:
    """Spans of ``text`` between separators outside brackets; a bracket opened after a space
    is prose's own (an aside) and separates too."""
    spans, start, depth, asides, i = [], 0, 0, [], 0
    closed_aside = False  # the last bracket closed was an aside: "(a) (b)" are two
    while i < len(text):
        ch = text[i]
        if ch in "([{":
            factor = re.search(r"[-+*/=^]\s*$", text[:i]) or \
                re.search(r"\)\s*$", text[:i]) and not closed_aside  # "* (W h)", "f(z) (B h)"
            if ch == "(" and depth == 0 and (i == 0 or text[i - 1] == " ") and not factor:
                spans.append((start, i))
                asides.append(True)
                start = i + 1
            else:
                depth += 1
                asides.append(False)
        elif ch in ")]}" and asides:
            closed_aside = asides.pop()
            if closed_aside:
                spans.append((start, i))
                start = i + 1
            else:
                depth = max(0, depth - 1)
        elif depth == 0:
            m = _SEPARATOR.match(text, i)
            if m and m.end() > i:
                spans.append((start, i))
                start = i = m.end()
                continue
        i += 1
    spans.append((start, len(text)))
    return [(a, b) for a, b in spans if b > a]


def _math_cores(chunk: str) -> list[tuple[int, int]]:
    """Where the formulas of a piece of prose are: the runs of the piece between its plain
    words (``the derived answer ties Q_i = Q_1`` -> ``Q_i = Q_1``; ``with D_i the 0/1 masks``
    -> ``D_i``, ``0/1``)."""
    words = list(re.finditer(r"\S+", chunk))

    def prose(w: re.Match) -> bool:
        word = w.group(0).strip("'\".,;:!?")
        return bool(_PROSE_WORD.fullmatch(word)) and word not in FUNCTIONS and \
            word not in GREEK

    runs, run = [], []
    for w in words + [None]:
        if w is not None and not prose(w):
            run.append(w)
        elif run:
            runs.append((run[0].start(), run[-1].end()))
            run = []
    return runs


def text_with_math(text: str, limit: int = MAX_DERIVED) -> str:
    """Prose with its formulas typeset: every piece between list separators, brackets and
    joining words that the safe parser reads faithfully (``q_i(t) = Q_i h(t-i)``,
    ``x_{l+1} = x_l + F(x_l)``, ``sigma_j^2``) becomes math; the rest is escaped text."""
    text = _clip(str(text), limit)
    out: list[str] = []
    done = 0
    cores = [(start + a, start + b) for start, end in _pieces(text)
             for a, b in _math_cores(text[start:end])]
    for a, b in cores:
        while b > a and text[b - 1] in ".,;:!?'\"":
            b -= 1
        while a < b and text[a] in "'\"":
            a += 1
        formula = text[a:b]
        got = space_latex(formula)  # R^(m x m x n): a space, its x a times sign
        if got is None and (not _MATHY.search(formula) or len(formula) > 400):
            continue
        got = got or _quoted(formula)
        if got is None:
            continue
        out.append(latex_escape(text[done:a]))
        out.append(f"${got}$")
        done = b
    out.append(latex_escape(text[done:]))
    return "".join(out)


def _quoted(formula: str) -> str | None:
    """A formula of the student's as written (subscripts kept, the written order), else as
    the safe parser reads it when that reading is faithful, else None."""
    if re.search(r"\d\s*[x×]\s*\d|\d[x×]\b|\w\s+[x×]\s+\w", formula):
        return None  # 2x2/2 and m x m x n are sizes, not products with a symbol x
    got = quote_latex(formula)
    return got if got is not None else _formula_latex(formula, textbook=True)


def _where_latex(where: str) -> str:
    """Where a claim is in the source: the student's math typeset when it parses (the whole
    passage, or its formulas inside quoted prose), else the passage as text."""
    whole = _quoted(where.strip().strip("'")) \
        if len(where) <= MAX_SHOWN and "=" in where else None
    if whole is not None:
        return f"${whole}$"
    out, last = [], 0
    for m in re.finditer(r"'([^']{3,200})'", where):  # a quoted formula of the solution
        got = _quoted(m.group(1)) if "=" in m.group(1) else None
        if got is not None:
            out.append(text_with_math(where[last:m.start()]) + f"${got}$")
            last = m.end()
    return "".join(out) + text_with_math(where[last:])


def _point_list(evidence: str, limit: int = 20) -> str:
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


_WORD = r"(?!(?:floor|ceiling|ceil|sqrt|exp|log|tanh|sigma|max|min|mu|nu|pi|xi)\b)[a-z]{2,}\b"
_NESTED = (rf"(?!{_WORD})(?:[^,;:()\s]|\s(?!{_WORD})"
           r"|\((?:[^()]|\((?:[^()]|\([^()]*\))*\))*\))+")
_EVIDENCE_MATH = re.compile(
    r"(?P<maps>(?<![\w\\])[A-Za-z] -> [A-Za-z0-9][A-Za-z0-9 +-]*?[A-Za-z0-9]?(?=[,;)]|$))"
    r"|(?P<assign>(?<![\w\\])[A-Za-z][A-Za-z0-9_]*(?:\([^()]*\))? = "
    r"-?\d+(?:\.\d+)?(?:/\d+)?(?![\w.]))"
    r"|(?:(?<=claimed )|(?<=right )|(?<=gives )|(?<=formula )|(?<=has )|(?<=term )"
    r"|(?<=is )|(?<=shape )|(?<=dimension: )|(?<=dimensions: )|(?<=derived )|(?<=them )"
    rf"|(?<=order: claimed ))(?P<value>{_NESTED})")


def evidence_latex(text: str) -> str:
    """A line of evidence for the errata: its words escaped, its formulas and values typeset
    by the printer (``claimed floor((H - D K + P + S)/S)``, ``at D = 2, K = 2``); a span the
    safe parser does not read faithfully stays text."""
    out, last = [], 0
    for m in _EVIDENCE_MATH.finditer(text):
        span = m.group(0).rstrip()
        if m.group("maps"):  # i -> i - 1: a substitution
            typeset = quote_latex(span)
        elif m.group("assign"):
            name, _, value = span.partition(" = ")
            got = _formula_latex(name)
            typeset = f"{got} = {_number_latex(value)}" if got is not None else None
        else:
            if not re.search(r"[A-Za-z0-9]", span) or len(span) > MAX_SHOWN:
                continue
            typeset = _number_latex(span) if re.fullmatch(r"-?\d+(?:\.\d+)?(?:/\d+)?", span) \
                else _shape_text_latex(span) if " x " in span else _formula_latex(span)
        if typeset is None:
            continue
        out.append(text_with_math(text[last:m.start()]))
        out.append(f"${typeset}$")
        last = m.start() + len(span)
    out.append(text_with_math(text[last:]))  # the rest: its formulas as written
    return "".join(out)


def _shape_text_latex(span: str) -> str | None:
    """``5 x 3 x 3`` or ``F x floor((H - K)/S) + 1``: a shape as the renderers write it, each
    dimension typeset, joined by times (never read as a product with a symbol x)."""
    dims = [d.strip() for d in span.split(" x ")]
    out = []
    for d in dims:
        got = _number_latex(d) if re.fullmatch(r"-?\d+", d) else _formula_latex(d)
        if got is None:
            return None
        out.append(rf"\left({got}\right)" if re.search(r"[+-]", d.strip("-")) else got)
    return r" \times ".join(out)


def _number_latex(value: str) -> str:
    m = re.fullmatch(r"(-?)(\d+)/(\d+)", value)
    if m:
        return rf"{m.group(1)}\frac{{{m.group(2)}}}{{{m.group(3)}}}"
    return value


def _sentence(text: str) -> str:
    return text[:1].upper() + text[1:]


_MACHINE = re.compile(r"^(differs at a random|the two formulas are identical|every dimension is "
                      r"right|all \d+ values are right$|.*\bis right$)")


def _student_reason(v: Verdict) -> str:
    """The verdict's reason as a student reads it: the conclusion of an order-of-growth test
    (not its scalings), nothing for a random identity test (its counterexample says it)."""
    reason = str(v.reason)
    m = re.match(r"scaling every variable .*?: (the claim .*)$", reason)
    if m:
        return m.group(1)
    m = re.match(r"claimed/right settles to .*$", reason)
    if m:
        return "the same order of growth"
    if _MACHINE.match(reason):
        return ""
    return reason


def _claimed_latex(v: Verdict, claimed: Any) -> str:
    """A claimed formula as the student wrote it (``O(d k^2 H W)`` in that order, ``x_{l+1}``
    a subscript); any other claimed value through the printer."""
    if v.claim.kind in ("formula", "equation") and isinstance(v.claim.value, str):
        got = quote_latex(v.claim.value)
        if got is not None:
            return f"${got}$"
    return math(claimed)


def _item(v: Verdict) -> str:
    parts = [rf"\item {_MARK[v.status]} --- {text_with_math(v.claim.title, MAX_SHOWN)}."]
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
        parts.append(rf"Claimed: ``{text_with_math(v.claim.value, 400)}''.")
        if v.status in (JUDGED_RIGHT, JUDGED_PARTLY, JUDGED_REASON, JUDGED_WRONG):
            parts.append(r"\emph{Judged by the transcriber against the derived answer:} " +
                         prose_latex(_sentence(v.reason)) + ".")
        else:
            parts.append(_esc(_sentence(v.reason)) + ".")
    else:
        claimed = v.claimed if v.claimed is not None else v.claim.value
        table = v.claim.kind == "numbers" and isinstance(claimed, list) and len(claimed) > 6
        if table:  # a long column: the wrong rows are in the evidence, each with its correction
            parts.append(f"Claimed: {len(claimed)} values.")
        else:
            parts.append(f"Claimed: {_claimed_latex(v, claimed)}.")
        if v.status in (WRONG, PARTLY) and not table and v.expected is not None:
            lead = "Weights that pass the same verification (the derived answer's)" if \
                v.claim.kind == "weights" else "Correction"
            parts.append(f"{lead}: {math(v.expected)}.")
        if v.claim.convention:
            parts.append(r"\emph{Stated convention:} " + text_with_math(v.claim.convention,
                                                                         MAX_SHOWN) + ".")
        reason = _student_reason(v)
        if v.status in (CORRECT, PARTLY) and (v.evidence or table or v.status == PARTLY) \
                and reason:
            parts.append(evidence_latex(_sentence(reason)) + ".")
        elif v.status == WRONG and reason and v.claim.kind not in ("numbers",):
            parts.append(evidence_latex(_sentence(reason)) + ".")
        if v.status in (WRONG, PARTLY) or (v.claim.filled and v.evidence) or \
                (v.status == CORRECT and v.evidence):
            shown = [e for e in v.evidence if e != v.reason and not (
                v.status == CORRECT and e.startswith("judged under the solution's stated"))]
            for e in shown[:8]:
                parts.append(evidence_latex(_sentence(_point_list(e))) + ".")
            if len(shown) > 8:
                parts.append(_esc(f"(and {len(shown) - 8} more)"))
            if v.slip and v.claim.kind != "numbers":  # per-row slips are in the evidence
                parts.append(r"Likely slip: " + evidence_latex(v.slip) + ".")
        elif v.status == NOT_CHECKABLE:
            parts.append(_esc(_sentence(v.reason)) + ".")
    derived = v.explanation or (v.expected if v.claim.kind in ("text", "blank") and
                                isinstance(v.expected, str) else "")
    if derived:
        text = _sentences(derived)
        parts.append(r"Derived answer: " + prose_latex(text) + ("" if text.rstrip()
                                                               .endswith(".") else "."))
    if v.claim.note:
        parts.append(rf"\emph{{Note: {text_with_math(v.claim.note, 900)}}}")
    return " ".join(parts)
