"""The checks of a recurrent model's derived calculus, each against an independent method.

- ``unrolled``: SymPy differentiates the loss of the fully unrolled network (small ``T``),
  at a random point in 30-digit arithmetic; the derived BPTT equations are evaluated at the
  same point in the same arithmetic, and so are the compiled float64 kernels.
- ``complex step`` and ``central differences``: the kernels' gradients against
  perturbations of every weight entry, input and initial state.
- ``elementwise`` (vector cells): every bar and weight-gradient summand, instantiated at
  small concrete sizes, against SymPy's elementwise differentiation; the difference must
  simplify to exactly zero.
"""

from __future__ import annotations

import numpy as np
import sympy as sp
from sympy.matrices.expressions.matexpr import MatrixExpr

from derive.adjoint import Adjoints
from derive.cell import Cell, _name_and_time, _timed_atoms, t
from derive.checking import Check, counted, relative_error
from derive.kernels import bptt
from derive.zero import exactly_zero

DIGITS = 30
UNROLLED_TOLERANCE = 1e-25  # 30-digit arithmetic on both sides
KERNEL_TOLERANCE = 1e-12  # float64 kernels against exact derivatives
COMPLEX_STEP_TOLERANCE = 1e-12
CENTRAL_TOLERANCE = 1e-6  # step 1e-6: truncation ~1e-12, rounding ~1e-10


# --- explicit instances ------------------------------------------------------------------

def _explicit_symbols(prefix: str, shape: tuple | None) -> sp.Basic:
    if shape is None:
        return sp.Symbol(prefix)
    rows, cols = shape
    return sp.ImmutableMatrix(rows, cols, lambda i, j: sp.Symbol(f"{prefix}_{i}{j}"))


def _concrete_shape(obj_shape, dims: dict) -> tuple | None:
    if obj_shape is None:
        return None
    return tuple(int(sp.sympify(d).xreplace(dims)) for d in obj_shape)


def _evaluate(expr: sp.Basic, env: dict) -> sp.Basic:
    """``expr`` with its time-indexed atoms and weights replaced by ``env`` values."""
    replaced = expr.xreplace(env)
    if isinstance(replaced, MatrixExpr):
        replaced = replaced.as_explicit()
    return replaced


def _numeric(value: sp.Basic, digits: int = DIGITS) -> sp.Basic:
    if isinstance(value, sp.MatrixBase):
        return value.applyfunc(lambda v: sp.N(v, digits))
    return sp.N(value, digits)


class Instance:
    """Explicit symbols for one unrolled run: weights, inputs, initial states, upstream."""

    def __init__(self, cell: Cell, steps: int, dims: dict) -> None:
        self.cell, self.steps, self.dims = cell, steps, dims
        k = cell.max_lag
        self.params = {p: _explicit_symbols(p, _concrete_shape(getattr(w, "shape", None), dims)
                                            if isinstance(w, MatrixExpr) else None)
                       for p, w in cell.parameters.items()}
        self.inputs = {(s.name, step): _explicit_symbols(f"{s.name}{step}",
                                                          _concrete_shape(s.shape, dims))
                       for s in cell.inputs for step in range(1, steps + 1)}
        self.initial = {}
        for s in cell.states:
            for step in range(1 - k, 1):
                shape = _concrete_shape(s.shape, dims)
                self.initial[(s.name, step)] = (
                    (sp.zeros(*shape) if shape else sp.Integer(0)) if cell.zero_initial
                    else _explicit_symbols(f"{s.name}init{-step}", shape))
        self.upstream = {(o, step): _explicit_symbols(f"u{o}{step}",
                                                       _concrete_shape(cell.signals[o].shape,
                                                                       dims))
                         for o in cell.outputs for step in range(1, steps + 1)}

    def variables(self) -> dict[str, sp.Basic]:
        """Every free quantity that has a gradient: label -> explicit symbol(s)."""
        out = {f"param {p}": v for p, v in self.params.items()}
        out.update({f"input {n}({s})": v for (n, s), v in self.inputs.items()})
        if not self.cell.zero_initial:
            out.update({f"initial {n}({s})": v for (n, s), v in self.initial.items()})
        return out

    def point(self, rng: np.random.Generator) -> dict[sp.Symbol, sp.Float]:
        symbols = set()
        for table in (self.params, self.inputs, self.initial, self.upstream):
            for v in table.values():
                symbols |= v.free_symbols
        return {s: sp.Float(round(0.5 * rng.standard_normal(), 12), DIGITS)
                for s in sorted(symbols, key=str)}


def _atom_map(expr: sp.Basic, step: int, lookup) -> dict:
    env = {}
    for atom in _timed_atoms(expr):
        name, time = _name_and_time(atom)
        if name is None:
            continue
        env[atom] = lookup(name, int(time - t) + step)
    return env


def unroll(cell: Cell, inst: Instance) -> tuple[dict, sp.Basic]:
    """The forward values of every step and the loss ``sum_t upstream(t) . h(t)``, explicit."""
    values: dict[tuple[str, int], sp.Basic] = dict(inst.initial)
    values.update(inst.inputs)
    weights = {cell.parameters[p]: v for p, v in inst.params.items()}
    for step in range(1, inst.steps + 1):
        for eq in cell.equations:
            env = dict(weights)
            env.update(_atom_map(eq.rhs, step, lambda n, s: values[(n, s)]))
            values[(eq.signal.name, step)] = _evaluate(eq.rhs, env)
    loss = sp.Integer(0)
    for (name, step), u in inst.upstream.items():
        h = values[(name, step)]
        loss += (u.T * h)[0, 0] if isinstance(h, sp.MatrixBase) else u * h
    return values, loss


def interpret_bptt(cell: Cell, adjoints: Adjoints, inst: Instance, point: dict) -> dict:
    """Evaluate the derived BPTT equations in 30-digit SymPy arithmetic; label -> gradient."""
    k = cell.max_lag
    steps = inst.steps

    def num(x):
        return _numeric(x.xreplace(point) if hasattr(x, "xreplace") else x)

    values = {key: num(v) for key, v in {**inst.initial, **inst.inputs}.items()}
    upstream = {key: num(v) for key, v in inst.upstream.items()}
    weights = {cell.parameters[p]: num(v) for p, v in inst.params.items()}

    def zero(name):
        shape = _concrete_shape(cell.signals[name].shape, inst.dims)
        return sp.zeros(*shape) if shape else sp.Integer(0)

    for step in range(1, steps + 1):
        for eq in cell.equations:
            env = dict(weights)
            env.update(_atom_map(eq.rhs, step, lambda n, s: values[(n, s)]))
            values[(eq.signal.name, step)] = _numeric(_evaluate(eq.rhs, env))

    bars: dict[tuple[str, int], sp.Basic] = {}

    def lookup(name: str, time: int):
        if name.startswith("bar_"):
            return bars.get((name[4:], time), zero(name[4:])) if time <= steps else \
                zero(name[4:])
        if name.startswith("dL_d"):
            return upstream[(name[4:], time)]
        return values.get((name, time), zero(name)) if time <= steps else zero(name)

    grads = {p: None for p in cell.parameters}
    for step in range(steps, 0, -1):
        for signal in [*reversed(cell.defined), *cell.inputs]:
            rhs = adjoints.bar_rhs(signal.name)
            env = dict(weights)
            env.update(_atom_map(rhs, step, lookup))
            bars[(signal.name, step)] = _numeric(_evaluate(rhs, env))
        for p in cell.parameters:
            summand = adjoints.grad_summand(p)
            env = dict(weights)
            env.update(_atom_map(summand, step, lookup))
            term = _numeric(_evaluate(summand, env))
            grads[p] = term if grads[p] is None else grads[p] + term
    result = {f"param {p}": g for p, g in grads.items()}
    result.update({f"input {s.name}({step})": bars[(s.name, step)]
                   for s in cell.inputs for step in range(1, steps + 1)})
    if not cell.zero_initial:
        for t0 in range(0, -k, -1):
            for s in cell.states:
                terms = [x.expr for x in adjoints.bars[s.name]
                         if x.via is not None and t0 + x.offset >= 1]
                total = zero(s.name)
                for expr in terms:
                    env = dict(weights)
                    env.update(_atom_map(expr, t0, lookup))
                    total = total + _numeric(_evaluate(expr, env))
                result[f"initial {s.name}({t0})"] = total
    return result


def _exact_relative_error(actual: sp.Basic, expected: sp.Basic) -> float:
    """``relative_error`` in SymPy arithmetic, so 30-digit agreement is visible."""
    pairs = zip(sp.Matrix(actual), sp.Matrix(expected), strict=True) \
        if isinstance(expected, sp.MatrixBase) else [(actual, expected)]
    return max(float(abs(a - e) / max(1, abs(e))) for a, e in pairs)


def _as_array(value) -> np.ndarray:
    if isinstance(value, sp.MatrixBase):
        return np.array(value.tolist(), dtype=complex)
    return np.array(complex(value))


def unrolled_checks(model, steps: int = 3, dims: dict | None = None, seed: int = 0,
                    adjoints: Adjoints | None = None) -> list[Check]:
    """Derived BPTT (SymPy, 30 digits) and kernels (float64) against the unrolled loss."""
    cell = model.cell
    adjoints = adjoints or model.derivation
    concrete = model.dims_for(dims)
    inst = Instance(cell, steps, concrete)
    _, loss = unroll(cell, inst)
    point = inst.point(np.random.default_rng(seed))
    expected = {}
    for label, var in inst.variables().items():
        if isinstance(var, sp.MatrixBase):
            expected[label] = var.applyfunc(lambda s: sp.N(sp.diff(loss, s).xreplace(point),
                                                           DIGITS))
        else:
            expected[label] = sp.N(sp.diff(loss, var).xreplace(point), DIGITS)
    derived = interpret_bptt(cell, adjoints, inst, point)
    sym_err = max(_exact_relative_error(derived[k], v) for k, v in expected.items())

    # the compiled kernels, float64, at the same point
    result = model.bptt(**_numeric_instance(model, inst, point), dims=_dims_by_name(concrete))
    kernel = _gradients_by_label(model, result, inst)
    ker_err = max(relative_error(kernel[k], _as_array(v)) for k, v in expected.items())
    where = f"T={steps}" + "".join(f", {k}={v}" for k, v in _dims_by_name(concrete).items())
    return [
        Check(f"unrolled SymPy, 30 digits ({where})", "SymPy diff of the unrolled loss",
              sym_err, UNROLLED_TOLERANCE, counted(len(expected), "gradient")),
        Check(f"kernels vs unrolled SymPy ({where})", "SymPy diff of the unrolled loss",
              ker_err, KERNEL_TOLERANCE, counted(len(expected), "gradient")),
    ]


def _dims_by_name(concrete: dict) -> dict[str, int]:
    return {str(k): v for k, v in concrete.items()}


def _numeric_instance(model, inst: Instance, point: dict) -> dict:
    """The explicit instance at ``point`` as the arrays ``model.bptt`` takes (batch 1)."""
    def arr(v, column: bool = True):
        v = v.xreplace(point)
        if isinstance(v, sp.MatrixBase):
            return np.array(v.tolist(), dtype=float)[:, 0] if column and v.shape[1] == 1 else \
                np.array(v.tolist(), dtype=float)
        return np.array(float(v))

    cell = model.cell
    params = {p: arr(v, column=False) for p, v in inst.params.items()}  # an n x 1 weight
    inputs = {s.name: np.stack([arr(inst.inputs[(s.name, st)])[None]
                                for st in range(1, inst.steps + 1)]) for s in cell.inputs}
    upstream = {o: np.stack([arr(inst.upstream[(o, st)])[None]
                             for st in range(1, inst.steps + 1)]) for o in cell.outputs}
    initial = {} if cell.zero_initial else {
        s.name: np.stack([arr(inst.initial[(s.name, -j)])[None] for j in range(cell.max_lag)])
        for s in cell.states}
    return {"params": params, "inputs": inputs, "upstream": upstream, "initial": initial}


def _gradients_by_label(model, result, inst: Instance) -> dict[str, np.ndarray]:
    cell = model.cell
    out = {f"param {p}": np.asarray(g) for p, g in result.grads.items()}
    for s in cell.inputs:
        for st in range(1, inst.steps + 1):
            out[f"input {s.name}({st})"] = np.asarray(result.bars[s.name][st][0])
    if not cell.zero_initial:
        for s in cell.states:
            for t0 in range(0, -cell.max_lag, -1):
                out[f"initial {s.name}({t0})"] = np.asarray(result.bars[s.name][t0][0])
    return out


# --- perturbation checks -------------------------------------------------------------------

def _perturbed_losses(model, inst: dict, dims: dict, perturb) -> tuple[list[str], np.ndarray]:
    """The loss with each scalar entry of weights, inputs and initial states perturbed by
    ``perturb`` (one batch element per entry): returns labels and losses."""
    labels = []
    for group in ("params", "inputs", "initial"):
        for name, value in inst[group].items():
            for index in np.ndindex(np.shape(value)):
                labels.append((group, name, index))
    n = len(labels)
    dtype = complex if np.iscomplexobj(perturb(0.0)) else float
    params = {p: np.repeat(np.asarray(v, dtype=dtype)[None], n, axis=0)
              for p, v in inst["params"].items()}
    inputs = {x: np.repeat(np.asarray(v, dtype=dtype), n, axis=1)
              for x, v in inst["inputs"].items()}
    initial = {s: np.repeat(np.asarray(v, dtype=dtype), n, axis=1)  # (k, B, ...)
               for s, v in inst["initial"].items()}
    for b, (group, name, index) in enumerate(labels):
        if group == "params":
            params[name][(b, *index)] += perturb(0.0)
        elif group == "inputs":
            step, _, *rest = index
            inputs[name][(step, b, *rest)] += perturb(0.0)
        else:
            lag, _, *rest = index
            initial[name][(lag, b, *rest)] += perturb(0.0)
    model_inputs = {x: _col(model, x, v) for x, v in inputs.items()}
    model_initial = {s: _col(model, s, v) for s, v in initial.items()}
    kernels = model.kernels(dims)
    result = bptt(kernels, params, model_inputs, model_initial, {}, backward=False)
    loss = np.zeros(n, dtype=dtype)
    for o, u in inst["upstream"].items():
        for step in range(1, u.shape[0] + 1):
            h = result.values[o][step]
            uu = _col(model, o, u[step - 1])
            loss += np.sum((uu * h).reshape(n, -1), axis=1)
    return labels, loss


def _col(model, name: str, a: np.ndarray) -> np.ndarray:
    return a[..., None] if model.cell.signals[name].is_matrix else a


def perturbation_checks(model, steps: int = 5, dims: dict | None = None,
                        seed: int = 1) -> list[Check]:
    """Kernels' BPTT gradients against complex-step and central differences."""
    inst = model.random_instance(seed, steps, dims)
    inst["initial"] = {s: np.asarray(v)[None] for s, v in inst["initial"].items()}
    result = model.bptt(inst["params"], inst["inputs"], inst["upstream"],
                        {s: v for s, v in inst["initial"].items()}, dims)
    cell = model.cell

    def analytic(label):
        group, name, index = label
        if group == "params":
            return result.grads[name][index]
        if group == "inputs":
            step, b, *rest = index
            return _squeeze(result.bars[name][step + 1], cell, name)[(b, *rest)]
        lag, b, *rest = index
        return _squeeze(result.bars[name][-lag], cell, name)[(b, *rest)]

    h_cs = 1e-30
    labels, loss_cs = _perturbed_losses(model, inst, dims, lambda _: 1j * h_cs)
    grad_cs = loss_cs.imag / h_cs
    mine = np.array([analytic(label) for label in labels])
    h_cd = 1e-6
    _, plus = _perturbed_losses(model, inst, dims, lambda _: h_cd)
    _, minus = _perturbed_losses(model, inst, dims, lambda _: -h_cd)
    grad_cd = (plus - minus) / (2 * h_cd)
    entries = (f"{counted(len(labels), 'gradient entry', 'gradient entries')} "
               "(every weight entry, input and initial state)")
    where = f"T={steps}" + "".join(f", {k}={v}" for k, v in
                                   _dims_by_name(model.dims_for(dims)).items())
    return [
        Check(f"complex step ({where})", "Im L(w + ih)/h, h = 1e-30",
              relative_error(mine, grad_cs), COMPLEX_STEP_TOLERANCE, entries),
        Check(f"central differences ({where})", "(L(w+h) - L(w-h))/2h, h = 1e-6",
              relative_error(mine, grad_cd), CENTRAL_TOLERANCE, entries),
    ]


def _squeeze(a: np.ndarray, cell: Cell, name: str) -> np.ndarray:
    return a[..., 0] if cell.signals[name].is_matrix else a


# --- elementwise checks of vector results -------------------------------------------------

def elementwise_checks(model, dims: dict, adjoints: Adjoints | None = None) -> list[Check]:
    """Each bar and weight-gradient summand of a vector cell, at concrete sizes, against
    SymPy's elementwise differentiation of the explicit matrices."""
    cell = model.cell
    adjoints = adjoints or model.derivation
    concrete = model.dims_for(dims)
    k = cell.max_lag
    explicit: dict[sp.Basic, sp.Basic] = {}

    def ex(atom):
        if atom not in explicit:
            shape = _concrete_shape(atom.shape, concrete)
            explicit[atom] = _explicit_symbols(_safe(str(atom)), shape)
        return explicit[atom]

    def to_explicit(expr):
        expr = expr.xreplace(concrete)
        env = {a: ex(a) for a in expr.atoms(sp.MatrixSymbol)}
        return _evaluate(expr, env)

    # Differentiate with every entry independent, then compare after writing the defined
    # signals at offsets >= 0 through their right-hand sides on both sides: the derived
    # results name forward quantities (c for sigma(...)) that the elementwise ones spell out.
    definitions: dict[sp.Symbol, sp.Basic] = {}
    for eq in cell.equations:
        for s in range(0, k + 2):
            lhs, rhs = to_explicit(eq.signal(t + s)), to_explicit(eq.at(s))
            definitions.update(dict(zip(lhs, rhs, strict=True)))

    def spelled_out(matrix):
        for _ in range(4 * (k + 2) * len(cell.equations)):
            expanded = matrix.xreplace(definitions)
            if expanded == matrix:
                return expanded
            matrix = expanded
        raise RuntimeError("expansion did not terminate")

    def agree(derived, expected) -> bool:
        difference = spelled_out(sp.Matrix(derived)) - spelled_out(sp.Matrix(expected))
        return all(exactly_zero(entry) for entry in difference)

    failures = []
    checked = 0
    for signal in [*cell.defined, *cell.inputs]:
        target = signal(t)
        tx = to_explicit(target)
        expected = sp.zeros(*tx.shape)
        if signal.name in cell.outputs:
            expected = sp.Matrix(expected + to_explicit(signal.direct(t)))
        for eq in cell.equations:
            for s in range(0, k + 1):
                rhs = eq.at(s)
                if target not in rhs.atoms(sp.MatrixSymbol):
                    continue
                rhs_x = to_explicit(rhs)
                bar_x = to_explicit(eq.signal.bar(t + s))
                for j in range(tx.shape[0]):
                    expected[j, 0] += sum(bar_x[i, 0] * sp.diff(rhs_x[i, 0], tx[j, 0])
                                          for i in range(rhs_x.shape[0]))
        checked += 1
        if not agree(to_explicit(adjoints.bar_rhs(signal.name)), expected):
            failures.append(f"bar {signal.name}")
    for pname, weight in cell.parameters.items():
        wx = to_explicit(weight)
        expected = sp.zeros(*wx.shape)
        for eq in cell.equations:
            if weight not in eq.rhs.free_symbols:
                continue
            rhs_x = to_explicit(eq.rhs)
            bar_x = to_explicit(eq.signal.bar(t))
            for a in range(wx.shape[0]):
                for b in range(wx.shape[1]):
                    expected[a, b] += sum(bar_x[i, 0] * sp.diff(rhs_x[i, 0], wx[a, b])
                                          for i in range(rhs_x.shape[0]))
        checked += 1
        if not agree(to_explicit(adjoints.grad_summand(pname)), expected):
            failures.append(f"grad {pname}")
    where = ", ".join(f"{k}={v}" for k, v in _dims_by_name(concrete).items())
    return [Check.exact(f"elementwise SymPy ({where})",
                        "elementwise diff of explicit matrices", not failures,
                        f"{counted(checked, 'result')} (bars and weight gradients); "
                        f"differing: {', '.join(failures) or 'none'}")]


def _safe(name: str) -> str:
    """An unambiguous symbol prefix: ``h(t - 1)`` -> ``h_tm1``, ``h(t + 1)`` -> ``h_tp1``."""
    name = name.replace(" ", "").replace("-", "m").replace("+", "p")
    return "".join(ch if ch.isalnum() else "_" for ch in name)


def model_checks(model) -> list[Check]:
    """Every check of a recurrent model at its check sizes."""
    checks: list[Check] = []
    vector = any(s.is_matrix for s in model.cell.signals.values())
    for dims in model.check_dims:
        named = {k: v for k, v in dims.items()}
        if vector:
            checks += elementwise_checks(model, named)
        checks += perturbation_checks(model, dims=named)
    checks += unrolled_checks(model, steps=3 if not vector else 2, dims=model.check_dims[-1])
    return checks
