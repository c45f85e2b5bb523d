"""A ``d``-layer PixelCNN with ``k x k`` masked kernels on an ``H x W`` image: its taps,
connection counts (enumerated and in closed form) and dependency graphs for training
(all pixels known) and for generation (each pixel sampled from the output at its place).

Mask A (first layer) sees the rows above within the kernel and the pixels to the left in
the same row; mask B (later layers) also sees the centre. One feature map per layer: with
``c`` maps per layer every connection count is multiplied by ``c^2``.
"""

from __future__ import annotations

import numpy as np
import sympy as sp

from derive.core.errors import DeriveError, positive_int

# The catalogue's symbols for rnn-cnn-hw/4 (H x W image, d layers, k x k kernels).
Hs, Ws, d, k = sp.symbols("H W d k", positive=True, integer=True)


def _odd_kernel(kernel: int) -> int:
    kernel = positive_int("k", kernel)
    if kernel % 2 == 0 or kernel < 3:
        raise DeriveError(f"k must be an odd kernel size >= 3, got {kernel}")
    return kernel


def taps(kernel: int, mask: str) -> list[tuple[int, int]]:
    """Offsets ``(dy, dx)`` read by a masked ``kernel x kernel`` filter (``mask`` A or B)."""
    r = _odd_kernel(kernel) // 2
    offsets = [(dy, dx) for dy in range(-r, 0) for dx in range(-r, r + 1)]
    offsets += [(0, dx) for dx in range(-r, 0)]
    if mask == "B":
        offsets.append((0, 0))
    elif mask != "A":
        raise DeriveError(f"mask must be 'A' or 'B', got {mask!r}")
    return offsets


def connections(rows: int, cols: int, layers: int, kernel: int) -> int:
    """Connections inside the image (zero padding carries none), enumerated pixel by pixel."""
    total = 0
    for layer in range(1, layers + 1):
        offsets = taps(kernel, "A" if layer == 1 else "B")
        for i in range(rows):
            for j in range(cols):
                total += sum(1 for dy, dx in offsets if 0 <= i + dy < rows and 0 <= j + dx < cols)
    return total


def connections_formula() -> sp.Expr:
    """The exact count for ``H, W > (k-1)/2``: per tap ``(dy, dx)`` the pairs in the image are
    ``(H - |dy|)(W - |dx|)``; summed over the mask A taps once and the mask B taps d - 1 times."""
    r = (k - 1) / 2
    dy, dx = sp.symbols("dy dx", integer=True)
    upper = sp.summation(sp.summation((Hs - dy) * (Ws - dx), (dx, 1, r)) * 2
                         + (Hs - dy) * Ws, (dy, 1, r))
    left = sp.summation(Hs * (Ws - dx), (dx, 1, r))
    mask_a = upper + left
    return sp.factor(sp.expand(d * mask_a + (d - 1) * Hs * Ws))


def connections_leading() -> sp.Expr:
    """Interior pixels only: ``H W ((k^2 - 1)/2 + (d - 1)(k^2 + 1)/2)``: ``O(d k^2 H W)``."""
    return sp.factor(Hs * Ws * ((k**2 - 1) / 2 + (d - 1) * (k**2 + 1) / 2))


def _pixel_preds(rows: int, cols: int, layers: int, kernel: int, generate: bool) -> dict:
    preds: dict = {}
    for i in range(rows):
        for j in range(cols):
            # the sampled pixel depends on the last layer's output at its place
            preds["x", i, j] = [(layers, i, j)] if generate else []
            for layer in range(1, layers + 1):
                source = "x" if layer == 1 else layer - 1
                preds[layer, i, j] = [
                    (source, i + dy, j + dx)
                    for dy, dx in taps(kernel, "A" if layer == 1 else "B")
                    if 0 <= i + dy < rows and 0 <= j + dx < cols
                ]
    return preds


def training_graph(rows: int, cols: int, layers: int, kernel: int) -> dict:
    """Every pixel given: node ``(l, i, j)`` is layer ``l`` at pixel ``(i, j)``."""
    return _pixel_preds(rows, cols, layers, kernel, generate=False)


def generation_graph(rows: int, cols: int, layers: int, kernel: int) -> dict:
    """Pixels are sampled from the last layer at their own place: ``("x", i, j)`` depends on
    ``(d, i, j)``. Sampling costs no step (weight 0); each layer evaluation one."""
    return _pixel_preds(rows, cols, layers, kernel, generate=True)


def step_weight(node: tuple) -> int:
    return 0 if node[0] == "x" else 1


def raster_generation_graph(rows: int, cols: int, layers: int, kernel: int) -> dict:
    """The generation graph with extra edges that force one pixel at a time in raster order
    (the first layer at a pixel waits for the previous pixel to be sampled)."""
    graph = generation_graph(rows, cols, layers, kernel)
    order = [(i, j) for i in range(rows) for j in range(cols)]
    for before, after in zip(order, order[1:], strict=False):
        graph[1, *after] = [*graph[1, *after], ("x", *before)]
    return graph


def mask_array(kernel: int, kind: str) -> np.ndarray:
    """The ``kernel x kernel`` 0/1 mask as an array (built directly, not from ``taps``): every
    row above the centre, the centre row left of the centre, and the centre for mask B."""
    kernel = _odd_kernel(kernel)
    if kind not in ("A", "B"):
        raise DeriveError(f"mask must be 'A' or 'B', got {kind!r}")
    m = np.zeros((kernel, kernel), dtype=int)
    c = kernel // 2
    m[:c, :] = 1
    m[c, :c] = 1
    m[c, c] = kind == "B"
    return m


def masked_stack(layers: int, kernel: int, channels: int, seed: int = 0) -> list[np.ndarray]:
    """Masked weights ``(channels out, channels in, k, k)`` of every layer, mask A first."""
    rng = np.random.default_rng(seed)
    return [rng.uniform(0.5, 1.5, (channels, channels, kernel, kernel))
            * mask_array(kernel, "A" if layer == 0 else "B") for layer in range(layers)]


def stack_parameters(stack: list[np.ndarray]) -> int:
    """Weights a masked stack can learn: its unmasked (non-zero) taps."""
    return sum(int(np.count_nonzero(w)) for w in stack)


def receptive_field(rows: int, cols: int, layers: int, kernel: int, i: int, j: int) -> np.ndarray:
    """Input pixels output ``(i, j)`` depends on (``rows x cols`` booleans): a one-hot gradient
    at ``(i, j)`` backpropagated through the masked convolutions (zero padding). The weights are
    positive, so no contribution cancels and the gradient's support is the dependency set."""
    r = _odd_kernel(kernel) // 2
    grad = np.zeros((rows, cols))
    grad[i, j] = 1.0
    for layer in reversed(range(layers)):
        m = mask_array(kernel, "A" if layer == 0 else "B")
        below = np.zeros((rows + 2 * r, cols + 2 * r))
        for a in range(kernel):  # out(y, x) reads in(y + a - r, x + b - r) with weight m[a, b]
            for b in range(kernel):
                below[a: a + rows, b: b + cols] += m[a, b] * grad
        grad = below[r: r + rows, r: r + cols]
    return grad > 0
