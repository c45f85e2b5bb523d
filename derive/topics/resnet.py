"""Fully-connected residual networks with batch norm: two placements, manual backprop.

``post`` (the original ResNet block):  ``x_{l+1} = ReLU(x_l + BN(W2 ReLU(BN(W1 x_l))))``
``pre`` (pre-activation, identity skip): ``x_{l+1} = x_l + W2 ReLU(BN(W1 ReLU(BN(x_l))))``
``plain`` (no skip, for reference):      ``x_{l+1} = ReLU(BN(W2 ReLU(BN(W1 x_l))))``

Activations are ``(B, d)`` (a batch of ``B`` rows); BN uses the batch statistics with
``gamma = 1, beta = 0`` (training mode at initialisation). The loss is
``L = sum(C * x_L)`` for a fixed random ``C``, so ``dL/dx_L = C``.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from derive.core.errors import DeriveError, positive_int

PLACEMENTS = ("post", "pre", "plain")
EPS = 1e-5


def bn_forward(x: np.ndarray) -> tuple[np.ndarray, tuple]:
    mu, var = x.mean(axis=0), x.var(axis=0)
    inv = 1.0 / np.sqrt(var + EPS)
    xhat = (x - mu) * inv
    return xhat, (xhat, inv)


def bn_backward(g: np.ndarray, cache: tuple) -> np.ndarray:
    """VJP of batch normalisation over the batch axis (gamma = 1, beta = 0)."""
    xhat, inv = cache
    return inv * (g - g.mean(axis=0) - xhat * (g * xhat).mean(axis=0))


@dataclass
class ResNet:
    placement: str
    weights: list[tuple[np.ndarray, np.ndarray]]  # (W1, W2) per block, acting as x @ W

    def forward(self, x: np.ndarray) -> tuple[np.ndarray, list]:
        """``(x_L, tape)``; ``tape[l]`` holds what block ``l``'s backward pass needs."""
        tape = []
        for W1, W2 in self.weights:
            if self.placement == "pre":
                a, c1 = bn_forward(x)
                r1 = np.maximum(a, 0.0)
                u = r1 @ W1
                b, c2 = bn_forward(u)
                r2 = np.maximum(b, 0.0)
                tape.append((x, a, c1, r1, b, c2, r2))
                x = x + r2 @ W2
            else:
                u = x @ W1
                a, c1 = bn_forward(u)
                r1 = np.maximum(a, 0.0)
                v = r1 @ W2
                b, c2 = bn_forward(v)
                s = x + b if self.placement == "post" else b
                tape.append((x, a, c1, r1, b, c2, s))
                x = np.maximum(s, 0.0)
        return x, tape

    def backward(self, tape: list, g: np.ndarray,
                 branch: bool = True) -> tuple[list[np.ndarray], list]:
        """``(bars, weight_grads)``: ``bars[l] = dL/dx_l`` for ``l = 0..L`` given
        ``g = dL/dx_L``. ``branch=False`` keeps only the skip path's term of each bar (the
        gradient that reaches ``x_l`` without entering any residual branch)."""
        bars = [g]
        grads = [None] * len(self.weights)
        for l in range(len(self.weights) - 1, -1, -1):
            W1, W2 = self.weights[l]
            if self.placement == "pre":
                x, a, c1, r1, b, c2, r2 = tape[l]
                gW2 = r2.T @ g
                gb = (g @ W2.T) * (b > 0)
                gu = bn_backward(gb, c2)
                gW1 = r1.T @ gu
                ga = (gu @ W1.T) * (a > 0)
                g = g + (bn_backward(ga, c1) if branch else 0.0)  # the identity skip
            else:
                x, a, c1, r1, b, c2, s = tape[l]
                gs = g * (s > 0)
                gv = bn_backward(gs, c2)
                gW2 = r1.T @ gv
                ga = (gv @ W2.T) * (a > 0)
                gu = bn_backward(ga, c1)
                gW1 = x.T @ gu
                g = (gu @ W1.T if branch else 0.0) + (gs if self.placement == "post" else 0.0)
            grads[l] = (gW1, gW2)
            bars.append(g)
        return bars[::-1], grads


def random_resnet(placement: str, depth: int, width: int, seed: int = 0) -> ResNet:
    """He-initialised blocks."""
    if placement not in PLACEMENTS:
        raise DeriveError(f"placement must be one of {', '.join(PLACEMENTS)}, got {placement!r}")
    depth, width = positive_int("depth", depth), positive_int("width", width)
    rng = np.random.default_rng(seed)
    scale = np.sqrt(2.0 / width)
    return ResNet(placement, [(rng.normal(size=(width, width)) * scale,
                               rng.normal(size=(width, width)) * scale) for _ in range(depth)])


def gradient_norms(placement: str, depth: int, width: int = 16, batch: int = 32,
                   seed: int = 0, branch: bool = True) -> np.ndarray:
    """``||dL/dx_l|| / ||dL/dx_L||`` for ``l = 0..depth`` at initialisation (the skip
    path's term alone with ``branch=False``)."""
    net = random_resnet(placement, depth, width, seed)
    rng = np.random.default_rng(seed + 1)
    x = rng.normal(size=(batch, width))
    _, tape = net.forward(x)
    g = rng.normal(size=(batch, width))
    bars, _ = net.backward(tape, g, branch)
    return np.array([np.linalg.norm(b) for b in bars]) / np.linalg.norm(g)
