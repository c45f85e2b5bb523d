"""derive.testing: a hand-written NumPy GRU BPTT checked against the derived one, bugs caught."""

import numpy as np
import pytest
import sympy as sp

import derive
from derive import Cell, elementwise, recurrent_model, sigma
from derive.testing import Mismatch, assert_bptt_matches, compare_bptt, reference_gradients

DIMS = {"n": 3, "m": 4}
T, BATCH = 4, 2
GATES = ("z", "r", "g")
PARAMS = [f"{kind}_{gate}" for gate in GATES for kind in ("W", "U", "b")]


# --- the cell, through the public API ---------------------------------------------------------


def gru_cell() -> Cell:
    n, m = sp.symbols("n m", integer=True, positive=True)
    cell = Cell("gru_bias", dims=(n, m))
    t = cell.t
    x, h = cell.input("x", (n, 1)), cell.state("h", (m, 1))

    def affine(gate, state):
        W, U = cell.param(f"W_{gate}", (m, n)), cell.param(f"U_{gate}", (m, m))
        return W * x(t) + U * state + cell.param(f"b_{gate}", (m, 1))

    z = cell.let("z", elementwise(sigma, affine("z", h(t - 1))))
    r = cell.let("r", elementwise(sigma, affine("r", h(t - 1))))
    g = cell.let("g", elementwise(sp.tanh, affine("g", sp.HadamardProduct(r(t), h(t - 1)))))
    one = sp.OneMatrix(m, 1)
    cell.let("h", sp.HadamardProduct(one - z(t), h(t - 1)) + sp.HadamardProduct(z(t), g(t)))
    cell.output("h")
    return cell


@pytest.fixture(scope="module")
def model():
    return recurrent_model(gru_cell, dims=DIMS)


# --- the same GRU's BPTT, written by hand -----------------------------------------------------
# Vectors are batches of rows (B, size): W x is x @ W.T and a bias (m, 1) is b[:, 0].
# The loss is sum_t sum(upstream[t] * h(t)); weight gradients are summed over the batch.


def sig(a):
    return 1 / (1 + np.exp(-a))


def make_backward(bug: str | None = None):
    """The hand-written GRU BPTT, or the same with one planted error: ``"reset_sign"``
    (a flipped sign in the reset-gate path), ``"bias_gate"`` (db_r from the update gate's
    pre-activation) or ``"no_carry"`` (dh(t-1) without the ``(1 - z) * dh(t)`` term)."""

    def backward(params, inputs, upstream, initial):
        p, xs, dys = params, inputs["x"], upstream["h"]
        steps = xs.shape[0]
        hs, zs, rs, gs = [initial["h"]], [], [], []
        for t in range(steps):  # forward, keeping every gate
            x, h = xs[t], hs[-1]
            z = sig(x @ p["W_z"].T + h @ p["U_z"].T + p["b_z"][:, 0])
            r = sig(x @ p["W_r"].T + h @ p["U_r"].T + p["b_r"][:, 0])
            g = np.tanh(x @ p["W_g"].T + (r * h) @ p["U_g"].T + p["b_g"][:, 0])
            zs.append(z)
            rs.append(r)
            gs.append(g)
            hs.append((1 - z) * h + z * g)

        grads = {name: np.zeros_like(p[name]) for name in PARAMS}
        dxs = np.zeros_like(xs)
        dh_next = np.zeros_like(initial["h"])
        for t in reversed(range(steps)):  # t = T, ..., 1 (0-based here)
            x, h_prev, z, r, g = xs[t], hs[t], zs[t], rs[t], gs[t]
            dh = dys[t] + dh_next
            dz = dh * (g - h_prev)
            dg = dh * z
            dh_prev = np.zeros_like(dh) if bug == "no_carry" else dh * (1 - z)

            da_g = dg * (1 - g**2)
            d_rh = da_g @ p["U_g"]  # gradient of r * h(t-1)
            dr = d_rh * h_prev
            if bug == "reset_sign":
                dr = -dr
            dh_prev += d_rh * r
            da_r = dr * r * (1 - r)
            da_z = dz * z * (1 - z)

            for gate, da, state in (("z", da_z, h_prev), ("r", da_r, h_prev),
                                    ("g", da_g, r * h_prev)):
                grads[f"W_{gate}"] += da.T @ x
                grads[f"U_{gate}"] += da.T @ state
                bias_from = da_z if (bug == "bias_gate" and gate == "r") else da
                grads[f"b_{gate}"] += bias_from.sum(axis=0)[:, None]
            dh_prev += da_z @ p["U_z"] + da_r @ p["U_r"]
            dxs[t] = da_z @ p["W_z"] + da_r @ p["W_r"] + da_g @ p["W_g"]
            dh_next = dh_prev

        return {"params": grads, "inputs": {"x": dxs}, "initial": {"h": dh_next}}

    return backward


def only(backward, group: str, name: str | None = None):
    """``backward`` returning one group (or one array of it) only."""

    def partial(params, inputs, upstream, initial):
        result = backward(params, inputs, upstream, initial)[group]
        return {group: result if name is None else {name: result[name]}}

    return partial


def wrong_arrays(model, backward) -> set[str]:
    """Every array on which ``backward`` differs from the derived gradients."""
    names = [("params", w) for w in PARAMS] + [("inputs", "x"), ("initial", "h")]
    return {f"{group}[{name!r}]" for group, name in names
            if compare_bptt(model, only(backward, group, name), T=T, batch=BATCH) is not None}


# --- (a) the correct hand-written BPTT passes ---------------------------------------------------


def test_reference_gradients_shapes(model):
    inst, grads = reference_gradients(model, T=T, batch=BATCH)
    assert set(grads["params"]) == set(PARAMS)
    for name in PARAMS:
        assert grads["params"][name].shape == inst["params"][name].shape
    assert grads["inputs"]["x"].shape == (T, BATCH, DIMS["n"])
    assert grads["initial"]["h"].shape == (BATCH, DIMS["m"])


@pytest.mark.parametrize("seed", [0, 1, 7])
def test_correct_backward_matches(model, seed):
    backward = make_backward()
    assert compare_bptt(model, backward, seed=seed, T=T, batch=BATCH) is None
    assert_bptt_matches(model, backward, seed=seed, T=T, batch=BATCH)


def test_correct_backward_matches_with_defaults(model):
    assert_bptt_matches(model, make_backward())


def test_backward_may_scribble_on_its_arguments(model):
    def scribbling(params, inputs, upstream, initial):
        result = make_backward()(params, inputs, upstream, initial)
        for table in (params, inputs, upstream, initial):
            for value in table.values():
                value[...] = 0.0
        return result

    assert compare_bptt(model, scribbling, T=T, batch=BATCH) is None
    assert compare_bptt(model, make_backward(), T=T, batch=BATCH) is None


# --- (b) planted errors are caught and located --------------------------------------------------

ALL = {f"params[{w!r}]" for w in PARAMS} | {"inputs['x']", "initial['h']"}
BUGS = {
    # dr at the last step is wrong, and through dh(t-1) every earlier gradient of every
    # array; params come first and W_z first among them
    "reset_sign": ("params['W_z'][", ALL),
    # only the bias of the reset gate
    "bias_gate": ("params['b_r'][", {"params['b_r']"}),
    # the last step is right, every earlier one misses part of dh(t): all arrays differ
    "no_carry": ("params['W_z'][", ALL),
}


@pytest.mark.parametrize("bug", sorted(BUGS))
def test_planted_error_is_caught(model, bug):
    first, wrong = BUGS[bug]
    backward = make_backward(bug)
    mismatch = compare_bptt(model, backward, T=T, batch=BATCH)
    assert isinstance(mismatch, Mismatch)
    assert mismatch.where.startswith(first), mismatch
    assert mismatch.error > 1e-6
    assert mismatch.theirs != pytest.approx(mismatch.derived, abs=1e-9)
    assert mismatch.where in str(mismatch)
    with pytest.raises(AssertionError) as caught:
        assert_bptt_matches(model, backward, T=T, batch=BATCH)
    assert str(mismatch) in str(caught.value)
    assert "gru_bias" in str(caught.value)
    assert wrong_arrays(model, backward) == wrong


def test_bias_error_is_named_exactly(model):
    mismatch = compare_bptt(model, make_backward("bias_gate"), T=T, batch=BATCH)
    assert mismatch.where == "params['b_r'][0, 0]"


def test_reset_sign_reaches_the_last_input(model):
    # the last step's dx(T) already goes through the reset gate; without the carry it is right
    def last_input(bug):
        def backward(params, inputs, upstream, initial):
            dx = make_backward(bug)(params, inputs, upstream, initial)["inputs"]["x"]
            ref = reference_gradients(model, T=T, batch=BATCH)[1]["inputs"]["x"]
            return {"inputs": {"x": np.concatenate([ref[:-1], dx[-1:]])}}

        return compare_bptt(model, backward, T=T, batch=BATCH)

    assert last_input("reset_sign").where.startswith(f"inputs['x'][{T - 1}, ")
    assert last_input("no_carry") is None


def test_no_carry_first_input_mismatch(model):
    mismatch = compare_bptt(model, only(make_backward("no_carry"), "inputs"), T=T, batch=BATCH)
    assert mismatch.where == "inputs['x'][0, 0, 0]"
    mismatch = compare_bptt(model, only(make_backward("no_carry"), "initial"), T=T, batch=BATCH)
    assert mismatch.where == "initial['h'][0, 0]"


def test_nan_counts_as_a_difference(model):
    def nan_backward(params, inputs, upstream, initial):
        result = make_backward()(params, inputs, upstream, initial)
        result["params"]["U_g"][2, 1] = np.nan
        return result

    mismatch = compare_bptt(model, nan_backward, T=T, batch=BATCH)
    assert mismatch.where == "params['U_g'][2, 1]"
    assert np.isnan(mismatch.theirs)


# --- (c) bad usage is a DeriveError ---------------------------------------------------------------


def returning(value):
    def backward(params, inputs, upstream, initial):
        return value(make_backward()(params, inputs, upstream, initial))

    return backward


@pytest.mark.parametrize("value, message", [
    (lambda r: [r["params"][w] for w in PARAMS], "must return a dict"),
    (lambda r: None, "must return a dict"),
    (lambda r: {}, "must return a dict"),
    (lambda r: {"grads": r["params"]}, "must return a dict"),
    (lambda r: {**r, "outputs": {}}, "unknown group 'outputs'"),
    (lambda r: {"params": {**r["params"], "W_q": r["params"]["W_z"]}}, "'W_q'"),
    (lambda r: {"inputs": {"y": r["inputs"]["x"]}}, "'y'"),
    (lambda r: {"initial": {"c": r["initial"]["h"]}}, "'c'"),
    (lambda r: {"params": {"b_r": r["params"]["b_r"][:, 0]}}, "shape"),
    (lambda r: {"params": {"W_z": r["params"]["W_z"].T}}, "shape"),
    (lambda r: {"inputs": {"x": r["inputs"]["x"][:-1]}}, "shape"),
    (lambda r: {"initial": {"h": r["initial"]["h"][None]}}, "shape"),
])
def test_bad_usage_raises(model, value, message):
    with pytest.raises(derive.DeriveError, match=message):
        compare_bptt(model, returning(value), T=T, batch=BATCH)
    with pytest.raises(derive.DeriveError, match=message):
        assert_bptt_matches(model, returning(value), T=T, batch=BATCH)


def test_unknown_weight_message_lists_the_weights(model):
    def backward(params, inputs, upstream, initial):
        return {"params": {"W_q": np.zeros((4, 3))}}

    with pytest.raises(derive.DeriveError) as caught:
        compare_bptt(model, backward, T=T, batch=BATCH)
    assert "params['W_q']" in str(caught.value)
    assert "'U_z'" in str(caught.value)


# --- (d) partial results ------------------------------------------------------------------------


def test_only_params_are_compared(model):
    correct = only(make_backward(), "params")
    assert compare_bptt(model, correct, T=T, batch=BATCH) is None
    assert_bptt_matches(model, correct, T=T, batch=BATCH)

    def empty_groups(params, inputs, upstream, initial):  # empty groups compare nothing
        result = make_backward()(params, inputs, upstream, initial)
        return {"params": result["params"], "inputs": {}, "initial": None}

    assert compare_bptt(model, empty_groups, T=T, batch=BATCH) is None
    mismatch = compare_bptt(model, only(make_backward("bias_gate"), "params"), T=T, batch=BATCH)
    assert mismatch.where == "params['b_r'][0, 0]"


def test_some_params_only(model):
    subset = {"U_r", "b_g"}

    def backward(params, inputs, upstream, initial):
        grads = make_backward("bias_gate")(params, inputs, upstream, initial)["params"]
        return {"params": {w: grads[w] for w in subset}}  # b_r, the wrong one, left out

    assert compare_bptt(model, backward, T=T, batch=BATCH) is None


def test_only_inputs_and_initial(model):
    def backward(params, inputs, upstream, initial):
        result = make_backward("bias_gate")(params, inputs, upstream, initial)
        return {"inputs": result["inputs"], "initial": result["initial"]}

    assert compare_bptt(model, backward, T=T, batch=BATCH) is None
