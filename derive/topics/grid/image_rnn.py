"""The row-then-column image RNN (cmsc25500-midterm/6): forward and backward passes in NumPy.

``X`` is ``(N, H, W, C)`` (``N`` examples). RNN A runs along every row, left to right:
``hA[i, j] = tanh(W_hh^A hA[i, j-1] + W_xh^A x[i, j])`` from a zero state; ``Y = H^A``.
RNN B runs along every column of ``Y``, top to bottom:
``hB[i, j] = tanh(W_hh^B hB[i-1, j] + W_yh^B y[i, j])`` from a zero state; the output is
``H^B``. Vectors are columns, so a batch of states ``h`` (rows) is multiplied as ``h @ W.T``.
Each step is vectorised over the batch and over all rows (RNN A) or all columns (RNN B);
only the scan along a row or a column is a Python loop. The kernels accept complex arrays
(for complex-step checks).

FLOP convention (``flops_formula``): a product of a ``C x C`` matrix with a vector costs
``C(2C - 1)``, adding two vectors ``C``, ``tanh`` one per element; the dense count performs
the products with the zero initial states, the minimum count skips them.
"""

from __future__ import annotations

import random

import numpy as np
import sympy as sp

from derive.core.errors import DeriveError, positive_int
from derive.topics.cnn.opcount import OpCounter

Hs, Ws, Cs = sp.symbols("H W C", positive=True, integer=True)
PARAMS = ("W_hh_A", "W_xh_A", "W_hh_B", "W_yh_B")


def _validate(x: np.ndarray, params: dict[str, np.ndarray]) -> int:
    if x.ndim != 4:
        raise DeriveError(f"X must have shape (N, H, W, C), got shape {x.shape}")
    c = x.shape[3]
    for name in PARAMS:
        if name not in params:
            raise DeriveError(f"missing parameter {name!r}")
        if params[name].shape != (c, c):
            raise DeriveError(f"{name} must be {c} x {c}, got shape {params[name].shape}")
    return c


def forward(
    x: np.ndarray, params: dict[str, np.ndarray]
) -> tuple[np.ndarray, np.ndarray]:
    """(Y, HB) = (H^A, H^B), each (N, H, W, C), for X of shape (N, H, W, C)."""
    _validate(x, params)
    n, rows, cols, c = x.shape
    dtype = np.result_type(x, *params.values())
    y = np.zeros(x.shape, dtype=dtype)
    h = np.zeros((n, rows, c), dtype=dtype)  # RNN A: every row's state
    for j in range(cols):  # left to right
        h = np.tanh(h @ params["W_hh_A"].T + x[:, :, j] @ params["W_xh_A"].T)
        y[:, :, j] = h
    hb = np.zeros(x.shape, dtype=dtype)
    h = np.zeros((n, cols, c), dtype=dtype)  # RNN B: every column's state
    for i in range(rows):  # top to bottom
        h = np.tanh(h @ params["W_hh_B"].T + y[:, i] @ params["W_yh_B"].T)
        hb[:, i] = h
    return y, hb


def backward(
    x: np.ndarray, params: dict[str, np.ndarray], g: np.ndarray
) -> dict[str, np.ndarray]:
    """Gradients of L = sum(G * H^B) with respect to every weight and X."""
    y, hb = forward(x, params)
    if g.shape != hb.shape:
        raise DeriveError(f"upstream G must have shape {hb.shape}, got {g.shape}")
    n, rows, cols, c = x.shape
    dtype = np.result_type(y, g)
    grads = {name: np.zeros((c, c), dtype=dtype) for name in PARAMS}
    bar_y = np.zeros(y.shape, dtype=dtype)
    carry = np.zeros((n, cols, c), dtype=dtype)  # from hB one row below
    for i in reversed(range(rows)):  # RNN B, bottom to top
        a = (g[:, i] + carry) * (1 - hb[:, i] ** 2)  # through tanh
        prev = hb[:, i - 1] if i > 0 else np.zeros_like(hb[:, 0])  # h0 = 0
        grads["W_hh_B"] += np.einsum("njk,njl->kl", a, prev)
        grads["W_yh_B"] += np.einsum("njk,njl->kl", a, y[:, i])
        bar_y[:, i] = a @ params["W_yh_B"]
        carry = a @ params["W_hh_B"]
    bar_x = np.zeros(x.shape, dtype=dtype)
    carry = np.zeros((n, rows, c), dtype=dtype)  # from hA one column right
    for j in reversed(range(cols)):  # RNN A, right to left
        a = (bar_y[:, :, j] + carry) * (1 - y[:, :, j] ** 2)
        prev = y[:, :, j - 1] if j > 0 else np.zeros_like(y[:, :, 0])
        grads["W_hh_A"] += np.einsum("nik,nil->kl", a, prev)
        grads["W_xh_A"] += np.einsum("nik,nil->kl", a, x[:, :, j])
        bar_x[:, :, j] = a @ params["W_xh_A"]
        carry = a @ params["W_hh_A"]
    return {**grads, "X": bar_x}


def random_instance(batch: int, rows: int, cols: int, c: int, seed: int = 0) -> tuple:
    """``(X, params, G)`` with weights scaled so the states stay away from saturation."""
    batch, rows, cols = positive_int("N", batch), positive_int("H", rows), positive_int("W", cols)
    c = positive_int("C", c)
    rng = np.random.default_rng(seed)
    x = rng.standard_normal((batch, rows, cols, c))
    params = {name: rng.standard_normal((c, c)) / np.sqrt(c) for name in PARAMS}
    return x, params, rng.standard_normal((batch, rows, cols, c))


def perturbation_fields(rows: int, cols: int, c: int, seed: int = 0) -> np.ndarray:
    """``dep[i, j, a, b]``: output ``(i, j)`` changes when input location ``(a, b)`` is
    perturbed (all ``C`` channels at once, by a random vector; one forward per location)."""
    x, params, _ = random_instance(1, rows, cols, c, seed)
    _, base = forward(x, params)
    rng = np.random.default_rng(seed + 1)
    dep = np.zeros((rows, cols, rows, cols), dtype=bool)
    for a in range(rows):
        for b in range(cols):
            moved = x.copy()
            moved[0, a, b] += rng.standard_normal(c)
            _, out = forward(moved, params)
            dep[:, :, a, b] = (out[0] != base[0]).any(axis=-1)
    return dep


def receptive_field_formula() -> tuple[sp.Expr, str]:
    """Size of the receptive field of output ``(i, j)`` (0-based), in input locations."""
    i, j = sp.symbols("i j", nonnegative=True, integer=True)
    return (i + 1) * (j + 1), "{(i', j') : i' <= i, j' <= j}, all C channels of each"


def flops_formula(dense: bool = True) -> sp.Expr:
    """Forward FLOPs of the module on an ``H x W x C`` input."""
    product = Cs * (2 * Cs - 1)
    step = 2 * product + Cs + Cs  # two products, their sum, tanh
    total = 2 * Hs * Ws * step  # RNN A and RNN B, H W steps each
    if not dense:  # the first step of each row (A) and column (B) has no W_hh h product
        total -= (Hs + Ws) * (product + Cs)
    return sp.expand(total)


def conv3x3_flops_formula() -> sp.Expr:
    """A 3x3 "same" conv with C in and out channels and bias: ``2 * 9 C`` per output."""
    return sp.expand(Hs * Ws * Cs * 2 * 9 * Cs)


def naive_flops(rows: int, cols: int, c: int, dense: bool = True, seed: int = 0) -> int:
    """Operations executed by a scalar loop implementation on counted numbers."""
    rows, cols, c = positive_int("H", rows), positive_int("W", cols), positive_int("C", c)
    rng = random.Random(seed)
    counter = OpCounter()

    def matrix() -> list[list[float]]:
        return [[rng.uniform(-1, 1) for _ in range(c)] for _ in range(c)]

    def matvec(w: list[list[float]], v: list) -> list:
        out = []
        for r in range(c):
            acc = v[0] * w[r][0]
            for s in range(1, c):
                acc = acc + v[s] * w[r][s]
            out.append(acc)
        return out

    def step(w_hh, w_in, prev, inp):
        pre = matvec(w_in, inp)
        if prev is not None or dense:
            hidden = prev if prev is not None else [counter.num(0.0)] * c
            pre = [a + b for a, b in zip(pre, matvec(w_hh, hidden), strict=True)]
        return [v.tanh() for v in pre]

    w_hh_a, w_xh_a, w_hh_b, w_yh_b = matrix(), matrix(), matrix(), matrix()
    x = [[[counter.num(rng.uniform(-1, 1)) for _ in range(c)] for _ in range(cols)]
         for _ in range(rows)]
    y = [[None] * cols for _ in range(rows)]
    for a in range(rows):
        prev = None
        for b in range(cols):
            prev = y[a][b] = step(w_hh_a, w_xh_a, prev, x[a][b])
    for b in range(cols):
        prev = None
        for a in range(rows):
            prev = step(w_hh_b, w_yh_b, prev, y[a][b])
    return counter.total


def dependency_graph(rows: int, cols: int) -> dict:
    """``("A", i, j)`` reads ``("A", i, j - 1)``; ``("B", i, j)`` reads ``("B", i - 1, j)`` and
    ``("A", i, j)``: with unlimited parallel work, its longest path is the number of
    sequential steps of the module."""
    rows, cols = positive_int("H", rows), positive_int("W", cols)
    preds: dict = {}
    for i in range(rows):
        for j in range(cols):
            preds["A", i, j] = [("A", i, j - 1)] if j else []
            preds["B", i, j] = [("A", i, j)] + ([("B", i - 1, j)] if i else [])
    return preds


def shifted(x: np.ndarray, down: int, right: int) -> np.ndarray:
    """``x`` (``(N, H, W, C)``) moved ``down`` rows and ``right`` columns (negative: up, left),
    zeros shifted in, what leaves the image dropped: zero-padding semantics."""
    out = np.zeros_like(x)
    rows, cols = x.shape[1:3]
    src_r = slice(max(0, -down), rows - max(0, down))
    dst_r = slice(max(0, down), rows - max(0, -down))
    src_c = slice(max(0, -right), cols - max(0, right))
    dst_c = slice(max(0, right), cols - max(0, -right))
    out[:, dst_r, dst_c] = x[:, src_r, src_c]
    return out


def shift_equivariance_error(rows: int, cols: int, c: int, margin: int, seed: int = 0,
                             forward_fn=None) -> float:
    """The largest ``|f(shift(X)) - shift(f(X))|`` of the module's output over every shift of
    up to ``margin`` rows and columns either way, for a random ``rows x cols`` image framed
    by ``margin`` zero pixels on every side (so no shift moves image content out). Zero for
    a translation-equivariant map, such as a zero-padded convolution without bias."""
    forward_fn = forward_fn or forward
    x, params, _ = random_instance(1, rows, cols, c, seed)
    framed = np.zeros((1, rows + 2 * margin, cols + 2 * margin, c))
    framed[:, margin:margin + rows, margin:margin + cols] = x
    base = forward_fn(framed, params)[1]
    worst = 0.0
    for down in range(-margin, margin + 1):
        for right in range(-margin, margin + 1):
            moved = forward_fn(shifted(framed, down, right), params)[1]
            # where the shifted output is defined: its source lies inside the frame
            worst = max(worst, float(np.abs(moved - shifted(base, down, right))[
                :, max(0, down):moved.shape[1] + min(0, down),
                max(0, right):moved.shape[2] + min(0, right)].max()))
    return worst
