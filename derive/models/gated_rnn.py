"""The gated RNN of dsga1008-hw2/1.2.1, x in R^n, h in R^m: forward equations only."""

import sympy as sp

from derive.core.cell import Cell
from derive.core.primitives import elementwise, sigma
from derive.models import register
from derive.recurrent.model import RecurrentModel

n, m = sp.symbols("n m", integer=True, positive=True)


def gated_rnn_cell() -> Cell:
    cell = Cell("gated_rnn", dims=(n, m))
    t = cell.t
    x = cell.input("x", (n, 1))
    h = cell.state("h", (m, 1))
    W_c, W_h, W_x = cell.param("W_c", (m, n)), cell.param("W_h", (m, m)), cell.param("W_x", (m, n))
    c = cell.let("c", elementwise(sigma, W_c * x(t) + W_h * h(t - 1)))
    one = sp.OneMatrix(m, 1)
    cell.let("h", sp.HadamardProduct(c(t), h(t - 1)) + sp.HadamardProduct(one - c(t), W_x * x(t)))
    cell.output("h")
    return cell


@register("gated_rnn", "gated RNN, x in R^n, h in R^m (dsga1008-hw2/1.2.1)")
def gated_rnn() -> RecurrentModel:
    return RecurrentModel("gated_rnn", "gated RNN, x in R^n, h in R^m (dsga1008-hw2/1.2.1)",
                          gated_rnn_cell, default_dims={"n": 3, "m": 2},
                          check_dims=[{"n": 1, "m": 1}, {"n": 2, "m": 3}, {"n": 3, "m": 2}],
                          default_T=6)
