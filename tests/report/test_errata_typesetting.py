"""The errata typeset math as math: order claims as O(T^2), sigma2 as sigma^2, derived answers
in full or cut at a sentence end, their formulas through the LaTeX printer, and the
solution's quoted math typeset only when the reading is faithful; never another formula."""

import pytest
import sympy as sp

from derive.grade.render import (
    _sentences,
    _where_latex,
    evidence_latex,
    math,
    plain,
    prose_latex,
    text_with_math,
)

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
    assert _where_latex("mu_j = 1/T").startswith(r"$\mu_{j} = ")
    # x_{t,j} read as one name x_tj would drop the comma between the indices
    assert "tj}" not in _where_latex("mu_j = 1/T sum_{t=1}^T x_{t,j}")
    assert "123" not in _where_latex("'y_{1,2,3} = W_21 x_25'")
    # "sum dout" is prose, not a product of symbols named sum and dout
    assert "$" not in _where_latex("'dbeta = sum dout'")
    # a multi-letter word split into letters would misquote the student
    assert r"a h t" not in _where_latex("xhat_{i,j} = (x_{i,j} - mu_j)")


@pytest.mark.parametrize("text, wrong", [
    ("dimension R^(m x m x n)", "m^{2}"),  # the x of a shape is no symbol
    ("the 4th pool (layer 18, pool 2x2/2)", "x_{2}"),
    ("(i) dimension of f_W(x)", "^{(x)}"),  # a function of x, not a step x
    ("inv_var is r(T) in the causal notation", "T r"),  # r at step T, not a product
    ("update equation of w_xi", r"\xi"),  # the weight from x to i
    ("'So in total: 1792 + 73256 + 2.295168 = 22892904'", r"\frac"),  # arithmetic as written
    ("F(T) = floor(T/2) + F(floor(T/2))", "F T"),
])
def test_prose_is_never_typeset_as_another_formula(text, wrong):
    for rendered in (text_with_math(text), _where_latex(text), evidence_latex(text)):
        assert wrong not in rendered.replace("{ ", "{"), rendered


def test_prose_formulas_are_typeset():
    got = text_with_math("the derived equations (q_i(t) = Q_i h(t-i), k_i(t) = K_i h(t-i))")
    assert r"$q_{i}^{(t)} = Q_{i} h^{(t-i)}$" in got and "q\\_i" not in got
    assert text_with_math("ties Q_i = Q_1 for i >= 1").endswith(r"$i \geq 1$")
    shape = evidence_latex("another axis order: claimed 5 x 3 x 3, derived 1 x 3 x 5")
    assert r"$5 \times 3 \times 3$" in shape and r"$1 \times 3 \times 5$" in shape
    point = evidence_latex("counterexample: at D = 2, K = 2 the claim gives 2, the right "
                           "formula 3")
    assert "$D = 2$" in point and "$3$" in point


def test_a_decimal_is_quoted_as_written():
    assert r"\frac" not in _where_latex("'h1 = x1 XOR x2 => b = -1.5'")
    assert "-1.5" in _where_latex("'b = -1.5'")
