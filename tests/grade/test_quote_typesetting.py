"""Quoting a student's formula: every token as written (subscripts stay subscripts, the written
order of factors), shapes of spaces as spaces, and anything else refused, then escaped."""

import pytest

from derive.grade.parse import ParseError, parse_formula
from derive.grade.quote import quote_latex, space_latex
from derive.grade.render import _where_latex, text_with_math


def test_an_index_subscript_stays_a_subscript():
    got = quote_latex("x_{l+1} = x_l + F(x_l)")
    assert got == r"x_{l + 1} = x_{l} + F (x_{l})"
    assert "^{(" not in got  # never the signal x at step l+1


def test_words_in_subscripts_and_bracket_indices_are_text():
    got = quote_latex("delta_new = ReLU'(z_new) * (W_next[:, new]^T delta_next)")
    assert got == (r"\delta_{\text{new}} = \operatorname{ReLU}' (z_{\text{new}}) \, "
                   r"(W_{\text{next}} [: , \text{new}]^{\top} \delta_{\text{next}})")


def test_a_claim_keeps_its_written_order():
    assert quote_latex("O(d k^2 H W)") == r"O (d k^{2} H W)"
    assert quote_latex(r"\frac{1}{T} \sum_{t=1}^{T} h^{(t)}") == \
        r"\frac{1}{T} \sum_{t = 1}^{T} h^{(t)}"


def test_a_signal_at_a_step_is_in_the_course_notation():
    assert quote_latex("q_i(t) = Q_i h(t-i)") == r"q_{i}^{(t)} = Q_{i} h^{(t-i)}"
    assert quote_latex("gamma*hhat(t) + beta") == r"\gamma \hat{h}^{(t)} + \beta"
    assert quote_latex("w_i(t) = q_i(t)^T k_j(t)") == \
        r"w_{i}^{(t)} = {q_{i}^{(t)}}^{\top} k_{j}^{(t)}"  # never a double superscript
    assert quote_latex("h(t)^2") == r"{h^{(t)}}^{2}"
    assert quote_latex("f_W(x)") == r"f_{W} (x)"  # a function of x stays a call
    assert quote_latex("r(T)") == "r (T)"


def test_the_variance_sigma2_is_sigma_squared():
    assert quote_latex("sigma2(t) + sigma2") == r"\left(\sigma^{(t)}\right)^{2} + \sigma^{2}"


def test_a_multi_index_subscript_keeps_its_comma():
    assert quote_latex("x_{t,j}") == "x_{t , j}"
    assert "tj" not in _where_latex("mu_j = 1/T sum_{t=1}^T x_{t,j}")


def test_the_parser_refuses_a_multi_index_subscript_rather_than_fuse_it():
    with pytest.raises(ParseError, match="several indices"):
        parse_formula("x_{t,j} + 1")
    assert str(parse_formula("x[t, j]")) == "x(t, j)"  # the bracket form is read


@pytest.mark.parametrize("text", [
    r"\input{/etc/passwd}", "x = $y$", "50% of x", "x}", "{x", r"\def\x{y}", "a & b",
    r"\begin{verbatim} x \end{verbatim}", "x = 1 # comment", r"\text{a^b}",
    "this is prose", "dbeta = sum dout", "pool 2x2/2", r"\frac{1}", "x^",
])
def test_what_is_not_read_is_refused(text):
    assert quote_latex(text) is None


def test_a_hostile_quote_comes_out_escaped():
    hostile = r"see \input{/etc/passwd} $x$ 100% } and x_1 = 2"
    for out in (text_with_math(hostile), _where_latex(hostile)):
        assert r"\input{" not in out and r"\textbackslash{}input\{/etc/passwd\}" in out
        assert r"\$" in out and r"\%" in out and r"\}" in out


@pytest.mark.parametrize("text, latex", [
    ("R^(m x m x n)", r"\mathbb{R}^{m \times m \times n}"),
    ("R^{m x n}", r"\mathbb{R}^{m \times n}"),
    (r"\mathbb{R}^{d \times d_k}", r"\mathbb{R}^{d \times d_{k}}"),
    ("R^m", r"\mathbb{R}^{m}"),
    ("ℝ^(3 × 3)", r"\mathbb{R}^{3 \times 3}"),
])
def test_the_shape_of_a_space(text, latex):
    assert space_latex(text) == latex


@pytest.mark.parametrize("text", ["R^(m + n)", "R", "R^(x y)", "Q^(m x n)", "R^(m x)"])
def test_other_text_is_no_space(text):
    assert space_latex(text) is None


def test_a_space_in_prose_is_typeset():
    got = _where_latex("'dh[t]/dW_x must be of dimension R^(m x m x n)': the only one")
    assert r"$\mathbb{R}^{m \times m \times n}$" in got and "m^{2}" not in got
