"""Printers that write sums of terms in textbook order: ``H + 2P - D(K-1) - 1``.

SymPy orders the terms of a sum canonically, which puts ``-D(K-1)`` first
(``floor((-D*(K - 1) + H + 2*P - 1)/S)``). Here positive terms come first, then negative
ones, then the constant; within a group the sizes (H, W, L) lead, then P, S, D, K, so
index expressions read ``S i + D m - P`` and the output size
``floor((H + 2P - D(K - 1) - 1)/S) + 1``.
"""

from __future__ import annotations

import sympy as sp
from sympy.printing.latex import LatexPrinter
from sympy.printing.str import StrPrinter

_PREFERENCE = ("H", "W", "L", "n", "P", "S", "D", "K", "C", "F")


def _term_key(term: sp.Expr) -> tuple[int, int, str]:
    if term.is_number:
        return (2, 0, "")
    coeff, _ = term.as_coeff_Mul()
    names = {str(s) for s in term.free_symbols}
    rank = min((i for i, n in enumerate(_PREFERENCE) if n in names), default=len(_PREFERENCE))
    return (1 if coeff.is_negative else 0, rank, str(term))


class _TextbookLatex(LatexPrinter):
    def _print_Symbol(self, expr, style="plain"):  # noqa: ANN001, ANN202 (SymPy's hook)
        # L_out, H_out: "out" is a word, set upright
        base, _, sub = expr.name.rpartition("_")
        if sub == "out" and base:
            return rf"{base}_\text{{out}}"
        return super()._print_Symbol(expr, style)

    def _as_ordered_terms(self, expr, order=None):  # noqa: ANN001, ANN202 (SymPy's hook)
        return sorted(expr.args, key=_term_key) if isinstance(expr, sp.Add) else \
            super()._as_ordered_terms(expr, order)


class _TextbookStr(StrPrinter):
    def _as_ordered_terms(self, expr, order=None):  # noqa: ANN001, ANN202 (SymPy's hook)
        return sorted(expr.args, key=_term_key) if isinstance(expr, sp.Add) else \
            super()._as_ordered_terms(expr, order)


def latex(expr: object) -> str:
    """``sympy.latex`` with sums in textbook order."""
    return _TextbookLatex().doprint(expr)


def text(expr: object) -> str:
    """``str`` with sums in textbook order."""
    return _TextbookStr().doprint(expr)
