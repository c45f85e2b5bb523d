"""The check of a closed-form Jacobian: against SymPy's elementwise Jacobian of the explicit
step at concrete sizes, exactly."""

from __future__ import annotations

import sympy as sp
from sympy.matrices.expressions.matexpr import MatrixExpr

from derive.checks.check import Check
from derive.checks.recurrent import explicit_matrix, explicit_symbols, safe_name
from derive.core.cell import Cell, _name_and_time, t, timed_matrix
from derive.core.zero import exactly_zero


def explicit_jacobian_difference(cell: Cell, of: str, wrt: str, lag: int, closed: MatrixExpr,
                                 dims: dict) -> list[sp.Expr]:
    """``closed`` minus SymPy's elementwise Jacobian of the explicit step at concrete
    ``dims`` (symbol -> size), entry by entry, both spelled out in the step's inputs."""
    explicit: dict[sp.Basic, sp.Basic] = {}

    def ex(atom: sp.MatrixSymbol) -> sp.Basic:
        if atom not in explicit:
            shape = tuple(int(sp.sympify(d).xreplace(dims)) for d in atom.shape)
            explicit[atom] = explicit_symbols(safe_name(str(atom)), shape)
        return explicit[atom]

    def to_explicit(expr: sp.Basic) -> sp.Matrix:
        expr = expr.xreplace(dims)
        env: dict[sp.Basic, sp.Basic] = {a: ex(a) for a in expr.atoms(sp.MatrixSymbol)}
        for f in expr.atoms(sp.core.function.AppliedUndef):
            name, time = _name_and_time(f)
            if name in cell.signals and cell.signals[name].shape is not None:
                env[f] = ex(timed_matrix(name, time, cell.signals[name].shape))[0, 0]
        return explicit_matrix(expr.xreplace(env))

    definitions: dict[sp.Symbol, sp.Basic] = {}
    for eq in cell.equations:
        definitions.update(zip(to_explicit(eq.signal(t)), to_explicit(eq.rhs), strict=True))

    def spelled_out(matrix: sp.Matrix) -> sp.Matrix:
        for _ in range(len(cell.equations) + 2):
            expanded = matrix.xreplace(definitions)
            if expanded == matrix:
                break
            matrix = expanded
        return matrix

    got = spelled_out(to_explicit(closed))
    step = spelled_out(to_explicit(cell.signals[of](t)))
    variables = list(to_explicit(cell.signals[wrt](t - lag)))
    want = step.jacobian(variables)
    return list(got - want)


def jacobian_check(cell: Cell, of: str, wrt: str, lag: int, closed: MatrixExpr,
                   sizes: list[dict]) -> Check:
    """``closed`` against SymPy's elementwise Jacobian at each of ``sizes``: exactly zero."""
    failures = []
    for dims in sizes:
        difference = explicit_jacobian_difference(cell, of, wrt, lag, closed, dims)
        if not all(exactly_zero(entry) for entry in difference):
            failures.append(", ".join(f"{k}={v}" for k, v in dims.items()))
    where = "; ".join(", ".join(f"{k}={v}" for k, v in d.items()) for d in sizes)
    return Check.exact(f"d{of}(t)/d{wrt}(t-{lag}) elementwise ({where})",
                       "SymPy jacobian of the explicit step", not failures,
                       f"differing at: {'; '.join(failures) or 'none'}")
