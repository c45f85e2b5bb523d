"""The row-then-column image RNN (cmsc25500-midterm/6): forward against a scalar reference,
backward against complex-step and central differences, receptive field by perturbation,
FLOPs by an explicit counter; each checker shown catching a planted error."""

import math

import numpy as np
import pytest
import sympy as sp

import derive
from derive.answers.image_rnn import flops_checks, gradient_checks, receptive_checks
from derive.core.errors import DeriveError
from derive.topics.grid import image_rnn


def scalar_forward(x, p):
    """Element by element, one sequence at a time (column-vector convention)."""
    batch, rows, cols, c = x.shape
    y = np.zeros_like(x)
    out = np.zeros_like(x)
    for b in range(batch):
        for i in range(rows):
            h = [0.0] * c
            for j in range(cols):
                h = [math.tanh(sum(p["W_hh_A"][r][s] * h[s] + p["W_xh_A"][r][s] * x[b, i, j, s]
                                   for s in range(c))) for r in range(c)]
                y[b, i, j] = h
        for j in range(cols):
            h = [0.0] * c
            for i in range(rows):
                h = [math.tanh(sum(p["W_hh_B"][r][s] * h[s] + p["W_yh_B"][r][s] * y[b, i, j, s]
                                   for s in range(c))) for r in range(c)]
                out[b, i, j] = h
    return y, out


def test_forward_matches_scalar_reference():
    x, params, _ = image_rnn.random_instance(2, 3, 4, 3, seed=5)
    ya, hb = image_rnn.forward(x, params)
    ry, rout = scalar_forward(x, params)
    assert np.max(np.abs(ya - ry)) < 1e-13 and np.max(np.abs(hb - rout)) < 1e-13


def test_backward_against_complex_step_directional():
    x, params, upstream = image_rnn.random_instance(1, 4, 3, 3, seed=7)
    grads = image_rnn.backward(x, params, upstream)
    rng = np.random.default_rng(0)
    for name in [*image_rnn.PARAMS, "X"]:
        base = x if name == "X" else params[name]
        direction = rng.standard_normal(base.shape)
        moved = {n: v.astype(complex) for n, v in params.items()}
        xc = x.astype(complex)
        if name == "X":
            xc = xc + 1e-30j * direction
        else:
            moved[name] = moved[name] + 1e-30j * direction
        numeric = np.sum(upstream * image_rnn.forward(xc, moved)[1]).imag / 1e-30
        analytic = np.sum(grads[name] * direction)
        assert abs(numeric - analytic) <= 1e-12 * max(1.0, abs(numeric)), name


def test_gradient_checker_passes_and_catches_planted_errors():
    checks = gradient_checks()
    assert all(c.passed for c in checks)
    assert checks[0].error <= 1e-12 and checks[1].error <= 1e-7

    def flipped(x, params, upstream):
        g = image_rnn.backward(x, params, upstream)
        g["W_hh_A"] = -g["W_hh_A"]
        return g

    def no_recurrence_in_a(x, params, upstream):  # drop the W_hh_A carry through time
        zeroed = {**params, "W_hh_A": np.zeros_like(params["W_hh_A"])}
        g = image_rnn.backward(x, zeroed, upstream)
        g_true = image_rnn.backward(x, params, upstream)
        return {**g_true, "X": g["X"]}

    for planted in (flipped, no_recurrence_in_a):
        bad = gradient_checks(planted)
        assert not bad[0].passed and not bad[1].passed


def test_receptive_field_and_its_checker():
    i, j = sp.symbols("i j", nonnegative=True, integer=True)
    size, _ = image_rnn.receptive_field_formula()
    assert sp.expand(size - (i + 1) * (j + 1)) == 0
    dep = image_rnn.perturbation_fields(3, 4, 2, seed=9)
    for a in range(3):
        for b in range(4):
            assert dep[a, b].sum() == (a + 1) * (b + 1)
            assert dep[a, b, : a + 1, : b + 1].all()
    assert all(c.passed for c in receptive_checks(size))
    assert not receptive_checks(i * j)[0].passed  # 1-based formula used with 0-based indices
    assert not receptive_checks(sp.Integer(9))[0].passed  # "like a 3x3 conv"


def counted_module_flops(rows, cols, c, dense):
    """Explicit counter over the loops of the module: product n(2n-1), add n, tanh n."""
    ops = 0
    for length, count in ((cols, rows), (rows, cols)):  # RNN A over rows, RNN B over columns
        for _ in range(count):
            for t in range(length):
                ops += c * (2 * c - 1) + c  # input product, tanh
                if t > 0 or dense:
                    ops += c * (2 * c - 1) + c  # recurrent product, addition
    return ops


@pytest.mark.parametrize("rows, cols, c", [(1, 1, 1), (2, 3, 2), (4, 2, 3), (5, 5, 4)])
def test_flops_formula(rows, cols, c):
    point = {image_rnn.Hs: rows, image_rnn.Ws: cols, image_rnn.Cs: c}
    for dense in (True, False):
        expected = counted_module_flops(rows, cols, c, dense)
        assert image_rnn.flops_formula(dense).subs(point) == expected
        if rows * cols * c <= 18:
            assert image_rnn.naive_flops(rows, cols, c, dense) == expected


def test_flops_answer_and_checker():
    a = derive.answer("cmsc25500-midterm/6d")
    assert a.passed and a.results["ratio"] == sp.Rational(4, 9)
    dense, minimum, conv = a.results["flops"], a.results["flops_min"], a.results[
        "conv3x3_flops"]
    assert all(c.passed for c in flops_checks(dense, minimum, conv))
    without_tanh = dense - 2 * image_rnn.Hs * image_rnn.Ws * image_rnn.Cs
    assert not flops_checks(without_tanh, minimum, conv)[0].passed
    conv_without_bias = conv - image_rnn.Hs * image_rnn.Ws * image_rnn.Cs
    assert not flops_checks(dense, minimum, conv_without_bias)[2].passed


def test_answers_pass_and_bad_shapes_are_errors():
    for pid in ("cmsc25500-midterm/6a", "cmsc25500-midterm/6b", "cmsc25500-midterm/6c",
                "cmsc25500-midterm/6e"):
        assert derive.answer(pid).passed, pid
    x, params, upstream = image_rnn.random_instance(1, 2, 2, 2)
    with pytest.raises(DeriveError, match="X must have shape"):
        image_rnn.forward(x[0], params)
    with pytest.raises(DeriveError, match="W_hh_B must be 2 x 2, got shape"):
        image_rnn.forward(x, {**params, "W_hh_B": np.zeros((3, 3))})
    with pytest.raises(DeriveError, match="upstream G must have shape"):
        image_rnn.backward(x, params, upstream[:, :1])
