"""Answers on the gated RNN of dsga1008-hw2/1.2.1 (a-d), built from the model ``gated_rnn``.

Result keys: ``1.2.1b`` ``dimension`` (a shape in the symbols ``m, n``); ``1.2.1c``
``dimension`` (of dl/dW_x), ``dh_dWx_dimension``, ``dl_dW_x`` and ``bar_h``, ``bar_c``
(formulas); ``1.2.1d`` ``jacobian`` (a formula) and ``regimes`` (measured norms).
"""

from __future__ import annotations

import dataclasses
import functools
import re

import numpy as np
import sympy as sp

from derive.answers import Answer, from_template, problem
from derive.checks.check import Check, relative_error
from derive.core.cell import t
from derive.models import get as registered_model
from derive.printing.cellgraph import graph_check, placed_cell_graph
from derive.printing.figures import pgfplot
from derive.printing.latex import align, latex


def _model():
    return registered_model("gated_rnn")


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


# h(t-1) -> h(t) along one line, c(t) below it, x(t) underneath: no edge grazes a node and the
# three edges into h(t) arrive from well-separated directions
# h(t-1) -> c (.) h(t-1) -> + -> h(t) along the top line; c's pre-activation sum and sigma on the
# middle line; x(t) underneath feeding (1 - c) (.) W_x x(t): no edge crosses another
GATED_PLACES = {("h", -1): (0.0, 0.0), ("x", 0): (0.0, -3.6), "c:plus0": (1.8, -1.8),
                "c:sigma0": (3.3, -1.8), ("c", 0): (4.8, -1.8), "h:odot0": (6.4, 0.0),
                "h:oneminus0": (6.4, -1.8), "h:odot1": (7.8, -3.2), "h:plus0": (9.0, 0.0),
                ("h", 0): (10.4, 0.0)}


@problem("dsga1008-hw2/1.2.1a")
def diagram(pid: str) -> Answer:
    model = _model()
    return from_template(pid, {"nodes": [s.name for s in model.cell.signals.values()]},
                         [graph_check(model)],
                         figures={"the gated RNN, one step": placed_cell_graph(model.cell,
                                                                                 GATED_PLACES)},
                         forward=align(model.equations.values()))


@problem("dsga1008-hw2/1.2.1b")
def gate_dimension(pid: str) -> Answer:
    shape = _model().cell.signals["c"].shape
    return from_template(pid, {"dimension": _shape_names(shape)}, _numeric_shapes(),
                         size=shape[0])



# the verification details of the model's checks, said in words (what each count counts)
_DETAIL_WORDS = (
    (re.compile(r"^(\d+) entries$"),
     "{} scalar gradients (every weight, input and h(0) entry)"),
    (re.compile(r"^(\d+) gradients$"),
     "{} gradient arrays (weights, inputs per step, h(0))"),
    (re.compile(r"^(\d+) results; (.*)$"),
     "{} formulas (bars, weight gradients); {}"),
)


def _worded(check: Check) -> Check:
    for pattern, words in _DETAIL_WORDS:
        found = pattern.match(check.detail)
        if found:
            return dataclasses.replace(check, detail=words.format(*found.groups()))
    return check


def _over_T(expr: sp.Basic) -> str:
    """LaTeX of a derived result in the set's notation: steps 1..T (the statement's K; the
    set keeps K for kernel sizes and key matrices), losses l_t."""
    return latex(expr).replace(r"\partial L_{", r"\partial l_{")


@problem("dsga1008-hw2/1.2.1c")
def weight_gradient(pid: str) -> Answer:
    model = _model()
    adjoints = model.adjoints
    grad = model.weight_grads["W_x"]
    w_dims = model.cell.parameters["W_x"].shape
    w_shape = _shape_names(w_dims)
    h_shape = _shape_names(model.cell.signals["h"].shape)

    def rows(eq: sp.Eq) -> tuple[str, str]:
        return _over_T(eq.lhs), _over_T(eq.rhs)

    return from_template(
        pid,
        {"dimension": w_shape, "dh_dWx_dimension": [h_shape[0], *w_shape],
         "dl_dW_x": grad.rhs, "bar_h": adjoints["h"].rhs, "bar_c": adjoints["c"].rhs},
        [*map(_worded, model.checks()), *_numeric_shapes()],
        w_dims=w_dims, h_dim=model.cell.signals["h"].shape[0], gradient=rows(grad),
        bar_h=rows(adjoints["h"]), bar_c=rows(adjoints["c"]))


# --- 1.2.1d: vanishing and exploding gradients --------------------------------------------


def _sensitivity(params: dict, xs: np.ndarray) -> tuple[list[float], float]:
    """||dh(T)/dh(t)||_2 for t = T..0 (so entry d is at distance d) from the kernels' BPTT,
    one run per unit of h(T); and the largest |h_i(t)| of the run."""
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
    state = max(float(np.max(np.abs(result.values["h"][s]))) for s in range(1, steps + 1))
    return [float(np.linalg.norm(grads[:, d, :], 2)) for d in range(steps + 1)], state


def swinging_inputs(W_h: np.ndarray, p: np.ndarray, steps: int) -> np.ndarray:
    """Inputs x(1..steps) (with W_c = 0, W_x = I) that drive h(0) = 0 to p, -p, p, ...

    With W_c = 0 the gate c(t) = sigma(W_h h(t-1)) does not depend on x(t), so x(t) is solved
    from h(t) = c(t) h(t-1) + (1 - c(t)) x(t) for the wanted h(t). Only the input design
    uses this; every measured number comes from the compiled kernels run on these inputs.
    """
    h, xs = np.zeros_like(p), []
    for step in range(steps):
        target = p if step % 2 == 0 else -p
        c = 1.0 / (1.0 + np.exp(-W_h @ h))
        xs.append((target - c * h) / (1.0 - c))
        h = target
    return np.array(xs)


REGIME_SIZE = 4
GATE_SWING = 1.0  # W_h p = +-1: the gates swing between sigma(-1) and sigma(1)
W_H_SCALE = 8.0


@functools.cache
def regimes(steps: int = 60, size: int = REGIME_SIZE) -> dict[str, dict]:
    """The two measured regimes: norms by distance and the largest state entry."""
    rng = np.random.default_rng(0)
    q, _ = np.linalg.qr(rng.standard_normal((size, size)))
    xs = 3 * rng.standard_normal((steps, size))
    eye = np.eye(size)
    w_h = W_H_SCALE * q
    swing = GATE_SWING * np.array([(-1.0) ** idx for idx in range(size)])
    p = np.linalg.solve(w_h, swing)
    out = {}
    # gates near 1/2 (W_c = 0, small W_h h), small W_h: J stays near diag(c), a contraction
    norms, state = _sensitivity({"W_c": 0 * eye, "W_h": 0.1 * q, "W_x": eye}, np.abs(xs))
    out["vanishing"] = {"norms": norms, "state": state}
    # W_c = 0, large W_h, inputs that keep the state swinging between p and -p
    norms, state = _sensitivity({"W_c": 0 * eye, "W_h": w_h, "W_x": eye},
                                swinging_inputs(w_h, p, steps))
    out["exploding"] = {"norms": norms, "state": state, "p": float(np.max(np.abs(p)))}
    return out


GROWTH_DISTANCES = (10, 20, 30)
GROWTH_FACTOR = 5.0


def growth_check(norms: list[float], distances=GROWTH_DISTANCES,
                 factor: float = GROWTH_FACTOR) -> Check:
    """Sustained growth: the norm at distance 2d is at least ``factor`` times the norm at
    distance d, for every d given (a transient bump that dies out fails)."""
    ratios = [norms[2 * d] / norms[d] for d in distances]
    shortfall = max(max(0.0, 1.0 - r / factor) for r in ratios)
    detail = "; ".join(f"d = {d}: ratio {r:.3g}" for d, r in zip(distances, ratios, strict=True))
    return Check("exploding regime grows with distance",
                 f"norm at distance 2d >= {factor:g} x norm at distance d", shortfall, 0.0,
                 detail, measures="shortfall")


def _sizes(dims_list: list[dict[str, int]]) -> str:
    return "; ".join(", ".join(f"{k} = {v}" for k, v in dims.items()) for dims in dims_list)


def rewritten_jacobian() -> sp.MatrixExpr:
    """diag(c(t)) (I - diag(h(t) - h(t-1)) W_h): the derived Jacobian with
    (1 - c(t)) (W_x x(t) - h(t-1)) = h(t) - h(t-1) substituted (checked numerically)."""
    model = _model()
    sig, m = model.cell.signals, model.dim_symbols["m"]
    step = sp.MatAdd(sig["h"](t), -sig["h"](t - 1))
    return sp.MatMul(sp.DiagMatrix(sig["c"](t)), sp.MatAdd(sp.Identity(m), sp.MatMul(
        -1, sp.DiagMatrix(step), model.cell.parameters["W_h"])))


def jacobian_checks(jacobian: sp.Basic, name: str = "dh(t)/dh(t-1) closed form") -> list[Check]:
    """``jacobian`` (in c(t), h(t), h(t-1), x(t) and the weights) against a complex-step
    Jacobian of one step of the kernels, at every check size."""
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
        h1 = step.values["h"][1][0].real
        sig = model.cell.signals
        env = {sig["c"](t): sp.Matrix(c), sig["h"](t - 1): sp.Matrix(h0[:, None]),
               sig["h"](t): sp.Matrix(h1), sig["x"](t): sp.Matrix(x[:, None])}
        env.update({model.cell.parameters[k]: sp.Matrix(v) for k, v in p.items()})
        concrete = {model.dim_symbols[k]: v for k, v in dims.items()}
        closed = jacobian.xreplace(concrete).xreplace(
            {k.xreplace(concrete): v for k, v in env.items()}).as_explicit()
        worst = max(worst, relative_error(np.array(closed.tolist(), dtype=float), numeric))
    return [Check(name, "complex-step Jacobian of one step", worst, 1e-12,
                  f"sizes {_sizes(model.check_dims)}")]


@problem("dsga1008-hw2/1.2.1d")
def vanishing_exploding(pid: str) -> Answer:
    model = _model()
    jacobian = model.jacobian("h")
    rewritten = rewritten_jacobian()
    runs = regimes()
    van, exp = runs["vanishing"]["norms"], runs["exploding"]["norms"]
    steps = len(van) - 1
    growth = growth_check(exp)
    rate = float(np.log(exp[-1] / exp[steps // 2]) / (steps - steps // 2))
    figure = pgfplot({"vanishing regime": (list(range(steps, -1, -1)), van),
                      "exploding regime": (list(range(steps, -1, -1)), exp)},
                     xlabel="$t$", ylabel=r"$\|\partial h^{(T)}/\partial h^{(t)}\|_2$", logy=True)
    checks = [
        *jacobian_checks(jacobian),
        *jacobian_checks(rewritten, "dh(t)/dh(t-1) rewritten through h(t) - h(t-1)"),
        Check("vanishing regime decays", "||dh(T)/dh(0)|| <= 1e-6", max(0.0, van[-1] - 1e-6),
              0.0, f"norm at t = 0: {van[-1]:.2e}", measures="excess over the bound"),
        growth,
    ]
    return from_template(
        pid,
        {"jacobian": jacobian, "jacobian_rewritten": rewritten,
         "regimes": {"vanishing_final_norm": van[-1], "exploding_final_norm": exp[-1],
                     "exploding_growth_per_step": rate,
                     "exploding_max_state": runs["exploding"]["state"]}},
        checks, figures={"sensitivity of h(T) to earlier states": figure},
        jacobian=latex(jacobian),
        rewritten=latex(rewritten).replace(r"\mathbb{I}", "I"),  # the course writes I
        steps=steps, size=REGIME_SIZE, vanishing_final=van[-1], exploding_final=exp[-1],
        w_h_scale=f"{W_H_SCALE:g}", swing=f"{GATE_SWING:g}",
        max_state=f"{runs['exploding']['state']:.2f}", rate=f"{rate:.2f}")
