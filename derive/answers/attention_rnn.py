"""Answers on AttentionRNN (dsga1008-hw2/1.2.2a-f), built from the model ``attention_rnn``.

Result keys (``derive answer ID --format json``):

- ``1.2.2a``: ``nodes``, ``edges`` (the computation graph of one step of AttentionRNN(2)).
- ``1.2.2b``: ``dimension`` (``[3]`` for AttentionRNN(2)), ``general`` (the formula ``k + 1``).
- ``1.2.2c``: ``equations`` (the system for symbolic ``k``, text, one per line, with the index
  sets), ``a`` and ``h`` (SymPy formulas over ``IndexedBase`` ``w, a, v``: ``a[i, t] =
  exp(w[i, t]) / Sum(exp(w[j, t]), (j, 0, k))``, ``h[t] = Sum(a[i, t] * v[i, t], (i, 0, k))``).
- ``1.2.2d``: ``equations`` (the tied system, text), ``a``, ``h`` (formulas with sums over the
  ``t`` entries), ``entries`` (the number of softmax entries at step ``t``: ``t``).
- ``1.2.2e``: ``jacobian`` (the closed form of dh(t)/dh(t-1), a formula in the names of
  ``derive show attention_rnn``), ``jacobian_spelled_out`` (the same with ``q_1, k_1`` written
  through ``h(t - 1)``), ``jacobian_lag2`` (dh(t)/dh(t-2)).
- ``1.2.2f``: ``bar_h`` (the recursion for symbolic ``k``, text), ``local_jacobian`` (the
  transposed lag-``i`` Jacobian at ``T + i``, a formula with symbolic ``i``),
  ``total`` (the same through the total derivatives dh[t]/dh[T], text).
"""

from __future__ import annotations

import re

import numpy as np
import sympy as sp

from derive.answers import Answer, from_template, problem
from derive.calculus.jacobian import matrix_jacobian
from derive.checks.check import Check, counted
from derive.checks.jacobian import jacobian_check
from derive.checks.recurrent import explicit_matrix, explicit_symbols, safe_name
from derive.core.cell import Cell, _name_and_time, _timed_atoms, shift, t, timed_matrix
from derive.core.primitives import SoftmaxEntry
from derive.core.zero import exactly_zero
from derive.models import get as registered_model
from derive.printing.cellgraph import graph_check, placed_cell_graph
from derive.topics.attention import (
    GROUPS,
    T,
    _at,
    _reindexed,
    _weight,
    attention_cell,
    attention_inf_cell,
    dimension_of_a,
    i,
    j,
    k,
    loss_gradient_forms,
    n,
    system_latex,
    system_lines,
)

TEMPLATE_KS = (1, 2, 3, 4)  # the concrete k the symbolic-k forms are checked against
W, A, VV = sp.IndexedBase("w"), sp.IndexedBase("a"), sp.IndexedBase("v")


def _model(kk: int):
    return registered_model("attention_rnn").model(kk)


def plain_formula(expr: sp.Expr) -> str:
    """A formula for a table's plain text: ``3 n² (k + 1)``, not ``3*n**2*(k + 1)`` (the
    report typesets a superscript digit as a power)."""
    text = sp.sstr(expr).replace("*", " ").replace("  ", "^")
    return re.sub(r"\^(\d)\b", lambda m: "⁰¹²³⁴⁵⁶⁷⁸⁹"[int(m.group(1))], text)


# --- the symbolic-k template -------------------------------------------------------------------

def _source(index, time=t, tied=False) -> sp.MatrixSymbol:
    """What entry ``index`` reads: ``x(t)`` for 0, ``h(t - index)`` otherwise."""
    if index == 0:
        return timed_matrix("x", time, (n, 1))
    return timed_matrix("h", time - index, (n, 1))


def template_projection(group: str, index, tied: bool = False) -> sp.MatrixExpr:
    """``q_i(t) = Q_i src_i`` (``k_i``: ``K_i``, ``v_i``: ``V_i``) for an integer or symbolic
    ``index``; tied: ``Q_1`` for every ``i >= 1``."""
    return sp.MatMul(_weight(group, 1 if tied and index != 0 else index), _source(index))


def _signal(base: str, prefix: str, index) -> sp.MatrixSymbol:
    shape = (1, 1) if base in ("w", "a") else (n, 1)
    return timed_matrix(_named(base, prefix, index), t, shape)


def template_score(index, prefix: str = "") -> sp.MatrixExpr:
    """``w_i(t) = q_i(t)^T k_i(t)``."""
    return sp.MatMul(sp.Transpose(_signal("q", prefix, index)), _signal("k", prefix, index))


def template_output(count: int, prefix: str = "") -> sp.MatrixExpr:
    """``h(t) = sum_i v_i(t) a_i(t)`` over ``count`` entries."""
    return sp.MatAdd(*[sp.MatMul(_signal("v", prefix, idx), _signal("a", prefix, idx))
                       for idx in range(count)])


def _reproduces(cell: Cell, count: int, tied: bool, prefix: str = "", step=None) -> list[str]:
    """Where the template, instantiated for ``count`` entries, differs from ``cell``."""
    differing = []
    for idx in range(count):
        for group in GROUPS:
            want = template_projection(group, idx, tied)
            if step is not None:
                want = _at_step(want, step)
            name = _named(group.lower(), prefix, idx)
            if cell.equation(name).rhs != want:
                differing.append(name)
        if cell.equation(_named("w", prefix, idx)).rhs != template_score(idx, prefix):
            differing.append(_named("w", prefix, idx))
    entries = [_signal("w", prefix, idx) for idx in range(count)]
    scores = [sp.Symbol(f"omega{idx}") for idx in range(count)]
    for idx in range(count):
        eq = cell.equation(_named("a", prefix, idx))
        if not isinstance(eq.rhs, SoftmaxEntry) or list(eq.rhs.scores) != entries:
            differing.append(_named("a", prefix, idx))
            continue
        # the template's exp(w_i) / sum_j exp(w_j) against the engine's node, spelled out
        node = SoftmaxEntry(idx, *[sp.ImmutableMatrix([[w]]) for w in scores]).as_explicit()
        formula = sp.exp(scores[idx]) / sp.Add(*[sp.exp(w) for w in scores])
        if not exactly_zero(node[0, 0] - formula):
            differing.append(_named("a", prefix, idx))
    name = f"h_{step}" if step is not None else "h"
    if cell.equation(name).rhs != template_output(count, prefix):
        differing.append(name)
    return differing


def _named(base: str, prefix: str, idx: int) -> str:
    return f"{base}_{prefix}_{idx}" if prefix else f"{base}_{idx}"


def _at_step(expr: sp.Basic, step: int) -> sp.Basic:
    """The tied template at step ``step`` of the unrolled cell: ``h(t - i)`` is the signal
    ``h_{step - i}(t)`` and ``x(t)`` is ``x_{step}(t)``."""
    mapping = {}
    for atom in _timed_atoms(expr):
        name, time = _name_and_time(atom)
        if name in ("h", "x"):
            lag = int(t - time)
            mapping[atom] = timed_matrix(f"{name}_{step - lag}", t, atom.shape)
    return expr.xreplace(mapping)


def _formulas(upper) -> dict[str, sp.Basic]:
    return {"a": sp.Eq(A[i, t], sp.exp(W[i, t]) / sp.Sum(sp.exp(W[j, t]), (j, 0, upper))),
            "h": sp.Eq(sp.IndexedBase("h")[t], sp.Sum(A[i, t] * VV[i, t], (i, 0, upper)))}


# --- a, b ---------------------------------------------------------------------------------------

@problem("dsga1008-hw2/1.2.2a")
def diagram(pid: str) -> Answer:
    cell = _model(2).cell
    uses = [(f"{sig.name}(t{lag:+d})" if lag else f"{sig.name}(t)", f"{eq.signal.name}(t)")
            for eq in cell.equations for sig, lag in cell.uses(eq.rhs)]
    return from_template(pid, {"nodes": sorted({a for a, _ in uses} | {b for _, b in uses}),
                               "edges": [[a, b] for a, b in uses]},
                         [graph_check(_model(2))],
                         figures={"AttentionRNN(2), one step": placed_cell_graph(
                             cell, attention_places())})


def attention_places(gap: float = 4.2, spread: float = 1.2) -> dict:
    """Node positions of the AttentionRNN(2) diagram: each source beside its own query, key
    and value, the scores feeding one softmax node, its entries in a column between the
    values' edges, and the sum into h(t) on the right."""
    places = {("h", 0): (13.0, -4.2), "softmax0": (6.6, -4.2), "h:plus0": (11.4, -4.2)}
    for idx, source in enumerate([("x", 0), ("h", -1), ("h", -2)]):
        y = -gap * idx
        places[source] = (0.0, y)
        places[(f"q_{idx}", 0)] = (2.5, y + spread)
        places[(f"k_{idx}", 0)] = (2.5, y)
        places[(f"v_{idx}", 0)] = (2.5, y - spread)
        places[(f"w_{idx}", 0)] = (4.6, y + spread / 2)
        places[(f"a_{idx}", 0)] = (8.8, (-2.0, -3.9, -5.25)[idx])
    return places


@problem("dsga1008-hw2/1.2.2b")
def attention_dimension(pid: str) -> Answer:
    count = dimension_of_a(_model(2).cell)
    checks = [Check.exact(f"entries of a(t) in AttentionRNN({kk}) = k + 1",
                          "count of softmax entries in the derived cell",
                          dimension_of_a(_model(kk).cell) == kk + 1,
                          counted(dimension_of_a(_model(kk).cell), "entry", "entries"))
              for kk in TEMPLATE_KS]
    return from_template(pid, {"dimension": [count], "general": k + 1}, checks)


# --- c, d ---------------------------------------------------------------------------------------

def _weightcounted(cell: Cell, size: int) -> int:
    return sum(int(sp.prod([sp.sympify(d).xreplace({n: size}) for d in w.shape]))
               for w in cell.parameters.values())


def weight_count_check(formula: sp.Expr, cells: dict[int, Cell], symbol) -> Check:
    """``formula`` (in ``symbol`` and ``n``) against the weights the engine's cells declare."""
    wrong = [f"{symbol}={key}, n={size}" for key, cell in cells.items() for size in (1, 2, 3)
             if _weightcounted(cell, size) != formula.subs({symbol: key, n: size})]
    return Check.exact(f"weight count {plain_formula(formula)}",
                       "entries of the cells' weight matrices",
                       not wrong, f"differing at: {'; '.join(wrong) or 'none'}")


@problem("dsga1008-hw2/1.2.2c")
def general_system(pid: str) -> Answer:
    checks = []
    for kk in TEMPLATE_KS:
        differing = _reproduces(attention_cell(kk), kk + 1, tied=False)
        checks.append(Check.exact(f"symbolic-k system at k={kk}",
                                  "the AttentionRNN(k) cell's equations",
                                  not differing, f"differing: {', '.join(differing) or 'none'}"))
    weights = 3 * n ** 2 * (k + 1)
    checks.append(weight_count_check(weights, {kk: attention_cell(kk) for kk in TEMPLATE_KS}, k))
    return from_template(pid, {"equations": "\n".join(system_lines(tied=False)), **_formulas(k),
                               "weights": weights}, checks, system=system_latex(tied=False))


@problem("dsga1008-hw2/1.2.2d")
def tied_system(pid: str) -> Answer:
    checks = []
    for steps in TEMPLATE_KS:
        cell = attention_inf_cell(steps)
        differing = []
        for step in range(1, steps + 1):
            differing += [f"step {step}: {d}" for d in
                          _reproduces(cell, step, tied=True, prefix=str(step), step=step)]
        checks.append(Check.exact(f"tied system over T={steps}",
                                  "the unrolled AttentionRNN(inf) equations",
                                  not differing, f"differing: {', '.join(differing) or 'none'}"))
    weights = 6 * n ** 2
    checks.append(weight_count_check(weights, {steps: attention_inf_cell(steps)
                                               for steps in TEMPLATE_KS}, T))
    return from_template(pid, {"equations": "\n".join(system_lines(tied=True)),
                               **_formulas(t - 1), "entries": t, "weights": weights},
                         checks, system=system_latex(tied=True))


# --- e: the Jacobian ------------------------------------------------------------------------------

def numeric_jacobian_check(kk: int, lag: int, closed: sp.MatrixExpr, size: int = 3,
                           seed: int = 0) -> Check:
    """``closed`` at a random point against complex steps through the compiled forward
    kernel, ``h(t - lag)`` perturbed."""
    model = _model(kk)
    kernels = model.kernels({"n": size})
    rng = np.random.default_rng(seed)
    env = {}
    for var in kernels.forward.inputs:
        if var.startswith("w_"):
            env[var] = 0.5 * rng.standard_normal((size, size))
        else:
            env[var] = rng.standard_normal((1, size, 1))
    base = kernels.forward(env)
    h_step = 1e-30
    perturbed = dict(env)
    target = f"h_m{lag}"
    perturbed[target] = np.repeat(env[target].astype(complex), size, axis=0)
    for col in range(size):
        perturbed[target][col, col, 0] += 1j * h_step
    numeric = (kernels.forward(perturbed)["h_0"][:, :, 0].imag / h_step).T
    # the closed form, evaluated at the same point in SymPy
    values = {}
    for atom in closed.atoms(sp.MatrixSymbol):
        name, time = _name_and_time(atom)
        if name is None:
            values[atom] = sp.ImmutableMatrix(env[f"w_{atom.name}"])
        elif int(time - t) == 0:
            values[atom] = sp.ImmutableMatrix(base[f"{name}_0"][0])
        else:
            values[atom] = sp.ImmutableMatrix(env[f"{name}_m{int(t - time)}"][0])
    for f in closed.atoms(sp.core.function.AppliedUndef):
        name, _ = _name_and_time(f)
        values[f] = sp.Float(float(base[f"{name}_0"][0, 0, 0]))
    explicit = closed.xreplace(values).xreplace({n: size}).as_explicit()
    got = np.array(explicit.tolist(), dtype=float)
    error = float(np.max(np.abs(got - numeric)) / max(1.0, np.max(np.abs(numeric))))
    return Check(f"dh(t)/dh(t-{lag}) numeric (k={kk}, n={size})",
                 "complex step through the compiled forward kernel, h = 1e-30", error, 1e-12,
                 counted(size * size, "entry", "entries"))


@problem("dsga1008-hw2/1.2.2e")
def jacobian(pid: str) -> Answer:
    model = _model(2)
    J1 = matrix_jacobian(model.cell, "h", "h", 1)
    J2 = matrix_jacobian(model.cell, "h", "h", 2)
    sizes = [{n: size} for size in (1, 2, 3)]
    cell = model.cell
    spelled = J1.xreplace({cell.signals[f"{g}_1"](t): cell.equation(f"{g}_1").rhs
                           for g in ("q", "k")})
    checks = [jacobian_check(model.cell, "h", "h", 1, J1, sizes),
              numeric_jacobian_check(2, 1, J1),
              jacobian_check(model.cell, "h", "h", 1, spelled, sizes[:2]),
              jacobian_check(model.cell, "h", "h", 2, J2, sizes),
              numeric_jacobian_check(2, 2, J2)]
    return from_template(pid, {"jacobian": J1, "jacobian_spelled_out": spelled,
                               "jacobian_lag2": J2}, checks)


# --- f: dl/dh[T] ----------------------------------------------------------------------------------

def _engine_bar_h(cell: Cell, derivation) -> sp.MatrixExpr:
    """The engine's bar h(t) with the bars of the scores and softmax entries at later steps
    replaced by their own derived equations: only bars of h remain."""
    expr = derivation.bar_rhs("h")
    for _ in range(len(cell.equations) + 1):
        mapping = {}
        for atom in expr.atoms(sp.MatrixSymbol):
            name, time = _name_and_time(atom)
            if name and name.startswith("bar_") and name != "bar_h":
                mapping[atom] = shift(derivation.bar_rhs(name[4:]), int(time - t))
        if not mapping:
            return expr
        expr = expr.xreplace(mapping)
    raise RuntimeError("bars did not reduce to bars of h")


def _recursion(kk: int) -> sp.MatrixExpr:
    """The symbolic-k recursion instantiated at ``kk``: direct term plus the transposed
    lag-i Jacobians at ``t + i`` times ``bar h(t + i)``."""
    cell = attention_cell(kk)
    h = cell.signals["h"]
    terms = [h.direct(t)]
    for lag in range(1, kk + 1):
        J = matrix_jacobian(cell, "h", "h", lag)
        terms.append(sp.MatMul(sp.Transpose(_at(J, t + lag)), h.bar(t + lag)))
    return sp.MatAdd(*terms)


def bar_h_check(kk: int, size: int) -> Check:
    """The recursion at ``kk`` against the engine's bar h, explicit at ``n = size``: the
    softmax entries stay symbols (both sides are polynomials in them once ``h(t + i)`` is
    written through its equation)."""

    cell = attention_cell(kk)
    derivation = _model(kk).derivation
    engine = _engine_bar_h(_model(kk).cell, derivation)
    mine = _recursion(kk)
    explicit: dict = {}

    def to_explicit(expr):
        expr = expr.xreplace({n: size})
        env = {}
        for atom in expr.atoms(sp.MatrixSymbol):
            if atom not in explicit:
                shape = tuple(int(sp.sympify(d).xreplace({n: size})) for d in atom.shape)
                explicit[atom] = explicit_symbols(safe_name(str(atom)), shape)
            env[atom] = explicit[atom]
        for f in expr.atoms(sp.core.function.AppliedUndef):
            name, time = _name_and_time(f)
            atom = timed_matrix(name, time, (1, 1))
            if atom not in explicit:
                explicit[atom] = explicit_symbols(safe_name(str(atom)), (1, 1))
            env[f] = explicit[atom][0, 0]
        return explicit_matrix(expr.xreplace(env))

    # every signal but the softmax entries written through its equation at the later steps,
    # so both sides are polynomials in the entries and the step's inputs
    definitions = {}
    for eq in cell.equations:
        if isinstance(eq.rhs, SoftmaxEntry):
            continue
        for lag in range(1, kk + 1):
            definitions.update(zip(to_explicit(eq.signal(t + lag)), to_explicit(eq.at(lag)),
                                   strict=True))
    difference = (to_explicit(engine) - to_explicit(mine)).xreplace(_composed(definitions))
    ok = all(_polynomial_zero(entry) for entry in difference)
    return Check.exact(f"dl/dh(T) recursion at k={kk} (n={size})",
                       "the derived bar h of the cell, later bars substituted", ok,
                       counted(len(difference), "entry", "entries") + " compared")


def _composed(definitions: dict) -> dict:
    """Each defined symbol written in undefined ones only: ``h(t + 2)`` reads ``v(t + 2)``,
    which reads ``h(t + 1)``, ...; each definition is substituted into the others once."""
    done: dict = {}

    def resolved(symbol):
        if symbol not in done:
            done[symbol] = None  # in progress: a definition reading itself is a cycle
            value = definitions[symbol]
            inner = {s: resolved(s) for s in value.free_symbols if s in definitions}
            done[symbol] = value.xreplace(inner)
        elif done[symbol] is None:
            raise RuntimeError(f"{symbol} is defined through itself")
        return done[symbol]

    return {symbol: resolved(symbol) for symbol in definitions}


def _polynomial_zero(entry: sp.Expr) -> bool:
    """Whether a polynomial is identically zero, by sparse polynomial arithmetic over the
    rationals (SymPy's ``expand`` of the same tree is several times slower)."""
    symbols = sorted(entry.free_symbols, key=str)
    if not symbols:
        return sp.expand(entry) == 0
    ring, *_ = sp.ring(symbols, sp.QQ)
    try:
        return not ring.from_expr(entry)
    except ValueError:  # not a polynomial in its symbols: expand decides
        return sp.expand(entry) == 0


def _evaluate(expr: sp.Basic, values: dict):
    """A matrix expression in floats: atoms from ``values`` (arrays and numbers)."""
    if expr in values:
        return values[expr]
    if isinstance(expr, sp.MatAdd | sp.Add):
        return sum(_evaluate(a, values) for a in expr.args)
    if isinstance(expr, sp.MatMul | sp.Mul):
        out = 1.0
        for a in expr.args:
            v = _evaluate(a, values)
            out = out @ v if np.ndim(out) == 2 and np.ndim(v) == 2 else out * v
        return out
    if isinstance(expr, sp.Transpose):
        return _evaluate(expr.arg, values).T
    if expr.is_Number:
        return float(expr)
    raise TypeError(f"cannot evaluate {expr!r}")


def numeric_bar_h_check(general: sp.MatrixExpr, kk: int, size: int = 3, steps: int = 6,
                        seed: int = 2) -> Check:
    """The recursion with the symbolic-i Jacobian, evaluated in floats at every step of a
    random run, against the compiled BPTT kernels' bar h (k > remaining steps included)."""
    model = _model(kk)
    inst = model.random_instance(seed, steps, {"n": size})
    run = model.bptt(inst["params"], inst["inputs"], inst["upstream"], dims={"n": size})
    hs = {step: run.values["h"][step][0][:, 0] for step in range(1, steps + 1)}
    bars = {step: run.bars["h"][step][0][:, 0] for step in range(1, steps + 1)}

    def h_at(step):
        return hs.get(step, np.zeros(size))

    error = 0.0
    for now in range(1, steps + 1):
        total = inst["upstream"]["h"][now - 1][0].copy()
        for lag in range(1, kk + 1):
            later = now + lag
            if later > steps:
                continue
            J = _reindexed(general, i, lag)
            values = {}
            for atom in J.atoms(sp.MatrixSymbol):
                name, time = _name_and_time(atom)
                if name is None:
                    values[atom] = inst["params"][atom.name]
                elif name == "h":
                    values[atom] = h_at(later + int(time - t))[:, None]
                else:
                    values[atom] = run.values[name][later + int(time - t)][0]
            for f in J.atoms(sp.core.function.AppliedUndef):
                name, _ = _name_and_time(f)
                values[f] = float(run.values[name][later][0, 0, 0])
            total += _evaluate(J, values).T @ bars[later]
        error = max(error, float(np.max(np.abs(total - bars[now]))
                                 / max(1.0, np.max(np.abs(bars[now])))))
    return Check(f"dl/dh(t) recursion numeric (k={kk}, n={size}, T={steps})",
                 "bar h from the compiled BPTT kernels", error, 1e-12,
                 f"at t = 1, ..., {steps}")


def _given_total(direct: np.ndarray, totals: list[np.ndarray], later: list[np.ndarray]
                 ) -> np.ndarray:
    """dl/dh(T) from the given total derivatives: the direct term plus
    sum_{t > T} (dh(t)/dh(T))^T dl_t/dh(t)."""
    return direct + sum((D.T @ u for D, u in zip(totals, later, strict=True)),
                        np.zeros_like(direct))


def total_form_check(kk: int = 2, size: int = 3, steps: int = 6, seed: int = 3,
                     form=_given_total) -> Check:
    """``form`` fed the total derivatives dh(t)/dh(T) (complex steps of h(T) through the
    compiled forward, every earlier state held) against bar h(T) of the BPTT kernels."""
    model = _model(kk)
    inst = model.random_instance(seed, steps, {"n": size})
    run = model.bptt(inst["params"], inst["inputs"], inst["upstream"], dims={"n": size})
    ups = inst["upstream"]["h"][:, 0, :]

    def h_at(step: int) -> np.ndarray:
        return run.values["h"][step][0][:, 0] if step >= 1 else np.zeros(size)

    error, tiny = 0.0, 1e-30
    for now in range(1, steps + 1):
        totals = []
        if now < steps:
            # h(now), h(now - 1), ... as the initial states; batch entry j perturbs h_j(now)
            start = np.array([[h_at(now - lag)] * size for lag in range(kk)], dtype=complex)
            start[0] += 1j * tiny * np.eye(size)
            later = np.repeat(inst["inputs"]["x"][now:], size, axis=1)
            shifted = model.bptt(inst["params"], {"x": later},
                                 {"h": np.zeros((steps - now, size, size))}, {"h": start},
                                 dims={"n": size})
            totals = [shifted.values["h"][s][:, :, 0].imag.T / tiny
                      for s in range(1, steps - now + 1)]
        got = form(ups[now - 1], totals, list(ups[now:]))
        want = run.bars["h"][now][0][:, 0]
        error = max(error, float(np.max(np.abs(got - want)) / max(1.0, np.max(np.abs(want)))))
    return Check(f"dl/dh(T) from the total derivatives (k={kk}, n={size}, T={steps})",
                 "bar h from the compiled BPTT kernels; dh(t)/dh(T) by complex steps",
                 error, 1e-12, f"at T = 1, ..., {steps}")


@problem("dsga1008-hw2/1.2.2f")
def loss_gradient(pid: str) -> Answer:
    forms = loss_gradient_forms()
    general = forms["general"]
    # the symbolic-i Jacobian must reproduce every lag's Jacobian for k = 1..4 exactly
    checks = []
    for kk in TEMPLATE_KS:
        cell = attention_cell(kk)
        differing = [lag for lag in range(1, kk + 1)
                     if _reindexed(general, i, lag) != matrix_jacobian(cell, "h", "h", lag)]
        checks.append(Check.exact(f"symbolic-i Jacobian reproduces lags 1..{kk} (k={kk})",
                                  "the derived Jacobians of the AttentionRNN(k) cell",
                                  not differing,
                                  f"differing lags: {', '.join(map(str, differing)) or 'none'}"))
    checks.append(total_form_check())
    checks += [bar_h_check(kk, 1) for kk in TEMPLATE_KS] + [bar_h_check(2, 2), bar_h_check(2, 3)]
    checks += [numeric_bar_h_check(general, kk) for kk in (2, 7)]  # k = 7 > T = 6
    return from_template(pid, {"bar_h": forms["recursion_text"], "local_jacobian": forms["local"],
                               "total": forms["total_text"]}, checks,
                         total=forms["total_latex"], recursion=forms["recursion_latex"],
                         local=forms["local_latex"])
