"""The safe claim parser: the grammar it reads, and the hostile input it refuses."""

import pytest
import sympy as sp
from hypothesis import given, settings
from hypothesis import strategies as st

from derive.grade.parse import (
    MAX_CHARS,
    MAX_DEPTH,
    ParseError,
    SymbolTable,
    parse_formula,
    parse_number,
    sigmoid,
)

t = sp.Symbol("t")
x, H, K, S, P, D = sp.symbols("x H K S P D")


def fn(name):
    return sp.Function(name)


@pytest.mark.parametrize(
    "text, expected",
    [
        ("a*b + c^2 - floor((H-K)/S) + 1",
         sp.Symbol("a") * sp.Symbol("b") + sp.Symbol("c") ** 2 - sp.floor((H - K) / S) + 1),
        (r"\left\lfloor \frac{H + 2P - D(K-1) - 1}{S} \right\rfloor + 1",
         sp.floor((H + 2 * P - D * (K - 1) - 1) / S) + 1),
        (r"\lfloor (H-DK+P+S)/S \rfloor", sp.floor((H - D * K + P + S) / S)),
        (r"\overline{h^{(t+1)}} f^{(t+1)}", fn("bar_h")(t + 1) * fn("f")(t + 1)),
        (r"\overline{w_{ix}}", sp.Symbol("bar_w_ix")),
        (r"\frac{\partial L}{\partial h^{(t)}}", fn("dL_dh")(t)),
        (r"\frac{\partial L_t}{\partial h^{(t)}}", fn("dL_dh")(t)),
        (r"\sigma'(x)", sigmoid(x) * (1 - sigmoid(x))),
        (r"\tanh'(x)", 1 - sp.tanh(x) ** 2),
        (r"\tanh^2(c^{(t)})", sp.tanh(fn("c")(t)) ** 2),
        (r"o^{(t)} \cdot \tanh(c^{(t)})", fn("o")(t) * sp.tanh(fn("c")(t))),
        (r"\sum_{t=1}^{T} \overline{i^{(t)}} x^{(t)}",
         sp.Sum(fn("bar_i")(t) * fn("x")(t), (t, 1, sp.Symbol("T")))),
        ("(5 * 5 * 3 + 1) * 16", sp.Integer(1216)),
        ("x^-2", x ** -2),
        ("-x^2", -x ** 2),
        (r"\mathrm{ReLU}(x - 10)", sp.Max(0, x - 10)),
        (r"\sqrt[3]{x}", sp.root(x, 3)),
        ("max(0, x)", sp.Max(0, x)),
        ("|x|", sp.Abs(x)),
        ("0.5*x", x / 2),
        ("2 × x · 3 − 1", 6 * x - 1),
        (r"\varepsilon + \epsilon_{1}", sp.Symbol("epsilon") + sp.Symbol("epsilon_1")),
    ],
)
def test_grammar(text, expected):
    assert parse_formula(text) == expected


def test_equations_and_relations():
    eq = parse_formula(r"\overline{c^{(t)}} = \overline{h^{(t)}} o^{(t)}")
    assert isinstance(eq, sp.Eq) and eq.lhs == fn("bar_c")(t)
    assert isinstance(parse_formula("H >= K"), sp.Ge)


def test_call_only_for_known_functions():
    # on paper h(t - 1) is a product unless the answer says h is a function of time
    assert parse_formula("h(t-1)") == sp.Symbol("h") * (t - 1)
    table = SymbolTable.from_expressions(fn("h")(t - 1))
    assert parse_formula("h(t-1)", table) == fn("h")(t - 1)


def test_symbol_table_shares_the_answers_symbols():
    Hpos = sp.Symbol("H", positive=True, integer=True)
    table = SymbolTable.from_expressions(Hpos + 1)
    assert parse_formula("H - 1", table).free_symbols == {Hpos}


def test_juxtaposed_letters_split_when_known():
    table = SymbolTable.from_expressions(D * K)
    assert parse_formula("DK", table) == D * K  # both letters are the answer's symbols
    assert parse_formula("DK") == sp.Symbol("DK")  # plain syntax, unknown: one name


def test_parse_number():
    assert parse_number("1024*(200704 + 1)") == 205521920
    with pytest.raises(ParseError):
        parse_number("x + 1")


HOSTILE = [
    "__import__('os').system('touch /tmp/pwned')",
    "().__class__.__bases__[0].__subclasses__()",
    "lambda: 0",
    "x.__class__",
    "exec('1')",  # quotes are not in the grammar
    "2^(10^10)",
    "x^(10^10)",
    "10^10^10",
    "(2^64)^64^2",
    "9" * 41,
    "1/0",
    "0^-1",
    r"\frac{1}{",
    r"\left( x",
    r"\overline{}",
    r"\overline{a+b}",
    r"x^{(t}",
    r"\begin{align} x \end{align}",
    r"\input{/etc/passwd}",
    r"\def\x{1}",
    "x\x00",
    "",
    "(" * 100 + "x" + ")" * 100,
    "(" * 10_000 + "x" + ")" * 10_000,
    "x" * (MAX_CHARS + 1),
    "x+" * 2000 + "x",
    "a" * 1_000_000,
]


@pytest.mark.parametrize("text", HOSTILE, ids=[repr(h[:30]) for h in HOSTILE])
def test_hostile_input_is_refused_with_a_reason(text):
    with pytest.raises(ParseError) as err:
        parse_formula(text)
    assert str(err.value)  # a reason, never an empty message


def test_depth_limit_is_reported():
    with pytest.raises(ParseError, match="nested too deeply"):
        parse_formula("(" * (MAX_DEPTH + 5) + "x" + ")" * (MAX_DEPTH + 5))


def test_exponent_limit_is_reported():
    with pytest.raises(ParseError, match="exponent"):
        parse_formula("2^(10^10)")
    assert parse_formula("x^64") == x ** 64


ALPHABET = list("xyHKt0123456789+-*/^()[]{}|=,'_ .") + [
    "\\frac", "\\left(", "\\right)", "\\lfloor", "\\rfloor", "\\overline", "\\sigma", "\\tanh",
    "\\sum", "\\partial", "\\sqrt", "\\cdot", "^{(t-1)}", "sin", "floor", "__", "lambda", "exp",
]


@settings(max_examples=300, deadline=None)
@given(st.lists(st.sampled_from(ALPHABET), max_size=40).map("".join))
def test_any_token_soup_parses_or_is_refused_cleanly(text):
    try:
        value = parse_formula(text)
    except ParseError as exc:
        assert str(exc)
    else:
        assert isinstance(value, sp.Basic)


def test_subscript_time_indices():
    h, xt = fn("h"), fn("x")
    assert parse_formula(r"\tanh(W h_{t-1} + U x_{t})") == \
        sp.tanh(sp.Symbol("W") * h(t - 1) + sp.Symbol("U") * xt(t))
    assert parse_formula(r"\frac{\partial L_t}{\partial h_t}") == fn("dL_dh")(t)
    assert parse_formula("w_{ix}") == sp.Symbol("w_ix")
    assert parse_formula("1/(1 + e^{-x})") == sigmoid(x)
