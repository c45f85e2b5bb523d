"""Square brackets after a name index it (dsga1008 writes x[t]); `**` is a power; SymPy's own
`Sum(body, (t, 1, T))` reads like the LaTeX sum: all through the safe parser."""

import pytest
import sympy as sp

from derive.grade.parse import ParseError, SymbolTable, parse_formula

t, T, W, mu, i, k = sp.symbols("t T W mu i k")
h, x, a, v = (sp.Function(n) for n in ("h", "x", "a", "v"))


def test_a_bracket_after_a_name_is_an_index_not_a_product():
    assert parse_formula("h[t]") == h(t)
    known = SymbolTable(functions={"h": h})
    assert parse_formula("h[t]") == parse_formula("h^{(t)}") == parse_formula("h(t)", known)
    assert parse_formula("W x[t-1]") == W * x(t - 1)
    assert parse_formula("h[t]") != sp.Symbol("h") * t


@pytest.mark.parametrize("text", ["h [t]", "2[a + b]", "(a + b)[c]", "h_{t-1}[t]"])
def test_other_brackets_after_a_factor_are_errors(text):
    with pytest.raises(ParseError):
        parse_formula(text)


def test_brackets_as_a_leading_group_still_group():
    assert parse_formula("[a + b]^2") == (sp.Symbol("a") + sp.Symbol("b")) ** 2


def test_a_subscripted_index_joins_the_answers_index():
    table = SymbolTable(functions={"a": a, "v": v})
    got = parse_formula(r"\sum_{i=0}^{k} a_i[t] v_i[t]", table)
    assert got == sp.Sum(a(i, t) * v(i, t), (i, 0, k))


def test_python_power_and_sympy_sums():
    assert parse_formula("a**2") == sp.Symbol("a") ** 2
    table = SymbolTable(functions={"h": h})
    got = parse_formula("Sum((-mu + h(t))**2, (t, 1, T))/T", table)
    assert got == sp.Sum((h(t) - mu) ** 2, (t, 1, T)) / T
    with pytest.raises(ParseError):
        parse_formula("Sum(h, (t, 1, 1000))")  # bounded like \sum
    with pytest.raises(ParseError):
        parse_formula("Sum(h)")
