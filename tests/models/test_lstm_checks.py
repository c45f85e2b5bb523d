"""The LSTM parts' own checks (csc421-hw4/1a-1c, rnn-cnn-hw/2.1-2.3), each shown catching a
planted error."""

from __future__ import annotations

import copy

import pytest
import sympy as sp

import derive
from derive.answers import lstm as L
from derive.core.cell import t


@pytest.fixture(scope="module")
def model():
    return derive.model("lstm")


def _replace(eq: sp.Eq, rhs: sp.Expr) -> sp.Eq:
    return sp.Eq(eq.lhs, rhs, evaluate=False)


def test_the_derived_bars_pass(model):
    checks = L.bar_checks(model)
    assert len(checks) == 4 and all(c.passed for c in checks)


def test_a_dropped_forget_gate_in_bar_c_is_caught(model):
    sig = model.cell.signals
    bars = dict(L._bars(model))
    bars["c"] = _replace(bars["c"], bars["c"].rhs.subs(sig["f"](t + 1), 1))
    failed = [c.name for c in L.bar_checks(model, bars) if not c.passed]
    assert len(failed) == 3  # the three numeric checks; the form is still right


def test_a_bar_read_two_steps_ahead_fails_the_form_check(model):
    sig = model.cell.signals
    bars = dict(L._bars(model))
    bars["c"] = _replace(bars["c"], bars["c"].rhs.subs(sig["c"].bar(t + 1),
                                                        sig["c"].bar(t + 2)))
    form = L._form_check(bars)
    assert not form.passed and "offset 2" in form.detail


def test_the_weight_sums_pass_and_a_dropped_factor_is_caught(model):
    assert all(c.passed for c in L.weight_checks(model))
    sig = model.cell.signals
    grads = dict(model.weight_grads)
    eq = grads["w_ix"]
    grads["w_ix"] = _replace(eq, sp.Sum(eq.rhs.function.subs(1 - sig["i"](t), 1),
                                        *eq.rhs.limits))
    assert not any(c.passed for c in L.weight_checks(model, grads))


def test_a_sum_that_skips_the_first_step_is_caught(model):
    grads = dict(model.weight_grads)
    eq = grads["w_gh"]
    (var, _, hi), = eq.rhs.limits
    grads["w_gh"] = _replace(eq, sp.Sum(eq.rhs.function, (var, 2, hi)))
    assert not any(c.passed for c in L.weight_checks(model, grads))


def test_the_update_rule_check_catches_a_wrong_sign():
    m = derive.model("lstm_input_first")
    g = m.weight_grads["w_xi"].rhs
    w, alpha = m.cell.parameters["w_xi"], sp.Symbol("alpha")
    assert L.update_check(m, "w_xi", w - alpha * g).passed
    assert not L.update_check(m, "w_xi", w + alpha * g).passed


def test_each_part_has_its_own_checks():
    names = {pid: [c.name for c in derive.answer(pid).checks] for pid in
             ("csc421-hw4/1a", "csc421-hw4/1b", "rnn-cnn-hw/2.1", "rnn-cnn-hw/2.2")}
    assert not set(names["csc421-hw4/1a"]) & set(names["csc421-hw4/1b"])
    assert not set(names["rnn-cnn-hw/2.1"]) & set(names["rnn-cnn-hw/2.2"])
    a, b = derive.answer("csc421-hw4/1a"), derive.answer("rnn-cnn-hw/2.1")
    assert [c.error for c in a.checks] != [c.error for c in b.checks]


def test_regime_checks_catch_planted_errors():
    m = derive.model("lstm")
    norms, limits = L.regime_norms("lstm"), L.limit_of_bars(m)
    assert all(c.passed for c in L._regime_checks(m, norms, limits))
    wrong = {"c": 2 * m.cell.signals["c"].bar(t + 1), "h": limits["h"]}
    assert not L._regime_checks(m, norms, wrong)[0].passed
    grown = copy.deepcopy(norms)
    grown["forget near 1"]["bar_c"][5] *= 3  # a gradient that grows on the way back
    assert not L._regime_checks(m, grown, limits)[2].passed
    # a gain that is not the forget gates' product: the cell's bar scaled by 1.1 per step
    scaled = copy.deepcopy(norms)
    near = scaled["forget near 1"]
    near["bar_c"] = [v * 1.001 ** k for k, v in enumerate(near["bar_c"])]
    assert not L._regime_checks(m, scaled, limits)[4].passed


def test_no_explosion_text_figure_and_checks_agree():
    for pid, part in (("csc421-hw4/1c", "1a"), ("rnn-cnn-hw/2.3", "2.1")):
        ans = derive.answer(pid)
        assert f"part {part}" in ans.latex and "part (a)" not in ans.latex
        assert "unit-gain" not in ans.latex and "f^{T}" in ans.latex
        (caption, source), = ans.figures.items()
        assert "xmin=0, xmax=200" in source
        contrast = [c for c in ans.checks if c.name.startswith("contrast")][0]
        # the point the contrast check quotes, t = T - 10, is drawn
        assert "(190," in source.split(r"f\approx 0")[0].rsplit(r"\addplot", 1)[1]
        assert contrast.error < 1e-6
