"""ResNet BN placement: manual backprop against an independent reference, planted errors."""

import numpy as np
import pytest

import derive
from derive.answers import resnet as P
from derive.core.errors import DeriveError
from derive.topics import resnet as R


def bn(x):
    return (x - x.mean(axis=0)) / np.sqrt(x.var(axis=0) + R.EPS)


def relu(x):
    return np.where(x > 0, x, 0.0)


def reference_forward(placement, weights, x):
    """Independent forward pass of the three blocks."""
    for W1, W2 in weights:
        if placement == "pre":
            x = x + relu(bn(relu(bn(x)) @ W1)) @ W2
        elif placement == "post":
            x = relu(x + bn(relu(bn(x @ W1)) @ W2))
        else:
            x = relu(bn(relu(bn(x @ W1)) @ W2))
    return x


@pytest.mark.parametrize("placement", R.PLACEMENTS)
def test_forward_matches_reference(placement):
    net = R.random_resnet(placement, 4, 5, seed=2)
    x = np.random.default_rng(0).normal(size=(7, 5))
    np.testing.assert_allclose(net.forward(x)[0], reference_forward(placement, net.weights, x),
                               rtol=1e-13, atol=1e-13)


@pytest.mark.parametrize("placement", R.PLACEMENTS)
def test_input_gradient_against_central_differences(placement):
    net = R.random_resnet(placement, 5, 4, seed=3)
    rng = np.random.default_rng(1)
    x, C = rng.normal(size=(6, 4)), rng.normal(size=(6, 4))
    _, tape = net.forward(x)
    bars, _ = net.backward(tape, C)
    numeric = np.zeros_like(x)
    for idx in np.ndindex(x.shape):
        xp, xm = x.copy(), x.copy()
        xp[idx] += 1e-6
        xm[idx] -= 1e-6
        numeric[idx] = (np.sum(C * reference_forward(placement, net.weights, xp))
                        - np.sum(C * reference_forward(placement, net.weights, xm))) / 2e-6
    np.testing.assert_allclose(bars[0], numeric, atol=1e-6)


def test_pre_activation_skip_path_is_identity():
    n = R.gradient_norms("pre", 40, branch=False)
    np.testing.assert_allclose(n, 1.0, rtol=1e-12)
    post = R.gradient_norms("post", 40, branch=False)
    assert post[0] < post[20] < 1.0


# ---- the checker catches planted errors


def test_backprop_check_catches_a_dropped_skip_term(monkeypatch):
    assert P.backprop_check("pre").passed
    original = R.ResNet.backward

    def dropped(self, tape, g, branch=True):  # planted: forgets the identity term
        bars, grads = original(self, tape, g, branch)
        if self.placement == "pre":
            bars[0] = bars[0] - bars[1]
        return bars, grads

    monkeypatch.setattr(R.ResNet, "backward", dropped)
    assert not P.backprop_check("pre").passed


def test_backprop_check_catches_a_wrong_bn_backward(monkeypatch):
    assert P.backprop_check("post").passed

    def naive(g, cache):  # planted: treats the batch statistics as constants
        return cache[1] * g

    monkeypatch.setattr(R, "bn_backward", naive)
    assert not P.backprop_check("post").passed


def test_answer():
    ans = derive.answer("rnn-cnn-hw/3.2")
    assert ans.passed
    assert ans.results["easier"].startswith("pre-activation")
    assert "missing" in ans.results["figure_note"]
    assert len(ans.results["profile"]["pre"]) == 101


def test_bad_input():
    with pytest.raises(DeriveError, match="placement must be one of .*got 'middle'"):
        R.random_resnet("middle", 3, 4)
    with pytest.raises(DeriveError, match="depth must be a positive integer, got 0"):
        R.random_resnet("pre", 0, 4)
