"""The course's term order: ``t+1``, ``K-1``, forward equations as written, and the printed
formula still the same expression (checked by reading the printed text back)."""

import random

import pytest
import sympy as sp
from sympy.parsing.latex import parse_latex
from sympy.parsing.sympy_parser import parse_expr

import derive
from derive.core.cell import Cell, t
from derive.core.primitives import sigma
from derive.printing import latex as latex_module
from derive.printing import order as order_module
from derive.printing import text as text_module
from derive.printing.latex import align, course_latex, latex
from derive.printing.order import WrittenOrder, ordered_factors, ordered_terms
from derive.printing.text import course_text, text, text_rows

i, j, K, H, W, D = sp.symbols("i j K H W D", integer=True, positive=True)
h, c = sp.Function("h"), sp.Function("c")


# -- the generic rules ---------------------------------------------------------------------

def test_times_and_counts_print_in_course_order():
    assert latex(h(1 + t)) == "h^{(t+1)}"
    assert latex(h(-1 + t)) == "h^{(t-1)}"
    assert latex(h(-i + t)) == "h^{(t-i)}"
    assert latex(sp.Sum(h(j), (j, 0, -1 + t))) == r"\sum_{j=0}^{t - 1} h^{(j)}"
    assert latex(-1 + K) == "K - 1"
    assert latex(D * (-1 + K)) == r"D \left(K - 1\right)"
    assert course_latex(-1 + 2 * sp.sqrt(H) * sp.sqrt(W)) == r"2 \sqrt{H} \sqrt{W} - 1"
    assert course_text(1 + t) == "t + 1" and course_text(-1 + t) == "t - 1"
    assert course_text(1 - c(t)) == "1 - c(t)"
    # SymPy's own order, for contrast: what the course does not write
    assert sp.latex(-1 + K, order="none") == "-1 + K"


def test_a_leading_minus_is_avoided_and_constants_come_last():
    x, y = sp.symbols("x y")
    assert latex(-x + y) == "y - x"
    assert latex(-x - 1) == "- x - 1"  # no positive term: the minus stays
    assert course_text(3 - x + y) == "y - x + 3"


def test_plain_text_keeps_sympys_order_for_machine_readable_results():
    # answers' JSON holds formulas printed by ``text``: they must not move
    assert text(1 - c(t)) == "1 - c(t)" and text(-h(t) + c(t)) == "-h(t) + c(t)"
    assert course_text(-h(t) + c(t)) == "c(t) - h(t)"


def test_the_sympy_latex_filter_of_the_templates_uses_the_course_order():
    from derive.printing.templates import environment

    env = environment("derive.answers")
    assert env.filters["sympy_latex"](-1 + K) == "K - 1"


# -- forward equations as written ------------------------------------------------------------

def test_lstm_forward_pass_prints_as_the_statement_writes_it():
    model = derive.model("lstm")
    block = align(model.equations.values())
    assert r"i^{(t)} &= \sigma\left(w_{ix} x^{(t)} + w_{ih} h^{(t-1)}\right)" in block
    assert r"g^{(t)} &= \tanh{\left(w_{gx} x^{(t)} + w_{gh} h^{(t-1)} \right)}" in block
    assert r"c^{(t)} &= f^{(t)} c^{(t-1)} + i^{(t)} g^{(t)}" in block
    assert r"h^{(t)} &= o^{(t)} \tanh{\left(c^{(t)} \right)}" in block
    assert text_rows(model.equations.values())[4] == "c(t) = f(t)*c(t - 1) + i(t)*g(t)"
    assert text(model.cell.equation("i").rhs, model.cell) == \
        "sigma(w_ix*x(t) + w_ih*h(t - 1))"
    # without the written order SymPy's canonical order reverses both
    assert latex(model.cell.equation("c").rhs) == r"c^{(t-1)} f^{(t)} + g^{(t)} i^{(t)}"


def test_gated_rnn_forward_pass_prints_as_written():
    model = derive.model("gated_rnn")
    block = align(model.equations.values())
    assert r"c^{(t)} &= \sigma\left(W_{c} x^{(t)} + W_{h} h^{(t-1)}\right)" in block
    assert (r"h^{(t)} &= c^{(t)} \odot h^{(t-1)} + \left(\mathbf{1} - c^{(t)}\right) \odot "
            r"W_{x} x^{(t)}") in block
    assert text(model.cell.equation("h").rhs, model.cell) == \
        "c(t) (.) h(t - 1) + (1 - c(t)) (.) W_x*x(t)"


def _user_cell() -> Cell:
    """A cell of the user's own, weights declared out of alphabetical order."""
    cell = Cell("mine")
    x, s = cell.input("x"), cell.state("s")
    v_z, u_z, v_n, u_n, b = cell.params("v_z u_z v_n u_n b")
    z = cell.let("z", sigma(v_z * x(t) + u_z * s(t - 1) + b))
    n = cell.let("n", sp.tanh(v_n * x(t) + u_n * z(t) * s(t - 1)))
    cell.let("s", z(t) * s(t - 1) + (1 - z(t)) * n(t))
    cell.output("s")
    return cell


def test_a_users_cell_prints_in_its_written_order():
    cell = _user_cell()
    rows = [latex(eq.rhs, cell) for eq in cell.equations]
    assert rows == [r"\sigma\left(v_{z} x^{(t)} + u_{z} s^{(t-1)} + b\right)",
                    r"\tanh{\left(v_{n} x^{(t)} + u_{n} z^{(t)} s^{(t-1)} \right)}",
                    r"z^{(t)} s^{(t-1)} + \left(1 - z^{(t)}\right) n^{(t)}"]
    # SymPy's order differs on every line, so the test shows the ordering at work
    assert [latex(eq.rhs) for eq in cell.equations] != rows


# -- the printed formula is the same expression ----------------------------------------------

def _names(expr: sp.Basic) -> dict:
    """Names the text printer writes, as the objects they stand for."""
    names = {str(s): s for s in expr.free_symbols}
    names |= {f.func.__name__: f.func for f in expr.atoms(sp.core.function.AppliedUndef)}
    return names | {"sigma": sigma, "t": t, "T": Cell.T}


def round_trips(expr: sp.Basic, order=None) -> bool:
    """Printed as text in the course's order and read back, ``expr`` is unchanged; and every
    ordered sum and product is a permutation of the node's own arguments."""
    written = order_module.as_order(order)
    for node in sp.preorder_traversal(expr):
        if isinstance(node, sp.Add | sp.MatAdd):
            ordered = latex_module.ordered_terms(node, written)
        elif isinstance(node, sp.Mul | sp.HadamardProduct):
            ordered = latex_module.ordered_factors(node, written)
        else:
            continue
        if sorted(map(sp.srepr, ordered)) != sorted(map(sp.srepr, node.args)):
            return False
    if isinstance(expr, sp.MatrixExpr) or expr.atoms(sp.MatrixSymbol):
        return True  # matrices: the permutation check above is the round trip
    printed = course_text(expr, written)
    return sp.simplify(parse_expr(printed, local_dict=_names(expr)) - expr) == 0


def _catalogue_expressions():
    for name in ("lstm", "lstm_input_first", "gated_rnn"):
        model = derive.model(name)
        for group in (model.equations, model.adjoints, model.weight_grads):
            for eq in group.values():
                yield model.cell, eq.rhs
    cell = _user_cell()
    for eq in cell.equations:
        yield cell, eq.rhs


def _random_expressions(count: int = 60):
    rng = random.Random(7)
    x, y, z = sp.symbols("x y z")
    atoms = [x, y, z, t, K, sp.Integer(1), sp.Integer(2), sp.Rational(1, 2), h(t - 1), c(t)]
    for _ in range(count):
        expr = sp.Integer(0)
        for _ in range(rng.randint(2, 5)):
            term = rng.choice([-1, 1, 2, -3]) * sp.Mul(*rng.sample(atoms, rng.randint(1, 3)))
            expr += sp.tanh(term) if rng.random() < 0.2 else term
        yield expr


@pytest.mark.parametrize("with_order", [True, False])
def test_printed_catalogue_equations_are_the_derived_expressions(with_order):
    for cell, expr in _catalogue_expressions():
        assert round_trips(expr, cell if with_order else None), expr


def test_printed_random_expressions_are_the_same_expressions():
    for expr in _random_expressions():
        assert round_trips(expr), expr


def latex_round_trips(expr: sp.Basic) -> bool:
    """``expr`` printed in LaTeX in the course's order and parsed back is ``expr``."""
    # an explicit product sign and plain brackets: the parser reads "D (K - 1)" as a call
    explicit = course_latex(expr, mul_symbol="dot").replace(r"\left(", "(")
    parsed = parse_latex(explicit.replace(r"\right)", ")"), backend="lark")
    names = {s.name: s for s in expr.atoms(sp.Symbol)}  # the parser drops assumptions
    parsed = parsed.xreplace({s: names.get(s.name, s) for s in parsed.atoms(sp.Symbol)})
    return sp.simplify(parsed - expr) == 0


LATEX_CASES = [t + 1, K - 1, 2 * sp.sqrt(H) * sp.sqrt(W) - 1, 3 - sp.Symbol("x"), D * (K - 1) - 1,
               sp.Sum(sp.Symbol("x") ** j, (j, 0, t - 1)), (1 - i) * j - i / 2]


def test_printed_latex_reads_back_as_the_same_expression():
    for expr in LATEX_CASES:
        assert latex_round_trips(expr), course_latex(expr)


def test_the_round_trip_catches_a_dropped_sign(monkeypatch):
    lstm = derive.model("lstm")
    expr = lstm.adjoints["c"].rhs
    assert round_trips(expr, lstm.cell)

    def dropped_sign(node, order=None):  # a planted bug: the last term loses its sign
        terms = ordered_terms(node, order)
        return [*terms[:-1], -terms[-1]]

    for module in (text_module, latex_module):
        monkeypatch.setattr(module, "ordered_terms", dropped_sign)
    assert not round_trips(expr, lstm.cell)
    assert not round_trips(1 - c(t))
    assert not all(latex_round_trips(e) for e in LATEX_CASES)


def test_the_round_trip_catches_a_lost_factor(monkeypatch):
    cell = _user_cell()
    expr = cell.equation("s").rhs
    assert round_trips(expr, cell)
    monkeypatch.setattr(latex_module, "ordered_factors",
                        lambda node, order=None: ordered_factors(node, order)[1:])
    assert not round_trips(expr, cell)


def test_written_order_is_read_only_from_forward_equations():
    lstm = derive.model("lstm")
    assert WrittenOrder.of_equations(lstm.equations.values()).signals == \
        ("i", "f", "o", "g", "c", "h")
    assert WrittenOrder.of_equations(lstm.adjoints.values()) is None
    assert WrittenOrder.of_cell(lstm.cell).weights[:2] == ("w_ix", "w_ih")


def test_cheap_sign_and_precedence_agree_with_sympys_on_every_derived_term():
    from sympy.printing.precedence import precedence, precedence_traditional

    import derive
    from derive.printing.order import (
        cheap_precedence,
        cheap_precedence_traditional,
        extracts_minus,
    )

    seen = 0
    for name in ("lstm", "gated_rnn", "attention_rnn"):
        model = derive.model(name)
        model = model.model(2) if name == "attention_rnn" else model
        for eqs in (model.equations, model.adjoints, model.weight_grads):
            for eq in eqs.values():
                for node in sp.preorder_traversal(eq.rhs):
                    if isinstance(node, sp.Basic) and not isinstance(node, sp.Tuple):
                        assert extracts_minus(node) == bool(node.could_extract_minus_sign())
                        assert cheap_precedence(node) == precedence(node)
                        assert cheap_precedence_traditional(node) == \
                            precedence_traditional(node)
                        seen += 1
    assert seen > 500
    x, y = sp.symbols("x y")
    assert extracts_minus(-2 * x * y) and not extracts_minus(2 * x * y)
