"""Capacity growth: manual backprop, widening schemes, the checks catching planted errors."""

import numpy as np
import pytest

import derive
from derive.answers import capacity as P
from derive.core.errors import DeriveError
from derive.topics import capacity as C


def reference_forward(weights, x):
    """Independent forward pass (loops over layers, no shared code)."""
    h = x
    for W in weights[:-1]:
        h = np.where(W @ h > 0, W @ h, 0.0)
    return weights[-1] @ h


def reference_loss(weights, x, target):
    return 0.5 * np.sum((reference_forward(weights, x) - target) ** 2) / x.shape[1]


def central_differences(weights, x, target, eps=1e-6):
    grads = []
    for k, W in enumerate(weights):
        g = np.zeros_like(W)
        for idx in np.ndindex(W.shape):
            plus = [V.copy() for V in weights]
            minus = [V.copy() for V in weights]
            plus[k][idx] += eps
            minus[k][idx] -= eps
            g[idx] = (reference_loss(plus, x, target) - reference_loss(minus, x, target)) / (
                2 * eps)
        grads.append(g)
    return grads


@pytest.fixture
def data():
    rng = np.random.default_rng(3)
    return rng.normal(size=(4, 6)), rng.normal(size=(2, 6))


@pytest.mark.parametrize("scheme", [None, "zero", "split", "split_random", "random_in_zero_out"])
def test_backprop_matches_central_differences(scheme, data):
    x, target = data
    # width 4: no sample has a whole layer dead, so no pre-activation sits exactly on the
    # ReLU kink (where central differences see slope 1/2)
    net = C.random_mlp(4, 4, 2, 3, seed=1)
    if scheme:
        net = C.widen(net, scheme, seed=2)
    _, hs = net.forward(x)
    assert all((h[:4] > 0).any(axis=0).all() for h in hs[1:])  # off the kink
    for got, want in zip(net.gradients(x, target), central_differences(net.weights, x, target),
                         strict=True):
        np.testing.assert_allclose(got, want, atol=1e-7)


@pytest.mark.parametrize("scheme", ["zero", "split", "split_random", "random_in_zero_out"])
def test_widening_preserves_the_function(scheme, data):
    x, _ = data
    net = C.random_mlp(4, 3, 2, 3, seed=5)
    wide = C.widen(net, scheme, seed=1)
    assert wide.width == 6
    np.testing.assert_allclose(reference_forward(wide.weights, x),
                               reference_forward(net.weights, x), rtol=1e-12, atol=1e-12)


def test_zero_blocks_never_train(data):
    x, target = data
    net = C.random_mlp(4, 3, 2, 4, seed=8)
    wide = C.widen(net, "zero")
    log = C.train(wide, x, target, 30, 0.1, C.new_mask(net))
    assert log["new_grad_max"] == [0.0] * 30
    assert all(np.all(W[m] == 0) for W, m in zip(wide.weights, C.new_mask(net), strict=True))


def test_random_in_zero_out_trains_every_new_block(data):
    x, target = data
    net = C.random_mlp(4, 3, 2, 3, seed=5)
    wide = C.widen(net, "random_in_zero_out", seed=4)
    before = [W.copy() for W in wide.weights]
    C.train(wide, x, target, 10, 0.1)
    moved = P._block_norms(wide, [W - B for W, B in zip(wide.weights, before, strict=True)])
    assert all(v > 0 for v in moved.values())


# ---- checks catching planted errors


def test_preservation_check_catches_a_non_preserving_init(data):
    x, _ = data
    net = C.random_mlp(4, 3, 2, 3, seed=5)
    assert P.preservation_check(net, C.widen(net, "split"), x, "ok").passed
    bad = C.widen(net, "split")
    # planted: copies without halving the outgoing weights (doubles every downstream input)
    bad.weights = [bad.weights[0]] + [W * 2 for W in bad.weights[1:]]
    check = P.preservation_check(net, bad, x, "not halved")
    assert not check.passed and check.error > 1e-3
    noisy = C.widen(net, "random_in_zero_out", seed=1)
    noisy.weights[-1][:, 3:] = 0.01  # planted: outgoing weights not zero
    assert not P.preservation_check(net, noisy, x, "outgoing not zero").passed


def test_backprop_check_catches_a_wrong_derivative(data, monkeypatch):
    x, target = data
    net = C.random_mlp(4, 3, 2, 2, seed=5)
    assert P.backprop_check(net, x, target, "ok").passed
    def dropped_relu_mask(self, x, target):  # planted: ReLU' forgotten
        y, hs = self.forward(x)
        delta = (y - target) / x.shape[1]
        grads = [None] * len(self.weights)
        for k in range(len(self.weights) - 1, -1, -1):
            grads[k] = delta @ hs[k].T
            delta = self.weights[k].T @ delta
        return grads

    monkeypatch.setattr(C.MLP, "gradients", dropped_relu_mask)
    assert not P.backprop_check(net, x, target, "planted").passed


def test_answers_pass_and_are_complete():
    a, b = derive.answer("cmsc25500-midterm/3a"), derive.answer("cmsc25500-midterm/3b")
    assert a.passed and b.passed
    assert set(a.results["new_gradient_max_per_step"]) == {0.0}
    assert b.results["output_error"]["random_in_zero_out"] <= 1e-12
    assert b.results["random_split_untied"] > 0


def test_bad_input():
    net = C.random_mlp(2, 2, 1, 2)
    with pytest.raises(DeriveError, match="scheme must be one of .*got 'ones'"):
        C.widen(net, "ones")
    with pytest.raises(DeriveError, match="K must be a positive integer, got 0"):
        C.random_mlp(2, 0, 1, 2)
