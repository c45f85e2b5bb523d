"""Whether a derived difference is identically zero: the judge of every elementwise check.

The differences are rational functions of symbols, exponentials, ``tanh`` and ``sigma``
(a closed form minus SymPy's elementwise derivative). ``simplify`` can take many minutes on
one that is *not* zero, so the test runs in three stages:

1. a probe: the expression at a random rational point in 50-digit arithmetic. A value far
   above the arithmetic's noise proves the expression non-zero (it is one point of it);
2. ``tanh`` and ``sigma`` are written through ``exp``; each ``exp(sum_m c_m m)`` becomes
   ``prod_m E_m^{c_m}`` with one new symbol ``E_m`` per monomial ``m``. Exponentials of
   distinct monomials are algebraically independent over the rational functions, so this
   keeps zero and non-zero apart, and the test becomes polynomial arithmetic on a numerator;
   Before that, the difference is tried as a rational function of its function
   applications taken as independent symbols (``sigma(z)`` on both sides is one symbol):
   zero there is zero everywhere, and most differences are zero in that form;
3. anything outside that class falls back to expansion, then ``simplify``.

Floating-point literals are read as the exact rationals they stand for.
"""

from __future__ import annotations

import random

import mpmath
import sympy as sp

from derive.core.primitives import sigma

PROBE_DIGITS = 50
PROBE_NOISE = sp.Float("1e-30")  # far above 50-digit round-off, far below any real value


def exact_floats(expr: sp.Basic) -> sp.Basic:
    """``expr`` with each floating-point literal replaced by the decimal it prints as
    (``0.1`` is ``1/10``), so that arithmetic at any precision treats it as exact."""
    floats = expr.atoms(sp.Float)
    return expr.xreplace({f: sp.Rational(str(f)) for f in floats}) if floats else expr


def exactly_zero(entry: sp.Expr, seed: int = 0) -> bool:
    """Whether ``entry`` is identically zero (exact; no tolerance is involved)."""
    entry = exact_floats(sp.sympify(entry))
    if entry == 0:
        return True
    if _probe_nonzero(entry, seed):
        return False
    if _zero_with_opaque_functions(entry):
        return True
    exponential = entry.replace(lambda z: isinstance(z, sigma),
                                lambda z: 1 / (1 + sp.exp(-z.args[0])))
    exponential = exponential.replace(lambda z: isinstance(z, sp.tanh),
                                      lambda z: 1 - 2 / (sp.exp(2 * z.args[0]) + 1))
    rational = _exponentials_as_symbols(exponential)
    if rational is not None:
        numerator, _ = sp.fraction(sp.together(rational))
        if not numerator.free_symbols:
            return sp.expand(numerator) == 0
        return bool(sp.Poly(numerator, *sorted(rational.free_symbols, key=str)).is_zero)
    if sp.expand(entry) == 0:
        return True
    numerator, _ = sp.fraction(sp.together(entry))
    return sp.expand(numerator) == 0 or sp.simplify(entry) == 0


def _zero_with_opaque_functions(entry: sp.Expr) -> bool:
    """Zero as a rational function of its function applications, each taken as an
    independent symbol: a sufficient condition (a substitution instance of an identity)."""
    table: dict[sp.Basic, sp.Dummy] = {}
    for f in sorted(entry.atoms(sp.Function), key=sp.count_ops):
        table[f.xreplace(table)] = sp.Dummy()
    opaque = entry.xreplace(table)
    if opaque.atoms(sp.Function):
        return False
    numerator, _ = sp.fraction(sp.together(opaque))
    return sp.expand(numerator) == 0


def _exponentials_as_symbols(expr: sp.Expr) -> sp.Expr | None:
    """``expr`` with every exponential replaced by a product of independent symbols, or
    None when ``expr`` holds other functions or exponentials of non-polynomial arguments."""
    if {type(f) for f in expr.atoms(sp.Function)} - {sp.exp}:
        return None
    table: dict[sp.Expr, sp.Dummy] = {}
    failed = False

    def independent(z: sp.exp) -> sp.Expr:
        nonlocal failed
        out = sp.Integer(1)
        for term in sp.Add.make_args(sp.expand(z.args[0])):
            c, monomial = term.as_coeff_Mul()
            if not c.is_Integer or monomial.atoms(sp.exp):
                failed = True  # exp(m/2) and exp(m) are not independent: fall back
                return z
            out *= table.setdefault(monomial, sp.Dummy()) ** c
        return out

    rational = expr.replace(lambda z: isinstance(z, sp.exp), independent)
    return None if failed or rational.atoms(sp.exp) else rational


def _probe_nonzero(entry: sp.Expr, seed: int) -> bool:
    rng = random.Random(seed)
    point = {s: sp.Rational(rng.randint(-900, 900), 1000) for s in entry.free_symbols}
    try:
        with mpmath.workdps(PROBE_DIGITS):
            value = sp.N(entry.xreplace(point), PROBE_DIGITS)
    except (ZeroDivisionError, ValueError, TypeError):
        return False  # a pole or something unevaluable: leave it to the exact stages
    if not value.is_number or value.has(sp.nan, sp.zoo, sp.oo, -sp.oo):
        return False
    return bool(abs(value) > PROBE_NOISE)
