"""Activations after batch norm: measurements, verdicts, checks catching planted errors."""

import math
import subprocess
import sys

import numpy as np
import pytest

import derive
from derive.answers import activations as P
from derive.core.errors import DeriveError
from derive.topics import activations as A


def test_standardised_inputs():
    z = A.standardised(10_000, seed=4)
    assert abs(z.mean()) < 1e-12 and abs(z.std() - 1) < 1e-12


def test_verdicts():
    got = {n: A.verdict(A.measure(n, 20_000))[0] for n in A.ACTIVATIONS}
    assert got == {"min0": "fine", "scaled": "poor", "relu_shift": "poor", "sigmoid": "fine",
                   "sign": "poor"}


def test_sigmoid_is_the_logistic_function():
    x = np.linspace(-30, 30, 61)
    np.testing.assert_allclose(A.ACTIVATIONS["sigmoid"].f(x),
                               [1 / (1 + math.exp(-v)) for v in x], rtol=1e-14)


def test_bn_gradients_by_independent_differences():
    """dL/dbeta, dL/dgamma of L = sum c * act(gamma z + beta) against central differences."""
    z = A.standardised(500, seed=2)
    c = np.random.default_rng(3).normal(size=z.shape)
    for name in ("min0", "sigmoid", "scaled"):
        act = A.ACTIVATIONS[name]
        got = A.bn_parameter_gradients(act, z, seed=2)
        e = 1e-6
        beta = (np.sum(c * act.f(z + e)) - np.sum(c * act.f(z - e))) / (2 * e)
        gamma = (np.sum(c * act.f((1 + e) * z)) - np.sum(c * act.f((1 - e) * z))) / (2 * e)
        assert abs(got["beta"] - abs(beta)) < 1e-5 and abs(got["gamma"] - abs(gamma)) < 1e-5


# ---- checks catching planted errors


def test_derivative_check_catches_a_flipped_sign():
    act = A.ACTIVATIONS["sigmoid"]
    assert P.derivative_check(act).passed
    flipped = A.Activation("bad", "bad", "bad", act.f, lambda x: -act.df(x))
    assert not P.derivative_check(flipped).passed
    shifted = A.Activation("bad", "bad", "bad", A.ACTIVATIONS["relu_shift"].f,
                           lambda x: (x > 9).astype(float))  # off-by-one threshold
    assert not P.derivative_check(shifted).passed


def test_linearity_test_catches_a_nonlinear_function():
    almost = A.Activation("almost", "x/sqrt2 + 1e-6 x^2", "", lambda x: x / math.sqrt(2)
                          + 1e-6 * x * x, lambda x: np.full_like(x, 1 / math.sqrt(2)))
    assert A.superposition_error(almost) > 1e-9
    assert A.superposition_error(A.ACTIVATIONS["scaled"]) <= A.LINEAR_TOLERANCE


def test_dead_unit_verdict_catches_a_planted_threshold():
    m = A.measure("relu_shift", 20_000)
    assert A.verdict(m)[0] == "poor"
    live = A.Activation("relu_shift_planted", "ReLU(x - 1)", "", lambda x: np.maximum(0, x - 1),
                        lambda x: (x > 1).astype(float))
    A.ACTIVATIONS["relu_shift_planted"] = live
    try:
        assert A.verdict(A.measure("relu_shift_planted", 20_000))[0] == "fine"
    finally:
        del A.ACTIVATIONS["relu_shift_planted"]


def test_answer():
    ans = derive.answer("cmsc25500-midterm/2")
    assert ans.passed
    assert ans.results["verdicts"]["ReLU(x - 10)"] == "poor"
    assert ans.results["measurements"]["sign(x)"]["zero_gradient_fraction"] == 1.0
    assert "\\begin{tabular}" in ans.latex


def test_bad_input():
    with pytest.raises(DeriveError, match="activation must be one of .*got 'tanh'"):
        A.get("tanh")
    proc = subprocess.run([sys.executable, "-m", "derive.cli", "answer", "cmsc25500-midterm/22"],
                          capture_output=True, text=True, timeout=60)
    assert proc.returncode == 2 and proc.stderr.startswith("derive: error:")
