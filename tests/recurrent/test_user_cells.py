"""User-written cells outside the catalogue: BPTT against complex steps of hand-written NumPy."""

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import pytest
import sympy as sp

from derive.core.cell import Cell
from derive.core.primitives import elementwise, sigma
from derive.recurrent.model import RecurrentModel

n, m = sp.symbols("n m", integer=True, positive=True)
d = sp.Symbol("d")
DIMS = {"n": 2, "m": 3}
M = (DIMS["m"],)
STEPS, BATCH, SEED = 5, 2, 3
H = 1e-30  # complex step
TOL = 1e-12


# --- the cells, as a user would write them -------------------------------------------------


def vector_cell(name: str) -> tuple[Cell, sp.Symbol]:
    cell = Cell(name, dims=(n, m))
    return cell, cell.t


def elman_bias() -> Cell:
    cell, t = vector_cell("elman_bias")
    x, h = cell.input("x", (n, 1)), cell.state("h", (m, 1))
    W, U, b = cell.param("W", (m, n)), cell.param("U", (m, m)), cell.param("b", (m, 1))
    cell.let("h", elementwise(sp.tanh, W * x(t) + U * h(t - 1) + b))
    cell.output("h")
    return cell


def gru_bias() -> Cell:
    cell, t = vector_cell("gru_bias")
    x, h = cell.input("x", (n, 1)), cell.state("h", (m, 1))
    W_z, U_z, b_z = cell.param("W_z", (m, n)), cell.param("U_z", (m, m)), cell.param("b_z", (m, 1))
    W_r, U_r, b_r = cell.param("W_r", (m, n)), cell.param("U_r", (m, m)), cell.param("b_r", (m, 1))
    W_g, U_g, b_g = cell.param("W_g", (m, n)), cell.param("U_g", (m, m)), cell.param("b_g", (m, 1))
    z = cell.let("z", elementwise(sigma, W_z * x(t) + U_z * h(t - 1) + b_z))
    r = cell.let("r", elementwise(sigma, W_r * x(t) + U_r * h(t - 1) + b_r))
    g = cell.let("g", elementwise(
        sp.tanh, W_g * x(t) + U_g * sp.HadamardProduct(r(t), h(t - 1)) + b_g))
    one = sp.OneMatrix(m, 1)
    cell.let("h", sp.HadamardProduct(one - z(t), h(t - 1)) + sp.HadamardProduct(z(t), g(t)))
    cell.output("h")
    return cell


def lstm_bias() -> Cell:
    cell, t = vector_cell("lstm_bias")
    x, h, c = cell.input("x", (n, 1)), cell.state("h", (m, 1)), cell.state("c", (m, 1))

    def affine(gate):
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


def lstm_peephole() -> Cell:
    cell = Cell("lstm_peephole")
    t = cell.t
    x, h, c = cell.input("x"), cell.state("h"), cell.state("c")
    w_ix, w_ih, p_i, b_i = cell.params("w_ix w_ih p_i b_i")
    w_fx, w_fh, p_f, b_f = cell.params("w_fx w_fh p_f b_f")
    w_ox, w_oh, p_o, b_o = cell.params("w_ox w_oh p_o b_o")
    w_gx, w_gh, b_g = cell.params("w_gx w_gh b_g")
    i = cell.let("i", sigma(w_ix * x(t) + w_ih * h(t - 1) + p_i * c(t - 1) + b_i))
    f = cell.let("f", sigma(w_fx * x(t) + w_fh * h(t - 1) + p_f * c(t - 1) + b_f))
    g = cell.let("g", sp.tanh(w_gx * x(t) + w_gh * h(t - 1) + b_g))
    cell.let("c", f(t) * c(t - 1) + i(t) * g(t))
    o = cell.let("o", sigma(w_ox * x(t) + w_oh * h(t - 1) + p_o * c(t) + b_o))
    cell.let("h", o(t) * sp.tanh(c(t)))
    cell.output("h")
    return cell


def lags_2_3() -> Cell:
    cell = Cell("lags_2_3")
    t = cell.t
    x, h = cell.input("x"), cell.state("h")
    w, u2, u3 = cell.params("w u2 u3")
    cell.let("h", sp.tanh(w * x(t) + u2 * h(t - 2) + u3 * h(t - 3)))
    cell.output("h")
    return cell


def tied() -> Cell:
    cell, t = vector_cell("tied")
    x, h = cell.input("x", (n, 1)), cell.state("h", (m, 1))
    W, U, b = cell.param("W", (m, n)), cell.param("U", (m, m)), cell.param("b", (m, 1))
    a = cell.let("a", elementwise(sp.tanh, W * x(t) + U * h(t - 1) + b))
    cell.let("h", elementwise(sp.tanh, U * a(t) + b))  # U and b again
    cell.output("h")
    return cell


def scalar_gain() -> Cell:
    cell, t = vector_cell("scalar_gain")
    x, h = cell.input("x", (n, 1)), cell.state("h", (m, 1))
    a, W, U = cell.param("a"), cell.param("W", (m, n)), cell.param("U", (m, m))
    cell.let("h", elementwise(sp.tanh, a * (W * x(t)) + U * h(t - 1)))
    cell.output("h")
    return cell


def mgu() -> Cell:
    cell, t = vector_cell("mgu")
    x, h = cell.input("x", (n, 1)), cell.state("h", (m, 1))
    W_f, U_f, b_f = cell.param("W_f", (m, n)), cell.param("U_f", (m, m)), cell.param("b_f", (m, 1))
    W_g, U_g, b_g = cell.param("W_g", (m, n)), cell.param("U_g", (m, m)), cell.param("b_g", (m, 1))
    f = cell.let("f", elementwise(sigma, W_f * x(t) + U_f * h(t - 1) + b_f))
    g = cell.let("g", elementwise(
        sp.tanh, W_g * x(t) + U_g * sp.HadamardProduct(f(t), h(t - 1)) + b_g))
    one = sp.OneMatrix(m, 1)
    cell.let("h", sp.HadamardProduct(one - f(t), h(t - 1)) + sp.HadamardProduct(f(t), g(t)))
    cell.output("h")
    return cell


def mult_integration() -> Cell:
    cell, t = vector_cell("mult_integration")
    x, h = cell.input("x", (n, 1)), cell.state("h", (m, 1))
    W, U, b = cell.param("W", (m, n)), cell.param("U", (m, m)), cell.param("b", (m, 1))
    cell.let("h", elementwise(sp.tanh, sp.HadamardProduct(W * x(t), U * h(t - 1)) + b))
    cell.output("h")
    return cell


def softplus_vec() -> Cell:
    cell, t = vector_cell("softplus_vec")
    x, h = cell.input("x", (n, 1)), cell.state("h", (m, 1))
    W, U, b = cell.param("W", (m, n)), cell.param("U", (m, m)), cell.param("b", (m, 1))
    cell.let("h", elementwise(sp.Lambda(d, sp.log(1 + sp.exp(d))), W * x(t) + U * h(t - 1) + b))
    cell.output("h")
    return cell


def scalar_affine(name: str) -> tuple[Cell, sp.Expr]:
    """A scalar cell with ``h`` declared, and ``w x(t) + u h(t - 1) + b``."""
    cell = Cell(name)
    t = cell.t
    x, h = cell.input("x"), cell.state("h")
    w, u, b = cell.params("w u b")
    return cell, w * x(t) + u * h(t - 1) + b


def softplus_scalar() -> Cell:
    cell, z = scalar_affine("softplus_scalar")
    cell.let("h", sp.log(1 + sp.exp(z)))
    cell.output("h")
    return cell


def relu_max() -> Cell:
    cell, z = scalar_affine("relu_max")
    cell.let("h", sp.Max(0, z))
    cell.output("h")
    return cell


def relu_piecewise() -> Cell:
    cell, z = scalar_affine("relu_piecewise")
    cell.let("h", sp.Piecewise((z, z > 0), (0, True)))
    cell.output("h")
    return cell


def relu_abs() -> Cell:
    cell, z = scalar_affine("relu_abs")
    cell.let("h", (z + sp.Abs(z)) / 2)
    cell.output("h")
    return cell


def relu_vec() -> Cell:
    cell, t = vector_cell("relu_vec")
    x, h = cell.input("x", (n, 1)), cell.state("h", (m, 1))
    W, U, b = cell.param("W", (m, n)), cell.param("U", (m, m)), cell.param("b", (m, 1))
    cell.let("h", elementwise(sp.Lambda(d, sp.Max(0, d)), W * x(t) + U * h(t - 1) + b))
    cell.output("h")
    return cell


def readout(y_first: bool) -> Cell:
    cell = Cell("readout_before" if y_first else "readout_after")
    t = cell.t
    x, h = cell.input("x"), cell.state("h")
    w, u, v = cell.params("w u v")
    if y_first:  # y(t) reads h(t), whose equation comes later
        cell.let("y", sp.tanh(v * h(t)))
    cell.let("h", sp.tanh(w * x(t) + u * h(t - 1)))
    if not y_first:
        cell.let("y", sp.tanh(v * h(t)))
    cell.output("y")
    return cell


def same_rhs_lags() -> Cell:
    cell = Cell("same_rhs_lags")
    t = cell.t
    x, h = cell.input("x"), cell.state("h")
    w, v = cell.params("w v")
    a = cell.let("a", sp.tanh(v * h(t - 1)))
    b = cell.let("b", sp.tanh(v * h(t - 2)))
    cell.let("h", a(t) + b(t) + w * x(t))
    cell.output("h")
    return cell


def autonomous() -> Cell:
    cell = Cell("autonomous")
    t = cell.t
    h = cell.state("h")
    w, b = cell.params("w b")
    cell.let("h", sp.tanh(w * h(t - 1) + b))
    cell.output("h")
    return cell


# --- the same cells, written directly in NumPy ------------------------------------------------
# Vectors are batches of rows (B, size); W x is x @ W.T; a bias (m, 1) is b[:, 0].
# Each forward takes (params, inputs, initial, T) and returns {output: (T, B, ...)}.


def sig(z):
    return 1 / (1 + np.exp(-z))


def relu(z):
    return np.where(z.real > 0, z, 0)  # complex-safe: the branch is chosen by the real part


def abs_cs(z):
    return np.where(z.real > 0, z, -z)


def history(initial, k: int) -> list:
    """Initial values oldest first: [s(1-k), ..., s(0)], so s(t - j) is ``hist[-j]``."""
    return [initial] if k == 1 else list(initial[::-1])


def np_elman_bias(p, xs, s0, T):
    h, out = s0["h"], []
    for t in range(T):
        h = np.tanh(xs["x"][t] @ p["W"].T + h @ p["U"].T + p["b"][:, 0])
        out.append(h)
    return {"h": np.stack(out)}


def np_gru_bias(p, xs, s0, T):
    h, out = s0["h"], []
    for t in range(T):
        x = xs["x"][t]
        z = sig(x @ p["W_z"].T + h @ p["U_z"].T + p["b_z"][:, 0])
        r = sig(x @ p["W_r"].T + h @ p["U_r"].T + p["b_r"][:, 0])
        g = np.tanh(x @ p["W_g"].T + (r * h) @ p["U_g"].T + p["b_g"][:, 0])
        h = (1 - z) * h + z * g
        out.append(h)
    return {"h": np.stack(out)}


def np_lstm_bias(p, xs, s0, T):
    h, c, out = s0["h"], s0["c"], []
    for t in range(T):
        x = xs["x"][t]
        a = {k: x @ p[f"W_{k}"].T + h @ p[f"U_{k}"].T + p[f"b_{k}"][:, 0] for k in "ifog"}
        c = sig(a["f"]) * c + sig(a["i"]) * np.tanh(a["g"])
        h = sig(a["o"]) * np.tanh(c)
        out.append(h)
    return {"h": np.stack(out)}


def np_lstm_peephole(p, xs, s0, T):
    h, c, out = s0["h"], s0["c"], []
    for t in range(T):
        x = xs["x"][t]
        i = sig(p["w_ix"] * x + p["w_ih"] * h + p["p_i"] * c + p["b_i"])
        f = sig(p["w_fx"] * x + p["w_fh"] * h + p["p_f"] * c + p["b_f"])
        g = np.tanh(p["w_gx"] * x + p["w_gh"] * h + p["b_g"])
        c = f * c + i * g
        o = sig(p["w_ox"] * x + p["w_oh"] * h + p["p_o"] * c + p["b_o"])  # peeps at the new c
        h = o * np.tanh(c)
        out.append(h)
    return {"h": np.stack(out)}


def np_lags_2_3(p, xs, s0, T):
    hs = history(s0["h"], 3)
    for t in range(T):
        hs.append(np.tanh(p["w"] * xs["x"][t] + p["u2"] * hs[-2] + p["u3"] * hs[-3]))
    return {"h": np.stack(hs[3:])}


def np_tied(p, xs, s0, T):
    h, out = s0["h"], []
    for t in range(T):
        a = np.tanh(xs["x"][t] @ p["W"].T + h @ p["U"].T + p["b"][:, 0])
        h = np.tanh(a @ p["U"].T + p["b"][:, 0])
        out.append(h)
    return {"h": np.stack(out)}


def np_scalar_gain(p, xs, s0, T):
    h, out = s0["h"], []
    for t in range(T):
        h = np.tanh(p["a"] * (xs["x"][t] @ p["W"].T) + h @ p["U"].T)
        out.append(h)
    return {"h": np.stack(out)}


def np_mgu(p, xs, s0, T):
    h, out = s0["h"], []
    for t in range(T):
        x = xs["x"][t]
        f = sig(x @ p["W_f"].T + h @ p["U_f"].T + p["b_f"][:, 0])
        g = np.tanh(x @ p["W_g"].T + (f * h) @ p["U_g"].T + p["b_g"][:, 0])
        h = (1 - f) * h + f * g
        out.append(h)
    return {"h": np.stack(out)}


def np_mult_integration(p, xs, s0, T):
    h, out = s0["h"], []
    for t in range(T):
        h = np.tanh((xs["x"][t] @ p["W"].T) * (h @ p["U"].T) + p["b"][:, 0])
        out.append(h)
    return {"h": np.stack(out)}


def np_softplus_vec(p, xs, s0, T):
    h, out = s0["h"], []
    for t in range(T):
        h = np.log(1 + np.exp(xs["x"][t] @ p["W"].T + h @ p["U"].T + p["b"][:, 0]))
        out.append(h)
    return {"h": np.stack(out)}


def np_scalar_affine(act):
    def forward(p, xs, s0, T):
        h, out = s0["h"], []
        for t in range(T):
            h = act(p["w"] * xs["x"][t] + p["u"] * h + p["b"])
            out.append(h)
        return {"h": np.stack(out)}

    return forward


def np_relu_vec(p, xs, s0, T):
    h, out = s0["h"], []
    for t in range(T):
        h = relu(xs["x"][t] @ p["W"].T + h @ p["U"].T + p["b"][:, 0])
        out.append(h)
    return {"h": np.stack(out)}


def np_readout(p, xs, s0, T):
    h, out = s0["h"], []
    for t in range(T):
        h = np.tanh(p["w"] * xs["x"][t] + p["u"] * h)
        out.append(np.tanh(p["v"] * h))
    return {"y": np.stack(out)}


def np_same_rhs_lags(p, xs, s0, T):
    hs = history(s0["h"], 2)
    for t in range(T):
        hs.append(np.tanh(p["v"] * hs[-1]) + np.tanh(p["v"] * hs[-2]) + p["w"] * xs["x"][t])
    return {"h": np.stack(hs[2:])}


def np_autonomous(p, xs, s0, T):
    h, out = s0["h"], []
    for _ in range(T):
        h = np.tanh(p["w"] * h + p["b"])
        out.append(h)
    return {"h": np.stack(out)}


# --- the cases --------------------------------------------------------------------------------


@dataclass(frozen=True)
class Case:
    name: str
    build: Callable[[], Cell]
    forward: Callable
    states: dict  # state -> shape of one value, no batch axis
    lag: int = 1  # how many steps back the cell reads

    @property
    def vector(self) -> bool:
        return any(self.states.values())

    def model(self) -> RecurrentModel:
        if self.vector:
            # the unrolled SymPy check runs at the last dims only: n != m but small
            return RecurrentModel(self.name, "", self.build, default_dims=DIMS,
                                  check_dims=[{"n": 1, "m": 1}, DIMS, {"n": 1, "m": 2}])
        return RecurrentModel(self.name, "", self.build)


CASES = [
    Case("elman_bias", elman_bias, np_elman_bias, {"h": M}),
    Case("gru_bias", gru_bias, np_gru_bias, {"h": M}),
    Case("lstm_bias", lstm_bias, np_lstm_bias, {"h": M, "c": M}),
    Case("lstm_peephole", lstm_peephole, np_lstm_peephole, {"h": (), "c": ()}),
    Case("lags_2_3", lags_2_3, np_lags_2_3, {"h": ()}, lag=3),
    Case("tied", tied, np_tied, {"h": M}),
    Case("scalar_gain", scalar_gain, np_scalar_gain, {"h": M}),
    Case("mgu", mgu, np_mgu, {"h": M}),
    Case("mult_integration", mult_integration, np_mult_integration, {"h": M}),
    Case("softplus_vec", softplus_vec, np_softplus_vec, {"h": M}),
    Case("softplus_scalar", softplus_scalar,
         np_scalar_affine(lambda z: np.log(1 + np.exp(z))), {"h": ()}),
    Case("relu_max", relu_max, np_scalar_affine(relu), {"h": ()}),
    Case("relu_piecewise", relu_piecewise, np_scalar_affine(relu), {"h": ()}),
    Case("relu_abs", relu_abs, np_scalar_affine(lambda z: (z + abs_cs(z)) / 2), {"h": ()}),
    Case("relu_vec", relu_vec, np_relu_vec, {"h": M}),
    Case("readout_before", lambda: readout(y_first=True), np_readout, {"h": ()}),
    Case("readout_after", lambda: readout(y_first=False), np_readout, {"h": ()}),
    Case("same_rhs_lags", same_rhs_lags, np_same_rhs_lags, {"h": ()}, lag=2),
    Case("autonomous", autonomous, np_autonomous, {"h": ()}),
]
PARAMS = [pytest.param(case, id=case.name) for case in CASES]


def instance(case: Case) -> dict:
    """Weights, inputs and upstream of the declared shapes, and initial states (k, B, ...)."""
    model = case.model()
    inst = model.random_instance(seed=SEED, steps=STEPS, batch=BATCH)
    rng = np.random.default_rng(SEED + 1)
    lead = (case.lag,) if case.lag > 1 else ()
    inst["initial"] = {s: 0.5 * rng.standard_normal((*lead, BATCH, *shape))
                       for s, shape in case.states.items()}
    return inst


def complex_step(case: Case, inst: dict) -> dict:
    """dL/d every entry of every weight, input and initial state, L = sum_t upstream . out."""
    point = {g: {k: np.asarray(v, dtype=complex) for k, v in inst[g].items()}
             for g in ("params", "inputs", "initial")}

    def loss() -> complex:
        out = case.forward(point["params"], point["inputs"], point["initial"], STEPS)
        return sum(np.sum(inst["upstream"][o] * out[o]) for o in inst["upstream"])

    grads = {}
    for group, arrays in point.items():
        grads[group] = {}
        for name, a in arrays.items():
            g = np.zeros(a.shape)
            for idx in np.ndindex(a.shape):
                a[idx] += 1j * H
                g[idx] = loss().imag / H
                a[idx] = a[idx].real
            grads[group][name] = g
    return grads


def relative_error(actual, expected) -> float:
    actual, expected = np.asarray(actual), np.asarray(expected)
    if actual.shape != expected.shape and actual.shape[-1:] == (1,):
        actual = actual[..., 0]  # a vector's bar is a column
    assert actual.shape == expected.shape, (actual.shape, expected.shape)
    return float(np.max(np.abs(actual - expected) / np.maximum(1, np.abs(expected)), initial=0))


@pytest.mark.parametrize("case", PARAMS)
def test_bptt_matches_complex_step_of_numpy_forward(case):
    model = case.model()
    inst = instance(case)
    res = model.bptt(inst["params"], inst["inputs"], inst["upstream"], inst["initial"])
    steps = range(1, STEPS + 1)
    expected_out = case.forward(inst["params"], inst["inputs"], inst["initial"], STEPS)
    errors = {f"value {o}": relative_error(np.stack([res.values[o][s] for s in steps]), v)
              for o, v in expected_out.items()}
    ref = complex_step(case, inst)
    for p, g in ref["params"].items():
        errors[f"weight {p}"] = relative_error(res.grads[p], g)
    for x, g in ref["inputs"].items():
        errors[f"input {x}"] = relative_error(np.stack([res.bars[x][s] for s in steps]), g)
    for s, g in ref["initial"].items():
        # values at t = 0, -1, ..., 1-k; a value nothing reads may have no bar
        zero = np.zeros(g.shape[-1 - len(case.states[s]):])
        bars = [np.reshape(res.bars[s].get(-j, zero), zero.shape) for j in range(case.lag)]
        errors[f"initial {s}"] = relative_error(bars[0] if case.lag == 1 else np.stack(bars), g)
    bad = {k: e for k, e in errors.items() if not e <= TOL}
    assert not bad, bad


@pytest.mark.parametrize("case", PARAMS)
def test_engine_checks_pass(case):
    checks = case.model().checks()
    assert all(c.passed for c in checks), [c for c in checks if not c.passed]
