"""The errata typeset math as math: order claims as O(T^2), sigma2 as sigma^2, derived answers
in full or cut at a sentence end, their formulas through the LaTeX printer, and the
solution's quoted math typeset only when the reading is faithful; never another formula."""

from types import SimpleNamespace

import pytest
import sympy as sp

from derive.grade.quote import quote_latex
from derive.grade.render import (
    _claimed_latex,
    _sentences,
    _where_latex,
    evidence_latex,
    math,
    plain,
    prose_latex,
    text_with_math,
)
from derive.report import latexmk

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


# -- quotes of the student's formulas: as written, in the course's notation ------------------

QUOTES = [
    "delta_new = ReLU'(z_new) * (W_next[:, new]^T delta_next)",
    "x_{l+1} = x_l + F(x_l)",
    "O(d k^2 H W)",
    "sigma2(t) + sigma2",
    "mu_j = 1/T sum_{t=1}^T x_{t,j}",
    "w_i(t) = q_i(t)^T k_j(t)",
    "h(t)^2 + sigma2(t)^2",
    r"\frac{1}{T} \sum_{t=1}^{T} (h^{(t)} - \mu)^2",
    "xhat_{i,j} = (x_{i,j} - mu_j)/sqrt(sigma_j^2 + epsilon)",
    "F(T) = floor(T/2) + F(ceiling(T/2))",
]


def test_the_derived_answer_of_the_growing_capacity_question_is_math():
    got = prose_latex("with delta_new = ReLU'(z_new) * (W_next[:, new]^T delta_next) = 0 "
                      "because every weight out of the new unit is 0")
    assert r"$\delta_{\text{new}} = \operatorname{ReLU}' (z_{\text{new}})" in got
    assert r"W_{\text{next}} [: , \text{new}]^{\top} \delta_{\text{next}}) = 0$" in got
    assert "delta" not in got.replace(r"\delta", "")


def test_a_residual_block_keeps_its_layer_subscripts():
    got = prose_latex("Pre-activation (x_{l+1} = x_l + F(x_l), with BN and ReLU inside F) is "
                      "easier to train")
    assert r"$x_{l + 1} = x_{l} + F (x_{l})$" in got and "^{(l" not in got


def test_a_claimed_formula_is_shown_in_the_order_written():
    claimed = sp.Function("O")(d * k**2 * sp.Symbol("H") * sp.Symbol("W"))
    verdict = SimpleNamespace(claim=SimpleNamespace(kind="formula", value="O(d k^2 H W)"))
    assert _claimed_latex(verdict, claimed) == r"$O (d k^{2} H W)$"
    assert "H W d" in math(claimed)  # the printer's own order, for derived answers
    unread = SimpleNamespace(claim=SimpleNamespace(kind="formula", value=r"\input{x}"))
    assert _claimed_latex(unread, claimed) == math(claimed)  # not quotable: the reading


def test_the_variance_at_a_step_is_typeset():
    out = math(sp.Function("sigma2")(sp.Symbol("t")) + sp.Symbol("epsilon"))
    assert r"\left(\sigma^{(t)}\right)^{2}" in out and "sigma_{2}" not in out


def test_a_substitution_in_a_reason_is_typeset():
    got = evidence_latex("the derived formula with i -> i - 1, j -> j - 1")
    assert r"$i \to i - 1$" in got and r"$j \to j - 1$" in got


def test_a_shape_of_a_space_in_a_quote_is_typeset():
    got = text_with_math("output in R^(F x C x floor((H-DK+P+S)/S))")
    assert r"\mathbb{R}^{F \times C \times \lfloor" in got


@pytest.mark.skipif(not latexmk.available(), reason="needs latexmk and pdflatex")
def test_quoted_formulas_compile(tmp_path):
    lines = [f"${quote_latex(q)}$\\par" for q in QUOTES]
    assert all("None" not in line for line in lines)
    hostile = text_with_math(r"see \input{/etc/passwd} $x$ 100% } and x_1 = 2 # ~ ^")
    source = ("\\documentclass{article}\\usepackage{amsmath,amssymb}\\begin{document}\n" +
              "\n".join(lines) + "\n" + hostile + "\n\\end{document}\n")
    pdf = latexmk.build_pdf(source, tmp_path / "quotes.pdf")
    assert pdf.exists() and pdf.stat().st_size > 0
