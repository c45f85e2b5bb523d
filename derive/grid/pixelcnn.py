"""A ``d``-layer PixelCNN with ``k x k`` masked kernels on an ``H x W`` image: its taps,
connection counts (enumerated and in closed form) and dependency graphs for training
(all pixels known) and for generation (each pixel sampled from the output at its place).

Mask A (first layer) sees the rows above within the kernel and the pixels to the left in
the same row; mask B (later layers) also sees the centre. One feature map per layer: with
``c`` maps per layer every connection count is multiplied by ``c^2``.
"""

from __future__ import annotations

import sympy as sp

from derive.errors import DeriveError, positive_int

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
