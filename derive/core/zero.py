"""Whether a derived difference is identically zero: the judge of every elementwise check.

The differences are rational functions of symbols, exponentials, ``tanh`` and ``sigma``
(a closed form minus SymPy's elementwise derivative). ``simplify`` can take many minutes on
one that is *not* zero, so the test runs in three stages:

1. a probe: the expression at a random rational point in 50-digit arithmetic. A value far
   above the arithmetic's noise proves the expression non-zero (it is one point of it);
2. ``tanh`` and ``sigma`` are written through ``exp``; each ``exp(c p)``, with ``p`` a
   polynomial whose coefficients have no common factor and ``c`` an integer, becomes
   ``F_p^c`` with one new symbol ``F_p`` per ``p`` (``exp(2 w)`` is ``F_w^2``, ``exp(-z)``
   is ``F_z^-1``; a softmax's ``sum_j exp(w_j)`` is ``sum_j F_j``). When the ``p`` are
   linearly independent over the rationals and none has a constant term, their
   exponentials are algebraically independent over the rational functions (Ax, 1971), so
   this keeps zero and non-zero apart, and the test becomes polynomial arithmetic in few
   symbols: the difference times its known denominators (``sum_j F_j``, each to the
   highest power met) is a polynomial, zero exactly when the difference is.
   Otherwise each ``exp(sum_m c_m m)`` becomes ``prod_m E_m^{c_m}``, one symbol ``E_m``
   per monomial ``m`` (distinct monomials are independent in the same sense): the same
   decision, on many more symbols, so slower.
   Before that, a difference holding other functions than ``exp`` is tried as a rational
   function of its function applications taken as independent symbols (``sigma(z)`` on
   both sides is one symbol): zero there is zero everywhere, and most differences of
   ``sigma`` and ``tanh`` are zero in that form;
3. anything outside that class falls back to expansion, then ``simplify``.

Floating-point literals are read as the exact rationals they stand for.
"""

from __future__ import annotations

import random

import mpmath
import sympy as sp
from sympy.polys.matrices import DomainMatrix

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
    only_exp = not {type(f) for f in entry.atoms(sp.Function)} - {sp.exp}
    # for exp alone, the decision of stage 2 is as cheap as the sufficient condition
    if not only_exp and _zero_with_opaque_functions(entry):
        return True
    exponential = entry.replace(lambda z: isinstance(z, sigma),
                                lambda z: 1 / (1 + sp.exp(-z.args[0])))
    exponential = exponential.replace(lambda z: isinstance(z, sp.tanh),
                                      lambda z: 1 - 2 / (sp.exp(2 * z.args[0]) + 1))
    rational = _exponentials_as_independent_symbols(exponential)
    if rational is None:
        rational = _exponentials_as_symbols(exponential)
    if rational is not None:
        cleared = _zero_with_denominators_cleared(rational)
        if cleared is not None:
            return cleared
        numerator, _ = sp.fraction(sp.together(rational))
        if not numerator.free_symbols:
            return sp.expand(numerator) == 0
        return bool(sp.Poly(numerator, *sorted(rational.free_symbols, key=str)).is_zero)
    if sp.expand(entry) == 0:
        return True
    numerator, _ = sp.fraction(sp.together(entry))
    return sp.expand(numerator) == 0 or sp.simplify(entry) == 0


def _zero_with_denominators_cleared(rational: sp.Expr) -> bool | None:
    """Whether ``rational`` is zero, from its numerator over the known denominators, or None
    when a denominator is not a polynomial (``1 / (1 + 1/F)``) or the expression is not a
    polynomial in its symbols and their reciprocals.

    Each ``D^-k`` (``D`` a polynomial: a softmax's ``sum_j F_j``, or ``F`` itself) is written
    ``u_D^k``, the expression becomes a polynomial ``P`` in its symbols and the ``u_D``, and
    ``rational * prod_D D^K_D`` (``K_D`` the largest power of ``u_D`` in ``P``) is the
    polynomial ``sum P_e prod_D D^(K_D - e_D)``. The ``D`` are non-zero, so it is zero exactly
    when ``rational`` is. The arithmetic is SymPy's sparse polynomials over the rationals
    (``together`` on the same expression is several times slower)."""
    powers: dict[sp.Expr, int] = {}
    for p in rational.atoms(sp.Pow):
        if p.exp.is_Integer and p.exp < 0:
            powers[p.base] = max(powers.get(p.base, 0), -int(p.exp))
    reciprocal = {base: sp.Dummy() for base in powers}
    written = rational.xreplace({base ** -k: reciprocal[base] ** k
                                 for base, most in powers.items() for k in range(1, most + 1)})
    symbols = sorted(rational.free_symbols, key=str)
    if not symbols:
        return None
    ring, *_ = sp.ring([*symbols, *reciprocal.values()], sp.QQ)
    try:
        polynomial = ring.from_expr(written)
        denominators = [ring.from_expr(base) for base in reciprocal]
    except ValueError:
        return None
    if any(not d for d in denominators):
        return None
    count = len(symbols)
    top = [max((m[count + j] for m in polynomial.monoms()), default=0)
           for j in range(len(denominators))]
    raised = [[d ** e for e in range(most + 1)] for d, most in zip(denominators, top,
                                                                   strict=True)]
    total = ring.zero
    for monomial, coefficient in polynomial.terms():
        term = ring({monomial[:count] + (0,) * len(denominators): coefficient})
        for j, e in enumerate(monomial[count:]):
            term *= raised[j][top[j] - e]
        total += term
    return not total


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


def _exponentials_as_independent_symbols(expr: sp.Expr) -> sp.Expr | None:
    """``expr`` with each ``exp(c p)`` replaced by ``F_p^c``, or None when ``expr`` holds
    other functions, or the ``p`` are not provably independent (see the module's notes)."""
    if {type(f) for f in expr.atoms(sp.Function)} - {sp.exp}:
        return None
    symbol: dict[sp.Expr, sp.Dummy] = {}
    power: dict[sp.Expr, tuple[sp.Integer, sp.Expr]] = {}
    for z in expr.atoms(sp.exp):
        if z.args[0].has(sp.exp):
            return None
        c, p = sp.expand(z.args[0]).as_content_primitive()
        if p.could_extract_minus_sign():
            c, p = -c, -p
        if not c.is_Integer:
            return None
        power[z] = (c, p)
        symbol.setdefault(p, sp.Dummy())
    columns: dict[sp.Expr, int] = {}
    rows = []
    for p in symbol:
        row = {}
        for term in sp.Add.make_args(p):
            coefficient, monomial = term.as_coeff_Mul()
            if monomial == 1 or not coefficient.is_Rational:
                return None
            row[columns.setdefault(monomial, len(columns))] = coefficient
        rows.append(row)
    width = len(columns)
    matrix = DomainMatrix([[sp.QQ.from_sympy(row.get(col, sp.S.Zero)) for col in range(width)]
                           for row in rows], (len(rows), width), sp.QQ)
    if matrix.rank() < len(rows):
        return None  # exp(a), exp(b), exp(a + b): dependent; the monomials decide
    return expr.xreplace({z: symbol[p] ** c for z, (c, p) in power.items()})


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
