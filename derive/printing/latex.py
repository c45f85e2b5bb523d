"""The LaTeX printer: bars, superscript time indices, elementwise products, the course's term
order.

``bar_h(t + 1)`` prints as ``\\overline{h^{(t+1)}}``, ``h(t - 1)`` as ``h^{(t-1)}``,
``dL_dh(t)`` as ``\\frac{\\partial L_{t}}{\\partial h^{(t)}}``; the elementwise product is
``\\odot``. In a product the bar comes first and the weights last, as answer keys write it.
Sums and a cell's forward equations follow :mod:`derive.printing.order`: ``t+1``, ``K-1``,
``\\sigma(w_{ix} x + w_{ih} h)`` as written.
"""

from __future__ import annotations

import sympy as sp
from sympy.printing.latex import LatexPrinter
from sympy.printing.precedence import precedence

from derive.core.cell import Cell, _name_and_time
from derive.printing.order import (
    WrittenOrder,
    as_order,
    cheap_precedence_traditional,
    extracts_minus,
    ordered_factors,
    ordered_terms,
)
from derive.printing.text import course_text


def _time(time: sp.Expr) -> str:
    return course_text(time).replace(" ", "")


class CourseLatexPrinter(LatexPrinter):
    """SymPy's LaTeX printer with sums in the course's order (``t+1``, ``K-1``, ``1-c``)."""

    def _as_ordered_terms(self, expr, order=None):
        if isinstance(expr, sp.Add):
            return ordered_terms(expr)
        return super()._as_ordered_terms(expr, order)


def course_latex(expr: sp.Basic, **settings) -> str:
    """``sympy.latex`` (same settings) with sums in the course's order."""
    return CourseLatexPrinter(settings).doprint(expr)


class DeriveLatexPrinter(LatexPrinter):
    """SymPy's LaTeX printer taught the bar notation of time-indexed signals and the course's
    term order; given a :class:`WrittenOrder`, a cell's forward equations as written."""

    def __init__(self, settings: dict | None = None,
                 written: WrittenOrder | None = None) -> None:
        super().__init__({"mul_symbol": None, "order": "none", **(settings or {})})
        self._written = written

    def _as_ordered_terms(self, expr, order=None):
        if isinstance(expr, sp.Add):
            return ordered_terms(expr, self._written)
        return super()._as_ordered_terms(expr, order)

    def _base(self, name: str) -> str:
        # subscripts are kept literally: w_ix is w_{ix}, not w_{\xi}
        head, sep, sub = name.partition("_")
        base = super()._print_Symbol(sp.Symbol(head))
        return f"{base}_{{{sub}}}" if sep and sub.isalnum() else \
            super()._print_Symbol(sp.Symbol(name))

    def _print_Symbol(self, expr, style="plain"):
        if isinstance(expr, sp.Symbol) and not expr.name.startswith("bar_"):
            return self._base(expr.name)
        return self._print_bar_or_matrix_symbol(expr, style)

    def _timed(self, name: str, time: sp.Expr) -> str:
        if name.startswith("bar_"):
            return rf"\overline{{{self._base(name[4:])}^{{({_time(time)})}}}}"
        if name.startswith("dL_d"):
            loss = "L_{" + _time(time) + "}"
            return (rf"\frac{{\partial {loss}}}{{\partial "
                    rf"{self._base(name[4:])}^{{({_time(time)})}}}}")
        return rf"{self._base(name)}^{{({_time(time)})}}"

    def _print_AppliedUndef(self, expr, exp=None):
        name, time = _name_and_time(expr)
        if name is None:
            return super()._print_Function(expr, exp)
        out = self._timed(name, time)
        return out if exp is None else rf"\left({out}\right)^{{{exp}}}"

    def _print_Function(self, expr, exp=None):
        if isinstance(expr, sp.core.function.AppliedUndef):
            return self._print_AppliedUndef(expr, exp)
        return super()._print_Function(expr, exp)

    def _print_MatrixSymbol(self, expr):
        name, time = _name_and_time(expr)
        if name is None:
            return self._print_Symbol(expr)
        return self._timed(name, time)

    def _print_bar_or_matrix_symbol(self, expr, style="plain"):
        if expr.name.startswith("bar_"):  # a weight's bar
            return rf"\overline{{{self._base(expr.name[4:])}}}"
        return super()._print_Symbol(expr, style) if isinstance(expr, sp.Symbol) \
            else self._base(expr.name)

    def parenthesize(self, item, level, is_neg=False, strict=False) -> str:
        # LatexPrinter's, with cheap_precedence_traditional (no negation of matrix products)
        if is_neg and strict:
            return self._add_parens(self._print(item))
        prec = cheap_precedence_traditional(item)
        if prec < level or (not strict and prec <= level):
            return self._add_parens(self._print(item))
        return self._print(item)

    def _print_MatMul(self, expr):
        # LatexPrinter's, with extracts_minus and cheap_precedence_traditional
        def parens(x):
            if isinstance(x, sp.Mul) and not isinstance(x, sp.MatMul):
                return self._print(x)
            return self.parenthesize(x, cheap_precedence_traditional(expr), False)

        args = list(expr.args)
        if extracts_minus(expr):
            if args[0] == -1:
                args = args[1:]
            else:
                args[0] = -args[0]
            return "- " + " ".join(map(parens, args))
        return " ".join(map(parens, args))

    def _print_HadamardProduct(self, expr):
        return r" \odot ".join(self.parenthesize(a, 50, strict=True)
                               for a in ordered_factors(expr, self._written))

    def _print_OneMatrix(self, expr):
        return r"\mathbf{1}"

    def _print_HadamardPower(self, expr):
        return rf"{self.parenthesize(expr.base, 1000)}^{{\odot {self._print(expr.exp)}}}"

    def _print_Transpose(self, expr):
        if expr.arg.shape == (1, 1):  # a scalar is its own transpose
            return self._print(expr.arg)
        if isinstance(expr.arg, sp.MatrixSymbol):
            return rf"{{{self._print(expr.arg)}}}^{{\top}}"
        return rf"{self.parenthesize(expr.arg, 1000)}^{{\top}}"

    def _print_MatAdd(self, expr):
        terms = ordered_terms(expr, self._written)
        out = self._print(terms[0])
        for term in terms[1:]:
            printed = self._print(term)
            out += f" - {printed[1:].lstrip()}" if printed.startswith("-") else f" + {printed}"
        return out

    def _print(self, expr, **kwargs):
        held = getattr(self, "_placeholders", {}).get(expr) if isinstance(expr, sp.Dummy) \
            else None
        return held if held is not None else super()._print(expr, **kwargs)

    def _print_DiagMatrix(self, expr):
        return rf"\operatorname{{diag}}\left({self._print(expr.args[0])}\right)"

    def _print_Mul(self, expr):
        factors = expr.args
        if not any(_is_bar(f) for f in factors):
            if self._written is None or not _plain_product(expr):
                return super()._print_Mul(expr)
            return self._written_product(expr)
        coeff, rest = expr.as_coeff_mul()
        order = sorted(rest, key=lambda f: _factor_rank(f, rest))
        body = " ".join(self.parenthesize(f, 50) for f in order)
        if coeff == 1:
            return body
        if coeff == -1:
            return "- " + body
        return f"{self._print(coeff)} {body}"

    def _written_product(self, expr: sp.Mul) -> str:
        factors = ordered_factors(expr, self._written)
        sign = ""
        if factors[0] == -1:
            sign, factors = "- ", factors[1:]
        return sign + " ".join(self.parenthesize(f, precedence(expr), strict=False)
                               for f in factors)


def _plain_product(expr: sp.Mul) -> bool:
    """A product without a denominator (``x/y`` keeps SymPy's fraction layout)."""
    return not any(f.is_Pow and f.exp.could_extract_minus_sign() or f.is_Rational and
                   not f.is_Integer for f in expr.args)


def _is_bar(factor: sp.Basic) -> bool:
    name, _ = _name_and_time(factor)
    return name is not None and name.startswith(("bar_", "dL_d"))


def _factor_rank(factor: sp.Basic, others: tuple) -> int:
    """Bars first, then a gate and its derivative (``i (1 - i)``), then other forward
    quantities, then weights and constants."""
    if _is_bar(factor):
        return 0
    name, _ = _name_and_time(factor)
    if name is not None:
        inside = any(factor in o.atoms(sp.core.function.AppliedUndef)
                     for o in others if o is not factor)
        return 1 if inside else 3
    if factor.atoms(sp.core.function.AppliedUndef):
        return 2
    return 4


def latex(expr: sp.Basic, order: WrittenOrder | Cell | None = None) -> str:
    """``expr`` in the bar notation; given a cell (or its :class:`WrittenOrder`), a forward
    equation's right side in the order it was written."""
    return DeriveLatexPrinter(written=as_order(order)).doprint(expr)



def _rows(equations, terms_per_line: int, order: WrittenOrder | Cell | None) -> list[str]:
    """``lhs &= rhs`` rows in the bar notation; a sum of more than ``terms_per_line + 1``
    terms continues on ``&\\quad`` rows. Forward equations print as written: in the order
    of ``order``'s cell, else in the order the equations themselves are listed."""
    equations = list(equations)
    written = as_order(order) or WrittenOrder.of_equations(equations)
    rows = []
    for e in equations:
        terms = ordered_terms(e.rhs, written) if isinstance(e.rhs, sp.Add | sp.MatAdd) \
            else [e.rhs]
        if len(terms) <= terms_per_line + 1:
            rows.append(rf"{latex(e.lhs)} &= {latex(e.rhs, written)}")
            continue
        printed = [latex(term, written) for term in terms]
        joined = [printed[0]] + [p if p.startswith("-") else f"+ {p}" for p in printed[1:]]
        lines = [" ".join(joined[i:i + terms_per_line])
                 for i in range(0, len(joined), terms_per_line)]
        rows.append(rf"{latex(e.lhs)} &= {lines[0]}")
        rows += [rf"&\quad {line}" for line in lines[1:]]
    return rows


def align(equations, terms_per_line: int = 2,
          order: WrittenOrder | Cell | None = None) -> str:
    """Equations (``sympy.Eq``) as an ``align*`` block in the bar notation; a sum of more
    than ``terms_per_line + 1`` terms continues on further lines, so it fits a page."""
    return "\\begin{align*}\n" + " \\\\\n".join(_rows(equations, terms_per_line, order)) + \
        "\n\\end{align*}"


def aligned(equations, terms_per_line: int = 2,
            order: WrittenOrder | Cell | None = None) -> str:
    """Equations as display math that MathJax and KaTeX typeset (Jupyter): ``$$`` around an
    ``aligned`` block, rows as in :func:`align`."""
    return "$$\\begin{aligned}\n" + \
        " \\\\\n".join(_rows(equations, terms_per_line, order)) + \
        "\n\\end{aligned}$$"
