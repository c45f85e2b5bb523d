"""Fit a closed form to exact measurements, in exact rational arithmetic.

Used to find the closed form of a longest path from its values on concrete sizes: the
coefficients of a basis of monomials come from the normal equations over every sample,
and the form is accepted only if it reproduces every sample (and held-out ones) exactly.
"""

from __future__ import annotations

import itertools
from collections.abc import Sequence

import sympy as sp


def multilinear_basis(variables: Sequence[sp.Symbol]) -> list[sp.Expr]:
    """``1`` and every product of distinct variables: ``1, a, b, a*b, ...``."""
    return [sp.Mul(*combo) for n in range(len(variables) + 1)
            for combo in itertools.combinations(variables, n)]


def fit(
    samples: Sequence[tuple[dict[sp.Symbol, int], int]], basis: Sequence[sp.Expr]
) -> tuple[sp.Expr, int]:
    """``(sum c_b b, number of samples it misses)`` by exact least squares over ``basis``."""
    a = sp.Matrix([[sp.sympify(b).subs(point) for b in basis] for point, _ in samples])
    values = sp.Matrix([sp.Integer(value) for _, value in samples])
    coeffs = (a.T * a).solve(a.T * values)
    expr = sp.factor(sum(c * b for c, b in zip(coeffs, basis, strict=True)))
    misses = sum(1 for point, value in samples if expr.subs(point) != value)
    return expr, misses
