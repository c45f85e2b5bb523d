"""Checks of the output-size formula: brute-force window enumeration and NumPy windows."""

from __future__ import annotations

import itertools

import numpy as np
import sympy as sp
from numpy.lib.stride_tricks import sliding_window_view

from derive.checks.check import Check
from derive.topics.conv import kernels
from derive.topics.conv.shapes import (
    D_sym,
    K_sym,
    P_sym,
    S_sym,
    n_sym,
    output_size,
    output_size_formula,
)
from derive.topics.conv.spec import ConvSpec

# Every valid combination in these ranges is tried.
GRID = {"n": range(1, 13), "K": range(1, 6), "P": range(0, 4), "S": range(1, 5),
        "D": range(1, 4)}


def window_positions(n: int, K: int, P: int, S: int, D: int) -> int:
    """Count the starts ``0, S, 2S, ..`` whose dilated window lies inside the padded input."""
    padded = n + 2 * P
    return sum(1 for start in range(padded)
               if start % S == 0 and start + D * (K - 1) <= padded - 1)


def numpy_windows(n: int, K: int, P: int, S: int, D: int) -> int:
    """Output length of a direct NumPy correlation: every window of the padded input, then
    every S-th one."""
    x = np.pad(np.arange(1.0, n + 1), P)
    kernel = np.zeros(D * (K - 1) + 1)
    kernel[::D] = 1.0
    windows = sliding_window_view(x, kernel.size)[::S]
    return (windows @ kernel).shape[0]


def valid_grid():
    for n, K, P, S, D in itertools.product(*GRID.values()):
        if D * (K - 1) + 1 <= n + 2 * P:
            yield n, K, P, S, D


def check_formula(formula: sp.Expr | None = None, against=window_positions,
                  name: str = "brute-force window enumeration", short: str = "") -> Check:
    """``formula`` (SymPy, in n, K, P, S, D) == ``against`` at every valid grid point; the
    integer path of ``output_size`` must agree too."""
    formula = output_size_formula() if formula is None else formula
    symbols = (n_sym, K_sym, P_sym, S_sym, D_sym)
    bad, total, first = 0, 0, ""
    for point in valid_grid():
        total += 1
        value = formula.xreplace(dict(zip(symbols, point, strict=True)))
        expected = against(*point)
        if value != expected or output_size(*point[:2], *point[2:]) != expected:
            bad += 1
            first = first or (f"n = {point[0]}, K = {point[1]}, P = {point[2]}, "
                              f"S = {point[3]}, D = {point[4]}: formula {value}, "
                              f"{name} {expected}")
    detail = (f"all {total} sizes with 1 ≤ n ≤ 12, 1 ≤ K ≤ 5, 0 ≤ P ≤ 3, 1 ≤ S ≤ 4, "
              f"1 ≤ D ≤ 3 where the dilated kernel fits")
    short = short or ("window enumeration" if against is window_positions else name)
    return Check.exact(f"output size formula vs {short}", name, bad == 0,
                       detail + (f"; {bad} differ, first {first}" if bad else ", all agree"))


def check_conv_shape(rank: int) -> Check:
    """The forward kernel's output shape == the formula per axis (random 2-D/1-D layers)."""

    bad, total = 0, 0
    for n, K, P, S, D in itertools.islice(valid_grid(), 0, None, 37):
        sizes = (n,) if rank == 1 else (n, n + 1)
        spec = ConvSpec(1, sizes, K, S, D, P, 1)
        y = kernels.forward(np.ones(spec.W_shape), np.ones(spec.x_shape), spec)
        want = tuple(numpy_windows(m, K, P, S, D) for m in sizes)
        total += 1
        bad += y.shape[1:] != want
    return Check.exact(f"{rank}-D output shape of the NumPy layer", "NumPy sliding windows",
                       bad == 0, f"{total} layers, " + (f"{bad} differ" if bad else "all agree"))


def all_checks(rank: int) -> list[Check]:
    return [check_formula(), check_formula(against=numpy_windows, name="NumPy sliding windows"),
            check_conv_shape(rank)]
