"""Time ``model.checks()`` of user cells outside the catalogue at n = 3, m = 4.

    .venv/bin/python bench/cell_checks.py [--cells gru_bias lstm_bias mgu] [--n 3 --m 4]

Each cell is built, derived and checked in a fresh state (elementwise proof, complex step,
central differences, unrolled loss, renaming); the table is printed as Markdown rows.
"""

from __future__ import annotations

import argparse
import time

import sympy as sp

from derive.core.cell import Cell
from derive.core.primitives import elementwise, sigma
from derive.recurrent.model import RecurrentModel

n, m = sp.symbols("n m", integer=True, positive=True)


def gru_bias() -> Cell:
    cell = Cell("gru_bias", dims=(n, m))
    t = cell.t
    x, h = cell.input("x", (n, 1)), cell.state("h", (m, 1))
    W = {g: cell.param(f"W_{g}", (m, n)) for g in "zrg"}
    U = {g: cell.param(f"U_{g}", (m, m)) for g in "zrg"}
    b = {g: cell.param(f"b_{g}", (m, 1)) for g in "zrg"}
    z = cell.let("z", elementwise(sigma, W["z"] * x(t) + U["z"] * h(t - 1) + b["z"]))
    r = cell.let("r", elementwise(sigma, W["r"] * x(t) + U["r"] * h(t - 1) + b["r"]))
    g = cell.let("g", elementwise(sp.tanh, W["g"] * x(t)
                                  + U["g"] * sp.HadamardProduct(r(t), h(t - 1)) + b["g"]))
    cell.let("h", sp.HadamardProduct(sp.OneMatrix(m, 1) - z(t), h(t - 1))
             + sp.HadamardProduct(z(t), g(t)))
    cell.output("h")
    return cell


def lstm_bias() -> Cell:
    cell = Cell("lstm_bias", dims=(n, m))
    t = cell.t
    x, h, c = cell.input("x", (n, 1)), cell.state("h", (m, 1)), cell.state("c", (m, 1))

    def affine(gate: str):
        W, U = cell.param(f"W_{gate}", (m, n)), cell.param(f"U_{gate}", (m, m))
        return W * x(t) + U * h(t - 1) + cell.param(f"b_{gate}", (m, 1))

    i = cell.let("i", elementwise(sigma, affine("i")))
    f = cell.let("f", elementwise(sigma, affine("f")))
    o = cell.let("o", elementwise(sigma, affine("o")))
    g = cell.let("g", elementwise(sp.tanh, affine("g")))
    cell.let("c", sp.HadamardProduct(f(t), c(t - 1)) + sp.HadamardProduct(i(t), g(t)))
    cell.let("h", sp.HadamardProduct(o(t), elementwise(sp.tanh, c(t))))
    cell.output("h")
    return cell


def mgu() -> Cell:
    cell = Cell("mgu", dims=(n, m))
    t = cell.t
    x, h = cell.input("x", (n, 1)), cell.state("h", (m, 1))
    W_f, U_f, b_f = cell.param("W_f", (m, n)), cell.param("U_f", (m, m)), cell.param("b_f", (m, 1))
    W_h, U_h, b_h = cell.param("W_h", (m, n)), cell.param("U_h", (m, m)), cell.param("b_h", (m, 1))
    f = cell.let("f", elementwise(sigma, W_f * x(t) + U_f * h(t - 1) + b_f))
    g = cell.let("g", elementwise(sp.tanh, W_h * x(t)
                                  + U_h * sp.HadamardProduct(f(t), h(t - 1)) + b_h))
    cell.let("h", sp.HadamardProduct(sp.OneMatrix(m, 1) - f(t), h(t - 1))
             + sp.HadamardProduct(f(t), g(t)))
    cell.output("h")
    return cell


CELLS = {"gru_bias": gru_bias, "lstm_bias": lstm_bias, "mgu": mgu}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cells", nargs="*", default=list(CELLS), choices=list(CELLS))
    parser.add_argument("--n", type=int, default=3)
    parser.add_argument("--m", type=int, default=4)
    args = parser.parse_args()
    dims = {"n": args.n, "m": args.m}
    print("| cell | checks | passed | seconds |")
    print("|---|---:|---:|---:|")
    for name in args.cells:
        model = RecurrentModel(name, "", CELLS[name], default_dims=dims, check_dims=[dims])
        start = time.perf_counter()
        checks = model.checks()
        seconds = time.perf_counter() - start
        passed = sum(c.passed for c in checks)
        print(f"| {name} (n={args.n}, m={args.m}) | {len(checks)} | {passed} | {seconds:.1f} |",
              flush=True)


if __name__ == "__main__":
    main()
