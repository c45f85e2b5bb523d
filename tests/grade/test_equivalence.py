"""Deciding formula equality, and naming slips: each check shown catching a planted error."""

import time
from fractions import Fraction

import sympy as sp

from derive.grade import equivalence
from derive.grade.equivalence import (
    Domain,
    equivalent,
    evaluate,
    same_number,
    same_order,
    simplify_is_zero,
)
from derive.grade.evaluate import PointFailed
from derive.grade.parse import SymbolTable, parse_formula
from derive.grade.slips import NumberContext, formula_slip, number_slip

t = sp.Symbol("t")
h, c, o, f = (sp.Function(n) for n in "hcof")
bar_h, bar_c = sp.Function("bar_h"), sp.Function("bar_c")
# the catalogue's bar of c: through h at t, and through c at t + 1
BAR_C = bar_h(t) * o(t) * (1 - sp.tanh(c(t)) ** 2) + bar_c(t + 1) * f(t + 1)
H, K, S, P, D = sp.symbols("H K S P D", integer=True, positive=True)
CONV = sp.floor((H + 2 * P - D * (K - 1) - 1) / S) + 1
CONV_DOMAIN = Domain(constraints=[sp.Ge(H, K), sp.Ge(H + 2 * P, D * (K - 1) + 1)],
                     nonnegative={"P"})


def claim(text, *context):
    return parse_formula(text, SymbolTable.from_expressions(*context))


def test_time_indexed_formula_correct_and_with_a_flipped_sign():
    right = claim(r"\overline{h^{(t)}} o^{(t)} (1-\tanh^2(c^{(t)})) "
                  r"+ \overline{c^{(t+1)}} f^{(t+1)}", BAR_C)
    d = equivalent(right, BAR_C)
    assert d.equal is True
    flipped = claim(r"\overline{h^{(t)}} o^{(t)} (1+\tanh^2(c^{(t)})) "
                    r"+ \overline{c^{(t+1)}} f^{(t+1)}", BAR_C)
    d = equivalent(flipped, BAR_C)
    assert d.equal is False
    assert d.point and d.claimed_value != d.expected_value
    assert "o(" in " ".join(d.point)  # the applied functions are the variables shown


def test_applied_functions_at_distinct_times_are_independent():
    wrong_time = claim(r"\overline{h^{(t)}} o^{(t)} (1-\tanh^2(c^{(t)})) "
                       r"+ \overline{c^{(t)}} f^{(t+1)}", BAR_C)
    assert equivalent(wrong_time, BAR_C).equal is False


def test_floor_formula_on_the_integer_domain():
    right = claim(r"\left\lfloor \frac{H + 2P - D(K-1) - 1}{S} \right\rfloor + 1", CONV)
    d = equivalent(right + 0 * H, CONV, CONV_DOMAIN)
    assert d.equal is True
    off = claim("floor((H + 2*P - D*(K-1) - 1)/S) + 2", CONV)
    d = equivalent(off, CONV, CONV_DOMAIN)
    assert d.equal is False and d.method == "random integer points"
    assert all(Fraction(v).denominator == 1 for v in d.point.values())
    assert int(d.point["H"]) >= int(d.point["K"])  # the counterexample is in the domain


def test_floor_identity_that_only_holds_on_integers():
    # floor((n + 1)/2) = ceil(n/2) holds for integers n, not for rationals
    n = sp.Symbol("n", integer=True, positive=True)
    assert equivalent(sp.floor((n + 1) / 2), sp.ceiling(n / 2)).equal is True


def test_exact_numbers():
    assert same_number(Fraction(1216), 1216).equal is True
    assert same_number(1215, 1216).equal is False


def test_symbolic_confirmation_is_reported():
    x = sp.Symbol("x")
    d = equivalent(claim("(x+1)^2"), x ** 2 + 2 * x + 1)
    assert d.equal is True and d.method == "symbolic simplification"


def test_simplification_timeout_never_hangs(monkeypatch):
    def stuck(diff, conn):
        time.sleep(60)

    monkeypatch.setattr(equivalence, "_simplify_child", stuck)
    x = sp.Symbol("x")
    assert simplify_is_zero(x - 1, seconds=0.5) == "timeout"
    d = equivalent(claim("(x+1)^2"), x ** 2 + 2 * x + 1, seconds=0.5)
    assert d.equal is True and "timed out" in d.detail  # random testing still decides


def test_oversized_intermediates_skip_points_instead_of_hanging():
    x, y = sp.symbols("x y")
    tower = claim("x^(y^64)")
    d = equivalent(tower, tower + 1, seconds=1)
    assert d.equal in (False, None)
    try:
        evaluate(sp.exp(sp.exp(sp.exp(x))), {"x": Fraction(50)})
    except PointFailed:
        pass


def test_order_of_growth():
    k, d = sp.symbols("k d")
    assert same_order(3 * k ** 2, k ** 2).equal is True
    assert same_order(d * k ** 2, d * k ** 2 * H * sp.Symbol("W")).equal is False
    assert same_order(H + sp.Symbol("W") + d, H + sp.Symbol("W")).equal is False


def test_number_slips():
    col = [Fraction(v) for v in (1792, 73856, 295168, 590080)]
    copied = number_slip(Fraction(295168), col[3], NumberContext(column=col, index=3))
    assert copied.startswith("a copied row")
    bias = number_slip(Fraction(589824), Fraction(590080),
                       NumberContext(row={"filters": 256, "params": 590080}))
    assert bias.startswith("a dropped bias")
    assert number_slip(Fraction(17), Fraction(16)).startswith("an off-by-one")
    assert number_slip(Fraction(6144), Fraction(18432)).startswith("a factor of 3")
    assert number_slip(Fraction(32), Fraction(16)).startswith("a factor of 2")
    assert number_slip(Fraction(16348), Fraction(16384)).startswith("transposed digits")
    parts = [("conv", 1792), ("fc", 1025000)]
    assert "dropped term" in number_slip(Fraction(1792), Fraction(1026792),
                                         NumberContext(parts=parts))
    assert number_slip(Fraction(123457), Fraction(987654)) is None


def test_formula_slips():
    def quick(a, b):
        return equivalent(a, b, confirm=False).equal

    flipped = BAR_C - 2 * bar_c(t + 1) * f(t + 1)
    assert "is flipped" in formula_slip(flipped, BAR_C, quick)
    dropped = bar_h(t) * o(t) * (1 - sp.tanh(c(t)) ** 2)
    assert "missing" in formula_slip(dropped, BAR_C, quick)
    i, j = sp.symbols("i j")
    assert "index shift" in formula_slip(i * j, (i + 1) * (j + 1), quick)
    assert formula_slip(sp.tanh(c(t)), BAR_C, quick) is None
    d_, w_ = sp.symbols("d W")
    assert "at d = 1" in formula_slip(2 * w_ - 1, 2 * w_ + d_ - 2, quick)
    assert "f(t) where the right formula has f(t + 1)" in formula_slip(
        BAR_C.xreplace({f(t + 1): f(t)}), BAR_C, quick)


def test_a_free_time_step_is_sampled_inside_the_summation_range():
    import random

    from derive.grade.equivalence import Domain, _sample

    rng = random.Random(0)
    domain = Domain(time={"t"}, limits={"T"})
    for _ in range(200):
        point = _sample(["T", "t", "x"], domain, rng)
        assert 1 <= point["t"] <= point["T"]


def test_order_zero_is_no_growth_not_faster_growth():
    from derive.grade.equivalence import same_order

    n = sp.Symbol("n")
    decision = same_order(sp.Integer(0), n ** 2)
    assert decision.equal is False and "O(0)" in decision.detail and "faster" not in decision.detail
    assert "more slowly" in same_order(n, n ** 2).detail  # a slower order still says so
