"""A bounded evaluator of SymPy formulas at a point: exact where it can be, never unbounded.

Rationals stay ``fractions.Fraction`` through ``+ - * /``, integer powers, ``floor``, ``Abs``,
``Max``; elementary functions go to 60-digit ``mpmath``. Every intermediate is size-checked
(bits of a fraction, magnitude of a float, the argument of ``exp``), so a hostile formula makes
the point fail (:class:`PointFailed`) instead of hanging. Applied functions such as ``h(t - 1)``
are variables: each distinct argument value gets its own deterministic random value.
"""

from __future__ import annotations

import math
import random
from fractions import Fraction

import mpmath
import sympy as sp
from sympy.core.function import AppliedUndef

MAX_BITS = 20000
MAX_TERMS = 5000  # terms of all the sums at one point
DPS = 60


class PointFailed(Exception):
    """The formula is undefined (or too large to evaluate) at this point: try another."""


class Unsupported(Exception):
    """The formula holds an operation the evaluator does not know."""


def to_mpf(v) -> mpmath.mpf:
    if isinstance(v, Fraction):
        return mpmath.mpf(v.numerator) / v.denominator
    return v


def _check(v):
    if isinstance(v, Fraction):
        if max(v.numerator.bit_length(), v.denominator.bit_length()) > MAX_BITS:
            raise PointFailed("too large")
        return v
    if not mpmath.isfinite(v) or abs(v) > mpmath.mpf(10) ** 300:
        raise PointFailed("too large")
    return v


class Evaluator:
    def __init__(self, point: dict[str, Fraction], seed: str, narrow: bool = False):
        self.point = point
        self.seed = seed
        self.narrow = narrow  # values in [-2, 2]: keeps tanh and sigma away from saturation
        self.calls: dict[str, Fraction] = {}  # "h(2/3)" -> value: the function variables used
        self.terms = 0  # summed terms at this point: nested sums are bounded in all

    def function_value(self, name: str, args: tuple) -> Fraction:
        key = f"{name}({', '.join(str(a) for a in args)})"
        if key not in self.calls:
            rng = random.Random(f"{self.seed}|{key}")
            q = rng.randint(1, 6 if self.narrow else 9)
            top = 2 * q if self.narrow else 40
            self.calls[key] = Fraction(rng.randint(-top, top), q)
        return self.calls[key]

    def ev(self, e: sp.Basic):  # noqa: C901 - one dispatch over the SymPy node types
        if e.is_Integer:
            return Fraction(int(e))
        if e.is_Rational:
            return Fraction(int(e.p), int(e.q))
        if e.is_Float:
            return mpmath.mpf(str(e))
        if isinstance(e, sp.Symbol):
            if e.name not in self.point:
                raise Unsupported(f"no value for {e.name}")
            return self.point[e.name]
        if e is sp.E:
            return mpmath.e
        if e is sp.pi:
            return mpmath.pi
        if isinstance(e, AppliedUndef):
            args = tuple(self.ev(a) for a in e.args)
            return self.function_value(e.func.__name__, args)
        if isinstance(e, sp.Add):
            total = Fraction(0)
            for a in e.args:
                v = self.ev(a)
                total = _check(total + v if isinstance(v, Fraction) and
                               isinstance(total, Fraction) else to_mpf(total) + to_mpf(v))
            return total
        if isinstance(e, sp.Mul):
            prod = Fraction(1)
            for a in e.args:
                v = self.ev(a)
                prod = _check(prod * v if isinstance(v, Fraction) and
                              isinstance(prod, Fraction) else to_mpf(prod) * to_mpf(v))
            return prod
        if isinstance(e, sp.Pow):
            return self.power(self.ev(e.base), self.ev(e.exp))
        if isinstance(e, sp.Sum):
            return self.sum(e)
        if isinstance(e, sp.floor | sp.ceiling):
            v = self.ev(e.args[0])
            if isinstance(v, Fraction):
                return Fraction(v.__floor__() if isinstance(e, sp.floor) else v.__ceil__())
            return Fraction(int(mpmath.floor(v) if isinstance(e, sp.floor) else mpmath.ceil(v)))
        if isinstance(e, sp.Abs):
            return abs(self.ev(e.args[0]))
        if isinstance(e, sp.sign):
            v = self.ev(e.args[0])
            return Fraction((v > 0) - (v < 0))
        if isinstance(e, sp.Max | sp.Min):
            vals = [self.ev(a) for a in e.args]
            best = max(vals, key=to_mpf) if isinstance(e, sp.Max) else min(vals, key=to_mpf)
            return best
        if isinstance(e, sp.Mod):
            a, b = self.ev(e.args[0]), self.ev(e.args[1])
            if b == 0:
                raise PointFailed("mod by zero")
            return a % b if isinstance(a, Fraction) and isinstance(b, Fraction) else \
                mpmath.fmod(to_mpf(a), to_mpf(b))
        if isinstance(e, sp.KroneckerDelta):
            return Fraction(int(self.ev(e.args[0]) == self.ev(e.args[1])))
        return self.elementary(e)

    def power(self, b, x):
        if isinstance(x, Fraction) and x.denominator == 1:
            n = x.numerator
            if b == 0 and n < 0:
                raise PointFailed("division by zero")
            if isinstance(b, Fraction):
                if abs(n) * max(b.numerator.bit_length(), b.denominator.bit_length()) > MAX_BITS:
                    raise PointFailed("too large")
                return b**n
            return _check(to_mpf(b) ** n)
        if to_mpf(b) < 0:
            raise PointFailed("negative base, fractional exponent")
        if b == 0:
            if to_mpf(x) <= 0:
                raise PointFailed("division by zero")
            return Fraction(0)
        if isinstance(b, Fraction) and isinstance(x, Fraction) and x.denominator == 2:
            num, den = b.numerator, b.denominator
            rn, rd = _isqrt(num), _isqrt(den)
            if rn * rn == num and rd * rd == den:
                return self.power(Fraction(rn, rd), Fraction(x.numerator))
        mag = abs(to_mpf(x) * mpmath.log(to_mpf(b)))
        if mag > 690:
            raise PointFailed("too large")
        return _check(mpmath.power(to_mpf(b), to_mpf(x)))

    def sum(self, e: sp.Sum):
        return self.sum_over(e.function, list(e.limits))

    def sum_over(self, body: sp.Basic, limits: list):
        """The sum of ``body`` over ``limits`` (innermost first, as SymPy orders them); the
        outermost limit is iterated here, so a nested Sum is never rebuilt (SymPy would
        flatten it back into the same multi-limit Sum)."""
        var, lo, hi = limits[-1]
        inner = limits[:-1]
        lo_v, hi_v = self.ev(lo), self.ev(hi)
        if not (isinstance(lo_v, Fraction) and isinstance(hi_v, Fraction)) or \
                lo_v.denominator != 1 or hi_v.denominator != 1:
            raise PointFailed("non-integer summation limits")
        if hi_v - lo_v > 64:
            raise PointFailed("too many terms")
        total = Fraction(0)
        for k in range(int(lo_v), int(hi_v) + 1):
            self.terms += 1
            if self.terms > MAX_TERMS:
                raise PointFailed("too many terms")
            saved = self.point.get(var.name)
            self.point[var.name] = Fraction(k)
            try:
                v = self.sum_over(body, inner) if inner else self.ev(body)
            finally:
                if saved is None:
                    self.point.pop(var.name, None)
                else:
                    self.point[var.name] = saved
            total = total + v if isinstance(total, Fraction) and isinstance(v, Fraction) else \
                to_mpf(total) + to_mpf(v)
        return _check(total)

    def elementary(self, e: sp.Basic):
        funcs = {sp.exp: mpmath.exp, sp.log: mpmath.log, sp.sin: mpmath.sin, sp.cos: mpmath.cos,
                 sp.tan: mpmath.tan, sp.tanh: mpmath.tanh, sp.sinh: mpmath.sinh,
                 sp.cosh: mpmath.cosh}
        fn = funcs.get(type(e))
        if fn is None or len(e.args) != 1:
            raise Unsupported(f"cannot evaluate {type(e).__name__}")
        v = self.ev(e.args[0])
        if type(e) is sp.exp and v == 0:
            return Fraction(1)
        if type(e) is sp.log:
            if to_mpf(v) <= 0:
                raise PointFailed("log of a non-positive number")
            if v == 1:
                return Fraction(0)
        if abs(to_mpf(v)) > 600 and type(e) in (sp.exp, sp.sinh, sp.cosh):
            raise PointFailed("too large")
        if abs(to_mpf(v)) > 1e6 and type(e) in (sp.sin, sp.cos, sp.tan):
            raise PointFailed("too large")
        return _check(fn(to_mpf(v)))


def _isqrt(n: int) -> int:
    return math.isqrt(n) if n >= 0 else -1


def evaluate(expr: sp.Basic, point: dict[str, Fraction], seed: str = "0") -> Fraction | mpmath.mpf:
    """``expr`` at ``point`` (exact where possible); raises ``PointFailed`` / ``Unsupported``."""
    with mpmath.workdps(DPS):
        return Evaluator(dict(point), seed).ev(expr)


def same_value(a, b) -> bool:
    if isinstance(a, Fraction) and isinstance(b, Fraction):
        return a == b
    with mpmath.workdps(DPS):
        a, b = to_mpf(a), to_mpf(b)
        return abs(a - b) <= mpmath.mpf(10) ** -30 * max(1, abs(a), abs(b))


def show_value(v) -> str:
    if isinstance(v, Fraction) and len(str(v)) <= 40:
        return str(v)
    with mpmath.workdps(DPS):
        return mpmath.nstr(to_mpf(v), 15)
