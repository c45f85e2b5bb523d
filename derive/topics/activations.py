"""Activations after batch norm: measurements on standardised inputs that decide a verdict.

For ``... -> Linear -> BatchNorm -> act -> ...`` the activation sees ``gamma * z + beta``
with ``z`` standardised (mean 0, variance 1 over the batch); at initialisation
``gamma = 1, beta = 0``. Each measurement below is taken on such inputs.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from derive.core.errors import DeriveError


@dataclass(frozen=True)
class Activation:
    name: str
    label: str  # as written in the problem
    latex: str
    f: Callable[[np.ndarray], np.ndarray]
    df: Callable[[np.ndarray], np.ndarray]  # derivative (0 taken at kinks)


def _sigmoid(x: np.ndarray) -> np.ndarray:
    return np.exp(-np.logaddexp(0.0, -x))  # exp(x)/(exp(x)+1), no overflow or cancellation


ACTIVATIONS: dict[str, Activation] = {
    a.name: a
    for a in [
        Activation("min0", "min(0, x)", r"\min(0, x)", lambda x: np.minimum(0.0, x),
                   lambda x: (x < 0).astype(float)),
        Activation("scaled", "x / sqrt(2)", r"x/\sqrt{2}", lambda x: x / math.sqrt(2.0),
                   lambda x: np.full_like(x, 1.0 / math.sqrt(2.0))),
        Activation("relu_shift", "ReLU(x - 10)", r"\mathrm{ReLU}(x - 10)",
                   lambda x: np.maximum(0.0, x - 10.0), lambda x: (x > 10.0).astype(float)),
        Activation("sigmoid", "exp(x)/(exp(x)+1)", r"\frac{e^x}{e^x + 1}", _sigmoid,
                   lambda x: _sigmoid(x) * (1.0 - _sigmoid(x))),
        Activation("sign", "sign(x)", r"\operatorname{sign}(x)", np.sign,
                   lambda x: np.zeros_like(x)),
    ]
}
RELU = Activation("relu", "ReLU(x)", r"\mathrm{ReLU}(x)", lambda x: np.maximum(0.0, x),
                  lambda x: (x > 0).astype(float))

LINEAR_TOLERANCE = 1e-12  # superposition error below this: the activation is linear
DEAD_THRESHOLD = 0.99  # gradient zero on more than this fraction of inputs: no learning


def get(name: str) -> Activation:
    if name not in ACTIVATIONS:
        raise DeriveError(f"activation must be one of {', '.join(ACTIVATIONS)}, got {name!r}")
    return ACTIVATIONS[name]


def standardised(n: int, seed: int = 0) -> np.ndarray:
    """``n`` samples of a Linear layer's output after batch norm (exactly mean 0, var 1)."""
    rng = np.random.default_rng(seed)
    u = rng.normal(size=n) * 3.0 + 1.5  # any pre-BN distribution
    return (u - u.mean()) / u.std()


def superposition_error(act: Activation, seed: int = 0, width: int = 8) -> float:
    """``g(a u + b v) - a g(u) - b g(v)`` for ``g(u) = W2 act(W1 u)``, relative: 0 iff
    ``g`` is linear (two linear layers around a linear activation are one linear map)."""
    rng = np.random.default_rng(seed)
    W1, W2 = rng.normal(size=(width, width)), rng.normal(size=(width, width))
    u, v = rng.normal(size=(width, 64)), rng.normal(size=(width, 64))
    a, b = 0.7, -1.3

    def g(w: np.ndarray) -> np.ndarray:
        return W2 @ act.f(W1 @ w)

    lhs, rhs = g(a * u + b * v), a * g(u) + b * g(v)
    return float(np.max(np.abs(lhs - rhs)) / max(1.0, float(np.max(np.abs(lhs)))))


def bn_parameter_gradients(act: Activation, z: np.ndarray, seed: int = 0) -> dict[str, float]:
    """|dL/dgamma| and |dL/dbeta| at ``gamma=1, beta=0`` for ``L = sum_i c_i act(gamma z_i +
    beta)`` with random upstream ``c`` (and ``||c||``, their scale): can BN's own parameters
    learn to compensate?"""
    c = np.random.default_rng(seed + 1).normal(size=z.shape)
    slope = act.df(z)
    # ||c|| gives the sums a scale: |dL/dbeta| / ||c|| is about the RMS slope when
    # gradient flows, and 0 when none does
    return {"gamma": float(abs(np.sum(c * slope * z))), "beta": float(abs(np.sum(c * slope))),
            "upstream_norm": float(np.linalg.norm(c))}


def measure(name: str, n: int = 200_000, seed: int = 0) -> dict:
    """Every measurement of one activation on ``n`` standardised inputs."""
    act = RELU if name == "relu" else get(name)
    z = standardised(n, seed)
    y, slope = act.f(z), act.df(z)
    return {
        "zero_gradient_fraction": float(np.mean(slope == 0.0)),
        "zero_output_fraction": float(np.mean(y == 0.0)),
        "mean_abs_derivative": float(np.mean(np.abs(slope))),
        # for L = sum_i c_i act(z_i + beta) with c_i ~ N(0, 1) independent of z,
        # E[(dL/dbeta)^2] = sum_i act'(z_i)^2 and E ||c||^2 = n: the ratio of their roots, a
        # property of the unit rather than of one draw of c, is the RMS slope
        "rms_derivative": float(np.sqrt(np.mean(slope * slope))),
        "output_mean": float(np.mean(y)),
        "output_std": float(np.std(y)),
        "superposition_error": superposition_error(act, seed),
        "bn_gradients": bn_parameter_gradients(act, z, seed),
        "fraction_above_10": float(np.mean(z > 10.0)),
        "saturated_fraction": float(np.mean(np.abs(slope) < 0.01)),
    }


def mirrored_relu_error(seed: int = 0, width: int = 8) -> float:
    """``W min(0, x) = (-W) ReLU(-x)``: min(0, .) is ReLU with the sign absorbed by the
    next layer and BN's gamma (its sign is free). Returns the max difference."""
    rng = np.random.default_rng(seed)
    W, x = rng.normal(size=(width, width)), rng.normal(size=(width, 64))
    return float(np.max(np.abs(W @ np.minimum(0.0, x) - (-W) @ np.maximum(0.0, -x))))


def verdict(m: dict) -> tuple[str, str]:
    """``("poor" | "fine", reason)`` decided from the measurements alone."""
    if m["superposition_error"] <= LINEAR_TOLERANCE:
        return "poor", "linear: the layers around it collapse into one linear map"
    if m["zero_gradient_fraction"] >= DEAD_THRESHOLD:
        return "poor", (f"gradient exactly zero on {m['zero_gradient_fraction']:.1%} of "
                        "standardised inputs: nothing below it (not even BN's gamma, beta) "
                        "can learn")
    return "fine", (f"non-linear, gradient non-zero on {1 - m['zero_gradient_fraction']:.1%} "
                    "of inputs")
