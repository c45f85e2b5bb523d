"""The multidimensional RNN ``h(i,j) = phi(W_in^T x(i,j) + W_W^T h(i-1,j) + W_N^T h(i,j-1))``:
weight and operation counts (SymPy), an instrumented naive implementation, and the
dependency graphs of one layer and of ``d`` stacked layers.

Operation convention: a product ``W^T v`` with ``W`` of shape ``m x n`` costs ``n(2m - 1)``
(``m`` multiplications and ``m - 1`` additions per output); adding two ``n``-vectors ``n``;
``phi`` one operation per element. Boundary states ``h(0, j)``, ``h(i, 0)`` are zero. The
*minimum* count skips the products with those zero states (and the additions of their
results); the *dense* count performs every product, as a padded implementation does.
"""

from __future__ import annotations

import random

import numpy as np
import sympy as sp

from derive.core.errors import positive_int
from derive.topics.cnn.opcount import Num, OpCounter

G, D, H = sp.symbols("G D H", positive=True, integer=True)


def weights_formula() -> sp.Expr:
    """``W_in`` is D x H, ``W_W`` and ``W_N`` are H x H; no biases."""
    return D * H + 2 * H**2


def ops_formula(dense: bool = False) -> sp.Expr:
    """Arithmetic operations to compute every hidden state of a G x G grid."""
    per_input = H * (2 * D - 1) + H  # W_in^T x, then phi
    per_neighbour = H * (2 * H - 1) + H  # one recurrent product and the addition of it
    with_west = G * G if dense else G * (G - 1)
    return sp.expand(G**2 * per_input + 2 * with_west * per_neighbour)


def _matvec_t(w: list[list[float]], v: list[Num], read: set, name: str) -> list[Num]:
    """``W^T v`` for ``W`` stored as rows (m x n): output k is ``sum_i W[i][k] v[i]``."""
    out = []
    for k in range(len(w[0])):
        acc = v[0] * w[0][k]
        read.add((name, 0, k))
        for i in range(1, len(v)):
            acc = acc + v[i] * w[i][k]
            read.add((name, i, k))
        out.append(acc)
    return out


def naive_ops(g: int, d: int, h: int, dense: bool = False, seed: int = 0) -> tuple[int, int]:
    """``(operations executed, distinct weights read)`` by a loop implementation on counted
    scalars."""
    g, d, h = positive_int("G", g), positive_int("D", d), positive_int("H", h)
    rng = random.Random(seed)
    counter = OpCounter()

    def matrix(rows: int, cols: int) -> list[list[float]]:
        return [[rng.uniform(-1, 1) for _ in range(cols)] for _ in range(rows)]

    w_in, w_west, w_north = matrix(d, h), matrix(h, h), matrix(h, h)
    x = {(i, j): [counter.num(rng.uniform(-1, 1)) for _ in range(d)]
         for i in range(1, g + 1) for j in range(1, g + 1)}
    zero = [counter.num(0.0) for _ in range(h)]
    state: dict[tuple[int, int], list[Num]] = {}
    read: set = set()
    for i in range(1, g + 1):
        for j in range(1, g + 1):
            pre = _matvec_t(w_in, x[i, j], read, "in")
            for name, weights, prev in (("W", w_west, (i - 1, j)), ("N", w_north, (i, j - 1))):
                if prev in state or dense:
                    term = _matvec_t(weights, state.get(prev, zero), read, name)
                    pre = [a + b for a, b in zip(pre, term, strict=True)]
            state[i, j] = [v.tanh() for v in pre]
    return counter.total, len(read)


def grid_graph(rows: int, cols: int, layers: int = 1) -> dict:
    """``(l, i, j) -> predecessors``: west and north neighbours in layer ``l``, and the same
    cell of layer ``l - 1`` (whose state is layer ``l``'s input)."""
    preds: dict = {}
    for layer in range(1, layers + 1):
        for i in range(1, rows + 1):
            for j in range(1, cols + 1):
                before = []
                if i > 1:
                    before.append((layer, i - 1, j))
                if j > 1:
                    before.append((layer, i, j - 1))
                if layer > 1:
                    before.append((layer - 1, i, j))
                preds[layer, i, j] = before
    return preds


def connections(rows: int, cols: int, layers: int, k: int) -> int:
    """Scalar connections (weights applied) of a ``layers``-deep MDRNN with ``k`` channels and
    ``k`` hidden units, counted edge by edge on the grid graph: ``k^2`` per edge, plus ``k^2``
    per cell for the input connection of the first layer."""
    preds = grid_graph(rows, cols, layers)
    edges = sum(len(p) for p in preds.values()) + rows * cols  # + the first layer's inputs
    return edges * k * k


def step_weight(node: tuple) -> int:
    """Pixels (``("x", i, j)``) are given or sampled at no cost; each cell evaluation is a step."""
    return 0 if node[0] == "x" else 1


def generation_graph(rows: int, cols: int, layers: int, raster: bool = False) -> dict:
    """The ``layers``-deep MDRNN as an autoregressive model: cell ``(1, i, j)`` reads pixel
    ``("x", i, j)``, and pixel ``(i, j)`` is sampled from the last layer's states of its north
    and west neighbours (which have seen every earlier pixel above-left, never pixel ``(i, j)``).
    ``raster=True`` adds edges that force one pixel at a time in raster order."""
    preds = grid_graph(rows, cols, layers)
    for i in range(1, rows + 1):
        for j in range(1, cols + 1):
            preds[1, i, j] = [*preds[1, i, j], ("x", i, j)]
            preds["x", i, j] = [(layers, a, b) for a, b in ((i - 1, j), (i, j - 1))
                                if a >= 1 and b >= 1]
    if raster:
        order = [(i, j) for i in range(1, rows + 1) for j in range(1, cols + 1)]
        for before, after in zip(order, order[1:], strict=False):
            preds[1, *after] = [*preds[1, *after], ("x", *before)]
    return preds


def init_stack(layers: int, channels: int, hidden: int, seed: int = 0) -> list[dict]:
    """Weights of a ``layers``-deep MDRNN: layer 1 reads ``channels`` inputs, every later
    layer the ``hidden`` states of the layer below; ``W_in``, ``W_W``, ``W_N`` per layer."""
    layers, channels = positive_int("d", layers), positive_int("channels", channels)
    hidden = positive_int("hidden", hidden)
    rng = np.random.default_rng(seed)
    stack = []
    for layer in range(layers):
        width = channels if layer == 0 else hidden
        stack.append({"W_in": rng.standard_normal((width, hidden)) / np.sqrt(width),
                      "W_W": rng.standard_normal((hidden, hidden)) / np.sqrt(hidden),
                      "W_N": rng.standard_normal((hidden, hidden)) / np.sqrt(hidden)})
    return stack


def stack_forward(x: np.ndarray, stack: list[dict]) -> np.ndarray:
    """Last-layer states ``(rows, cols, hidden)`` of the stack on ``x`` of ``(rows, cols, C)``,
    one cell at a time (zero states outside the grid)."""
    rows, cols, _ = x.shape
    below = x
    for w in stack:
        hidden = w["W_W"].shape[0]
        h = np.zeros((rows + 1, cols + 1, hidden), dtype=np.result_type(below, w["W_in"]))
        for i in range(1, rows + 1):
            for j in range(1, cols + 1):
                h[i, j] = np.tanh(w["W_in"].T @ below[i - 1, j - 1] + w["W_W"].T @ h[i - 1, j]
                                  + w["W_N"].T @ h[i, j - 1])
        below = h[1:, 1:]
    return below


def stack_parameters(stack: list[dict]) -> int:
    """Scalars stored by a built stack."""
    return sum(int(a.size) for layer in stack for a in layer.values())
