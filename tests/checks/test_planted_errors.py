"""Every check of the engine catches a planted error: a flipped sign, a dropped term."""

import pytest

import derive
from derive.checks.recurrent import elementwise_checks, perturbation_checks, unrolled_checks
from engine_helpers import with_planted_error


@pytest.fixture(scope="module")
def lstm():
    return derive.model("lstm")


@pytest.fixture(scope="module")
def gated():
    return derive.model("gated_rnn")


def test_lstm_flipped_sign_is_caught_by_perturbation_and_unrolled(lstm):
    planted = with_planted_error(lstm, "c", index=-1)  # bar c(t+1) f(t+1) with a minus
    cs, cd = perturbation_checks(planted)
    assert not cs.passed and cs.error > 1e-6
    assert not cd.passed
    sym, ker = unrolled_checks(planted, steps=2)
    assert not sym.passed and not ker.passed


def test_lstm_dropped_term_is_caught(lstm):
    planted = with_planted_error(lstm, "h", index=1, factor=0)  # drop the i-gate path
    assert not all(c.passed for c in perturbation_checks(planted))


def test_gated_rnn_flipped_sign_is_caught_elementwise_and_numerically(gated):
    planted = with_planted_error(gated, "c", index=0)
    (elem,) = elementwise_checks(planted, {"n": 2, "m": 2})
    assert not elem.passed and "bar c" in elem.detail
    assert not all(c.passed for c in perturbation_checks(planted, dims={"n": 2, "m": 2}))


def test_unplanted_models_pass(lstm, gated):
    assert all(c.passed for c in perturbation_checks(lstm))
    assert all(c.passed for c in perturbation_checks(gated, dims={"n": 2, "m": 3}))


def test_renaming_check_catches_a_value_renamed_to_another_step(lstm):
    # the rules' output is left as it was; only the renamed form reads i at the wrong step
    import dataclasses

    from derive.calculus.adjoint import Adjoints
    from derive.checks.recurrent import renaming_check

    assert renaming_check(lstm).passed
    t = lstm.cell.t
    i = lstm.cell.signals["i"]
    bars = dict(lstm.derivation.bars)
    index = next(k for k, term in enumerate(bars["h"]) if term.expr.has(i(t + 1)))
    term = bars["h"][index]
    wrong = dataclasses.replace(term, expr=term.expr.xreplace({i(t + 1): i(t)}))
    bars["h"] = [*bars["h"][:index], wrong, *bars["h"][index + 1:]]
    planted = Adjoints(lstm.cell, bars, dict(lstm.derivation.grads))
    check = renaming_check(lstm, planted)
    assert not check.passed and "bar h via i(t + 1)" in check.detail
    assert renaming_check(lstm).passed  # the planted copy left the model's own untouched


def test_a_term_reading_a_value_of_a_later_step_is_refused(lstm):
    import pytest

    from derive.calculus.adjoint import Term, _check_term
    from derive.core.errors import DeriveError

    t = lstm.cell.t
    i, bar_i = lstm.cell.signals["i"], lstm.cell.signals["i"].bar
    fine = Term(bar_i(t + 1) * i(t + 1), "i", 1)
    _check_term(lstm.cell, fine, "h")
    later = Term(bar_i(t + 1) * i(t + 2), "i", 1)  # i(t+2) may lie past T where it is read
    with pytest.raises(DeriveError, match="not proved to exist"):
        _check_term(lstm.cell, later, "h")
    other_bar = Term(lstm.cell.signals["f"].bar(t + 1) * i(t + 1), "i", 1)
    with pytest.raises(DeriveError, match="not proved to exist"):
        _check_term(lstm.cell, other_bar, "h")
