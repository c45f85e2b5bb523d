"""Answers on the gated RNN of dsga1008-hw2/1.2.1 (a-d), built from ``derive.model("gated_rnn")``.

Result keys: ``1.2.1b`` ``dimension`` (a shape in the symbols ``m, n``); ``1.2.1c``
``dimension`` (of dl/dW_x), ``dh_dWx_dimension``, ``dl_dW_x`` and ``bar_h``, ``bar_c``
(formulas); ``1.2.1d`` ``jacobian`` (a formula) and ``regimes`` (measured norms).
"""

from __future__ import annotations

import functools

import numpy as np
import sympy as sp

import derive
from derive.answers import Answer, problem
from derive.cell import t
from derive.cellgraph import cell_graph, graph_check
from derive.checking import Check, relative_error
from derive.figures import pgfplot
from derive.latex import align, latex, text


def _model():
    return derive.model("gated_rnn")


def _shape_names(shape) -> list:
    return [int(d) if sp.sympify(d).is_Integer else str(d) for d in shape if d != 1]


def _numeric_shapes() -> list[Check]:
    """The kernels' arrays have the symbolic shapes at every check size."""
    model = _model()
    ok, seen = True, []
    for dims in model.check_dims:
        inst = model.random_instance(0, 2, dims)
        result = model.bptt(inst["params"], inst["inputs"], inst["upstream"], inst["initial"],
                            dims)
        c_shape = result.values["c"][1].shape[1:]
        w_shape = result.grads["W_x"].shape
        ok &= c_shape == (dims["m"], 1) and w_shape == (dims["m"], dims["n"])
        seen.append(f"n={dims['n']}, m={dims['m']}: c {c_shape}, dl/dW_x {w_shape}")
    return [Check.exact("shapes of the compiled kernels", "the symbolic dimensions", ok,
                        "; ".join(seen))]


@problem("dsga1008-hw2/1.2.1a")
def diagram(pid: str) -> Answer:
    model = _model()
    body = ("One step of the cell, drawn from its forward equations (an edge per use, labelled "
            "with the weight it passes through):\n" + align(model.equations.values()))
    return Answer(pid, {"nodes": [s.name for s in model.cell.signals.values()]},
                  "x(t) and h(t-1) feed c(t) through W_c, W_h; h(t) reads c(t), h(t-1) and "
                  "W_x x(t).", body, checks=[graph_check(model)],
                  figures={"the gated RNN, one step": cell_graph(model.cell)})


@problem("dsga1008-hw2/1.2.1b")
def gate_dimension(pid: str) -> Answer:
    model = _model()
    shape = model.cell.signals["c"].shape
    dims = _shape_names(shape)
    body = (rf"$c^{{(t)}} = \sigma(W_c x^{{(t)}} + W_h h^{{(t-1)}})$ with $W_c \in "
            rf"\mathbb{{R}}^{{m\times n}}$, $W_h \in \mathbb{{R}}^{{m\times m}}$, so "
            rf"$c^{{(t)}} \in \mathbb{{R}}^{{{latex(shape[0])}}}$: one gate per hidden unit, "
            "applied elementwise to $h^{(t-1)}$.")
    return Answer(pid, {"dimension": dims}, f"c[t] in R^{dims[0]}", body,
                  checks=_numeric_shapes())


@problem("dsga1008-hw2/1.2.1c")
def weight_gradient(pid: str) -> Answer:
    model = _model()
    adjoints = model.adjoints
    grad = model.weight_grads["W_x"]
    w_shape = _shape_names(model.cell.parameters["W_x"].shape)
    h_shape = _shape_names(model.cell.signals["h"].shape)
    body = (
        r"The loss is $l = \sum_{t=1}^{K} l_t$ with $\partial l_t/\partial h^{(t)}$ given. "
        r"$W_x$ is used at every step, so $\partial l/\partial W_x$ has the shape of $W_x$, "
        rf"${latex(w_shape[0])}\times {latex(w_shape[1])}$, and sums one outer product per "
        r"step (the per-step Jacobian $\partial h^{(t)}/\partial W_x$ alone is "
        rf"${latex(h_shape[0])}\times {latex(w_shape[0])}\times {latex(w_shape[1])}$):"
        + align([grad])
        + "with the bars from the backward recursion, run from $t = K$ down to 1 "
        r"($\overline{h^{(K+1)}} = \overline{c^{(K+1)}} = 0$):"
        + align([adjoints["h"], adjoints["c"]])
        + "\nSimilarities with the forward pass: the backward pass is the same recurrence run "
        "in reverse time. The forward pass carries $h$ forward gated elementwise by "
        r"$c^{(t)}$ ($c^{(t)} \odot h^{(t-1)}$); the backward pass carries $\overline{h}$ "
        r"backward gated by the same gate ($\overline{h^{(t+1)}} \odot c^{(t+1)}$), and "
        r"where the forward pass multiplies by $W_h$ the backward pass multiplies by "
        r"$W_h^{\top}$. Both are sequential in $t$ and cost the same order of work per step."
    )
    return Answer(
        pid,
        {"dimension": w_shape, "dh_dWx_dimension": [h_shape[0], *w_shape],
         "dl_dW_x": grad.rhs, "bar_h": adjoints["h"].rhs, "bar_c": adjoints["c"].rhs},
        f"{text(grad.lhs)} = {text(grad.rhs)}  ({w_shape[0]} x {w_shape[1]})\n"
        f"{text(adjoints['h'].lhs)} = {text(adjoints['h'].rhs)}\n"
        f"{text(adjoints['c'].lhs)} = {text(adjoints['c'].rhs)}",
        body,
        checks=[*model.checks(), *_numeric_shapes()],
    )


# --- 1.2.1d: vanishing and exploding gradients --------------------------------------------


def _sensitivity(params: dict, xs: np.ndarray) -> list[float]:
    """||dh(T)/dh(t)||_2 for t = T..0, from the kernels' BPTT (one run per unit of h(T))."""
    model = _model()
    steps, n = xs.shape
    m = params["W_h"].shape[0]
    rows = []
    for j in range(m):
        upstream = np.zeros((steps, 1, m))
        upstream[-1, 0, j] = 1.0
        result = model.bptt(params, {"x": xs[:, None, :]}, {"h": upstream},
                            {"h": np.zeros((1, m))}, dims={"n": n, "m": m})
        rows.append([result.bars["h"][s][0, :, 0] for s in range(steps, -1, -1)])
    grads = np.array(rows)
    return [float(np.linalg.norm(grads[:, k, :], 2)) for k in range(steps + 1)]


@functools.cache
def regimes(steps: int = 60, size: int = 4) -> dict[str, list[float]]:
    rng = np.random.default_rng(0)
    q, _ = np.linalg.qr(rng.standard_normal((size, size)))
    xs = 3 * rng.standard_normal((steps, size))
    eye = np.eye(size)
    return {
        # c near 0 (W_c x strongly negative): h forgets, J = diag(c) + ... is small
        "vanishing": _sensitivity({"W_c": -2 * eye, "W_h": 0.1 * q, "W_x": eye},
                                  np.abs(xs)),
        # c near 1/2 on the way, large W_h and large h(t-1) - W_x x: J can exceed 1
        "exploding": _sensitivity({"W_c": 0 * eye, "W_h": 8 * q, "W_x": 3 * eye}, xs),
    }


def _jacobian_checks(jacobian: sp.Basic) -> list[Check]:
    """The closed form against a complex-step Jacobian of one step of the kernels."""
    model = _model()
    worst = 0.0
    for dims in model.check_dims:
        inst = model.random_instance(5, 1, dims)
        p, x, h0 = inst["params"], inst["inputs"]["x"][0, 0], inst["initial"]["h"][0]
        m = dims["m"]
        numeric = np.zeros((m, m))
        for j in range(m):
            start = h0.astype(complex)
            start[j] += 1e-30j
            step = model.bptt(p, {"x": x[None, None]}, {"h": np.zeros((1, 1, m))},
                              {"h": start[None]}, dims)
            numeric[:, j] = step.values["h"][1][0, :, 0].imag / 1e-30
        c = step.values["c"][1][0].real
        sig = model.cell.signals
        env = {sig["c"](t): sp.Matrix(c), sig["h"](t - 1): sp.Matrix(h0[:, None]),
               sig["x"](t): sp.Matrix(x[:, None])}
        env.update({model.cell.parameters[k]: sp.Matrix(v) for k, v in p.items()})
        concrete = {model.dim_symbols[k]: v for k, v in dims.items()}
        closed = jacobian.xreplace(concrete).xreplace(
            {k.xreplace(concrete): v for k, v in env.items()}).as_explicit()
        worst = max(worst, relative_error(np.array(closed.tolist(), dtype=float), numeric))
    return [Check("dh(t)/dh(t-1) closed form", "complex-step Jacobian of one step",
                  worst, 1e-12, f"sizes {model.check_dims}")]


@problem("dsga1008-hw2/1.2.1d")
def vanishing_exploding(pid: str) -> Answer:
    model = _model()
    jacobian = model.jacobian("h")
    norms = regimes()
    van, exp = norms["vanishing"], norms["exploding"]
    peak = max(exp)
    steps = len(van) - 1
    body = (
        "Yes, both. Back-propagation multiplies the Jacobians of the steps, "
        r"$\partial h^{(T)}/\partial h^{(t)} = \prod_{s=t+1}^{T} \partial h^{(s)}/"
        r"\partial h^{(s-1)}$, and one step's Jacobian, derived from the forward equations, is"
        + "\\[" + rf"\frac{{\partial h^{{(t)}}}}{{\partial h^{{(t-1)}}}} = {latex(jacobian)}"
        + "\\]"
        + "The first term is the gate itself, $\\operatorname{diag}(c^{(t)})$, with entries in "
        "$(0, 1)$; the second passes through $W_h$, scaled by "
        r"$c^{(t)} \odot (1 - c^{(t)}) \le 1/4$ and by $h^{(t-1)} - W_x x^{(t)}$. "
        "When the gates are near 0 (or saturated) and $W_h$ is small, every factor has norm "
        "below 1 and the product vanishes geometrically; when $W_h$ is large and "
        "$h^{(t-1)} - W_x x^{(t)}$ is large while the gates are not saturated, the second term "
        "exceeds 1 and the product grows. The gate partly protects against explosion: a "
        "large $W_h h^{(t-1)}$ saturates $c$, and $c(1-c)$ then shuts the $W_h$ path.\n\n"
        f"Measured, $\\lVert\\partial h^{{(T)}}/\\partial h^{{(t)}}\\rVert_2$ over $T = {steps}$ "
        f"steps ($n = m = 4$): with $W_c = -2I$, $W_h = 0.1Q$ it falls to {van[-1]:.1e} at "
        f"$t = 0$; with $W_c = 0$, $W_h = 8Q$, $W_x = 3I$ ($Q$ orthogonal) it peaks at "
        f"{peak:.1f}."
    )
    figure = pgfplot({"vanishing regime": (list(range(steps, -1, -1)), van),
                      "exploding regime": (list(range(steps, -1, -1)), exp)},
                     xlabel="$t$", ylabel=r"$\|\partial h^{(T)}/\partial h^{(t)}\|_2$", logy=True)
    checks = [
        *_jacobian_checks(jacobian),
        Check("vanishing regime decays", "||dh(T)/dh(0)|| <= 1e-6", max(0.0, van[-1] - 1e-6),
              0.0, f"{van[-1]:.2e}"),
        Check("exploding regime grows", "max_t ||dh(T)/dh(t)|| >= 10", max(0.0, 10 - peak),
              0.0, f"peak {peak:.1f}"),
    ]
    return Answer(
        pid,
        {"jacobian": jacobian, "regimes": {"vanishing_final_norm": van[-1],
                                           "exploding_peak_norm": peak}},
        f"dh(t)/dh(t-1) = {text(jacobian)}; vanishing: norm {van[-1]:.1e} after {steps} steps; "
        f"exploding: peak norm {peak:.1f}.",
        body,
        checks=checks,
        figures={"sensitivity of h(T) to earlier states": figure},
    )
