"""Counterexamples a student can check by hand: small valid sizes that expose the error, runs of
the model for its signals (sigmoid gates in (0, 1)), indices in range; and, across the three
errata, no value shown outside its quantity's range."""

import re
from fractions import Fraction

import sympy as sp

from derive.answers import grading
from derive.grade.claims import Claim
from derive.grade.counterexamples import (
    indexed_counterexample,
    model_for,
    recurrent_counterexample,
    size_counterexamples,
)
from derive.grade.equivalence import Domain
from derive.grade.parse import SymbolTable, parse_formula
from derive.grade.verdicts import Verdict

D, H, K, P, S, C, W = sp.symbols("D H K P S C W", integer=True, positive=True)
ASSIGNMENT = re.compile(r"([A-Za-z][A-Za-z0-9_]*)(?:\(([^()]*)\))? = (-?\d+(?:\.\d+)?(?:/\d+)?)"
                        r"(?![\d.])")


def _relations(texts: list[str]) -> list[sp.Basic]:
    return [parse_formula(t, SymbolTable()) for t in texts]


def _gates(pid: str) -> set[str]:
    """The signals of the problem's recurrent model that a sigmoid computes."""
    model = model_for(pid, grading(pid).model)
    if model is None:
        return set()
    return {name for name, eq in model.equations.items() if "sigma" in str(eq.rhs)}


def out_of_range(verdict: Verdict) -> list[str]:
    """Every value a counterexample shows that its quantity cannot take: a sigmoid gate outside
    (0, 1), an index or a size outside the claim's ``assume`` bounds, a size below 1, a time
    step outside 1..T; and a counterexample whose two values agree."""
    problems = []
    gates = _gates(verdict.claim.problem)
    relations = _relations(verdict.claim.assume)
    for line in verdict.evidence:
        if not line.startswith("counterexample: "):
            continue
        values = re.search(r"the claim gives (-?[\d./]+), the right formula (-?[\d./]+)", line)
        if values and abs(float(Fraction(values.group(1))) -
                          float(Fraction(values.group(2)))) < 1e-9:
            problems.append(f"no counterexample: the values agree ({values.group(0)})")
        point: dict[str, Fraction] = {}
        for name, arg, value in ASSIGNMENT.findall(line):
            number = Fraction(value)
            if arg and name in gates and not 0 < number < 1:
                problems.append(f"gate {name}({arg}) = {value} outside (0, 1)")
            if not arg:
                point[name] = number
        for rel in relations:
            names = {s.name for s in rel.free_symbols}
            if names <= set(point):
                holds = rel.xreplace({s: sp.Rational(point[s.name].numerator,
                                                     point[s.name].denominator)
                                      for s in rel.free_symbols})
                if holds is not sp.true:
                    problems.append(f"{rel} fails at {point}")
        for name, number in point.items():
            if re.fullmatch(r"[A-Z]", name) and number < (0 if name == "P" else 1):
                problems.append(f"size {name} = {number} below its least value")
        if "T" in point:
            problems += [f"step {n} = {point[n]} outside 1..{point['T']}" for n in ("t", "s")
                         if n in point and not 1 <= point[n] <= point["T"]]
    return problems


def test_no_counterexample_value_outside_its_range(seed_reports):
    shown = 0
    for report in seed_reports.values():
        for v in report.verdicts:
            assert out_of_range(v) == [], (v.claim.problem, v.claim.title, v.evidence)
            shown += sum(e.startswith("counterexample: ") for e in v.evidence)
    assert shown >= 5  # the check saw counterexamples of every kind


def test_the_range_check_catches_planted_values():
    gated = Claim("dsga1008-hw2/1.2.1c", "formula", "x", result="dl_dW_x")
    planted = Verdict(gated, "wrong", "", evidence=[
        "counterexample: at T = 3, t = 1, c(1) = -14, c(2) = 14/3 the claim gives 1, the right "
        "formula 2"])
    assert any("gate c(1)" in p for p in out_of_range(planted))
    assert any("gate c(2)" in p for p in out_of_range(planted))
    index = Claim("dsga1008-hw2/1.1c", "formula", "x", result="i.expression",
                  assume=["i >= 0", "i <= 2"])
    assert out_of_range(Verdict(index, "wrong", "", evidence=[
        "counterexample: at f = 0, i = 8, j = 2 the claim gives 1, the right formula 2"]))
    size = Claim("dsga1008-hw2/1.1b", "shape", [], result="output_shape")
    assert out_of_range(Verdict(size, "wrong", "", evidence=[
        "counterexample: at F = 0, c = 2 the claim gives 2, the right formula 0"]))
    agree = Claim("rnn-cnn-hw/4.2", "formula", "x", result="steps", assume=["H = W"])
    assert out_of_range(Verdict(agree, "wrong", "", evidence=[
        "counterexample: at W = 5, d = 1, H = 5 the claim gives 9.0, the right formula 9"]))
    late = Claim("cmsc25500-midterm/4b", "formula", "x", result="backward_closed_form[2]")
    assert out_of_range(Verdict(late, "wrong", "", evidence=[
        "counterexample: at T = 2, s = 3, the claim gives 1, the right formula 2"]))


def test_a_size_formula_is_shown_wrong_where_each_error_shows():
    # DS-GA 1.1b: the padding counted once (P for 2P) and the dilated kernel as DK
    claimed = sp.floor((H - D * K + P + S) / S)
    right = sp.floor((H + 2 * P - D * (K - 1) - 1) / S) + 1
    domain = Domain(True, {"D", "H", "K", "S"}, {"P"}, _relations(
        ["S >= 1", "D >= 1", "K >= 1", "P >= 0", "H >= K", "H + 2*P >= D*(K-1) + 1"]))
    shown = size_counterexamples(claimed, right, domain)
    assert len(shown) == 2
    padding, dilation = shown
    assert "P = 1" in padding and "D = 1" in padding and "how P enters" in padding
    assert "D = 2" in dilation and "K = 2" in dilation and "P = 0" in dilation
    assert "how D and K enter" in dilation
    # a right formula has none
    assert size_counterexamples(right, right, domain) == []


def test_a_substituted_value_is_the_point_shown():
    shown = size_counterexamples(81 * H * W, 18 * C**2 * H * W, Domain(True, {"C", "H", "W"}),
                                 prefer={"C": 3})
    assert shown and "C = 3" in shown[0]


def test_indexed_values_are_small_and_indices_in_range():
    x, Wt = sp.Function("x"), sp.Function("W")
    i, j, m, c, f = sp.symbols("i j m c f", integer=True)
    claimed = sp.Sum(Wt(f, j, m) * x(j, 2 * i + m), (m, 0, 2))
    right = sp.Sum(Wt(f, c, m) * x(c, 2 * i + m), (c, 0, 4), (m, 0, 2))
    domain = Domain(True, set(), set(), _relations(["f = 0", "i >= 0", "i <= 2", "j >= 0",
                                                    "j <= 4"]))
    shown = indexed_counterexample(claimed, right, domain)
    assert shown is not None and "every W and x equal to 1" in shown
    assert "gives 3" in shown and "formula 15" in shown
    values = dict((n, int(v)) for n, v in re.findall(r"\b([ij]) = (\d+)", shown))
    assert 0 <= values["i"] <= 2 and 0 <= values["j"] <= 4


def test_gates_come_from_a_run_of_the_cell():
    model = model_for("dsga1008-hw2/1.2.1c", None)  # named by the model's own summary
    assert model is not None and model.name == "gated_rnn"
    c, bar_h, x, up = (sp.Function(n) for n in ("c", "bar_h", "x", "dL_dh"))
    t, T = sp.symbols("t T", integer=True, positive=True)
    claimed = (1 - c(t)) * up(t) * x(t)
    right = sp.Sum((1 - c(t)) * bar_h(t) * x(t), (t, 1, T))
    shown = recurrent_counterexample(claimed, right, model, {"t"})
    assert shown is not None and "a run of the cell" in shown
    gates = [float(v) for v in re.findall(r"\bc\(\d\) = (-?[\d.]+)", shown)]
    assert gates and all(0 < g < 1 for g in gates)
    # a name the run does not compute is no counterexample of the run
    assert recurrent_counterexample(sp.Function("q")(t), right, model, {"t"}) is None
