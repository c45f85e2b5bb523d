"""The univariate LSTM without biases (csc421-hw4/1, rnn-cnn-hw/2): forward equations only."""

import sympy as sp

from derive.cell import Cell
from derive.models import register
from derive.recurrent import RecurrentModel
from derive.rules import sigma

# rnn-cnn-hw/2 names the same weights input-first: w_xi for w_ix, and so on
INPUT_FIRST = {f"w_{a}{g}": f"w_{g}{a}" for g in "ifog" for a in "xh"}


def lstm_cell() -> Cell:
    cell = Cell("lstm")
    t = cell.t
    x = cell.input("x")
    h, c = cell.state("h"), cell.state("c")
    w_ix, w_ih, w_fx, w_fh, w_ox, w_oh, w_gx, w_gh = cell.params(
        "w_ix w_ih w_fx w_fh w_ox w_oh w_gx w_gh")
    i = cell.let("i", sigma(w_ix * x(t) + w_ih * h(t - 1)))
    f = cell.let("f", sigma(w_fx * x(t) + w_fh * h(t - 1)))
    o = cell.let("o", sigma(w_ox * x(t) + w_oh * h(t - 1)))
    g = cell.let("g", sp.tanh(w_gx * x(t) + w_gh * h(t - 1)))
    cell.let("c", f(t) * c(t - 1) + i(t) * g(t))
    cell.let("h", o(t) * sp.tanh(c(t)))
    cell.output("h")
    return cell


@register("lstm", "univariate LSTM, no biases (csc421-hw4/1)")
def lstm() -> RecurrentModel:
    return RecurrentModel("lstm", "univariate LSTM, no biases (csc421-hw4/1)", lstm_cell,
                          default_T=6)
