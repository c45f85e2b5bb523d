"""Notations an instructor writes: each is either read as what it means or refused
with a ParseError that says where and why; never misread silently (e.g. as a product)."""

import textwrap
from types import SimpleNamespace

import pytest
import sympy as sp

from derive.grade import verdicts
from derive.grade.claims import load_claims
from derive.grade.parse import ParseError, SymbolTable, parse_formula, parse_number, sigmoid

a, b, n, t, x, T, W, h_ = sp.symbols("a b n t x T W h")
sigma = sp.Symbol("sigma")
f, h = sp.Function("f"), sp.Function("h")


def refused(text, *fragments, table=None):
    with pytest.raises(ParseError) as err:
        parse_formula(text, table)
    for fragment in fragments:
        assert fragment in str(err.value), str(err.value)
    return str(err.value)


def is_product(e):
    """A product with a symbol (or a power of one) as a factor: Theta*n**2, log2*T, 223*496 is
    not one but is checked by value."""
    return isinstance(e, sp.Mul) and \
        any(isinstance(arg.as_base_exp()[0], sp.Symbol) for arg in e.args)


# -- 1. thousands separators ---------------------------------------------------------------

@pytest.mark.parametrize("text, value", [
    ("223,496", 223496),
    ("223 496", 223496),
    (r"223\,496", 223496),
    ("223{,}496", 223496),
    ("1,234,567", 1234567),
    ("1 000 000", 1000000),
    ("1,234.5", sp.Rational(2469, 2)),
    ("223,496 + 1", 223497),
    ("(223,496)", 223496),
    ("max(2 000, 3)", 2000),
])
def test_thousands_separators_read_as_one_number(text, value):
    assert parse_formula(text) == value
    assert parse_number(text) == value


@pytest.mark.parametrize("text", ["223 496", r"223\,496"])
def test_spaced_digits_are_not_a_product(text):
    got = parse_formula(text)
    assert got != 223 * 496 and got == 223496


@pytest.mark.parametrize("text", ["223,49", "223,4961", "1234,567", "2 34", r"22\,4", "1.5 234"])
def test_badly_grouped_digits_are_refused(text):
    refused(text, "groups of three", "position 0")


def test_argument_commas_still_separate_arguments():
    table = SymbolTable(functions={"f": f, "h": h})
    assert parse_formula("f(a, b)", table) == f(a, b)
    assert parse_formula("f(1,234)", table) == f(1, 234)
    assert parse_formula("h[1,234]", table) == h(1, 234)
    assert parse_formula("max(1,234)") == 234
    assert parse_formula("Max(223,496, 5)") == 496
    assert parse_formula(r"\frac 1 2") == sp.Rational(1, 2)
    assert parse_formula("x^2 100") == 100 * x**2


# -- 2. orders of growth -------------------------------------------------------------------

@pytest.mark.parametrize("text, fragment", [
    (r"\Theta(n^2)", "write an order of growth as O(...)"),
    (r"\Omega(n)", "write an order of growth as O(...)"),
    (r"\Theta\left(n^2\right)", "write an order of growth as O(...)"),
    ("Theta(n)", "write an order of growth as O(...)"),
    ("2 O(n)", "must be the whole claim"),
    ("O(n) + 1", "must be the whole claim"),
    (r"\mathcal{O}(n)", "must be the whole claim"),
])
def test_orders_inside_a_formula_are_refused(text, fragment):
    refused(text, fragment)


def test_theta_is_not_a_product():
    with pytest.raises(ParseError):
        parse_formula(r"\Theta(n^2)")
    assert parse_formula(r"\Theta") == sp.Symbol("Theta")  # the letter alone is a symbol
    table = SymbolTable(functions={"O": sp.Function("O")})  # a known function stays one
    assert parse_formula("O(n)", table) == sp.Function("O")(n)


FAKE = {"rnn-cnn-hw/4.1": {"connections": sp.Symbol("d") * sp.Symbol("k") ** 2 * sp.Symbol("H")},
        "cmsc25500-midterm/1a": {"total_params": 223496}}


def test_order_and_grouped_number_verdicts(monkeypatch, tmp_path):
    def lookup(pid):
        return SimpleNamespace(results=FAKE[pid], text="the derived answer"), ""

    monkeypatch.setattr(verdicts, "answer_or_reason", lookup)
    path = tmp_path / "claims.toml"
    path.write_text(textwrap.dedent(r'''
        [["rnn-cnn-hw/4.1"]]
        result = "connections"
        formula = 'O(d k^2 H)'
        [["rnn-cnn-hw/4.1"]]
        result = "connections"
        formula = '\Theta(d k^2 H)'
        [["cmsc25500-midterm/1a"]]
        result = "total_params"
        formula = '223,496'
        [["cmsc25500-midterm/1a"]]
        result = "total_params"
        formula = '223 496'
    '''), encoding="utf-8")
    # each claim on its own: a report may merge the two equal numbers into one verdict
    got = [verdicts.grade_claim(claim) for claim in load_claims(path).claims]
    assert [v.status for v in got] == ["correct", "unparseable", "correct", "correct"]
    assert "O(...)" in got[1].reason


# -- 3. log bases ----------------------------------------------------------------------------

@pytest.mark.parametrize("text, value", [
    (r"\log_2 x", sp.log(x, 2)),
    (r"\log_{2}(T)", sp.log(T) / sp.log(2)),
    (r"\log_{10} x", sp.log(x, 10)),
    (r"\log_b x", sp.log(x) / sp.log(b)),
    (r"\log_e x", sp.log(x)),
    ("log_2(T)", sp.log(T, 2)),
    (r"\lg T", sp.log(T) / sp.log(2)),
    ("lg(T)", sp.log(T, 2)),
    ("log2(T)", sp.log(T, 2)),
    ("log10(x)", sp.log(x, 10)),
    (r"\ln x", sp.log(x)),
    ("ln(x)", sp.log(x)),
    (r"\log x", sp.log(x)),
    (r"T \log_2 T", T * sp.log(T, 2)),
])
def test_log_bases(text, value):
    assert sp.simplify(parse_formula(text) - value) == 0
    assert parse_formula(text) == value


def test_log2_is_not_a_product():
    got = parse_formula("log2(T)")
    assert sp.Symbol("log2") not in got.free_symbols and got == sp.log(T, 2)


@pytest.mark.parametrize("text, fragment", [
    (r"\log_1 x", "not a base"),
    (r"\log_2^2 x", "write (log_2(x))^2"),
    (r"\log_{t+1} x", "unexpected"),
    ("ln_2(x)", "natural logarithm"),
])
def test_bad_log_bases_are_refused(text, fragment):
    refused(text, fragment)


# -- 4. transposes ---------------------------------------------------------------------------

@pytest.mark.parametrize("text", [
    r"W^\top", r"W^{\top}", "W^T", "W^{T}", "h^T", r"h_t^T", r"\mathbf{W}^T",
    r"W^{\mathsf{T}}", r"W^\mathsf{T}", r"W_{hh}^T x", r"W^\intercal", "W.T", "W.T @ x",
])
def test_transposes_are_refused(text):
    refused(text, "a transpose is not a scalar formula")


def test_h_transpose_is_not_a_power():
    with pytest.raises(ParseError):
        parse_formula("h^T")
    # what stays a power: a number, a bracket, a Greek letter, e, a time index, a sum's limit
    gamma = sp.Symbol("gamma")
    assert parse_formula("2^T") == 2**T
    assert parse_formula("(1-a)^T") == (1 - a) ** T
    assert parse_formula(r"\gamma^T") == gamma**T
    assert parse_formula("gamma^T") == gamma**T
    assert parse_formula("e^T") == sp.exp(T)
    assert parse_formula("W^{(T)}") == sp.Function("W")(T)
    assert parse_formula(r"\sum_{t=1}^T t") == sp.Sum(t, (t, 1, T))
    assert parse_formula("W**T") == W**T


# -- 5. unicode ------------------------------------------------------------------------------

@pytest.mark.parametrize("text, value", [
    ("μ", sp.Symbol("mu")),
    ("µ", sp.Symbol("mu")),
    ("ε", sp.Symbol("epsilon")),
    ("ϵ", sp.Symbol("epsilon")),
    ("σ", sigma),
    ("θ", sp.Symbol("theta")),
    ("α + β", sp.Symbol("alpha") + sp.Symbol("beta")),
    ("γ", sp.Symbol("gamma")),
    ("Δ", sp.Symbol("Delta")),
    ("λ x", sp.Symbol("lambda") * x),
    ("x²", x**2),
    ("x³", x**3),
    ("x²³", x**23),
    ("x⁻¹", 1 / x),
    ("(a + b)²", (a + b) ** 2),
    ("x₁", sp.Symbol("x_1")),
    ("a·b", a * b),
    ("a⋅b", a * b),
    ("a − b", a - b),
    ("−x", -x),
    ("σ(x)", sigmoid(x)),
    ("σ²", sigma**2),
])
def test_unicode(text, value):
    assert parse_formula(text) == value


def test_unicode_in_latex():
    assert parse_formula(r"\frac{μ}{σ²}") == sp.Symbol("mu") / sigma**2
    assert parse_formula(r"θ^{(t)}") == sp.Function("theta")(t)


# -- 6. hats and tildes ----------------------------------------------------------------------

@pytest.mark.parametrize("text, value", [
    (r"\hat{h}^{(t)}", sp.Function("hat_h")(t)),
    (r"\hat{h}", sp.Symbol("hat_h")),
    (r"\hat{y}_t", sp.Symbol("hat_y_t")),
    (r"\widehat{y}", sp.Symbol("hat_y")),
    (r"\tilde{c}^{(t)}", sp.Function("tilde_c")(t)),
    (r"\hat{h}^{(t)} - h^{(t)}", sp.Function("hat_h")(t) - h(t)),
])
def test_hats_are_other_quantities(text, value):
    assert parse_formula(text) == value


def test_hat_h_is_not_h():
    got = parse_formula(r"\hat{h}^{(t)}")
    assert got != h(t) and got.func.__name__ == "hat_h"
    assert parse_formula(r"\hat{h}^{(t)} - h^{(t)}") != 0


# -- 7. sigma squared ------------------------------------------------------------------------

@pytest.mark.parametrize("text, value", [
    (r"\sigma^2", sigma**2),
    (r"\sigma^{2}", sigma**2),
    (r"\sigma^2 + 1", sigma**2 + 1),
    (r"\frac{\sigma^2}{n}", sigma**2 / n),
    (r"\sqrt{\sigma^2}", sp.sqrt(sigma**2)),
    (r"\sigma_h^2", sp.Symbol("sigma_h") ** 2),
    ("sigma^2", sigma**2),
    (r"\sigma^2(x)", sigmoid(x) ** 2),  # followed by its argument: the sigmoid squared
    (r"\sigma(x)^2", sigmoid(x) ** 2),
    (r"\sigma(x)", sigmoid(x)),
])
def test_sigma_squared(text, value):
    assert parse_formula(text) == value


def test_sigma_squared_is_not_the_sigmoid():
    got = parse_formula(r"\sigma^2")
    assert got == sigma**2 and not got.has(sp.exp)
    assert got != sigmoid(2) and got != sigmoid(2) ** 2


def test_sigma_squared_before_a_factor_is_refused():
    refused(r"\sigma^2 x", r"\sigma(x)^2", "position 9")


# -- every notation once misread silently, in one place ----------------------------------------

@pytest.mark.parametrize("text, old", [
    ("223 496", sp.Integer(223 * 496)),
    (r"223\,496", sp.Integer(223 * 496)),
    (r"\Theta(n^2)", sp.Symbol("Theta") * n**2),
    (r"\Omega(n)", sp.Symbol("Omega") * n),
    ("O(n^2)", sp.Symbol("O") * n**2),
    ("log2(T)", sp.Symbol("log2") * T),
    ("W^T", W**T),
    ("h^T", h_**T),
    (r"\hat{h}^{(t)}", h(t)),
    (r"\sigma^2(x)", sigma**2 * x),
])
def test_former_misreads_are_neither_products_nor_the_old_reading(text, old):
    try:
        got = parse_formula(text)
    except ParseError:
        return  # refused: the grader says it cannot read it
    assert got != old and not is_product(got)
