"""A ``bptt`` part: a recurrent cell written as text, answered by the recurrent engine.

Asks: ``forward``, ``bptt`` (the bar of every quantity), ``weight_gradients``, ``jacobian``
(``∂h(t)/∂h(t-k)`` for a cell with one state), ``dimensions`` and ``gradient_flow`` (how
``∂h(T)/∂h(T-d)`` shrinks or grows with ``d``, measured at two weight scales).
"""

from __future__ import annotations

import json

import numpy as np
import sympy as sp
from sympy.matrices.expressions.matexpr import MatrixExpr

from derive.answers import Answer
from derive.calculus.jacobian import matrix_jacobian
from derive.checks.check import Check, relative_error
from derive.checks.jacobian import jacobian_check
from derive.core.cell import T, t
from derive.core.errors import DeriveError
from derive.printing.latex import align, latex
from derive.printing.tex import latex_escape, latex_number
from derive.problemset.equations import build_cell
from derive.problemset.spec import Part, check_keys
from derive.recurrent.model import RecurrentModel
from derive.recurrent.usercell import recurrent_model

ASKS = {
    "forward": "the forward equations",
    "bptt": "the BPTT equation of every bar",
    "weight_gradients": "the gradient of every weight",
    "jacobian": "the Jacobian of the state across k steps",
    "dimensions": "the dimensions of every quantity",
    "gradient_flow": "vanishing and exploding gradients, demonstrated",
}
KEYS = {"dims", "inputs", "states", "params", "equations", "output", "flow"}
FLOW_DEFAULTS = {"steps": 20, "scales": [0.5, 3.0], "seed": 0}
CENTRAL_STEP, CENTRAL_TOLERANCE = 1e-6, 1e-6


# Parts that state the same cell share one model, so its checks run once per set.
_MODELS: dict[str, RecurrentModel] = {}


def validate(part: Part) -> tuple[RecurrentModel, dict]:
    """The part's model (its cell validated) and its gradient-flow settings."""
    check_keys(part, KEYS, {"inputs", "states", "equations", "output"}, ASKS)
    cell, decl = build_cell(part)
    key = json.dumps({k: v for k, v in part.fields.items() if k != "flow"}, sort_keys=True,
                     default=str)
    if key in _MODELS:
        model = _MODELS[key]
    else:
        try:
            model = recurrent_model(cell, summary=f"part {part.id}", dims=decl.dims)
        except DeriveError as exc:
            raise part.fail(str(exc), "correct the equations", "equations") from None
        _MODELS[key] = model
    if "jacobian" in part.ask and len(cell.states) != 1:
        raise part.fail(f"the cell has the states {', '.join(s.name for s in cell.states)}: "
                        "the Jacobian of one of them across steps runs through all",
                        "ask for the jacobian of a cell with one state", "ask", "jacobian")
    flow = dict(FLOW_DEFAULTS)
    raw = part.fields.get("flow", {})
    if not isinstance(raw, dict) or set(raw) - set(FLOW_DEFAULTS):
        raise part.fail("flow must be a table of steps, scales, seed",
                        "write flow = { steps = 20, scales = [0.5, 3.0] }", "flow")
    flow.update(raw)
    steps, scales = flow["steps"], flow["scales"]
    if isinstance(steps, bool) or not isinstance(steps, int) or not 2 <= steps <= 200 or \
            not isinstance(scales, list) or not scales or not all(
                isinstance(s, int | float) and not isinstance(s, bool) and 0 < s <= 100
                for s in scales):
        raise part.fail(f"flow = {raw!r} is not usable", "steps between 2 and 200, scales "
                        "a list of positive numbers up to 100", "flow")
    return model, flow


def _notation(notation: dict[str, str]):
    steps = sp.Symbol(notation["steps"], integer=True, positive=True)

    def tex(expr: sp.Basic) -> str:
        out = latex(expr.xreplace({T: steps}) if isinstance(expr, sp.Basic) else expr)
        return out.replace(r"\partial L_{", rf"\partial {notation['loss']}_{{")

    def eqs(equations) -> str:
        rows = [sp.Eq(e.lhs, e.rhs.xreplace({T: steps}), evaluate=False) for e in equations]
        body = align(rows)
        return body.replace(r"\partial L_{", rf"\partial {notation['loss']}_{{")

    return tex, eqs


def _shape_tex(shape) -> str:
    if shape is None:
        return r"\mathbb{R}"
    rows, cols = (latex(d) for d in shape)
    return rf"\mathbb{{R}}^{{{rows}}}" if cols == "1" else rf"\mathbb{{R}}^{{{rows}\times {cols}}}"


def _shape_check(model: RecurrentModel, declared=None) -> Check:
    """Every value, bar and weight gradient of a run of the compiled steps has the declared
    shape (``declared(name, sizes)``, the cell's own by default), at every checked size."""
    declared = declared or model.shape_of
    seen, ok = [], True
    for dims in model.check_dims:
        concrete = model.dims_for(dims)
        inst = model.random_instance(0, 2, dims)
        result = model.bptt(inst["params"], inst["inputs"], inst["upstream"], inst["initial"],
                            dims)
        for s in model.cell.signals.values():
            want = declared(s.name, concrete)
            got = tuple(np.shape(result.values[s.name][1]))[1:] if s.kind != "input" else \
                tuple(np.shape(inst["inputs"][s.name]))[2:]
            ok &= got[:1] == want[:1]
            bar = tuple(np.shape(result.bars[s.name][1]))[1:]
            ok &= bar[:1] == want[:1]
        for w in model.cell.parameters:
            ok &= tuple(np.shape(result.grads[w])) == declared(w, concrete)
        seen.append(", ".join(f"{k}={v}" for k, v in dims.items()) or "scalars")
    return Check.exact("shapes of every value, bar and weight gradient",
                       "arrays of a run of backpropagation through time", ok,
                       "at " + "; ".join(seen))


def _flow(model: RecurrentModel, state: str, dims: dict, steps: int, scale: float, seed: int
          ) -> tuple[list[float], np.ndarray, np.ndarray, dict]:
    """``||∂state(T)/∂state(T-d)||`` for ``d = 0..T`` from the BPTT bars (one batch element
    per entry of ``state(T)``), and the full ``∂state(T)/∂state(0)``."""
    cell = model.cell
    concrete = model.dims_for(dims)
    rng = np.random.default_rng(seed)
    params = {}
    for name in cell.parameters:
        shape = model.shape_of(name, concrete)
        fan_in = shape[1] if len(shape) == 2 else 1
        params[name] = scale * rng.standard_normal(shape) / np.sqrt(fan_in)
    size = (model.shape_of(state, concrete) or (1,))[0]
    vector = cell.signals[state].is_matrix
    inputs = {}
    for s in cell.inputs:
        entries = model.shape_of(s.name, concrete)
        one = rng.standard_normal((steps, 1, *entries))
        inputs[s.name] = np.repeat(one, size, axis=1)
    initial = {}
    for s in cell.states:
        entries = model.shape_of(s.name, concrete)
        one = 0.5 * rng.standard_normal((1, *entries))
        initial[s.name] = np.repeat(one, size, axis=0)
    upstream = {}
    for out in cell.outputs:
        upstream[out] = np.zeros((steps, size, *model.shape_of(out, concrete)))
    if state not in cell.outputs:
        raise DeriveError(f"gradient_flow: {state} is not an output")
    for j in range(size):
        if vector:
            upstream[state][-1, j, j] = 1.0
        else:
            upstream[state][-1, j] = 1.0
    result = model.bptt(params, inputs, upstream, initial, dims)
    norms, first = [], None
    for d in range(steps + 1):
        bar = np.asarray(result.bars[state][steps - d]).real
        grid = bar[:, :, 0] if vector else bar.reshape(size, 1)
        norms.append(float(np.linalg.norm(grid, 2)))
        first = grid
    return norms, first, params, {"inputs": inputs, "initial": initial}


def _flow_check(model: RecurrentModel, state: str, dims: dict, steps: int, scale: float,
                seed: int, gradient: np.ndarray, params: dict, run: dict) -> Check:
    """``∂state(T)/∂state(0)`` from the bars against central differences of the forward."""
    cell = model.cell
    vector = cell.signals[state].is_matrix
    size = gradient.shape[0]
    inputs = {k: v[:, :1] for k, v in run["inputs"].items()}
    start = {k: v[:1] for k, v in run["initial"].items()}
    numeric = np.zeros_like(gradient)
    for i in range(size):
        values = []
        for sign in (1, -1):
            moved = {k: v.copy() for k, v in start.items()}
            if vector:
                moved[state][0, i] += sign * CENTRAL_STEP
            else:
                moved[state][0] += sign * CENTRAL_STEP
            out = model.forward(params, inputs, moved, dims)[state][-1, 0]
            values.append(np.atleast_1d(out))
        numeric[:, i] = (values[0] - values[1]) / (2 * CENTRAL_STEP)
    error = relative_error(gradient, numeric)
    return Check(f"∂{state}({steps})/∂{state}(0) at weight scale {scale:g}",
                 "central differences of the forward steps", error, CENTRAL_TOLERANCE,
                 f"{size * size} entries")


def _rate(norms: list[float]) -> float:
    """The mean factor per step from ``d = 1`` to ``d = T`` (geometric); 0 when the gradient
    reaches exactly zero on the way (closed gates, or an underflow): it has vanished."""
    tail = norms[1:]
    if min(tail) == 0:
        return 0.0
    return float(np.exp((np.log(tail[-1]) - np.log(tail[0])) / (len(tail) - 1)))


def answer(part: Part, notation: dict[str, str], pid: str) -> Answer:
    model, flow = validate(part)
    cell = model.cell
    tex, eqs = _notation(notation)
    body: list[str] = []
    results: dict[str, object] = {}
    checks: list[Check] = []
    state = cell.states[0].name if cell.states else cell.outputs[0]
    figures: dict[str, str] = {}
    derivative_asks = {"bptt", "weight_gradients", "jacobian", "gradient_flow"}
    if "forward" in part.ask or derivative_asks & set(part.ask):
        body += [r"\paragraph{Forward.} The cell computes, at every step $t$:",
                 eqs(model.equations.values())]
        results["forward"] = {n: e.rhs for n, e in model.equations.items()}
    if "dimensions" in part.ask:
        rows = []
        for s in cell.signals.values():
            rows.append((tex(s(t)), _shape_tex(s.shape)))
        for w in cell.parameters.values():
            rows.append((tex(w), _shape_tex(w.shape if isinstance(w, MatrixExpr) else None)))
        h = cell.signals[state]
        rows.append((rf"\partial {tex(h(t))} / \partial {tex(h(t - 1))}",
                     _shape_tex((h.shape[0], h.shape[0]) if h.is_matrix else None)))
        body.append(r"\paragraph{Dimensions.} Every bar has the shape of its quantity "
                    r"($\overline{v}$ and $v$ alike); a Jacobian $\partial a/\partial b$ has "
                    r"the rows of $a$ and the columns of $b$.")
        body.append(r"\begin{center}\begin{tabular}{ll}\toprule quantity & space \\ \midrule "
                    + " ".join(f"${q}$ & ${s}$ \\\\" for q, s in rows)
                    + r" \bottomrule\end{tabular}\end{center}")
        checks.append(_shape_check(model))
        results["dimensions"] = {s.name: list(s.shape) if s.shape else [] for s in
                                 cell.signals.values()}
        results["dimensions"].update({n: list(w.shape) if isinstance(w, MatrixExpr) else []
                                      for n, w in cell.parameters.items()})
    if "bptt" in part.ask:
        body += [r"\paragraph{Backpropagation through time.} With "
                 rf"$\overline{{v}} = \partial {notation['loss']}/\partial v$ for the loss "
                 rf"${notation['loss']} = \sum_{{t=1}}^{{{notation['steps']}}} "
                 rf"{notation['loss']}_t$ and $\overline{{v^{{({notation['steps']}+1)}}}} = 0$:",
                 eqs(model.adjoints.values())]
        results["bptt"] = {n: e.rhs for n, e in model.adjoints.items()}
    if "weight_gradients" in part.ask:
        body += [r"\paragraph{Weight gradients.} Each weight is shared by every step, so its "
                 "gradient sums the step's contributions:", eqs(model.weight_grads.values())]
        results["weight_gradients"] = {n: e.rhs for n, e in model.weight_grads.items()}
    if derivative_asks & set(part.ask):
        checks += model.checks()
    if "jacobian" in part.ask:
        k = sp.Symbol("k", integer=True, positive=True)
        one = model.jacobian(state)
        h = cell.signals[state]
        body.append(r"\paragraph{The Jacobian across $k$ steps.} By the chain rule through "
                    "the states in between,")
        body.append(rf"\[ \frac{{\partial {tex(h(t))}}}{{\partial {tex(h(t - k))}}} = "
                    rf"\prod_{{j=0}}^{{k-1}} \frac{{\partial {tex(h(t - sp.Symbol('j')))}}}"
                    rf"{{\partial {tex(h(t - sp.Symbol('j') - 1))}}}, \]")
        body.append("the product taken with the latest step on the left, where one step is")
        terms = list(one.args) if isinstance(one, sp.MatAdd | sp.Add) else [one]
        rows = [tex(term) for term in terms]
        body.append(r"\begin{align*}" + rf"\frac{{\partial {tex(h(t))}}}"
                    rf"{{\partial {tex(h(t - 1))}}} &= " + r" \\ &\quad + ".join(rows)
                    + r"." + r"\end{align*}")
        results["jacobian"] = one
        if h.is_matrix:
            sizes = [{d: 1 for d in cell.dims}, {d: 2 for d in cell.dims}]
            checks.append(jacobian_check(cell, state, state, 1,
                                         matrix_jacobian(cell, state, state, 1), sizes))
    if "gradient_flow" in part.ask:
        rows, rates = [], []
        picks = sorted({0, 1, 2, 5, 10, flow["steps"] // 2, flow["steps"]} &
                       set(range(flow["steps"] + 1)))
        for scale in flow["scales"]:
            norms, first, params, run = _flow(model, state, model.default_dims, flow["steps"],
                                              float(scale), flow["seed"])
            checks.append(_flow_check(model, state, model.default_dims, flow["steps"],
                                      float(scale), flow["seed"], first, params, run))
            rates.append(_rate(norms))
            rows.append((scale, [norms[d] for d in picks], rates[-1]))
        h = cell.signals[state]
        norm = r"\lVert\cdot\rVert_2" if h.is_matrix else r"|\cdot|"
        body.append(r"\paragraph{Vanishing and exploding gradients.} The gradient that reaches "
                    rf"${tex(h(t - sp.Symbol('k')))}$ from the loss at step $t$ is carried by "
                    rf"$\partial {tex(h(t))}/\partial {tex(h(t - sp.Symbol('k')))}$, a product "
                    rf"of $k$ one-step Jacobians, so its norm (${norm}$) is at most the product "
                    "of their norms: it shrinks geometrically when the one-step Jacobians are "
                    "contractions (norm below 1) along the way, and can grow geometrically when "
                    "they expand. Saturated gates and squashing functions make the one-step "
                    "factors small; large recurrent weights make them large.")
        sizes = ", ".join(f"${k} = {v}$" for k, v in model.default_dims.items())
        body.append(r"\emph{Demonstration.} Every weight drawn from "
                    r"$\mathcal{N}(0, s^2/\text{fan-in})$, inputs and the initial state from a "
                    f"normal law (seed {flow['seed']}{', ' + sizes if sizes else ''}), "
                    f"$T = {flow['steps']}$ steps; the norm of "
                    rf"$\partial {tex(h(T))}/\partial {tex(h(T - sp.Symbol('d')))}$ "
                    "at distance $d$, from the bars of backpropagation through time:")
        head = " & ".join(f"$d = {d}$" for d in picks)
        lines = [rf"\begin{{center}}\begin{{tabular}}{{l{'r' * len(picks)}r}}\toprule "
                 rf"scale $s$ & {head} & per step \\ \midrule"]
        for scale, values, rate in rows:
            cells = " & ".join(f"${latex_number(v, 2)}$" for v in values)
            lines.append(f"${scale:g}$ & {cells} & ${rate:.3g}$ \\\\")
        lines.append(r"\bottomrule\end{tabular}\end{center}")
        body.append("\n".join(lines))
        verdicts = []
        for scale, _, rate in rows:
            word = ("vanishes" if rate < 0.95 else "explodes" if rate > 1.05 else
                    "neither vanishes nor explodes")
            verdicts.append(f"at $s = {scale:g}$ the gradient {word} (a factor of about "
                            f"${rate:.3g}$ per step)")
        body.append("Measured: " + "; ".join(verdicts) + ".")
        results["gradient_flow"] = {str(scale): {"norms": values, "per_step": rate}
                                    for scale, values, rate in rows}
    if not body:
        raise part.fail("nothing to answer", "ask for " + ", ".join(ASKS), "ask")
    if part.title:
        results["title"] = latex_escape(part.title)
    return Answer(pid, results, "", "\n\n".join(body), checks, figures)
