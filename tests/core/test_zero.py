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


def test_softmax_differences_are_decided_in_one_symbol_per_exponential():
    w0, w1 = sp.symbols("w0 w1")
    a0 = sp.exp(w0 * x) / (sp.exp(w0 * x) + sp.exp(w1 * x + y))
    assert exactly_zero(sp.diff(a0, x) - a0 * (w0 - (w0 * sp.exp(w0 * x)
                                                     + w1 * sp.exp(w1 * x + y))
                                               / (sp.exp(w0 * x) + sp.exp(w1 * x + y))))
    assert exactly_zero(a0 ** 2 - sp.exp(2 * w0 * x) / (sp.exp(w0 * x) + sp.exp(w1 * x + y)) ** 2)
    assert not exactly_zero(a0 * (1 - a0) - a0 ** 2)


def test_a_planted_error_below_the_probes_noise_is_still_not_zero():
    # 1e-40 times a term: invisible at the probe's 50 digits, so the exact stages decide
    tiny = sp.Rational(1, 10 ** 40)
    a0 = sp.exp(x) / (sp.exp(x) + sp.exp(y))
    identity = sp.diff(a0, x) - a0 * (1 - a0)
    assert exactly_zero(identity)
    assert not exactly_zero(identity + tiny * sp.exp(2 * x) / (sp.exp(x) + sp.exp(y)) ** 2)
    # a denominator inside a term that has its own: cleared to the highest power met
    s = sp.exp(x) + sp.exp(y)
    nested = a0 * (a0 + 1 / s) / s - a0 ** 2 / s - a0 / s ** 2
    assert exactly_zero(nested)
    assert not exactly_zero(nested + tiny / s ** 3)
    # exponentials of dependent arguments (x, y, x + y): decided through the monomials
    dependent = (sp.exp(x) + 1) * (sp.exp(y) + 1) - 1 - sp.exp(x) - sp.exp(y) - sp.exp(x + y)
    assert exactly_zero(dependent)
    assert not exactly_zero(dependent + tiny * sp.exp(x + y))
    # sigma through exp(-z), tanh through exp(2 z)
    logistic = sp.diff(sigma(x * y), x) - y * sigma(x * y) * (1 - sigma(x * y))
    assert exactly_zero(logistic)
    assert not exactly_zero(logistic + tiny * sigma(x * y))
    assert not exactly_zero(sp.tanh(x) - (2 * sigma(2 * x) - 1) + tiny * sp.tanh(x) ** 2)
