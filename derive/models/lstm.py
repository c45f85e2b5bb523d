"""The univariate LSTM without biases (csc421-hw4/1, rnn-cnn-hw/2): forward equations only."""

import sympy as sp

from derive.core.cell import Cell
from derive.core.primitives import sigma
from derive.models import register
from derive.recurrent.model import RecurrentModel

GATE_FIRST = "w_ix w_ih w_fx w_fh w_ox w_oh w_gx w_gh"  # csc421-hw4/1
INPUT_FIRST = "w_xi w_hi w_xf w_hf w_xo w_ho w_xg w_hg"  # rnn-cnn-hw/2, the same weights


def lstm_cell(weights: str = GATE_FIRST) -> Cell:
    cell = Cell("lstm")
    t = cell.t
    x = cell.input("x")
    h, c = cell.state("h"), cell.state("c")
    w_ix, w_ih, w_fx, w_fh, w_ox, w_oh, w_gx, w_gh = cell.params(weights)
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
    return RecurrentModel("lstm", "univariate LSTM, no biases (csc421-hw4/1)", lstm_cell)


@register("lstm_input_first", "the LSTM with input-first weight names, w_xi ... (rnn-cnn-hw/2)")
def lstm_input_first() -> RecurrentModel:
    return RecurrentModel("lstm_input_first",
                          "the LSTM with input-first weight names, w_xi ... (rnn-cnn-hw/2)",
                          lambda: lstm_cell(INPUT_FIRST))
