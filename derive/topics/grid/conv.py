"""The dependency graph of a plain stack of ``k x k`` "same" convolutions (no masks), for
comparing a grid RNN's sequential steps and context with a conv net's."""

from __future__ import annotations

from derive.core.errors import positive_int


def stack_graph(rows: int, cols: int, layers: int, kernel: int) -> dict:
    """``(l, i, j)`` reads every ``(l - 1, i + dy, j + dx)`` of its window inside the image;
    layer 0 is the input, ``("x", i, j)``."""
    rows, cols, layers = positive_int("H", rows), positive_int("W", cols), positive_int("L", layers)
    r = positive_int("k", kernel) // 2
    preds: dict = {("x", i, j): [] for i in range(rows) for j in range(cols)}
    for layer in range(1, layers + 1):
        source = "x" if layer == 1 else layer - 1
        for i in range(rows):
            for j in range(cols):
                preds[layer, i, j] = [(source, i + dy, j + dx) for dy in range(-r, r + 1)
                                      for dx in range(-r, r + 1)
                                      if 0 <= i + dy < rows and 0 <= j + dx < cols]
    return preds


def step_weight(node: tuple) -> int:
    """Inputs cost no step; each layer evaluation at a pixel one."""
    return 0 if node[0] == "x" else 1
