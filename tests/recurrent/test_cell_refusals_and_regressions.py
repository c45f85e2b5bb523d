"""User cells: renaming across lags, scalar weights, k-step states, kernels, refusals, CLI."""

import copy
import dataclasses
import json
import math
import re
import textwrap

import numpy as np
import pytest
import sympy as sp

import derive
from derive.calculus.adjoint import Adjoints
from derive.checks.recurrent import perturbation_checks
from derive.core.cell import Cell
from derive.core.errors import DeriveError
from derive.core.primitives import elementwise, sigma
from derive.core.zero import exactly_zero
from derive.recurrent.model import RecurrentModel

n, m = sp.symbols("n m", integer=True, positive=True)
d = sp.Symbol("d")
DIMS = {"n": 2, "m": 3}
STEPS, BATCH = 5, 2
H = 1e-30  # complex step
TOL = 1e-12


# --- helpers -----------------------------------------------------------------------------------


def model_of(cell: Cell, dims: dict | None = None) -> RecurrentModel:
    """The model of ``cell`` (checked at every size 1, then at ``dims``); built directly so
    that the gradients, not ``recurrent_model``'s build-time refusals, are under test."""
    check_dims = [{k: 1 for k in dims}, dict(dims)] if dims else None
    return RecurrentModel(cell.name, "", lambda: cell, default_dims=dims,
                          check_dims=check_dims)


def failed(checks) -> list:
    return [(c.name, c.error, c.detail) for c in checks if not c.passed]


def draw(shapes: dict, lag: int, seed: int = 3) -> dict:
    """An instance: weights of the given shapes, inputs and upstream (T, B, ...), initial
    states (B, ...) for a cell reading one step back, (k, B, ...) for k steps."""
    rng = np.random.default_rng(seed)

    def normal(shape):
        return 0.5 * rng.standard_normal(shape)

    lead = (lag,) if lag > 1 else ()
    return {
        "params": {p: normal(s) for p, s in shapes["params"].items()},
        "inputs": {x: normal((STEPS, BATCH, *s)) for x, s in shapes.get("inputs", {}).items()},
        "initial": {h: normal((*lead, BATCH, *s)) for h, s in shapes["initial"].items()},
        "upstream": {o: normal((STEPS, BATCH, *s)) for o, s in shapes["upstream"].items()},
    }


def history(initial: np.ndarray, lag: int) -> list:
    """Initial values oldest first, so that ``s(t - j)`` is ``hist[-j]``."""
    return [initial] if lag == 1 else list(initial[::-1])


def complex_step(forward, inst: dict) -> dict:
    """dL/d every entry of every weight, input and initial state of a NumPy forward,
    ``L = sum_t upstream(t) . output(t)``, by complex steps."""
    point = {g: {k: np.asarray(v, dtype=complex) for k, v in inst[g].items()}
             for g in ("params", "inputs", "initial")}

    def loss() -> complex:
        out = forward(point["params"], point["inputs"], point["initial"])
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


def derived_gradients(model: RecurrentModel, inst: dict, lag: int) -> dict:
    """The model's BPTT gradients in the shapes of :func:`complex_step`."""
    res = model.bptt(inst["params"], inst["inputs"], inst["upstream"], inst["initial"])
    cell = model.cell

    def plain(name, a):
        return np.asarray(a)[..., 0] if cell.signals[name].is_matrix else np.asarray(a)

    steps = range(1, STEPS + 1)
    return {
        "params": {p: np.asarray(g) for p, g in res.grads.items()},
        "inputs": {x: plain(x, np.stack([res.bars[x][s] for s in steps]))
                   for x in inst["inputs"]},
        "initial": {s: plain(s, res.bars[s][0] if lag == 1 else
                             np.stack([res.bars[s][-j] for j in range(lag)]))
                    for s in inst["initial"]},
    }


def assert_matches_reference(model: RecurrentModel, forward, inst: dict, lag: int = 1):
    ours, ref = derived_gradients(model, inst, lag), complex_step(forward, inst)
    errors = {}
    for group, table in ref.items():
        assert set(ours[group]) == set(table), (group, sorted(ours[group]), sorted(table))
        for name, g in table.items():
            a = ours[group][name]
            assert a.shape == g.shape, (group, name, a.shape, g.shape)
            errors[f"{group} {name}"] = float(
                np.max(np.abs(a - g) / np.maximum(1, np.abs(g)), initial=0))
    assert all(e <= TOL for e in errors.values()), errors
    return ours


# --- the cells ---------------------------------------------------------------------------------


def lagged_pair(a_first: bool) -> Cell:
    """``a = tanh(v h(t-1))``, ``b = tanh(v h(t-2))``, ``h = a + b + w x``: the same right-hand
    side at two lags."""
    cell = Cell("lagged_pair_ab" if a_first else "lagged_pair_ba")
    t = cell.t
    x, h = cell.input("x"), cell.state("h")
    w, v = cell.params("w v")
    pair = [("a", sp.tanh(v * h(t - 1))), ("b", sp.tanh(v * h(t - 2)))]
    for name, rhs in pair if a_first else pair[::-1]:
        cell.let(name, rhs)
    a, b = cell.signals["a"], cell.signals["b"]
    cell.let("h", a(t) + b(t) + w * x(t))
    cell.output("h")
    return cell


def np_lagged_pair(p, xs, s0):
    hs = history(s0["h"], 2)
    for step in range(STEPS):
        a, b = np.tanh(p["v"] * hs[-1]), np.tanh(p["v"] * hs[-2])
        hs.append(a + b + p["w"] * xs["x"][step])
    return {"h": np.stack(hs[2:])}


def readout(y_first: bool) -> Cell:
    """An output ``y = tanh(v h(t))`` whose right-hand side is the state's at ``t + 1``."""
    cell = Cell("readout_yh" if y_first else "readout_hy")
    t = cell.t
    x, h = cell.input("x"), cell.state("h")
    w, v = cell.params("w v")
    if y_first:
        cell.let("y", sp.tanh(v * h(t)))
    cell.let("h", sp.tanh(v * h(t - 1)) + w * x(t))
    if not y_first:
        cell.let("y", sp.tanh(v * h(t)))
    cell.output("y")
    return cell


def np_readout(p, xs, s0):
    h, out = s0["h"], []
    for step in range(STEPS):
        h = np.tanh(p["v"] * h) + p["w"] * xs["x"][step]
        out.append(np.tanh(p["v"] * h))
    return {"y": np.stack(out)}


SCALAR_WX = {"params": {"w": (), "v": ()}, "inputs": {"x": ()}}
RENAMING = {
    "lagged_pair_ab": (lambda: lagged_pair(True), np_lagged_pair, "h", 2),
    "lagged_pair_ba": (lambda: lagged_pair(False), np_lagged_pair, "h", 2),
    "readout_hy": (lambda: readout(False), np_readout, "y", 1),
    "readout_yh": (lambda: readout(True), np_readout, "y", 1),
}


def renaming_instance(output: str, lag: int) -> dict:
    return draw({**SCALAR_WX, "initial": {"h": ()}, "upstream": {output: ()}}, lag)


def gain_cell() -> Cell:
    """A scalar weight ``a`` scaling a matrix product in a vector cell."""
    cell = Cell("gain", dims=(n, m))
    t = cell.t
    x, h = cell.input("x", (n, 1)), cell.state("h", (m, 1))
    a, W, U = cell.param("a"), cell.param("W", (m, n)), cell.param("U", (m, m))
    cell.let("h", elementwise(sp.tanh, a * (W * x(t)) + U * h(t - 1)))
    cell.output("h")
    return cell


def np_gain(p, xs, s0):
    h, out = s0["h"], []
    for step in range(STEPS):
        h = np.tanh(p["a"] * (xs["x"][step] @ p["W"].T) + h @ p["U"].T)
        out.append(h)
    return {"h": np.stack(out)}


def gru_cell() -> Cell:
    cell = Cell("gru_bias", dims=(n, m))
    t = cell.t
    x, h = cell.input("x", (n, 1)), cell.state("h", (m, 1))

    def weights(gate):
        return (cell.param(f"W_{gate}", (m, n)), cell.param(f"U_{gate}", (m, m)),
                cell.param(f"b_{gate}", (m, 1)))

    (W_z, U_z, b_z), (W_r, U_r, b_r), (W_g, U_g, b_g) = map(weights, "zrg")
    z = cell.let("z", elementwise(sigma, W_z * x(t) + U_z * h(t - 1) + b_z))
    r = cell.let("r", elementwise(sigma, W_r * x(t) + U_r * h(t - 1) + b_r))
    g = cell.let("g", elementwise(
        sp.tanh, W_g * x(t) + U_g * sp.HadamardProduct(r(t), h(t - 1)) + b_g))
    cell.let("h", sp.HadamardProduct(sp.OneMatrix(m, 1) - z(t), h(t - 1))
             + sp.HadamardProduct(z(t), g(t)))
    cell.output("h")
    return cell


def lags_2_3_cell() -> Cell:
    cell = Cell("lags_2_3")
    t = cell.t
    x, h = cell.input("x"), cell.state("h")
    w, u2, u3 = cell.params("w u2 u3")
    cell.let("h", sp.tanh(w * x(t) + u2 * h(t - 2) + u3 * h(t - 3)))
    cell.output("h")
    return cell


def lag_3_vector_cell() -> Cell:
    cell = Cell("lag_3_vector", dims=(n, m))
    t = cell.t
    x, h = cell.input("x", (n, 1)), cell.state("h", (m, 1))
    W, U, V = cell.param("W", (m, n)), cell.param("U", (m, m)), cell.param("V", (m, m))
    cell.let("h", elementwise(sp.tanh, W * x(t) + U * h(t - 1) + V * h(t - 3)))
    cell.output("h")
    return cell


def autonomous_cell() -> Cell:
    cell = Cell("autonomous")
    h = cell.state("h")
    (w,) = cell.params("w")
    cell.let("h", sp.tanh(w * h(cell.t - 1)))
    cell.output("h")
    return cell


def np_autonomous(p, xs, s0):
    h, out = s0["h"], []
    for _ in range(STEPS):
        h = np.tanh(p["w"] * h)
        out.append(h)
    return {"h": np.stack(out)}


def carried_input_cell() -> Cell:
    """The workaround for an input read at a lag: carry it in a state ``x_in``."""
    cell = Cell("carried_input")
    t = cell.t
    x, h, x_in = cell.input("x"), cell.state("h"), cell.state("x_in")
    w, u = cell.params("w u")
    cell.let("x_in", x(t))
    cell.let("h", sp.tanh(w * x_in(t - 1) + u * h(t - 1)))
    cell.output("h")
    return cell


def np_carried_input(p, xs, s0):
    h, x_prev, out = s0["h"], s0["x_in"], []
    for step in range(STEPS):
        h = np.tanh(p["w"] * x_prev + p["u"] * h)
        x_prev = xs["x"][step]
        out.append(h)
    return {"h": np.stack(out)}


def scalar_cell(name: str, activation) -> Cell:
    cell = Cell(name)
    t = cell.t
    x, h = cell.input("x"), cell.state("h")
    w, u, b = cell.params("w u b")
    cell.let("h", activation(w * x(t) + u * h(t - 1) + b))
    cell.output("h")
    return cell


def vector_cell(name: str, f) -> Cell:
    cell = Cell(name, dims=(n, m))
    t = cell.t
    x, h = cell.input("x", (n, 1)), cell.state("h", (m, 1))
    W, U, b = cell.param("W", (m, n)), cell.param("U", (m, m)), cell.param("b", (m, 1))
    cell.let("h", elementwise(f, W * x(t) + U * h(t - 1) + b))
    cell.output("h")
    return cell


# --- 1. renaming a value only at its own time ---------------------------------------------------


@pytest.mark.parametrize("name", list(RENAMING))
def test_renamed_values_appear_only_beside_their_own_bar_at_the_same_time(name):
    build, _, _, _ = RENAMING[name]
    model = model_of(build())
    renamed = {s.name for s in model.cell.defined} - {"h"}  # a, b or y
    bar_h = model.derivation.bar_rhs("h")
    for term in sp.Add.make_args(bar_h):
        timed = {(f.func.__name__, f.args[0]) for f in term.atoms(sp.core.function.AppliedUndef)}
        for signal, time in timed:
            if signal in renamed:
                assert (f"bar_{signal}", time) in timed, f"{signal}({time}) in {term}"
    t = model.cell.t
    f = {s: sp.Function(s) for s in ("a", "b", "y", "h", "bar_a", "bar_b", "bar_h", "bar_y",
                                     "dL_dh")}
    v = sp.Symbol("v")
    if name.startswith("lagged_pair"):
        expected = (f["dL_dh"](t) + v * (1 - f["a"](t + 1) ** 2) * f["bar_a"](t + 1)
                    + v * (1 - f["b"](t + 2) ** 2) * f["bar_b"](t + 2))
    else:  # tanh(v h(t)) in h(t + 1)'s equation is y(t), which does not exist where the
        # term is also used, at t = 0 (the initial bar): it stays spelled out
        expected = (v * (1 - f["y"](t) ** 2) * f["bar_y"](t)
                    + v * (1 - sp.tanh(v * f["h"](t)) ** 2) * f["bar_h"](t + 1))
    assert sp.expand(bar_h - expected) == 0, bar_h


@pytest.mark.parametrize("name", list(RENAMING))
def test_renaming_cells_match_complex_step_of_numpy_forward(name):
    build, forward, output, lag = RENAMING[name]
    model = model_of(build())
    assert_matches_reference(model, forward, renaming_instance(output, lag), lag)
    assert not failed(model.checks())


@pytest.mark.parametrize("pair", [("lagged_pair_ab", "lagged_pair_ba"),
                                  ("readout_hy", "readout_yh")])
def test_derivation_does_not_depend_on_the_order_equations_are_written(pair):
    (build_1, _, output, lag), (build_2, _, _, _) = RENAMING[pair[0]], RENAMING[pair[1]]
    first, second = model_of(build_1()), model_of(build_2())
    for name in first.cell.signals:
        assert {x.expr for x in first.derivation.bars[name]} == \
            {x.expr for x in second.derivation.bars[name]}, name
    inst = renaming_instance(output, lag)
    g1, g2 = derived_gradients(first, inst, lag), derived_gradients(second, inst, lag)
    for group, table in g1.items():
        for key, value in table.items():
            np.testing.assert_allclose(value, g2[group][key], rtol=1e-14, atol=1e-14)


# --- 2. a scalar weight in a vector cell --------------------------------------------------------


GAIN_SHAPES = {"params": {"a": (), "W": (3, 2), "U": (3, 3)}, "inputs": {"x": (2,)},
               "initial": {"h": (3,)}, "upstream": {"h": (3,)}}


def test_scalar_weight_in_vector_cell_has_its_gradient():
    model = model_of(gain_cell(), DIMS)
    assert model.derivation.grads["a"], "no term in the gradient of a"
    ours = assert_matches_reference(model, np_gain, draw(GAIN_SHAPES, 1))
    assert abs(float(ours["params"]["a"])) > 1e-3
    assert not failed(model.checks())


def test_planted_zero_gradient_of_scalar_weight_is_caught_by_the_checks():
    model = model_of(gain_cell(), DIMS)
    original: Adjoints = model.derivation
    grads = dict(original.grads)
    assert grads["a"]
    grads["a"] = [dataclasses.replace(term, expr=sp.Mul(0, term.expr),
                                      raw=None if term.raw is None else sp.Mul(0, term.raw))
                  for term in grads["a"]]
    planted = copy.copy(model)
    planted.__dict__["derivation"] = Adjoints(original.cell, dict(original.bars), grads)
    for cached in ("_kernels", "_checks"):
        planted.__dict__.pop(cached, None)
    checks = planted.checks()  # fails, does not raise
    by_name = {c.name: c for c in checks}
    complex_steps = [c for name, c in by_name.items() if name.startswith("complex step")]
    assert complex_steps and not any(c.passed for c in complex_steps)
    elementwise_ = [c for name, c in by_name.items() if name.startswith("elementwise")]
    assert elementwise_ and all(not c.passed and "grad a" in c.detail for c in elementwise_)


# --- 3. cells reading k >= 2 steps back ---------------------------------------------------------


@pytest.mark.parametrize("build, dims, lag, tail", [
    (lags_2_3_cell, None, 3, ()),
    (lag_3_vector_cell, DIMS, 3, (3,)),
])
def test_cell_reading_k_steps_back_has_k_initial_values(build, dims, lag, tail):
    model = model_of(build(), dims)
    assert model.cell.max_lag == lag
    inst = model.random_instance(seed=0, steps=4, batch=2)
    assert inst["initial"]["h"].shape == (lag, 2, *tail)
    assert not failed(model.checks())
    grad = json.loads(json.dumps(model.grad_instance(seed=0, T=3)))
    for table in (grad["initial"], grad["grads"]["initial"]):
        values = table["h"]
        assert isinstance(values, list) and len(values) == lag
        assert all(np.shape(value) == tail for value in values)


def test_lags_2_3_cell_matches_complex_step_of_numpy_forward():
    def forward(p, xs, s0):
        hs = history(s0["h"], 3)
        for step in range(STEPS):
            hs.append(np.tanh(p["w"] * xs["x"][step] + p["u2"] * hs[-2] + p["u3"] * hs[-3]))
        return {"h": np.stack(hs[3:])}

    shapes = {"params": {"w": (), "u2": (), "u3": ()}, "inputs": {"x": ()},
              "initial": {"h": ()}, "upstream": {"h": ()}}
    assert_matches_reference(model_of(lags_2_3_cell()), forward, draw(shapes, 3), lag=3)


# --- 4. kernels for non-smooth and arbitrary elementwise functions ------------------------------


KERNEL_CELLS = {
    "max": lambda: scalar_cell("relu_max", lambda z: sp.Max(0, z)),
    "abs": lambda: scalar_cell("abs", sp.Abs),
    "heaviside": lambda: scalar_cell("relu_heaviside", lambda z: z * sp.Heaviside(z)),
    "piecewise": lambda: scalar_cell("leaky_piecewise",
                                     lambda z: sp.Piecewise((z, z > 0), (z / 10, True))),
    "leaky_max": lambda: scalar_cell("leaky_max", lambda z: sp.Max(z / 10, z)),
    "relu_lambda": lambda: vector_cell("relu_vec", sp.Lambda(d, sp.Max(0, d))),
    "softplus_lambda": lambda: vector_cell("softplus_vec", sp.Lambda(d, sp.log(1 + sp.exp(d)))),
    "leaky_lambda": lambda: vector_cell("leaky_vec", sp.Lambda(d, sp.Max(d / 10, d))),
}


@pytest.mark.parametrize("kind", list(KERNEL_CELLS))
def test_non_smooth_and_lambda_activations_compile_and_pass_checks(kind):
    cell = KERNEL_CELLS[kind]()
    model = model_of(cell, DIMS if cell.dims else None)
    checks = model.checks()
    assert any(c.name.startswith("complex step") for c in checks)
    assert any(c.name.startswith("kernels vs unrolled") for c in checks)
    assert not failed(checks)


# --- 5. refused at build time, with the equation and the fix named ------------------------------


def scalar_tanh_rnn(output: bool = True) -> Cell:
    cell = Cell("rnn")
    t = cell.t
    x, h = cell.input("x"), cell.state("h")
    w, u = cell.params("w u")
    cell.let("h", sp.tanh(w * x(t) + u * h(t - 1)))
    if output:
        cell.output("h")
    return cell


def no_output():
    return derive.recurrent_model(scalar_tanh_rnn(output=False))


def output_of_nothing():
    cell = scalar_tanh_rnn(output=False)
    cell.output("y")  # may name a signal defined later: the cell is judged when complete
    derive.recurrent_model(cell)


def output_of_input():
    cell = scalar_tanh_rnn(output=False)
    cell.output("x")
    derive.recurrent_model(cell)


def output_of_signal_object():
    cell = scalar_tanh_rnn(output=False)
    cell.output(cell.signals["h"])


def tanh_of_vector():
    cell = Cell("vec", dims=(m,))
    h, U = cell.state("h", (m, 1)), cell.param("U", (m, m))
    cell.let("h", sp.tanh(U * h(cell.t - 1)))


def product_of_two_vectors():
    cell = Cell("vec", dims=(m,))
    t = cell.t
    z, h, U = cell.state("z", (m, 1)), cell.state("h", (m, 1)), cell.param("U", (m, m))
    cell.let("z", elementwise(sigma, U * h(t - 1)))
    cell.let("h", z(t) * h(t - 1))


def transposed_weight_alone():
    cell = Cell("vec", dims=(n, m))
    x, W = cell.input("x", (n, 1)), cell.param("W", (n, m))
    cell.let("h", elementwise(sp.tanh, W * x(cell.t)))


def transposed_weight_in_sum():
    cell = Cell("vec", dims=(n, m))
    t = cell.t
    x, h = cell.input("x", (n, 1)), cell.state("h", (m, 1))
    W, U = cell.param("W", (n, m)), cell.param("U", (m, m))
    cell.let("h", elementwise(sp.tanh, W * x(t) + U * h(t - 1)))


def symbolic_shape_without_dims():
    cell = Cell("vec")
    cell.input("x", (n, 1))


def input_at_a_lag():
    cell = Cell("rnn")
    t = cell.t
    x, h = cell.input("x"), cell.state("h")
    w, u = cell.params("w u")
    cell.let("h", sp.tanh(w * x(t - 1) + u * h(t - 1)))
    cell.output("h")
    derive.recurrent_model(cell)


def reads_the_future():
    cell = Cell("rnn")
    t = cell.t
    x, h = cell.input("x"), cell.state("h")
    w, u = cell.params("w u")
    cell.let("h", sp.tanh(w * x(t) + u * h(t + 1)))
    cell.output("h")
    derive.recurrent_model(cell)


def algebraic_loop():
    cell = Cell("loop")
    t = cell.t
    x, a, b = cell.input("x"), cell.state("a"), cell.state("b")
    (w,) = cell.params("w")
    cell.let("a", sp.tanh(b(t) + w * x(t)))
    cell.let("b", sp.tanh(a(t)))
    cell.output("b")
    derive.recurrent_model(cell)


def undefined_function():
    cell = Cell("opaque")
    t = cell.t
    x, h = cell.input("x"), cell.state("h")
    w, u = cell.params("w u")
    cell.let("h", sp.Function("f")(w * x(t) + u * h(t - 1)))
    cell.output("h")
    derive.recurrent_model(cell).derivation  # noqa: B018 - deriving is what is refused


TRANSPOSED_HINT = ["equation 'h'", "W", "transposed", "(rows_out, n)"]
REFUSALS = [
    pytest.param(no_output, ["cell 'rnn'", "no output", "cell.output(", "'h'"], id="no_output"),
    pytest.param(output_of_nothing, ["output 'y'", "not a signal the cell defines", "'h'"],
                 id="output_of_nothing"),
    pytest.param(output_of_input, ["output 'x'", "not a signal the cell defines"],
                 id="output_of_input"),
    pytest.param(output_of_signal_object, ["by its name", "cell.output('h')"],
                 id="output_of_signal_object"),
    pytest.param(tanh_of_vector, ["equation 'h'", "tanh", "elementwise(tanh, ...)"],
                 id="tanh_of_vector"),
    pytest.param(product_of_two_vectors,
                 ["equation 'h'", "do not conform", "sp.HadamardProduct(z(t), h(t - 1))"],
                 id="product_of_two_vectors"),
    pytest.param(transposed_weight_alone, TRANSPOSED_HINT, id="transposed_weight_alone"),
    pytest.param(transposed_weight_in_sum, TRANSPOSED_HINT, id="transposed_weight_in_sum"),
    pytest.param(symbolic_shape_without_dims, ["'x'", "uses n", "Cell('vec', dims=(n,))"],
                 id="symbolic_shape_without_dims"),
    pytest.param(input_at_a_lag, ["h(t) reads the input x at t - 1", "cell.state('x_in')",
                                  "cell.let('x_in', x(t))", "x_in(t - 1)"],
                 id="input_at_a_lag"),
    pytest.param(reads_the_future, ["h(t)", "reads the future", "h(t + 1)"],
                 id="reads_the_future"),
    pytest.param(algebraic_loop, ["a, b", "algebraic loop", "t - 1"], id="algebraic_loop"),
    pytest.param(undefined_function, ["cell 'opaque'", "f(", "(sigma, tanh, exp, log"],
                 id="undefined_function"),
]


@pytest.mark.parametrize("build, fragments", REFUSALS)
def test_cell_is_refused_naming_the_equation_and_the_fix(build, fragments):
    with pytest.raises(DeriveError) as refused:
        build()
    message = str(refused.value)
    missing = [f for f in fragments if f not in message]
    assert not missing, (missing, message)


def test_cell_without_output_is_refused_by_validate():
    with pytest.raises(DeriveError, match="no output"):
        scalar_tanh_rnn(output=False).validate()


def test_cell_with_no_input_has_right_gradients():
    model = derive.recurrent_model(autonomous_cell())
    shapes = {"params": {"w": ()}, "initial": {"h": ()}, "upstream": {"h": ()}}
    inst = draw(shapes, 1)
    inst["params"]["w"] = np.asarray(1.3)  # a contraction would make the gradients tiny
    assert_matches_reference(model, np_autonomous, inst)
    assert not failed(model.checks())


def test_input_carried_in_a_state_gives_right_gradients():
    model = derive.recurrent_model(carried_input_cell())
    shapes = {"params": {"w": (), "u": ()}, "inputs": {"x": ()},
              "initial": {"h": (), "x_in": ()}, "upstream": {"h": ()}}
    ours = assert_matches_reference(model, np_carried_input, draw(shapes, 1))
    assert np.all(ours["inputs"]["x"][-1] == 0)  # x(T) is read by no output's step
    assert np.all(ours["initial"]["x_in"] != 0)
    assert not failed(model.checks())


def test_unused_weight_is_named_not_refused():
    cell = scalar_tanh_rnn()
    cell.param("v")
    model = derive.recurrent_model(cell)
    assert model.cell.unused_weights == ["v"]
    assert "note: no equation reads the weight v; its gradient is 0" in model.show()
    inst = model.random_instance(seed=0, steps=3)
    assert model.bptt(inst["params"], inst["inputs"], inst["upstream"],
                      inst["initial"]).grads["v"] == 0
    checks = model.checks()
    assert not failed(checks)
    assert any("gradient 0: v" in c.detail for c in checks)


# --- 6. float literals -------------------------------------------------------------------------


z = sp.Symbol("z")


@pytest.mark.parametrize("difference", [
    0.5 * sp.exp(0.5 * z) - sp.exp(z / 2) / 2,
    0.5 * sigma(z) - sigma(z) / 2,
    0.75 * sp.tanh(0.25 * z) - 3 * sp.tanh(z / 4) / 4,
], ids=["exp", "sigma", "tanh"])
def test_exactly_zero_reads_float_literals_as_exact(difference):
    assert exactly_zero(difference)
    assert not exactly_zero(difference + sp.exp(z / 2) / 1000)


def test_vector_cell_with_float_literal_passes_every_check():
    cell = Cell("halves", dims=(n, m))
    t = cell.t
    x, h = cell.input("x", (n, 1)), cell.state("h", (m, 1))
    W, U = cell.param("W", (m, n)), cell.param("U", (m, m))
    cell.let("h", 0.5 * h(t - 1) + 0.5 * elementwise(sp.tanh, W * x(t) + 0.5 * (U * h(t - 1))))
    cell.output("h")
    checks = model_of(cell, DIMS).checks()
    assert any(c.name.startswith("elementwise") for c in checks)
    assert not failed(checks)


def test_cell_with_non_dyadic_float_literals_passes_every_check():
    # a literal means its decimal (0.3 is 3/10), so the derivation folds nothing in binary
    cell = Cell("tenths")
    t = cell.t
    x, h = cell.input("x"), cell.state("h")
    w, u = cell.params("w u")
    cell.let("h", 0.3 * sp.tanh(0.1 * w * x(t) + 0.7 * u * h(t - 1)) ** 3)
    cell.output("h")
    assert not failed(model_of(cell).checks())


# --- 7. the command line reads cell files -------------------------------------------------------


CELL_FILE = textwrap.dedent("""\
    import sympy as sp
    from derive import Cell


    def build(name="tiny"):
        cell = Cell(name)
        t = cell.t
        x, h = cell.input("x"), cell.state("h")
        w, u = cell.params("w u")
        cell.let("h", sp.tanh(w * x(t) + u * h(t - 1)))
        cell.output("h")
        return cell


    cell = build()


    def other():
        return build("other_cell")


    number = 3
""")


@pytest.fixture
def cell_file(tmp_path):
    path = tmp_path / "my_cell.py"
    path.write_text(CELL_FILE)
    return path


def run_cli(capsys, *argv):
    from derive.cli import main

    status = main([str(a) for a in argv])
    out, err = capsys.readouterr()
    return status, out, err


def test_cli_shows_checks_and_grads_a_cell_file(cell_file, capsys):
    status, out, _ = run_cli(capsys, "show", cell_file)
    assert status == 0 and out.startswith("tiny:") and "bar_h(t) = " in out
    status, out, _ = run_cli(capsys, "check", cell_file)
    assert status == 0 and re.search(r"\b[1-9]\d* passed, 0 failed", out), out
    status, out, _ = run_cli(capsys, "grad", cell_file, "--T", "2")
    assert status == 0
    grad = json.loads(out)
    assert set(grad) == {"model", "dims", "params", "inputs", "initial", "upstream", "outputs",
                         "grads"}
    assert grad["model"] == "tiny" and grad["dims"]["T"] == 2 and len(grad["inputs"]["x"]) == 2


def test_cli_selects_a_cell_by_name(cell_file, capsys):
    status, out, _ = run_cli(capsys, "show", f"{cell_file}:other")
    assert status == 0 and out.startswith("other_cell:")


@pytest.mark.parametrize("spec, fragment", [
    ("{dir}/missing.py", "no such file"),
    ("{dir}/raises.py", "RuntimeError: boom"),
    ("{dir}/my_cell.py:nothing", "'nothing'"),
    ("{dir}/my_cell.py:number", "not a Cell"),
], ids=["missing_file", "raises_at_import", "missing_name", "not_a_cell"])
def test_cli_reports_a_bad_cell_file_in_one_line(cell_file, capsys, spec, fragment):
    (cell_file.parent / "raises.py").write_text("raise RuntimeError('boom')\n")
    status, out, err = run_cli(capsys, "show", spec.format(dir=cell_file.parent))
    assert status == 2 and out == ""
    assert err.startswith("derive: error:") and err.count("\n") == 1, err
    assert "Traceback" not in err and fragment in err, err


# --- 8. every returned gradient entry is compared -----------------------------------------------


COVERAGE = [
    pytest.param(gru_cell, {"n": 3, "m": 4}, id="gru_bias"),
    pytest.param(gain_cell, {"n": 3, "m": 4}, id="scalar_weight_in_vector_cell"),
    pytest.param(lags_2_3_cell, None, id="lags_2_3"),
    pytest.param(autonomous_cell, None, id="no_input"),
    pytest.param(carried_input_cell, None, id="two_states"),
]


def entry_count(value) -> int:
    return int(np.size(value)) if not isinstance(value, dict) else \
        sum(entry_count(v) for v in value.values())


@pytest.mark.parametrize("build, dims", COVERAGE)
def test_perturbation_checks_compare_every_gradient_entry(build, dims):
    cell = build()
    model = model_of(cell, dims)
    sizes = {sp.Symbol(k, integer=True, positive=True): v for k, v in (dims or {}).items()}

    def size(shape) -> int:
        return 1 if shape is None else math.prod(int(sp.sympify(s).xreplace(sizes))
                                                 for s in shape)

    expected = (sum(size(getattr(w, "shape", None)) for w in cell.parameters.values())
                + STEPS * sum(size(s.shape) for s in cell.inputs)
                + cell.max_lag * sum(size(s.shape) for s in cell.states))
    checks = perturbation_checks(model, steps=STEPS, dims=dims)
    assert len(checks) == 2 and not failed(checks)
    for check in checks:
        counted = re.match(r"([\d,]+) gradient entr", check.detail)
        assert counted and int(counted.group(1).replace(",", "")) == expected, check.detail
    returned = model.grad_instance(seed=0, T=STEPS, dims=dims)["grads"]
    assert entry_count(returned) == expected


def test_an_elementwise_power_is_differentiated_and_checked():
    # a primitive added as one block in derive/core/primitives.py: its VJP, JVP and lowering
    def squares():
        cell = Cell("squares", dims=(n, m))
        t = cell.t
        x, h = cell.input("x", (n, 1)), cell.state("h", (m, 1))
        W, U = cell.param("W", (m, n)), cell.param("U", (m, m))
        z = cell.let("z", elementwise(sp.tanh, W * x(t) + U * h(t - 1)))
        cell.let("h", sp.HadamardPower(z(t), 3) + sp.HadamardProduct(z(t), h(t - 1)))
        cell.output("h")
        return cell

    model = derive.recurrent_model(squares, dims={"n": 2, "m": 3})
    checks = model.checks()
    assert all(c.passed for c in checks), [c for c in checks if not c.passed]
    assert "HadamardPower" in str(model.adjoints["z"].rhs)
