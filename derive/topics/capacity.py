"""Growing a deep ReLU MLP from width K to 2K: forward, manual backprop, widening schemes.

The network is ``h1 = ReLU(W_in x)``, ``h(j+1) = ReLU(W_j h(j))`` (``j = 1..n-1``),
``y = W_out h(n)``, no biases, loss ``L = 1/(2B) sum ||y - target||^2`` over a batch of
``B`` columns. Weights are stored output-by-input (``W @ h``), so widening a hidden
layer adds rows to the matrix feeding it and columns to the matrix reading it.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from derive.core.errors import DeriveError, positive_int

SCHEMES = ("zero", "split", "split_random", "random_in_zero_out")


@dataclass
class MLP:
    """Weights ``[W_in, W_1, .., W_{n-1}, W_out]``."""

    weights: list[np.ndarray]

    @property
    def width(self) -> int:
        return self.weights[0].shape[0]

    def forward(self, x: np.ndarray) -> tuple[np.ndarray, list[np.ndarray]]:
        """``(y, activations)``; ``activations[0] = x``, then ``h1..hn``. ``x`` is ``(D, B)``."""
        hs = [x]
        for W in self.weights[:-1]:
            hs.append(np.maximum(W @ hs[-1], 0.0))
        return self.weights[-1] @ hs[-1], hs

    def loss(self, x: np.ndarray, target: np.ndarray) -> float:
        y, _ = self.forward(x)
        return float(0.5 * np.sum((y - target) ** 2) / x.shape[1])

    def gradients(self, x: np.ndarray, target: np.ndarray) -> list[np.ndarray]:
        """Manual backprop: ``dL/dW`` for every weight matrix, in order."""
        y, hs = self.forward(x)
        delta = (y - target) / x.shape[1]  # dL/dy
        grads = [None] * len(self.weights)
        for k in range(len(self.weights) - 1, -1, -1):
            grads[k] = delta @ hs[k].T
            if k:
                # ReLU'(z) = [z > 0], and h_k > 0 exactly where z_k > 0
                delta = (self.weights[k].T @ delta) * (hs[k] > 0)
        return grads

    def sgd_step(self, x: np.ndarray, target: np.ndarray, lr: float) -> list[np.ndarray]:
        grads = self.gradients(x, target)
        self.weights = [W - lr * g for W, g in zip(self.weights, grads, strict=True)]
        return grads


def random_mlp(D: int, K: int, O: int, n: int, seed: int = 0) -> MLP:
    """He-initialised MLP with input ``D``, ``n`` hidden layers of width ``K``, output ``O``."""
    D, K, O, n = (positive_int(name, v) for name, v in (("D", D), ("K", K), ("O", O), ("n", n)))
    rng = np.random.default_rng(seed)
    shapes = [(K, D)] + [(K, K)] * (n - 1) + [(O, K)]
    return MLP([rng.normal(size=s) * np.sqrt(2.0 / s[1]) for s in shapes])


def new_mask(narrow: MLP) -> list[np.ndarray]:
    """Boolean masks of the entries a widening to ``2K`` adds (True = new parameter)."""
    K = narrow.width
    masks = []
    for k, W in enumerate(narrow.weights):
        rows = W.shape[0] if k == len(narrow.weights) - 1 else 2 * K
        cols = W.shape[1] if k == 0 else 2 * K
        mask = np.ones((rows, cols), dtype=bool)
        mask[: W.shape[0], : W.shape[1]] = False
        masks.append(mask)
    return masks


def widen(narrow: MLP, scheme: str, seed: int = 0, scale: float = 1.0) -> MLP:
    """Every hidden layer from ``K`` to ``2K`` units.

    ``zero``: every new block zero. ``split`` (Net2Net): unit ``i + K`` copies unit ``i``'s
    incoming weights and both copies carry half the outgoing weights. ``split_random``:
    the same, but the copy takes a random share in (0.2, 0.8) of the outgoing weights,
    which breaks the tie between a unit and its copy.
    ``random_in_zero_out``: new units get random incoming weights (from old and new units),
    every weight *out of* a new unit is zero, so old units and ``y`` are unchanged.
    """
    if scheme not in SCHEMES:
        raise DeriveError(f"scheme must be one of {', '.join(SCHEMES)}, got {scheme!r}")
    rng = np.random.default_rng(seed)
    K, last = narrow.width, len(narrow.weights) - 1
    # the share of unit i's outgoing weights its copy takes: 1/2 (Net2Net) or random
    share = np.full(K, 0.5) if scheme == "split" else rng.uniform(0.2, 0.8, size=K)
    wide = []
    for k, W in enumerate(narrow.weights):
        rows = W.shape[0] if k == last else 2 * K
        cols = W.shape[1] if k == 0 else 2 * K
        V = np.zeros((rows, cols))
        if scheme in ("split", "split_random"):
            src = W if k == last else np.vstack([W, W])  # copies share incoming weights
            if k > 0:  # and split what they send: (1 - share) stays, share goes to the copy
                src = np.hstack([src * (1.0 - share), src * share])
            V[:] = src
        else:
            V[: W.shape[0], : W.shape[1]] = W
            if scheme == "random_in_zero_out" and k != last:
                # rows of new units: random from every input (old and new units)
                V[K:, :] = rng.normal(size=(K, cols)) * scale * np.sqrt(2.0 / cols)
        wide.append(V)
    return MLP(wide)


def train(net: MLP, x: np.ndarray, target: np.ndarray, steps: int, lr: float,
          masks: list[np.ndarray] | None = None) -> dict:
    """Run ``steps`` SGD steps; record, per step, the largest |gradient| over new entries
    (``masks``) and the loss."""
    new_grad_max, losses = [], []
    for _ in range(steps):
        losses.append(net.loss(x, target))
        grads = net.sgd_step(x, target, lr)
        if masks is not None:
            new_grad_max.append(max(float(np.max(np.abs(g[m]), initial=0.0))
                                    for g, m in zip(grads, masks, strict=True)))
    losses.append(net.loss(x, target))
    return {"new_grad_max": new_grad_max, "losses": losses}
