"""The text printer: plain text close to the catalogue's, ``bar_h(t + 1)``, ``c(t) (.) h(t - 1)``,
``W_h^T``."""

from __future__ import annotations

import sympy as sp
from sympy.printing.str import StrPrinter


class DeriveStrPrinter(StrPrinter):
    """Plain text close to the catalogue's: ``c(t) (.) h(t - 1)``, ``W_h^T``, ``sigma(...)``;
    a primitive prints itself through its ``_text`` method."""

    printmethod = "_text"

    def __init__(self, settings: dict | None = None) -> None:
        super().__init__({"order": "none", **(settings or {})})

    def _print_HadamardProduct(self, expr):
        return " (.) ".join(self.parenthesize(a, 45) for a in expr.args)

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


def text(expr: sp.Basic) -> str:
    """``expr`` as plain text."""
    return DeriveStrPrinter().doprint(expr)
