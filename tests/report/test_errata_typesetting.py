"""The errata typeset math as math: order claims as O(T^2), sigma2 as sigma^2, derived answers
in full or cut at a sentence end, their formulas through the LaTeX printer, and the
solution's quoted math typeset only when the reading is faithful."""

import sympy as sp

from derive.grade.render import _sentences, _where_latex, math, plain, prose_latex

T, d, k = sp.symbols("T d k")


def test_an_order_claim_is_O_of_its_argument():
    order = sp.Function("O")(d * k**2)
    assert math(order) == r"$O\left(d k^{2}\right)$"
    assert plain(sp.Function("O")(T**2)) == "O(T^2)"
    assert "^{(" not in math(order)


def test_a_variance_named_sigma2_is_sigma_squared():
    out = math((sp.Symbol("h") - sp.Symbol("mu")) / sp.sqrt(sp.Symbol("sigma2") +
                                                            sp.Symbol("epsilon")))
    assert r"\sigma^{2}" in out and "sigma_{2}" not in out and r"\sigma2" not in out


def test_derived_texts_end_at_a_sentence():
    text = "First sentence here. " * 300
    cut = _sentences(text)
    assert cut.endswith(".") and "characters)" not in cut and len(cut) <= 4000
    assert _sentences("short. text") == "short. text"


def test_formulas_in_derived_prose_are_typeset():
    out = prose_latex("so 3*H*W*d*k**2 - H*d*k**2 - W*d*k**2 connections")
    assert "**" not in out and "*" not in out and "$3 H W d k^{2}" in out
    lines = prose_latex("h(t) = sum_{i=0}^{k} a_i(t) v_i(t)  for i in {0, ..., k}")
    assert r"\sum_{i=0}^{k}" in lines and "sum\\_" not in lines


def test_the_solutions_math_only_when_faithful():
    assert _where_latex("mu_j = 1/T sum_{t=1}^T x_{t,j}").startswith(r"$\mu_{j} = ")
    # "sum dout" is prose, not a product of symbols named sum and dout
    assert "$" not in _where_latex("'dbeta = sum dout'")
    # a multi-letter word split into letters would misquote the student
    assert r"a h t" not in _where_latex("xhat_{i,j} = (x_{i,j} - mu_j)")
