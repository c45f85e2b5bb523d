"""The claim kinds and fields beyond the basic ones: block matrices, piecewise formulas,
recurrences, rounded decimals with a tolerance, and claims that build on earlier lines. Each is
read correctly (a right claim is correct, a wrong one wrong with a reason), or refused with a
message; and no notation among them is silently read as a product of symbols."""

import textwrap
from types import SimpleNamespace

import pytest
import sympy as sp

import derive.grade as grading
from derive.core.errors import DeriveError
from derive.grade import kinds, verdicts
from derive.grade.claims import Claim, load_claims
from derive.grade.equivalence import equivalent, matrix_equivalent
from derive.grade.parse import Blocks, ParseError, SymbolTable, parse_formula, parse_matrix

x, k, t, T, W, s = sp.symbols("x k t T W s")
ybar, grad_J = sp.Function("ybar"), sp.Function("grad_J")


def claims_file(tmp_path, body: str):
    path = tmp_path / "claims.toml"
    path.write_text(textwrap.dedent(body), encoding="utf-8")
    return load_claims(path)


def graded(tmp_path, body: str, monkeypatch=None, results=None):
    """Every claim of ``body`` graded; ``results`` (problem id -> results) stands in for the
    derived answers when given."""
    if results is not None:
        def lookup(pid):
            return SimpleNamespace(results=results[pid], text="the derived answer"), ""

        monkeypatch.setattr(verdicts, "answer_or_reason", lookup)
    return [kinds.grade_claim(c) for c in claims_file(tmp_path, body).claims]


def is_product_of_symbols(e) -> bool:
    return isinstance(e, sp.Mul) and sum(isinstance(a, sp.Symbol) for a in e.args) >= 2


# -- rounded decimals and tolerances -----------------------------------------------------------

LOG2 = {"rnn-cnn-hw/1": {"value": sp.log(2), "half": sp.Rational(694, 1000)}}


def test_a_decimal_is_compared_at_the_precision_written(tmp_path, monkeypatch):
    got = graded(tmp_path, """
        [["rnn-cnn-hw/1"]]
        result = "value"
        number = 0.693
        [["rnn-cnn-hw/1"]]
        result = "value"
        number = "0.694"
        [["rnn-cnn-hw/1"]]
        result = "value"
        number = 0.69
    """, monkeypatch, LOG2)
    assert [v.status for v in got] == ["correct", "wrong", "correct"]
    assert "3 decimal places written" in got[0].reason
    assert "off by" in got[1].reason and "0.0005" in got[1].reason


def test_a_trailing_zero_keeps_its_precision(tmp_path, monkeypatch):
    # TOML reads 0.690 as the float 0.69; read at two places, 0.694 would round to it
    got = graded(tmp_path, """
        [["rnn-cnn-hw/1"]]
        result = "half"
        number = 0.690
        [["rnn-cnn-hw/1"]]
        result = "half"
        number = 0.69
    """, monkeypatch, LOG2)
    assert [v.status for v in got] == ["wrong", "correct"]
    assert "claimed 0.690" in got[0].reason


def test_a_stated_tolerance(tmp_path, monkeypatch):
    got = graded(tmp_path, """
        [["rnn-cnn-hw/1"]]
        result = "value"
        number = "0.69 ± 0.01"
        [["rnn-cnn-hw/1"]]
        result = "value"
        number = '0.69 \\pm 0.001'
        [["rnn-cnn-hw/1"]]
        result = "value"
        number = 0.6935
        tolerance = 5e-4
        [["rnn-cnn-hw/1"]]
        result = "value"
        number = "0.7 +- 0.001"
    """, monkeypatch, LOG2)
    assert [v.status for v in got] == ["correct", "wrong", "correct", "wrong"]
    assert "stated tolerance 0.01" in got[0].reason
    assert "more than 0.001" in got[1].reason


def test_an_integer_stays_exact_and_two_tolerances_are_refused(tmp_path, monkeypatch):
    claim = claims_file(tmp_path, """
        [["rnn-cnn-hw/1"]]
        result = "value"
        number = 3
    """).claims[0]
    assert kinds.route(claim) is None  # graded exactly, as before
    got = graded(tmp_path, """
        [["rnn-cnn-hw/1"]]
        result = "value"
        number = "0.69 +- 0.01"
        tolerance = 0.1
    """, monkeypatch, LOG2)
    assert got[0].status == "unparseable" and "state one" in got[0].reason


@pytest.mark.parametrize("text", ["0.693 +- 0.001", "0.693 ± 0.001", r"0.693 \pm 0.001"])
def test_a_tolerance_inside_a_formula_is_refused_not_subtracted(text):
    with pytest.raises(ParseError, match="tolerance"):
        parse_formula(text)


@pytest.mark.parametrize("value", ["0", "-1e-3", "abc", True])
def test_a_malformed_tolerance_is_an_error_of_the_file(tmp_path, value):
    shown = f'"{value}"' if isinstance(value, str) else str(value).lower()
    with pytest.raises(DeriveError, match="tolerance"):
        claims_file(tmp_path, f"""
            [["rnn-cnn-hw/1"]]
            result = "value"
            number = 0.5
            tolerance = {shown}
        """)


# -- claims that build on the solution's earlier lines ------------------------------------------

MOMENTUM = """
    [["csc421-hw4/3a"]]
    id = "theta"
    equation = "θ(k) = θ(k+1) − p(k+1)"
    result = "theta_k"
    [["csc421-hw4/3a"]]
    equation = "p(k) = (p(k+1) + α∇J(θ(k)))/β"
    result = "p_k"
    uses = ["theta"]
    [["csc421-hw4/3a"]]
    equation = "p(k) = (p(k+1) + α∇J(θ(k)))/β"
    result = "p_k"
    [["csc421-hw4/3a"]]
    equation = "p(k) = (p(k+1) - α∇J(θ(k)))/β"
    result = "p_k"
    uses = ["theta"]
"""


def test_the_momentum_inverse_written_through_the_previous_line(tmp_path):
    got = graded(tmp_path, MOMENTUM)
    assert [v.status for v in got] == ["correct", "correct", "wrong", "wrong"]
    assert f"theta(k) = -p(k + 1) + theta(k + 1) (line {got[0].claim.line})" in got[1].reason
    # without `uses`, theta(k) is a quantity of its own: the claim is not that formula
    assert got[2].evidence and "counterexample" in got[2].evidence[0]
    assert "counterexample" in got[3].evidence[1]


def test_a_circular_or_missing_reference_is_an_error_of_the_file(tmp_path):
    with pytest.raises(DeriveError, match="circular 'uses': a -> b -> a"):
        claims_file(tmp_path, """
            [["csc421-hw4/3a"]]
            id = "a"
            equation = "theta(k) = p(k)"
            uses = ["b"]
            [["csc421-hw4/3a"]]
            id = "b"
            equation = "p(k) = theta(k)"
            uses = ["a"]
        """)
    with pytest.raises(DeriveError, match="no claim has the id 'thetta'.*ids in the file: theta"):
        claims_file(tmp_path, """
            [["csc421-hw4/3a"]]
            id = "theta"
            equation = "theta(k) = p(k)"
            [["csc421-hw4/3a"]]
            equation = "p(k) = theta(k)"
            uses = ["thetta"]
        """)
    with pytest.raises(DeriveError, match="is a number claim"):
        claims_file(tmp_path, """
            [["csc421-hw4/3a"]]
            id = "n"
            number = 3
            [["csc421-hw4/3a"]]
            equation = "p(k) = theta(k)"
            uses = ["n"]
        """)


def test_an_earlier_line_defining_the_claimed_quantity_is_refused(tmp_path):
    got = graded(tmp_path, """
        [["csc421-hw4/3a"]]
        id = "p"
        equation = "p(k) = p(k+1)"
        result = "p_k"
        [["csc421-hw4/3a"]]
        equation = "p(k) = p(k+1)"
        result = "p_k"
        uses = ["p"]
    """)
    assert got[1].status == "unparseable" and "circular definition" in got[1].reason


def test_definitions_through_themselves_are_refused():
    p = sp.Function("p")
    table = SymbolTable()
    used = Claim("csc421-hw4/3a", "equation", "p(k) = 2 p(k)", line=3)
    definitions = [(p(k), 2 * p(k), used)]
    with pytest.raises(ParseError, match="through itself"):
        kinds.substitute(p(k) + 1, definitions)
    assert table.symbols == {}


# -- block matrices --------------------------------------------------------------------------

JACOBIAN = r"""
    [["csc421-hw4/3b"]]
    matrix = '\begin{bmatrix} I & 0 \\ -\alpha H & \beta I \end{bmatrix}'
    result = "jacobian_step1"
    [["csc421-hw4/3b"]]
    matrix = "[[I, 0], [-alpha H, beta I]]"
    result = "jacobian_step1"
    [["csc421-hw4/3b"]]
    matrix = [["I - alpha*H", "beta*I"], ["-alpha*H", "beta*I"]]
    result = "jacobian"
    [["csc421-hw4/3b"]]
    matrix = "[[I, 0], [alpha H, beta I]]"
    result = "jacobian_step1"
    [["csc421-hw4/3b"]]
    matrix = "[[I, 0]]"
    result = "jacobian_step1"
    [["csc421-hw4/3b"]]
    matrix = "[[I, 0], [0, I, 0]]"
    result = "jacobian_step1"
"""


def test_a_block_jacobian_compared_blockwise(tmp_path):
    got = graded(tmp_path, JACOBIAN)
    assert [v.status for v in got] == ["correct", "correct", "correct", "wrong", "wrong",
                                       "unparseable"]
    assert "block (2, 1)" in got[3].evidence[0] and "claimed H*alpha" in got[3].evidence[0]
    assert "1 x 2 blocks claimed" in got[4].reason
    assert "rows have 2, 3 blocks" in got[5].reason


def test_a_product_of_matrix_blocks_is_not_compared_in_order(tmp_path, monkeypatch):
    got = graded(tmp_path, """
        [["csc421-hw4/3b"]]
        matrix = "[[A B, 0], [0, I]]"
        result = "m"
        [["csc421-hw4/3b"]]
        matrix = "[[A B, 0], [0, 2 I]]"
        result = "m"
    """, monkeypatch, {"csc421-hw4/3b": {"m": [["B*A", "0"], ["0", "I"]]}})
    assert got[0].status == "not checkable" and "order is not compared" in got[0].reason
    assert got[1].status == "wrong"  # wrong even when the matrices commute


def test_ragged_rows_are_an_error_of_the_file(tmp_path):
    with pytest.raises(DeriveError, match="the rows have 2, 1 blocks"):
        claims_file(tmp_path, """
            [["csc421-hw4/3b"]]
            matrix = [["I", "0"], ["0"]]
            result = "jacobian_step1"
        """)


def test_matrix_notations_read_as_blocks():
    blocks = parse_matrix(r"J = \begin{pmatrix} A & 0 \\ 0 & B \\ \end{pmatrix}")
    A, B, J = sp.symbols("A B J")
    assert blocks == Blocks(((A, 0), (0, B)), J)
    assert parse_matrix("[[a + 1]]").rows == ((sp.Symbol("a") + 1,),)


@pytest.mark.parametrize("text, message", [
    ("[[A, 0], [0, B]]", "expected ']'"),
    (r"\begin{bmatrix} A & 0 \\ 0 & B \end{bmatrix}", "a block matrix is a matrix claim"),
    (r"\begin{vmatrix} A \end{vmatrix}", "unsupported environment 'vmatrix'"),
    ("A & B", "unexpected '&'"),
    (r"A \\ B", "unexpected"),
])
def test_a_matrix_in_a_formula_is_refused_not_multiplied(text, message):
    with pytest.raises(ParseError, match=message.replace("[", r"\[").replace("]", r"\]")):
        parse_formula(text)


# -- piecewise formulas ----------------------------------------------------------------------

RELU = sp.Max(0, x)


@pytest.mark.parametrize("text", [
    "{x if x > 0; 0 otherwise}",
    "{x if x >= 0; 0 else}",
    "{0 if x <= 0; x if x > 0}",
    r"\begin{cases} x & x > 0 \\ 0 & \text{otherwise} \end{cases}",
    r"\begin{cases} x, & \text{if } x \geq 0 \\ 0, & \text{otherwise} \\ \end{cases}",
    "{x if x >= 0; 0 if x <= 0}",  # the cases meet at 0 with the same value: fine
])
def test_piecewise_notations_read_and_right(text):
    claimed = parse_formula(text)
    assert claimed.has(sp.Piecewise)
    assert equivalent(claimed, RELU, seconds=0.5).equal is True


def test_a_wrong_case_is_wrong_with_a_point():
    d = equivalent(parse_formula("{x if x > 0; 1 otherwise}"), RELU, seconds=0.5)
    assert d.equal is False and d.point


def test_overlapping_or_missing_cases_are_wrong_and_say_so():
    overlap = equivalent(parse_formula("{x if x >= 0; 1 if x <= 0}"), RELU, seconds=0.5)
    assert overlap.equal is False and "both hold" in overlap.detail and overlap.point == {"x": "0"}
    missing = equivalent(parse_formula("{x if x > 0}"), RELU, seconds=0.5)
    assert missing.equal is False and "no case of the claim holds" in missing.detail


@pytest.mark.parametrize("text, message", [
    ("{x if x > 0; 0 otherwise; 1 if x < 0}", "'otherwise' must be the last case"),
    ("{x if x > 0; 1 if x > 0}", "the same condition"),
    ("{x if x}", "unexpected"),
    (r"\begin{cases} x & x > 0 \end{bmatrix}", r"closes \\begin\{cases\}"),
    ("x if x > 0", "outside the cases"),
    ("x otherwise", "outside the cases"),
    (r"x \text{otherwise}", "outside the cases"),
    (r"\begin{cases} x & \text{for all } x > 0 \\ 0 & \text{otherwise} \end{cases}",
     "a condition is a relation"),
])
def test_malformed_cases_are_refused_not_multiplied(text, message):
    with pytest.raises(ParseError, match=message):
        parse_formula(text)


# -- recurrences ------------------------------------------------------------------------------

def recurrence(value, base, expected, table=None):
    claim = Claim("rnn-cnn-hw/1", "recurrence", value, base=base)
    return kinds.grade_recurrence(claim, expected, {}, table or SymbolTable(), "x")


@pytest.mark.parametrize("value, base", [
    ("a(k) = 2 a(k-1) + 1", ["a(0) = 1"]),
    ("a_k = 2 a_{k-1} + 1", ["a_0 = 1"]),
    ("a(k) = 2 a(k-1) + 1", ["a(2) = 7"]),
])
def test_a_recurrence_unrolled_against_the_closed_form(value, base):
    v = recurrence(value, base, 2 ** (k + 1) - 1)
    assert v.status == "correct" and "unrolled" in v.method


def test_a_wrong_recurrence_or_base_case_is_wrong_with_the_step():
    wrong_base = recurrence("a(k) = 2 a(k-1) + 1", ["a(0) = 0"], 2 ** (k + 1) - 1)
    assert wrong_base.status == "wrong" and "a(0) = 0; the right value is 1" in wrong_base.reason
    wrong_step = recurrence("a(k) = 2 a(k-1) + 2", ["a(0) = 1"], 2 ** (k + 1) - 1)
    assert wrong_step.status == "wrong" and "a(1) = 4" in wrong_step.reason


def test_a_recurrence_against_a_list_of_values():
    fib = "a(k) = a(k-1) + a(k-2)"
    assert recurrence(fib, ["a(0) = 0", "a(1) = 1"], [0, 1, 1, 2, 3, 5, 8, 13]).status == \
        "correct"
    v = recurrence(fib, ["a(0) = 0", "a(1) = 1"], [0, 1, 1, 2, 3, 5, 8, 14])
    assert v.status == "wrong" and "a(7) = 13" in v.reason


def test_the_backward_adjoint_recurrence_from_its_last_step():
    table = SymbolTable.from_expressions(ybar(t))
    closed = sp.Sum(W ** (s - t) * ybar(s), (s, t, T))
    v = recurrence("hbar(t) = ybar(t) + W hbar(t+1)", ["hbar(T) = ybar(T)"], closed, table)
    assert v.status == "correct"
    v = recurrence(r"\bar{h}^{(t)} = ybar(t) + W \bar{h}^{(t+1)}",
                   [r"\bar{h}^{(T)} = ybar(T)"], closed, table)
    assert v.status == "correct"  # the LaTeX form: \bar{h}^{(t)} is bar_h(t), not a power
    wrong = recurrence("hbar(t) = ybar(t) + W hbar(t+1)", ["hbar(T) = 0"], closed, table)
    assert wrong.status == "wrong" and "counterexample" in wrong.evidence[0]


def test_a_recurrence_needs_enough_base_cases(tmp_path):
    with pytest.raises(DeriveError, match="needs its base cases"):
        claims_file(tmp_path, """
            [["rnn-cnn-hw/1"]]
            recurrence = "a(k) = 2 a(k-1) + 1"
            result = "x"
        """)
    with pytest.raises(ParseError, match="needs 2 consecutive base cases|2 consecutive"):
        recurrence("a(k) = a(k-1) + a(k-2)", ["a(0) = 0"], k)


@pytest.mark.parametrize("value, message", [
    ("a(k) = 2 a(k) + 1", "each step it uses"),
    ("a(k) = 2 k + 1", "not a recurrence"),
    ("a(k) = a(k-1) + a(k+1)", "both earlier and later"),
    ("2 = a(k)", "with the step k on the left"),
])
def test_what_is_not_a_recurrence_is_refused(value, message):
    with pytest.raises(ParseError, match=message):
        recurrence(value, ["a(0) = 1"], k)


# -- notations that were misread as products -------------------------------------------------

def test_overlined_time_indexed_names_are_not_powers():
    bar_h = sp.Function("bar_h")
    assert parse_formula(r"\bar{h}^{(t)}") == bar_h(t)
    assert parse_formula(r"\overline{h}^{(t+1)} + 1") == bar_h(t + 1) + 1
    assert parse_formula(r"\bar{h}^2") == sp.Symbol("bar_h") ** 2  # a power stays a power


def test_nabla_is_a_gradient_call_never_a_product():
    got = parse_formula(r"\nabla J(x)")
    assert got == grad_J(x) and not is_product_of_symbols(got)
    assert parse_formula("∇J(x)") == grad_J(x)
    with pytest.raises(ParseError, match="followed by a name"):
        parse_formula(r"\nabla (x)")


@pytest.mark.parametrize("text", ["otherwise", "x if y", "[[A, B]]", "0.5 +- 0.1",
                                  r"\begin{bmatrix} A & B \end{bmatrix}"])
def test_new_notations_outside_their_kind_are_never_products(text):
    with pytest.raises(ParseError):
        parse_formula(text)


# -- transposes where the claim declares shapes ---------------------------------------------

# a TOML inline table is one line: written here from parts
DECLARED = "shapes = { " + ", ".join(f'{name} = "{shape}"' for name, shape in [
    ("v_1", "n"), ("h", "n"), ("k_1", "n"), ("q_1", "n"), ("Q_1", "n x n"), ("K_1", "n x n"),
    ("V_1", "n x n")]) + " }"
ATTENTION = """
    [["dsga1008-hw2/1.2.2e"]]
    result = "jacobian"
    formula = "a_1(t) (v_1(t) - h(t)) (k_1(t)^T Q_1 + q_1(t)^T K_1) + a_1(t) V_1"
    {shapes}
    [["dsga1008-hw2/1.2.2e"]]
    result = "jacobian"
    formula = '''a_1(t) (v_1(t) - h(t)) (Q_1^\\top k_1(t) + K_1^\\top q_1(t))^\\top + a_1(t) V_1'''
    {shapes}
    [["dsga1008-hw2/1.2.2e"]]
    result = "jacobian"
    formula = "a_1(t) (v_1(t) - h(t)) (Q_1 k_1(t) + K_1 q_1(t))^T + a_1(t) V_1"
    {shapes}
    [["dsga1008-hw2/1.2.2e"]]
    result = "jacobian"
    formula = "a_1(t) (v_1(t) - h(t)) (k_1(t)^T Q_1 + q_1(t)^T K_1) + a_1(t) V_1"
""".replace("{shapes}", DECLARED)


def test_a_jacobian_with_transposes_read_with_declared_shapes(tmp_path):
    got = graded(tmp_path, ATTENTION)
    assert [v.status for v in got] == ["correct", "correct", "wrong", "unparseable"]
    assert got[0].method == "random matrices"
    assert "sizes n = " in got[2].reason
    # without shapes, k_1(t)^T is refused: never k_1(t) to the power T
    assert "after a call" in got[3].reason


N, M = sp.symbols("n m")
SHAPES = {"h": (N, 1), "x": (N, 1), "W": (M, N)}


@pytest.mark.parametrize("text", ["h^T x", "h^Tx", r"h^\top x", r"h^{\top} x", "h^{T} x",
                                  r"h^{\mathsf{T}} x", r"h^\intercal x"])
def test_transpose_marks_read_as_a_transpose(text):
    h, xv = sp.MatrixSymbol("h", N, 1), sp.MatrixSymbol("x", N, 1)
    assert parse_formula(text, shapes=SHAPES) == h.T * xv


def test_matrix_products_keep_their_order_and_are_compared_as_matrices():
    Wm, xv = sp.MatrixSymbol("W", M, N), sp.MatrixSymbol("x", N, 1)
    right = (Wm * xv).T * (Wm * xv)
    assert matrix_equivalent(parse_formula("x^T W^T W x", shapes=SHAPES), right).equal is True
    wrong = matrix_equivalent(parse_formula("W^T W", shapes=SHAPES), Wm * Wm.T)
    assert wrong.equal is False and "matrix, the right one" in wrong.detail


@pytest.mark.parametrize("text, table_symbols, message", [
    ("h^T x", {"T"}, "ambiguous, T is also a symbol"),
    ("a^T x", set(), "not declared a matrix"),
    ("W + x", set(), "a sum of"),
    ("W W", set(), "not square"),
    ("h = W^T x", set(), "times x"),
    ("tanh(W x)", set(), "a matrix inside tanh"),
])
def test_transposes_and_shapes_refused_where_ambiguous_or_mismatched(text, table_symbols,
                                                                     message):
    table = SymbolTable()
    for name in table_symbols:
        table.symbol(name)
    with pytest.raises(ParseError, match=message):
        parse_formula(text, table, shapes=SHAPES)


@pytest.mark.parametrize("text", ["h^T x", r"h^\top x", "k(t)^T", "k_1(t)^T x", "W.T x"])
def test_without_shapes_a_transpose_is_refused_never_a_power(text):
    with pytest.raises(ParseError, match="transpose"):
        parse_formula(text, SymbolTable.from_expressions(sp.Function("k")(t)))


def test_malformed_shapes_are_an_error_of_the_file(tmp_path):
    with pytest.raises(DeriveError, match="shapes"):
        claims_file(tmp_path, """
            [["dsga1008-hw2/1.2.2e"]]
            result = "jacobian"
            formula = "h^T x"
            shapes = { h = "n by 1" }
        """)
    with pytest.raises(DeriveError, match="for a formula or an equation"):
        claims_file(tmp_path, """
            [["dsga1008-hw2/1.2.2e"]]
            result = "jacobian"
            number = 3
            shapes = { h = "n" }
        """)


def test_grouped_decimals_and_arithmetic(tmp_path, monkeypatch):
    got = graded(tmp_path, """
        [["rnn-cnn-hw/1"]]
        result = "big"
        number = "1,234.5"
        [["rnn-cnn-hw/1"]]
        result = "big"
        number = "1,234.7"
    """, monkeypatch, {"rnn-cnn-hw/1": {"big": sp.Rational(24691, 20)}})
    assert [v.status for v in got] == ["correct", "wrong"]
    arithmetic = Claim("rnn-cnn-hw/1", "number", "0.5*3")
    assert kinds.route(arithmetic) is None  # the student's arithmetic: exact, as before


def test_a_convention_substitution_is_not_combined_with_uses(tmp_path):
    with pytest.raises(DeriveError, match="not applied together"):
        claims_file(tmp_path, """
            [["csc421-hw4/3a"]]
            id = "theta"
            equation = "theta(k) = p(k)"
            [["csc421-hw4/3a"]]
            equation = "p(k) = theta(k)"
            uses = ["theta"]
            convention = "k from 1"
            substitute = { k = "k - 1" }
        """)


def test_a_file_of_the_new_kinds_is_graded_and_reported(tmp_path, monkeypatch):
    monkeypatch.setattr(grading, "grade_claim", kinds.grade_claim)  # as derive.grade wires it
    path = tmp_path / "claims.toml"
    path.write_text(textwrap.dedent(MOMENTUM + JACOBIAN + """
        [["csc421-hw4/3b"]]
        number = "0.99 ± 0.02"
        result = "det_step2"
        [["csc421-hw4/3b"]]
        recurrence = "a(k) = a(k-1) + 1"
        base = ["a(1) = 1"]
        result = "verified_dims"
    """), encoding="utf-8")
    report = grading.grade(path)
    statuses = [v.status for v in report.verdicts]
    assert statuses[-2:] == ["correct", "correct"] and statuses.count("wrong") >= 4
    assert "0.99 ± 0.02" in grading.text_report(report)
    assert "\\begin{matrix}" in grading.latex_report(report)
    assert '"kind": "matrix"' in grading.json_report(report)
