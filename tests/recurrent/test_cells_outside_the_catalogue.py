"""The engine's generality: cells defined here, in a few lines, get everything derived and
checked with no other code: a vanilla tanh RNN (scalar and vector) and a GRU."""

import numpy as np
import sympy as sp

from derive.checks.recurrent import elementwise_checks, perturbation_checks, unrolled_checks
from derive.core.cell import Cell
from derive.core.primitives import elementwise, sigma
from derive.recurrent.model import RecurrentModel

n, m = sp.symbols("n m", integer=True, positive=True)


def scalar_rnn() -> Cell:
    cell = Cell("tanh_rnn")
    t = cell.t
    x, h = cell.input("x"), cell.state("h")
    w_x, w_h = cell.params("w_x w_h")
    cell.let("h", sp.tanh(w_x * x(t) + w_h * h(t - 1)))
    cell.output("h")
    return cell


def vector_rnn() -> Cell:
    cell = Cell("tanh_rnn_vec", dims=(n, m))
    t = cell.t
    x, h = cell.input("x", (n, 1)), cell.state("h", (m, 1))
    W_x, W_h = cell.param("W_x", (m, n)), cell.param("W_h", (m, m))
    cell.let("h", elementwise(sp.tanh, W_x * x(t) + W_h * h(t - 1)))
    cell.output("h")
    return cell


def gru() -> Cell:
    cell = Cell("gru", dims=(n, m))
    t = cell.t
    x, h = cell.input("x", (n, 1)), cell.state("h", (m, 1))
    W_z, U_z = cell.param("W_z", (m, n)), cell.param("U_z", (m, m))
    W_r, U_r = cell.param("W_r", (m, n)), cell.param("U_r", (m, m))
    W_g, U_g = cell.param("W_g", (m, n)), cell.param("U_g", (m, m))
    z = cell.let("z", elementwise(sigma, W_z * x(t) + U_z * h(t - 1)))
    r = cell.let("r", elementwise(sigma, W_r * x(t) + U_r * h(t - 1)))
    g = cell.let("g", elementwise(sp.tanh, W_g * x(t) + U_g * sp.HadamardProduct(r(t), h(t - 1))))
    one = sp.OneMatrix(m, 1)
    cell.let("h", sp.HadamardProduct(one - z(t), h(t - 1)) + sp.HadamardProduct(z(t), g(t)))
    cell.output("h")
    return cell


def test_scalar_rnn_bars_read_as_textbook():
    model = RecurrentModel("tanh_rnn", "", scalar_rnn)
    h = model.cell.signals["h"]
    w_h = model.cell.parameters["w_h"]
    expected = h.direct() + h.bar(model.cell.t + 1) * w_h * (1 - h(model.cell.t + 1) ** 2)
    assert sp.simplify(model.adjoints["h"].rhs - expected) == 0
    assert all(c.passed for c in model.checks()), [c for c in model.checks() if not c.passed]


def test_vector_rnn_all_checks_pass():
    model = RecurrentModel("tanh_rnn_vec", "", vector_rnn, default_dims={"n": 2, "m": 3},
                           check_dims=[{"n": 1, "m": 2}, {"n": 3, "m": 2}])
    checks = model.checks()
    assert {c.name.split(" (")[0] for c in checks} >= {
        "elementwise SymPy", "complex step", "central differences", "unrolled loss, 30 digits",
        "renamed values, same time"}
    assert all(c.passed for c in checks), [c for c in checks if not c.passed]


def test_gru_all_checks_pass():
    model = RecurrentModel("gru", "", gru, default_dims={"n": 2, "m": 2},
                           check_dims=[{"n": 2, "m": 2}])
    checks = [*elementwise_checks(model, {"n": 2, "m": 2}),
              *perturbation_checks(model, steps=4, dims={"n": 2, "m": 3}),
              *unrolled_checks(model, steps=2, dims={"n": 1, "m": 2})]
    assert all(c.passed for c in checks), [c for c in checks if not c.passed]
    # every weight gets a gradient, derived from the forward equations alone
    assert set(model.weight_grads) == {"W_z", "U_z", "W_r", "U_r", "W_g", "U_g"}


def test_gru_bptt_matches_an_independent_numpy_gru():
    model = RecurrentModel("gru", "", gru, default_dims={"n": 2, "m": 3})
    inst = model.random_instance(seed=3, steps=4, batch=2)
    result = model.bptt(inst["params"], inst["inputs"], inst["upstream"], inst["initial"])
    p = inst["params"]

    def sig(a):
        return 1 / (1 + np.exp(-a))

    h = inst["initial"]["h"]
    for step in range(4):
        x = inst["inputs"]["x"][step]
        z = sig(x @ p["W_z"].T + h @ p["U_z"].T)
        r = sig(x @ p["W_r"].T + h @ p["U_r"].T)
        g = np.tanh(x @ p["W_g"].T + (r * h) @ p["U_g"].T)
        h = (1 - z) * h + z * g
        assert np.allclose(result.values["h"][step + 1][..., 0], h, rtol=1e-13, atol=1e-13)


def test_local_jacobians_of_the_cells_defined_here():
    from derive.checks.jacobian import jacobian_check

    scalar = RecurrentModel("tanh_rnn", "", scalar_rnn)
    h, t = scalar.cell.signals["h"], scalar.cell.t
    assert sp.simplify(scalar.jacobian("h") - scalar.cell.parameters["w_h"] * (1 - h(t) ** 2)) == 0
    model = RecurrentModel("gru", "", gru, default_dims={"n": 2, "m": 2})
    closed = model.jacobian("h")
    check = jacobian_check(model.cell, "h", "h", 1, closed,
                           [{n: 1, m: 1}, {n: 1, m: 2}])
    assert check.passed, check.detail
    wrong = jacobian_check(model.cell, "h", "h", 1, -closed, [{n: 1, m: 2}])
    assert not wrong.passed  # the check can fail
