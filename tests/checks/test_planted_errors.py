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
