"""The Lark grammar of claims (derive/grade/claims.lark): shipped with the package, read in
order against the symbol table, and reporting errors where a left-to-right reading stops."""

import io
import logging
import re
from concurrent.futures import ThreadPoolExecutor
from importlib import resources
from pathlib import Path

import pytest
import sympy as sp
from lark import Lark, logger

import derive.grade.parse as parse
from derive.grade.parse import (
    MAX_EXPONENT,
    MAX_LITERAL_DIGITS,
    MAX_SUM_TERMS,
    MAX_TOKENS,
    ParseError,
    SymbolTable,
    parse_formula,
    sigmoid,
    tokenize,
)

t, x, y, a, b, T = sp.symbols("t x y a b T")
h = sp.Function("h")


def error(text, table=None):
    with pytest.raises(ParseError) as err:
        parse_formula(text, table)
    return str(err.value)


def test_the_grammar_ships_with_the_package_and_nothing_is_evaluated():
    grammar = resources.files("derive.grade").joinpath("claims.lark").read_text("utf-8")
    assert "start: relation" in grammar
    source = Path(parse.__file__).read_text("utf-8")
    code = "\n".join(line.split("#")[0] for line in source.splitlines())
    assert not re.search(r"\b(eval|exec|sympify|parse_expr|parse_latex|S)\(", code)


@pytest.mark.parametrize(
    "text, expected",
    [
        ("a/b c", a / b * sp.Symbol("c")),  # left to right: (a/b)*c
        ("2^3^2", sp.Integer(512)),  # right associative
        ("x^-2 y", y / x**2),
        ("-x^2 + 1", 1 - x**2),
        ("tanh x^2 y", y * sp.tanh(x**2)),  # a function takes the next power
        ("a/tanh x", a / sp.tanh(x)),
        (r"\frac tanh x y", sp.tanh(x) / y),
        (r"\tanh^a(x)", sp.tanh(x) ** a),
        (r"\sigma'(x)", sigmoid(x) * (1 - sigmoid(x))),
        (r"\sum_t x y + 1", 1 + sp.Sum(x * y, (t, 1, T))),  # the body runs to the product's end
        ("h(t-1)^2", sp.Symbol("h") * (t - 1) ** 2),  # unknown h: a product, ^ binds to (t-1)
        (r"h\left[t\right]", h(t)),
        (r"\left[a + b\right]^2", (a + b) ** 2),
        ("DKe^{x}", (sp.E * sp.Symbol("D") * sp.Symbol("K")) ** x),
        (r"x \cdot y \times 2 \odot 3", 6 * x * y),
        ("a <= b", sp.Le(a, b)),
    ],
)
def test_precedence_and_juxtaposition(text, expected):
    assert parse_formula(text) == expected


def test_names_are_resolved_in_reading_order():
    # h becomes a function when h^{(t)} has been read, so the later h(t-1) is a call
    assert parse_formula("h^{(t)} h(t-1)") == h(t) * h(t - 1)
    assert parse_formula("h(t-1) h^{(t)}") == sp.Symbol("h") * (t - 1) * h(t)
    assert parse_formula("h[t] h(t-1)") == h(t) * h(t - 1)
    # plain DK splits once D and K are known symbols, in the same formula too
    D, K = sp.symbols("D K")
    assert parse_formula("D*K + DK") == 2 * D * K
    assert parse_formula("DK + D*K") == sp.Symbol("DK") + D * K


def test_the_table_is_only_extended_by_what_was_read():
    table = SymbolTable()
    error(r"\overline x", table)  # refused at x: x is not a symbol yet
    assert "x" not in table.symbols
    error("1/0 + y", table)  # division by zero stops the reading before y
    assert "y" not in table.symbols
    error("x^{(t}", table)  # x became a function only once its index closes
    assert "x" not in table.functions
    parse_formula(r"\sum_{i=1} i", table)  # a sum's default upper limit
    assert {"i", "T"} <= set(table.symbols)


@pytest.mark.parametrize(
    "text, message",
    [
        ("(h'')", "expected ')' at position 2, found \"'\""),
        (r"\lfloor x'", "expected '\\\\rfloor' at position 9, found \"'\""),
        ("|x", "expected '|' at position 2, found 'end of formula'"),
        ("Sum(h, (t, 1 ]", "expected ',' at position 13, found ']'"),
        (r"\sum_{t ]", "expected '}' at position 8, found ']'"),
        ("a = b = c", "unexpected '=' at position 6"),
        ("x +", "unexpected 'end of formula' at position 3"),
        ("x + \\}", "unsupported LaTeX command '\\\\}' at position 4"),
        ("x \\}", "unexpected '\\\\}' at position 2"),
        (r"\overline x", "expected '{' at position 10, found 'x'"),
        ("(a)[b]", "'[' at position 3: an index is written directly after its name"),
        (r"\sum_t mu [t]", "'[' at position 10: an index"),  # before the sum is checked
        ("max(1/0)", "division by zero at position 7"),  # 1/0 is checked before the ")"
        ("1/0 )", "division by zero at position 4"),
        (r"\frac{1}{0} )", "division by zero in \\frac at position 0"),
        ("x_{(}", "unexpected '(' in subscript at 3"),
        ("h_{t-1}[t]", "h at position 0 has two indices"),
        (r"\sigma''(x)", "sigma with 2 primes at position 8"),
        (r"\sum_", "\\sum index at position 5 must be a name"),
        ("x^\\,99", "exponent at position 2 too large"),  # where the exponent's spacing began
        ("x  $", "unexpected character '$' at position 1"),
        ("x ≤ y ≤", "unexpected '<=' at position"),
    ],
)
def test_errors_say_where_and_why(text, message):
    assert message in error(text)


@pytest.mark.parametrize(
    "text, reason",
    [
        ("x" * 2 + "+x" * MAX_TOKENS, "tokens"),
        ("9" * (MAX_LITERAL_DIGITS + 1), "digits"),
        (f"x^{MAX_EXPONENT + 1}", "exponent"),
        ("(2^64)^64", "too large"),
        ("0^-1", "division by zero"),
        (f"\\sum_{{t=1}}^{{{MAX_SUM_TERMS + 1}}} t", "terms"),
        (f"Sum(t, (t, 1, {MAX_SUM_TERMS + 1}))", "terms"),
        (r"\sqrt[0]{x}", "root index"),
        ("log(0)", "log(0)"),
        ("max()", "unexpected ')'"),
        ("-" * 61 + "x", "nested too deeply"),
        ("x^" * 60 + "x", "nested too deeply"),
    ],
)
def test_every_bound_is_enforced(text, reason):
    assert reason in error(text)


def test_limits_hold_exactly_at_the_bound():
    assert parse_formula(f"x^{MAX_EXPONENT}") == x**MAX_EXPONENT
    assert parse_formula("9" * MAX_LITERAL_DIGITS) == int("9" * MAX_LITERAL_DIGITS)
    assert parse_formula(f"Sum(t, (t, 1, {MAX_SUM_TERMS}))") == \
        sp.Sum(t, (t, 1, MAX_SUM_TERMS))
    assert parse_formula("-" * 57 + "x") == -x  # 58 signs are one level too many


def test_tokenize_is_unchanged():
    assert [(k.kind, k.text, k.pos) for k in tokenize(r"w_{ix}\,x^{(t)} ** 2.5")] == [
        ("name", "w", 0), ("op", "_", 1), ("op", "{", 2), ("name", "ix", 3), ("op", "}", 5),
        ("cmd", "\\,", 6), ("name", "x", 8), ("op", "^", 9), ("op", "{", 10), ("op", "(", 11),
        ("name", "t", 12), ("op", ")", 13), ("op", "}", 14), ("op", "**", 16),
        ("num", "2.5", 19), ("end", "", 22),
    ]


def test_parsing_from_threads_keeps_each_table_apart():
    def work(k):
        table = SymbolTable()
        return parse_formula(f"h^{{(t)}} + {k} h(t-1)", table), set(table.functions)

    with ThreadPoolExecutor(4) as pool:
        results = list(pool.map(work, range(40)))
    assert all(value == h(t) + k * h(t - 1) and names == {"h"}
               for k, (value, names) in enumerate(results))


def test_the_grammar_is_lalr_and_its_only_conflicts_are_the_greedy_shifts():
    """Every conflict is a shift/reduce one of the two documented kinds: a ``\\sum`` body runs
    to the end of the product, and a postfix (``^``, ``**``, a transpose) binds to the last
    primary (``\\tanh x^2`` is tanh(x^2)). A new construct must not add another kind."""
    grammar = resources.files("derive.grade").joinpath("claims.lark").read_text("utf-8")
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    level = logger.level
    logger.addHandler(handler)
    logger.setLevel(logging.DEBUG)
    try:
        Lark(grammar, parser="lalr", lexer="basic", debug=True)
    finally:
        logger.removeHandler(handler)
        logger.setLevel(level)
    log = stream.getvalue()
    kinds = set(re.findall(r"(\w+/\w+) conflict", log))
    rules = set(re.findall(r"\* (<[^>]*>)", log))
    assert kinds == {"Shift/Reduce"}
    assert rules <= {"<atom : sum_head term>", "<power : primary>", "<ipower : iprimary>",
                     "<power_nb : primary_nb>", "<power_np : primary_np>"}, rules
