"""The text printer: plain text close to the catalogue's, ``bar_h(t + 1)``, ``c(t) (.) h(t - 1)``,
``W_h^T``.

``text`` keeps SymPy's term order, so machine-readable results built from it (answers' JSON)
stay as they are; ``course_text`` is the form for people, in the course's term order
(``t + 1``, ``K - 1``; forward equations as written)."""

from __future__ import annotations

import logging
import re

import sympy as sp
from pylatexenc.latex2text import LatexNodes2Text, MacroTextSpec, get_default_latex_context_db
from sympy.core.mul import _keep_coeff
from sympy.printing.str import StrPrinter

from derive.core.cell import Cell
from derive.printing.order import (
    WrittenOrder,
    as_order,
    cheap_precedence,
    ordered_factors,
    ordered_terms,
)


class DeriveStrPrinter(StrPrinter):
    """Plain text close to the catalogue's: ``c(t) (.) h(t - 1)``, ``W_h^T``, ``sigma(...)``;
    a primitive prints itself through its ``_text`` method."""

    printmethod = "_text"

    def __init__(self, settings: dict | None = None, written: WrittenOrder | None = None,
                 course: bool = False) -> None:
        super().__init__({"order": "none", **(settings or {})})
        self._written = written
        self._course = course or written is not None

    def _as_ordered_terms(self, expr, order=None):
        if self._course and isinstance(expr, sp.Add):
            return ordered_terms(expr, self._written)
        return super()._as_ordered_terms(expr, order)

    def parenthesize(self, item, level, strict=False):
        if (cheap_precedence(item) < level) or ((not strict) and cheap_precedence(item) <= level):
            return f"({self._print(item)})"
        return self._print(item)

    def _print_Add(self, expr, order=None):
        # StrPrinter's, with cheap_precedence
        prec = cheap_precedence(expr)
        parts = []
        for term in self._as_ordered_terms(expr, order=order):
            printed = self._print(term)
            sign = "+"
            if printed.startswith("-") and not term.is_Add:
                sign, printed = "-", printed[1:]
            wrap = cheap_precedence(term) < prec or term.is_Add
            parts += [sign, f"({printed})" if wrap else printed]
        sign = parts.pop(0)
        return ("" if sign == "+" else sign) + " ".join(parts)

    def _print_MatMul(self, expr):
        # StrPrinter's, with cheap_precedence (a MatMul is a Mul to SymPy's precedence rules)
        coeff, factors = expr.as_coeff_mmul()
        sign = ""
        if coeff.is_number:
            real, imag = coeff.as_real_imag()
            if imag.is_zero and real.is_negative or real.is_zero and imag.is_negative:
                expr, sign = _keep_coeff(-coeff, factors), "-"
        return sign + "*".join(self.parenthesize(a, cheap_precedence(expr)) for a in expr.args)

    def _print_Mul(self, expr):
        if self._written is None or any(
                f.is_Pow and f.exp.could_extract_minus_sign() or f.is_Rational and
                not f.is_Integer for f in expr.args):
            return super()._print_Mul(expr)
        factors = ordered_factors(expr, self._written)
        sign = ""
        if factors[0] == -1:
            sign, factors = "-", factors[1:]
        return sign + "*".join(self.parenthesize(f, cheap_precedence(expr), strict=False)
                               for f in factors)

    def _print_HadamardProduct(self, expr):
        return " (.) ".join(self.parenthesize(a, 45)
                            for a in ordered_factors(expr, self._written))

    def _print_OneMatrix(self, expr):
        return "1"

    def _print_Function(self, expr):
        if isinstance(expr, sp.core.function.AppliedUndef) and len(expr.args) == 1:
            return f"{expr.func.__name__}({sp.sstr(expr.args[0])})"
        return super()._print_Function(expr)

    def _print_Transpose(self, expr):
        return f"{self.parenthesize(expr.arg, 1000)}^T"

    def _print(self, expr, **kwargs):
        held = getattr(self, "_placeholders", {}).get(expr) if isinstance(expr, sp.Dummy) \
            else None
        return held if held is not None else super()._print(expr, **kwargs)

    def _print_DiagMatrix(self, expr):
        return f"diag({self._print(expr.args[0])})"


def text(expr: sp.Basic, order: WrittenOrder | Cell | None = None) -> str:
    """``expr`` as plain text in SymPy's term order (a stable machine-readable form); given a
    cell (or its :class:`WrittenOrder`), as :func:`course_text`."""
    return DeriveStrPrinter(written=as_order(order)).doprint(expr)


def course_text(expr: sp.Basic, order: WrittenOrder | Cell | None = None) -> str:
    """``expr`` as plain text in the course's term order (``t + 1``, ``1 - c``); given a cell
    (or its :class:`WrittenOrder`), a forward equation's right side as it was written."""
    return DeriveStrPrinter(written=as_order(order), course=True).doprint(expr)


def text_rows(equations, order: WrittenOrder | Cell | None = None) -> list[str]:
    """``lhs = rhs`` lines; forward equations as written, in the order of ``order``'s cell,
    else in the order the equations themselves are listed (as :func:`latex.align`)."""
    equations = list(equations)
    written = as_order(order) or WrittenOrder.of_equations(equations)
    return [f"{course_text(e.lhs)} = {course_text(e.rhs, written)}" for e in equations]


def _fraction(node, l2tobj) -> str:
    """``\\frac{a + b}{2}`` as ``(a + b)/2``: a compound side is bracketed."""
    args = [a for a in (node.nodeargd.argnlist if node.nodeargd else []) if a is not None]
    if len(args) != 2:  # \frac12: the digits are the arguments
        return l2tobj.nodelist_to_text(args)
    top, bottom = (l2tobj.nodelist_to_text([arg]).strip() for arg in args)

    def side(text: str) -> str:
        return f"({text})" if any(c in text for c in " +-*/") else text

    return f"{side(top)}/{side(bottom)}"


def _latex_context():
    db = get_default_latex_context_db()
    db.add_context_category("derive", prepend=True, macros=[
        MacroTextSpec("det", "det "),
        MacroTextSpec("ne", "≠"),
        MacroTextSpec("frac", simplify_repl=_fraction),
        MacroTextSpec("|", "‖"),
        MacroTextSpec("overline", "bar(%s)"),
        MacroTextSpec("odot", " ⊙ "),
        MacroTextSpec("top", "T"),
        MacroTextSpec("mathbf", "%s"),
        MacroTextSpec("mathcal", "%s"),
        MacroTextSpec("left", ""),
        MacroTextSpec("right", ""),
        MacroTextSpec("quad", "  "),
        MacroTextSpec("qquad", "    "),
    ])
    return db


logging.getLogger("pylatexenc").setLevel(logging.ERROR)  # unknown macros: printed as is
_LATEX_TO_TEXT = LatexNodes2Text(latex_context=_latex_context(), math_mode="text",
                                 strict_latex_spaces="macros")


# commands the converter does not know with their argument, as ones it knows
_SAME_AS = {r"\boldsymbol{": r"\mathbf{", r"\operatorname{": r"\mathrm{",
            r"\texttt{": r"\textrm{", r"\tfrac": r"\frac", r"\dfrac": r"\frac"}
_BINOMIAL = re.compile(r"\\binom\{([^{}]*)\}\{([^{}]*)\}")
_VERBATIM = re.compile(r"\\begin\{verbatim\}\n?(.*?)\\end\{verbatim\}", re.S)


def latex_to_text(body: str) -> str:
    """A LaTeX answer body as plain text (math as Unicode text): an answer's prose is written
    once, in its LaTeX template, and read in a terminal through this."""
    for command, known in _SAME_AS.items():
        body = body.replace(command, known)
    body = _BINOMIAL.sub(r"\\mathrm{binom}(\1, \2)", body)
    parts = _VERBATIM.split(body)  # prose, code, prose, ...: code is kept as it is
    text = "".join(_LATEX_TO_TEXT.latex_to_text(part) if i % 2 == 0 else
                   "\n" + "\n".join("    " + line for line in part.rstrip("\n").splitlines()) + "\n"
                   for i, part in enumerate(parts))
    lines = [line.rstrip() for line in text.splitlines()]
    # display math comes indented: one space between its parts, its rows without blank lines
    lines = ["    " + " ".join(line.split()) if line.startswith("    ") else line
             for line in lines]
    out: list[str] = []
    for k, line in enumerate(lines):
        if not line and out and out[-1].startswith("    ") and k + 1 < len(lines) and \
                lines[k + 1].startswith("    "):
            continue
        if line or (out and out[-1]):  # at most one blank line in a row
            out.append(line)
    return "\n".join(out).strip()
