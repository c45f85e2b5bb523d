"""The checks of a recurrent model's derived calculus, each against an independent method.

- ``unrolled``: the loss of the fully unrolled network (small ``T``), evaluated from the
  cell's forward equations alone in 60-digit arithmetic and differentiated there by central
  differences (error near 1e-40), at a random point; the derived BPTT equations are
  evaluated at the same point in 30-digit SymPy arithmetic, and so are the compiled float64
  kernels.
- ``complex step`` and ``central differences``: the kernels' gradients against
  perturbations of every weight entry, input and initial state.
- ``elementwise`` (vector cells): every bar and weight-gradient summand, instantiated at
  small concrete sizes, against SymPy's elementwise differentiation; the difference must
  be exactly zero.
- ``renamed values``: every derivative renamed to forward quantities against itself before
  renaming, both written through the equations of their own time (exact, every size).
"""

from __future__ import annotations

import mpmath
import numpy as np
import sympy as sp
from sympy.matrices.expressions.applyfunc import ElementwiseApplyFunction
from sympy.matrices.expressions.matexpr import MatrixElement, MatrixExpr

from derive.calculus.adjoint import Adjoints, renaming_failures
from derive.checks.check import Check, counted, relative_error
from derive.core.cell import Cell, _name_and_time, _timed_atoms, t
from derive.core.errors import TERMS, DeriveError
from derive.core.primitives import ScalarBar
from derive.core.zero import exact_floats, exactly_zero
from derive.numeric.kernels import bptt

DIGITS = 30
UNROLLED_TOLERANCE = 1e-25  # 30-digit arithmetic on both sides
KERNEL_TOLERANCE = 1e-12  # float64 kernels against exact derivatives
COMPLEX_STEP_TOLERANCE = 1e-12
CENTRAL_TOLERANCE = 1e-6  # step 1e-6: truncation ~1e-12, rounding ~1e-10


# --- explicit instances ------------------------------------------------------------------

def explicit_symbols(prefix: str, shape: tuple | None) -> sp.Basic:
    # real: the values are real numbers, so SymPy writes |z|' as sign(z), not through re, im
    if shape is None:
        return sp.Symbol(prefix, real=True)
    rows, cols = shape
    return sp.ImmutableMatrix(rows, cols,
                              lambda i, j: sp.Symbol(f"{prefix}_{i}{j}", real=True))


def _concrete_shape(obj_shape, dims: dict) -> tuple | None:
    if obj_shape is None:
        return None
    return tuple(int(sp.sympify(d).xreplace(dims)) for d in obj_shape)


def _evaluate(expr: sp.Basic, env: dict) -> sp.Basic:
    """``expr`` with its time-indexed atoms and weights replaced by ``env`` values: an
    explicit matrix for a matrix expression."""
    expr = exact_floats(expr)
    dims = _sizes(env)
    if dims:  # symbolic sizes, read off the explicit values
        expr = expr.xreplace(dims)
        env = {k.xreplace(dims) if isinstance(k, MatrixExpr) else k: v
               for k, v in env.items()}
    if isinstance(expr, MatrixExpr):
        return sp.ImmutableMatrix(_explicit(expr, env))
    if any(isinstance(a, MatrixExpr) for a in sp.preorder_traversal(expr)):
        return expr.replace(lambda e: isinstance(e, ScalarBar | MatrixElement),
                            lambda e: _explicit_scalar(e, env)).xreplace(env)
    return expr.xreplace(env)


def _sizes(env: dict) -> dict[sp.Symbol, int]:
    """Dimension symbol -> size, from matrix symbols of symbolic shape and their values."""
    sizes = {}
    for key, value in env.items():
        if isinstance(key, sp.MatrixSymbol) and isinstance(value, sp.MatrixBase):
            for d, v in zip(key.shape, value.shape, strict=True):
                if isinstance(d, sp.Symbol):
                    sizes[d] = v
    return sizes


def explicit_matrix(expr: sp.Basic) -> sp.Matrix:
    """The entries of a matrix expression whose leaves are explicit matrices (a scalar
    expression: a 1x1 matrix), by plain sums and products."""
    if isinstance(expr, MatrixExpr):
        return sp.Matrix(_explicit(expr, {}))
    return sp.Matrix(expr)


def _explicit_scalar(node: sp.Basic, env: dict) -> sp.Expr:
    if isinstance(node, ScalarBar):
        bar, matrix = _explicit(node.bar, env), _explicit(node.matrix, env)
        return sp.Add(*[b * m for rb, rm in zip(bar, matrix, strict=True)
                        for b, m in zip(rb, rm, strict=True)])
    return _explicit(node.parent, env)[int(node.i)][int(node.j)]


def _explicit(node: sp.Basic, env: dict) -> list[list[sp.Expr]]:
    """The entries of a matrix expression, rows of lists, built with plain sums and
    products (SymPy's own ``as_explicit`` asks assumptions of every partial product)."""
    if node in env:
        value = env[node]
        return [list(r) for r in sp.Matrix(value).tolist()]
    if isinstance(node, sp.MatrixBase):
        return [list(r) for r in node.tolist()]
    rows, cols = (int(d) for d in node.shape)
    if isinstance(node, sp.MatAdd):
        parts = [_explicit(a, env) for a in node.args]
        return [[sp.Add(*[p[i][j] for p in parts]) for j in range(cols)] for i in range(rows)]
    if isinstance(node, sp.MatMul):
        coeff, factors = node.as_coeff_matrices()
        coeff = coeff.xreplace(env) if coeff.free_symbols or coeff.has(
            sp.core.function.AppliedUndef) else coeff
        out = _explicit(factors[0], env)
        for factor in factors[1:]:
            right = _explicit(factor, env)
            out = [[sp.Add(*[a * right[k][j] for k, a in enumerate(row)])
                    for j in range(len(right[0]))] for row in out]
        return [[coeff * x for x in row] for row in out] if coeff != 1 else out
    if isinstance(node, sp.HadamardProduct):
        parts = [_explicit(a, env) for a in node.args]
        return [[sp.Mul(*[p[i][j] for p in parts]) for j in range(cols)] for i in range(rows)]
    if isinstance(node, sp.HadamardPower):
        base = _explicit(node.base, env)
        return [[x ** node.exp for x in row] for row in base]
    if isinstance(node, sp.Transpose):
        inner = _explicit(node.arg, env)
        return [list(r) for r in zip(*inner, strict=True)]
    if isinstance(node, ElementwiseApplyFunction):
        inner = _explicit(node.expr, env)
        return [[node.function(x) for x in row] for row in inner]
    if isinstance(node, sp.OneMatrix):
        return [[sp.Integer(1)] * cols for _ in range(rows)]
    if isinstance(node, sp.ZeroMatrix):
        return [[sp.Integer(0)] * cols for _ in range(rows)]
    if isinstance(node, sp.Identity):
        return [[sp.Integer(int(i == j)) for j in range(cols)] for i in range(rows)]
    if isinstance(node, sp.DiagMatrix):
        inner = [x for row in _explicit(node.args[0], env) for x in row]
        return [[inner[i] if i == j else sp.Integer(0) for j in range(cols)]
                for i in range(rows)]
    # anything else (a softmax entry, ...): SymPy's own explicit form
    replaced = node.xreplace({k: v for k, v in env.items() if isinstance(k, MatrixExpr)})
    return [list(r) for r in replaced.as_explicit().tolist()]


def _numeric(value: sp.Basic, digits: int = DIGITS) -> sp.Basic:
    if isinstance(value, sp.MatrixBase):
        return value.applyfunc(lambda v: sp.N(v, digits))
    return sp.N(value, digits)


class Instance:
    """Explicit symbols for one unrolled run: weights, inputs, initial states, upstream."""

    def __init__(self, cell: Cell, steps: int, dims: dict) -> None:
        self.cell, self.steps, self.dims = cell, steps, dims
        k = cell.max_lag
        self.params = {p: explicit_symbols(p, _concrete_shape(getattr(w, "shape", None), dims)
                                            if isinstance(w, MatrixExpr) else None)
                       for p, w in cell.parameters.items()}
        self.inputs = {(s.name, step): explicit_symbols(f"{s.name}{step}",
                                                          _concrete_shape(s.shape, dims))
                       for s in cell.inputs for step in range(1, steps + 1)}
        self.initial = {}
        for s in cell.states:
            for step in range(1 - k, 1):
                shape = _concrete_shape(s.shape, dims)
                self.initial[(s.name, step)] = (
                    (sp.zeros(*shape) if shape else sp.Integer(0)) if cell.zero_initial
                    else explicit_symbols(f"{s.name}init{-step}", shape))
        self.upstream = {(o, step): explicit_symbols(f"u{o}{step}",
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
        for eq in cell.ordered:
            env = dict(weights)
            env.update(_atom_map(eq.rhs, step, lambda n, s: values[(n, s)]))
            values[(eq.signal.name, step)] = _evaluate(eq.rhs, env)
    loss = sp.Integer(0)
    for (name, step), u in inst.upstream.items():
        h = values[(name, step)]
        loss += (u.T * h)[0, 0] if isinstance(h, sp.MatrixBase) else u * h
    return values, loss


REFERENCE_DIGITS = 60  # the unrolled reference's working precision


class UnrolledReference:
    """The loss of the unrolled network as a function of every free entry, evaluated in
    60-digit arithmetic (mpmath), and its derivatives by central differences there.

    Independent of the derived equations: each step evaluates the cell's own forward
    right-hand sides, entry by entry; the step ``h = 1e-20`` leaves a truncation error near
    ``1e-40`` and a rounding error near ``1e-40``, far below the check's tolerance. (SymPy
    differentiating the whole unrolled loss symbolically grows too fast with size.)"""

    def __init__(self, cell: Cell, inst: Instance, point: dict) -> None:
        self.cell, self.inst = cell, inst
        self.point = {k: mpmath.mpf(str(v)) for k, v in point.items()}
        self.steps = []
        for eq in cell.ordered:
            atoms = sorted((a for a in _timed_atoms(eq.rhs) if _name_and_time(a)[0] is not None),
                           key=str)
            weights = sorted(eq.rhs.free_symbols & set(cell.parameters.values()), key=str)
            stand_ins = {a: explicit_symbols(safe_name(str(a)) + "_ref", _concrete_shape(
                getattr(a, "shape", None), inst.dims) if isinstance(a, MatrixExpr) else None)
                for a in [*atoms, *weights]}
            value = _evaluate(eq.rhs.xreplace(inst.dims),
                              {a.xreplace(inst.dims): v for a, v in stand_ins.items()})
            entries = list(value) if isinstance(value, sp.MatrixBase) else [value]
            args = [x for a in [*atoms, *weights] for x in _entries(stand_ins[a])]
            fn = sp.lambdify(args, entries, modules=[_MPMATH_FUNCTIONS, "mpmath"])
            self.steps.append((eq, atoms, weights, fn))

    def loss(self, at: dict) -> mpmath.mpf:
        inst, cell = self.inst, self.cell

        def flat(x):
            return [at[e] if e in at else e for e in _entries(x)]

        values = {key: flat(v) for key, v in {**inst.initial, **inst.inputs}.items()}
        weights = {cell.parameters[p]: flat(v) for p, v in inst.params.items()}
        for step in range(1, inst.steps + 1):
            for eq, atoms, ws, fn in self.steps:
                args = []
                for a in atoms:
                    name, time = _name_and_time(a)
                    args += values[(name, int(time - t) + step)]
                for w in ws:
                    args += weights[w]
                values[(eq.signal.name, step)] = list(fn(*args))
        total = mpmath.mpf(0)
        for (name, step), u in inst.upstream.items():
            total += mpmath.fsum(a * b for a, b in zip(flat(u), values[(name, step)],
                                                       strict=True))
        return total

    def derivative(self, variable: sp.Symbol) -> sp.Float:
        with mpmath.workdps(REFERENCE_DIGITS):
            h = mpmath.mpf(1) / mpmath.mpf(10) ** 20
            plus, minus = dict(self.point), dict(self.point)
            plus[variable] += h
            minus[variable] -= h
            value = (self.loss(plus) - self.loss(minus)) / (2 * h)
            return sp.Float(value, DIGITS)


def _entries(x) -> list:
    return list(x) if isinstance(x, sp.MatrixBase) else [x]


def _mp_sigma(x):
    return 1 / (1 + mpmath.exp(-x))


def _mp_heaviside(x, at_zero=0.5):
    return mpmath.mpf(1) if x > 0 else mpmath.mpf(0) if x < 0 else mpmath.mpf(at_zero)


_MPMATH_FUNCTIONS = {"sigma": _mp_sigma, "Heaviside": _mp_heaviside,
                     "Max": max, "Min": min}


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
        for eq in cell.ordered:
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
        for signal in [*reversed([eq.signal for eq in cell.ordered]), *cell.inputs]:
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
    point = inst.point(np.random.default_rng(seed))
    reference = UnrolledReference(cell, inst, point)
    expected = {}
    for label, var in inst.variables().items():
        if isinstance(var, sp.MatrixBase):
            expected[label] = var.applyfunc(reference.derivative)
        else:
            expected[label] = reference.derivative(var)
    derived = interpret_bptt(cell, adjoints, inst, point)
    sym_err = max(_exact_relative_error(derived[k], v) for k, v in expected.items())

    # the compiled kernels, float64, at the same point
    result = model.bptt(**_numeric_instance(model, inst, point), dims=_dims_by_name(concrete))
    kernel = _gradients_by_label(model, result, inst)
    ker_err = max(relative_error(kernel[k], _as_array(v)) for k, v in expected.items())
    where = f"T={steps}" + "".join(f", {k}={v}" for k, v in _dims_by_name(concrete).items())
    return [
        Check(f"unrolled loss, 30 digits ({where})",
              "60-digit central differences of the unrolled loss",
              sym_err, UNROLLED_TOLERANCE, counted(len(expected), "gradient")),
        Check(f"kernels vs unrolled loss ({where})",
              "60-digit central differences of the unrolled loss",
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
    vector = any(s.is_matrix for s in model.cell.signals.values())
    labels, alone = [], []
    for group in ("params", "inputs", "initial"):
        for name, value in inst[group].items():
            for index in np.ndindex(np.shape(value)):
                # a scalar weight of a vector cell cannot carry a batch axis (it would
                # broadcast against the vectors' rows): it is perturbed in a run of its own
                if vector and group == "params" and np.ndim(value) == 0:
                    alone.append((group, name, index))
                else:
                    labels.append((group, name, index))
    n = len(labels)
    dtype = complex if np.iscomplexobj(perturb(0.0)) else float
    params = {p: np.repeat(np.asarray(v, dtype=dtype)[None], n, axis=0)
              for p, v in inst["params"].items()}
    for _, name, _ in alone:
        params[name] = np.asarray(inst["params"][name], dtype=dtype)
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
    losses = [_loss(model, inst, dims, params, inputs, initial, n)] if n else []
    for _, name, _ in alone:
        one = {p: np.asarray(v, dtype=dtype) for p, v in inst["params"].items()}
        one[name] = one[name] + perturb(0.0)
        losses.append(_loss(model, inst, dims, one,
                            {x: np.asarray(v, dtype=dtype) for x, v in inst["inputs"].items()},
                            {s: np.asarray(v, dtype=dtype) for s, v in inst["initial"].items()},
                            1))
    return labels + alone, np.concatenate(losses) if losses else np.zeros(0, dtype=dtype)


def _loss(model, inst: dict, dims: dict, params: dict, inputs: dict, initial: dict,
          batch: int) -> np.ndarray:
    """``sum_t upstream(t) . output(t)`` for each of ``batch`` forward runs."""
    model_inputs = {x: _col(model, x, v) for x, v in inputs.items()}
    model_initial = {s: _col(model, s, v) for s, v in initial.items()}
    upstream = {o: np.zeros((u.shape[0], batch, *u.shape[2:]))
                for o, u in inst["upstream"].items()}  # T and B for a cell with no input
    result = bptt(model.kernels(dims), params, model_inputs, model_initial, upstream,
                  backward=False)
    loss = 0
    for o, u in inst["upstream"].items():
        for step in range(1, u.shape[0] + 1):
            h = result.values[o][step]
            uu = _col(model, o, u[step - 1])
            loss = loss + np.sum((uu * h).reshape(batch, -1), axis=1)
    return loss


def _col(model, name: str, a: np.ndarray) -> np.ndarray:
    return a[..., None] if model.cell.signals[name].is_matrix else a


def perturbation_checks(model, steps: int = 5, dims: dict | None = None,
                        seed: int = 1) -> list[Check]:
    """Kernels' BPTT gradients against complex-step and central differences."""
    inst = model.random_instance(seed, steps, dims)
    if model.cell.max_lag <= 1:  # one initial value per state: give it its lag axis
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


def batch_check(model, steps: int = 4, dims: dict | None = None, seed: int = 2,
                batch: int = 3) -> Check:
    """The kernels on a batch of ``batch`` instances against each instance run alone: the
    other checks run one instance at a time, and a batch must not mix its elements."""
    inst = model.random_instance(seed, steps, dims, batch=batch)
    lagged = model.cell.max_lag > 1  # initial values carry a leading lag axis

    def element(b: int) -> dict:
        return {"params": inst["params"],
                "inputs": {x: v[:, b:b + 1] for x, v in inst["inputs"].items()},
                "upstream": {o: v[:, b:b + 1] for o, v in inst["upstream"].items()},
                "initial": {s: (v[:, b:b + 1] if lagged else v[b:b + 1])
                            for s, v in inst["initial"].items()}}

    whole = model.bptt(inst["params"], inst["inputs"], inst["upstream"], inst["initial"], dims)
    alone = [model.bptt(dims=dims, **element(b)) for b in range(batch)]
    error = max((_difference(whole.grads[p], sum(one.grads[p] for one in alone))
                 for p in whole.grads), default=0.0)
    for name, by_time in whole.bars.items():
        for time, value in by_time.items():
            for b, one in enumerate(alone):
                if time in one.bars.get(name, {}):
                    error = max(error, _difference(value[b], one.bars[name][time][0]))
    where = f"T={steps}" + "".join(f", {k}={v}" for k, v in
                                   _dims_by_name(model.dims_for(dims)).items())
    return Check(f"batch of {batch} vs one at a time ({where})", "each instance run alone",
                 error, KERNEL_TOLERANCE,
                 "every weight gradient and every bar of every step")


def _difference(actual, expected) -> float:
    """``relative_error``, or infinity when the shapes differ (a kernel broadcast wrongly)."""
    if np.shape(actual) != np.shape(expected):
        return float("inf")
    return relative_error(actual, expected)


def _squeeze(a: np.ndarray, cell: Cell, name: str) -> np.ndarray:
    return a[..., 0] if cell.signals[name].is_matrix else a


# --- elementwise checks of vector results -------------------------------------------------

def elementwise_checks(model, dims: dict, adjoints: Adjoints | None = None) -> list[Check]:
    """Each bar and weight-gradient summand of a vector cell, as the derivative rules gave it
    (before renaming, which :func:`renaming_check` proves separately), at concrete sizes,
    against SymPy's elementwise differentiation of the explicit matrices.

    Every signal value and weight entry is an independent symbol on both sides, so the two
    are compared in one step's quantities, never unrolled through time."""
    cell = model.cell
    adjoints = adjoints or model.derivation
    concrete = model.dims_for(dims)
    k = cell.max_lag
    explicit: dict[sp.Basic, sp.Basic] = {}
    _elementwise_cost(model, concrete)  # refused above the limit, before any work

    def ex(atom):
        if atom not in explicit:
            if isinstance(atom, sp.MatrixSymbol):
                shape = _concrete_shape(atom.shape, concrete)
                explicit[atom] = explicit_symbols(safe_name(str(atom)), shape)
            else:  # a scalar signal's value in a vector cell
                explicit[atom] = sp.Symbol(safe_name(str(atom)), real=True)
        return explicit[atom]

    def to_explicit(expr) -> sp.Matrix:
        expr = exact_floats(expr.xreplace(concrete))
        env = {a: ex(a) for a in expr.atoms(sp.MatrixSymbol) | _timed_atoms(expr)}
        value = _evaluate(expr, env)
        return sp.Matrix(value) if isinstance(value, sp.MatrixBase) else sp.Matrix([[value]])

    def agree(derived, expected) -> bool:
        return all(exactly_zero(entry) for entry in sp.Matrix(derived) - sp.Matrix(expected))

    def local_gradient(wrt_x: sp.Matrix, uses) -> sp.Matrix:
        expected = sp.zeros(*wrt_x.shape)
        for rhs, bar in uses:
            rhs_x, bar_x = to_explicit(rhs), to_explicit(bar)
            for a in range(wrt_x.shape[0]):
                for b in range(wrt_x.shape[1]):
                    expected[a, b] += sum(bar_x[i, j] * sp.diff(rhs_x[i, j], wrt_x[a, b])
                                          for i in range(rhs_x.shape[0])
                                          for j in range(rhs_x.shape[1]))
        return expected

    failures = []
    checked = 0
    for signal in [*cell.defined, *cell.inputs]:
        target = signal(t)
        uses = [(eq.at(s), eq.signal.bar(t + s)) for eq in cell.equations
                for s in range(0, k + 1) if target in _timed_atoms(eq.at(s))]
        expected = local_gradient(to_explicit(target), uses)
        if signal.name in cell.outputs:
            expected += to_explicit(signal.direct(t))
        checked += 1
        if not agree(to_explicit(adjoints.bar_unnamed(signal.name)), expected):
            failures.append(f"bar {signal.name}")
    for pname, weight in cell.parameters.items():
        uses = [(eq.rhs, eq.signal.bar(t)) for eq in cell.equations
                if weight in eq.rhs.free_symbols]
        expected = local_gradient(to_explicit(weight), uses)
        checked += 1
        if not agree(to_explicit(adjoints.grad_unnamed(pname)), expected):
            failures.append(f"grad {pname}")
    where = ", ".join(f"{k}={v}" for k, v in _dims_by_name(concrete).items())
    return [Check.exact(f"elementwise SymPy ({where})",
                        "elementwise diff of explicit matrices", not failures,
                        f"{counted(checked, 'result')} (bars and weight gradients); "
                        f"differing: {', '.join(failures) or 'none'}")]


def _elementwise_cost(model, concrete: dict) -> None:
    """The elementwise check differentiates every entry of each right-hand side by every entry
    of what it reads: refuse sizes whose count of such derivatives exceeds DERIVE_MAX_TERMS."""
    cell = model.cell

    def entries(x) -> int:
        shape = getattr(x, "shape", None)
        if shape is None:
            return 1
        return int(sp.Mul(*[sp.sympify(d).xreplace(concrete) for d in shape]))

    cost = 0
    for eq in cell.equations:
        rows = entries(eq.rhs)
        cost += rows * sum(entries(w) for w in cell.parameters.values()
                           if w in eq.rhs.free_symbols)
        cost += rows * sum(entries(signal(t)) for signal, _ in cell.uses(eq.rhs))
    where = ", ".join(f"{d}={v}" for d, v in concrete.items())
    TERMS.check(cost, f"the elementwise check of {model.name} ({where})",
                "derivatives of entries")


def renaming_check(model, adjoints: Adjoints | None = None) -> Check:
    """Every derivative renamed to forward quantities (``sigma(z(t+1))`` to ``i(t+1)``)
    against itself before renaming, both written through the equations of their own time."""
    compared, failures = renaming_failures(adjoints or model.derivation)
    unused = model.cell.unused_weights
    return Check.exact("renamed values, same time", "the derivative before renaming",
                       not failures,
                       f"{counted(compared, 'term')} of bars and weight gradients; "
                       f"differing: {', '.join(failures[:4]) or 'none'}"
                       + (f" (and {len(failures) - 4} more)" if len(failures) > 4 else "")
                       + (f"; read by no equation, gradient 0: {', '.join(unused)}"
                          if unused else ""))


def safe_name(name: str) -> str:
    """An unambiguous symbol prefix: ``h(t - 1)`` -> ``h_tm1``, ``h(t + 1)`` -> ``h_tp1``."""
    name = name.replace(" ", "").replace("-", "m").replace("+", "p")
    return "".join(ch if ch.isalnum() else "_" for ch in name)


def _guarded(name: str, run) -> list[Check]:
    """A check that raises fails, naming what was raised: a check never crashes."""
    try:
        found = run()
    except DeriveError:
        raise  # bad input (sizes, shapes): the user's to fix, not a failed check
    except Exception as exc:  # noqa: BLE001 - any failure of the derivation is reported
        return [Check(name, "", float("inf"), 0.0,
                      f"raised {type(exc).__name__}: {exc}")]
    return found if isinstance(found, list) else [found]


def model_checks(model) -> list[Check]:
    """Every check of a recurrent model at its check sizes."""
    checks: list[Check] = []
    vector = any(s.is_matrix for s in model.cell.signals.values())
    last = model.check_dims[-1]
    for dims in model.check_dims:
        named = {k: v for k, v in dims.items()}
        where = ", ".join(f"{k}={v}" for k, v in named.items())
        if vector:
            checks += _guarded(f"elementwise SymPy ({where})",
                               lambda d=named: elementwise_checks(model, d))
        checks += _guarded(f"perturbations ({where})",
                           lambda d=named: perturbation_checks(model, dims=d))
    checks += _guarded("unrolled loss", lambda: unrolled_checks(
        model, steps=3 if not vector else 2, dims=last))
    checks += _guarded("batch vs one at a time", lambda: batch_check(model, dims=last))
    checks += _guarded("renamed values, same time", lambda: renaming_check(model))
    return checks
