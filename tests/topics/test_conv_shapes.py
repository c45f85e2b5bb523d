"""Output sizes of convolutions: the formula, its validation, its checks (dsga1008-hw2/1.1a-b)."""

import itertools
import re

import numpy as np
import pytest
import sympy as sp

from derive import answer
from derive.core.errors import DeriveError
from derive.topics.conv import shape_checks
from derive.topics.conv.shapes import (
    D_sym,
    K_sym,
    P_sym,
    S_sym,
    n_sym,
    output_size,
    output_size_formula,
)


def numpy_length(n, K, P, S, D):
    """Independent reference: np.correlate of the padded input with the dilated kernel
    (mode 'valid'), then every S-th output."""
    kernel = np.zeros(D * (K - 1) + 1)
    kernel[::D] = 1.0
    return len(np.correlate(np.pad(np.ones(n), P), kernel, mode="valid")[::S])


def test_ints():
    assert output_size(21, 4, stride=4) == 5
    assert output_size(12, 5, stride=4) == 2
    assert output_size(7, 3, stride=2) == 3
    assert output_size(5, 3, padding=1) == 5
    assert isinstance(output_size(sp.Integer(7), 3), int)


def test_against_numpy_reference_on_a_grid():
    for n, K, P, S, D in itertools.product(range(1, 9), range(1, 4), range(3), range(1, 4),
                                           range(1, 3)):
        if D * (K - 1) + 1 <= n + 2 * P:
            assert output_size(n, K, P, S, D) == numpy_length(n, K, P, S, D), (n, K, P, S, D)


def test_symbolic():
    H = sp.Symbol("H", integer=True, positive=True)
    expr = output_size(H, 3, 1, 2)
    assert expr.has(sp.floor)
    assert expr.xreplace({H: 9}) == output_size(9, 3, 1, 2) == 5
    f = output_size_formula()
    assert f.xreplace({n_sym: 21, K_sym: 4, P_sym: 0, S_sym: 4, D_sym: 1}) == 5
    # mixed ints and symbols give an expression
    assert isinstance(output_size(H, 3), sp.Basic)


@pytest.mark.parametrize("args, kwargs, words", [
    ((4, 5), {}, ["kernel 5", "4"]),
    ((5, 3), {"dilation": 3}, ["kernel 3", "dilation 3", "extent 7"]),
    ((7, 3), {"stride": 0}, ["stride", "0"]),
    ((7, 3), {"dilation": 0}, ["dilation", "0"]),
    ((7, 3), {"padding": -1}, ["padding", "-1"]),
    ((0, 1), {}, ["input size", "0"]),
    ((7, 0), {}, ["kernel", "0"]),
    ((7, 3.0), {}, ["kernel", "3.0"]),
    ((7, True), {}, ["kernel", "True"]),
])
def test_bad_input(args, kwargs, words):
    with pytest.raises(DeriveError) as err:
        output_size(*args, **kwargs)
    for word in words:
        assert word in str(err.value)


def test_bad_integer_even_with_symbols():
    with pytest.raises(DeriveError, match="stride must be >= 1, got 0"):
        output_size(sp.Symbol("H"), 3, stride=0)


def test_brute_force_counts():
    assert shape_checks.window_positions(21, 4, 0, 4, 1) == 5
    assert shape_checks.window_positions(12, 5, 0, 4, 1) == 2
    assert shape_checks.window_positions(9, 3, 1, 2, 2) == 4
    assert shape_checks.numpy_windows(9, 3, 1, 2, 2) == numpy_length(9, 3, 1, 2, 2) == 4


def test_formula_checks_pass():
    assert shape_checks.check_formula().passed
    assert shape_checks.check_formula(against=shape_checks.numpy_windows).passed
    assert shape_checks.check_conv_shape(1).passed
    assert shape_checks.check_conv_shape(2).passed


@pytest.mark.parametrize("wrong", [
    sp.floor((n_sym + 2 * P_sym - (K_sym - 1) - 1) / S_sym) + 1,             # dilation dropped
    sp.floor((n_sym + 2 * P_sym - D_sym * (K_sym - 1) - 1) / S_sym),         # the +1 dropped
    sp.floor((n_sym + P_sym - D_sym * (K_sym - 1) - 1) / S_sym) + 1,         # one-sided padding
    sp.floor((n_sym + 2 * P_sym - D_sym * K_sym + S_sym) / S_sym),           # a common slip
])
def test_formula_check_catches_planted_errors(wrong):
    check = shape_checks.check_formula(wrong)
    assert not check.passed
    assert "differ" in check.detail
    assert not shape_checks.check_formula(wrong, against=shape_checks.numpy_windows).passed


def test_answer_1_1a():
    a = answer("dsga1008-hw2/1.1a")
    assert a.results["spatial_shape"] == [5, 2]
    # a shape is a list of integers; the unknown filter count lives in its own fields
    assert a.results["output_shape"] == [5, 2]
    assert all(type(n) is int for n in a.results["output_shape"])
    assert a.results["channels"] == "F"
    assert a.results["output_shape_formula"][1:] == [5, 2]
    assert str(a.results["output_shape_formula"][0]) == "F"
    assert a.results["output_shape_one_filter"] == [1, 5, 2]
    assert a.results["window_rows"] == [0, 4, 8, 12, 16]
    assert a.results["window_cols"] == [0, 4]
    assert "filter" in a.results["output_channels"]
    assert all(c.passed for c in a.checks)
    assert_latex_balanced(a.latex)


def test_answer_1_1b():
    a = answer("dsga1008-hw2/1.1b")
    names = {s: sp.Symbol(s) for s in "C H W K P S D F".split()}
    h_out = sp.sympify(str(a.results["H_out"]), locals=names)
    w_out = sp.sympify(str(a.results["W_out"]), locals=names)
    for H, W, K, P, S, D in [(21, 12, 4, 0, 4, 1), (32, 17, 3, 1, 2, 2), (9, 9, 5, 2, 3, 1)]:
        at = {names["H"]: H, names["W"]: W, names["K"]: K, names["P"]: P, names["S"]: S,
              names["D"]: D}
        assert h_out.xreplace(at) == output_size(H, K, P, S, D)
        assert w_out.xreplace(at) == output_size(W, K, P, S, D)
    assert str(a.results["output_shape"][0]) == "F"
    assert [str(v) for v in a.results["special_cases"]["stride_1_same_padding"]] == ["F", "H",
                                                                                    "W"]
    assert all(c.passed for c in a.checks)
    assert_latex_balanced(a.latex)


def assert_latex_balanced(latex: str) -> None:
    """Braces balance, display math opens and closes, environments pair up."""
    depth = 0
    for ch in re.sub(r"\\[{}]", "", latex):
        depth += {"{": 1, "}": -1}.get(ch, 0)
        assert depth >= 0, "a } closes nothing"
    assert depth == 0, "unclosed {"
    assert latex.count(r"\[") == latex.count(r"\]")
    stack = []
    for kind, env in re.findall(r"\\(begin|end)\{(\w+\*?)\}", latex):
        if kind == "begin":
            stack.append(env)
        else:
            assert stack and stack.pop() == env, f"\\end{{{env}}} does not match"
    assert not stack, f"unclosed {stack}"
    assert latex.count("$") % 2 == 0


@pytest.mark.parametrize("bad", [r"\frac{a}{b", r"\[ x ", r"\begin{align*} x",
                                 r"\begin{a}\begin{b}\end{a}\end{b}", "$x"])
def test_latex_balance_check_catches_errors(bad):
    with pytest.raises(AssertionError):
        assert_latex_balanced(bad)


def test_output_size_printed_in_textbook_order():
    from derive.topics.conv import printing
    from derive.topics.conv.shapes import output_size_formula

    assert printing.text(output_size_formula()) == "floor((n + 2*P - D*(K - 1) - 1)/S) + 1"
    a = answer("dsga1008-hw2/1.1b")
    # the text is read from the LaTeX: the same textbook order, in Unicode math
    assert "H_out = ⌊" in a.text and "H + 2 P - D (K - 1) - 1" in a.text
    assert "F×(H-K+1)×(W-K+1)" in "".join(a.text.split())
    assert r"\frac{H + 2 P - D \left(K - 1\right) - 1}{S}" in a.latex
    assert "-D" not in a.latex and "(-" not in a.text
    # only the order of the terms changes: the printed text reads back as the same formula
    h_out = a.results["H_out"]
    plain = {s: sp.Symbol(str(s)) for s in h_out.free_symbols}
    assert sp.sympify(printing.text(h_out), locals={str(s): s for s in plain.values()}) == \
        h_out.xreplace(plain)
