"""The exact zero test behind every elementwise check: identities pass, planted errors fail fast."""

import sympy as sp

from derive.core.primitives import sigma
from derive.core.zero import exactly_zero

x, y, w = sp.symbols("x y w")


def test_identities_of_the_cells_functions_are_zero():
    assert exactly_zero(sp.diff(sigma(w * x), x) - w * sigma(w * x) * (1 - sigma(w * x)))
    assert exactly_zero(sp.diff(sp.tanh(x * y), x) - y * (1 - sp.tanh(x * y) ** 2))
    assert exactly_zero(sp.tanh(x) - (2 * sigma(2 * x) - 1))
    assert exactly_zero(sp.exp(x + y) - sp.exp(x) * sp.exp(y))


def test_a_planted_error_is_not_zero():
    assert not exactly_zero(sp.diff(sp.tanh(x * y), x) + y * (1 - sp.tanh(x * y) ** 2))
    assert not exactly_zero(sigma(x) * (1 - sigma(x)) - sigma(x) ** 2)
    assert not exactly_zero(sp.tanh(x) - (2 * sigma(x) - 1))  # 2x, not x


def test_a_non_zero_difference_is_decided_without_simplify():
    # a doubled GRU-like Jacobian entry: simplify spends minutes on such a difference
    z = sigma(w * x + y)
    g = sp.tanh(x * z + w * y)
    entry = sp.diff((1 - z) * y + z * g, y)
    assert not exactly_zero(entry + entry)
    assert exactly_zero(entry - sp.expand(entry))


def test_float_literals_read_as_the_decimals_written():
    x = sp.Symbol("x")
    assert exactly_zero(sp.Float("0.1") * x - x / 10)
    assert exactly_zero(sp.Float("0.63") * sp.tanh(x) - sp.Rational(63, 100) * sp.tanh(x))
    assert not exactly_zero(sp.Float("0.1") * x - x / 9)  # and still tells values apart
