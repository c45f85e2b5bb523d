"""NumPy kernels compiled from derived equations, and the BPTT driver that runs them.

Each step (forward, backward, initial-state bars) becomes one generated Python function of
straight-line NumPy code: equations in order, one assignment each, after common
subexpression elimination. Arrays carry a leading batch axis: a scalar signal is ``(B,)``,
a vector signal ``(B, rows, 1)``; weights are unbatched. Any dtype flows through, complex
included, so complex-step differentiation reaches machine precision.

The loop over time lives in :func:`bptt`, not in SymPy: lambdifying a ``Sum`` with CSE can
hoist index-dependent terms (sympy#27971).
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass

import numpy as np
import sympy as sp
from sympy.matrices.expressions.matexpr import MatrixExpr
from sympy.printing.numpy import NumPyPrinter

from derive.calculus.adjoint import Adjoints
from derive.core.cell import Cell, _name_and_time, shift, t
from derive.core.errors import DeriveError
from derive.core.primitives import LOWER, RUNTIME, rule_for


def _outer_sum(u: np.ndarray, v: np.ndarray) -> np.ndarray:
    """``sum_b u_b v_b^T`` over the batch, for columns ``u, v`` of shape ``(B, k, 1)``."""
    return u[..., 0].T @ v[..., 0]


def _batch_dot(u: np.ndarray, v: np.ndarray) -> np.ndarray:
    """``sum_b u_b v_b`` over the batch: one dot product for two batches of scalars (no
    temporary array), the plain sum of the product otherwise."""
    if np.ndim(u) == 1 and np.shape(u) == np.shape(v):
        return np.dot(u, v)
    return np.sum(u * v, axis=0)


_NAMESPACE = {"numpy": np, "_outer_sum": _outer_sum, "_batch_dot": _batch_dot, **RUNTIME}


class BatchedPrinter(NumPyPrinter):
    """NumPy code for batched operands: each node is lowered by its primitive's rule
    (``derive.core.primitives.LOWER``), others by SymPy's NumPy printer."""

    def __init__(self, settings: dict | None = None) -> None:
        super().__init__(settings)
        self.temps: dict[sp.Basic, str] = {}  # subexpressions already held in a variable
        # subexpressions read more than once -> the variable to hold them: written, the first
        # time one is printed, as a line in ``pending`` (before the line that reads it)
        self.shared: dict[sp.Basic, str] = {}
        self.pending: list[str] = []
        self.softmaxes: dict[sp.Basic, str] = {}  # a softmax's scores -> its entries' variable
        self.unevaluated = True  # whether UnevaluatedExpr may occur (SymPy's pass over it)

    def _handle_UnevaluatedExpr(self, expr):  # noqa: N802 - SymPy's name
        # a pass over the whole tree on every line: skipped when the step holds none
        return super()._handle_UnevaluatedExpr(expr) if self.unevaluated else expr

    def _print(self, expr, **kwargs) -> str:
        temp = self.temps.get(expr)
        if temp is not None:
            return temp
        held = getattr(self, "_placeholders", {})
        if expr in held:  # the variable of an elementwise function's body
            return held[expr]
        lower = rule_for(LOWER, expr) if isinstance(expr, sp.Basic) else None
        code = lower(self, expr) if lower is not None else super()._print(expr, **kwargs)
        name = self.shared.get(expr) if not held else None
        if name is None:
            return code
        self.pending.append(f"    {name} = {code}")
        self.temps[expr] = name
        return name

    def batch_sum(self, expr) -> str:
        """Code for ``expr`` summed over the batch axis: a weight's gradient."""
        if isinstance(expr, sp.MatAdd):
            return " + ".join(f"({self.batch_sum(a)})" for a in expr.args)
        if isinstance(expr, sp.MatMul):
            coeff, factors = expr.as_coeff_matrices()
            if len(factors) == 2 and isinstance(factors[1], sp.Transpose) and \
                    factors[0].shape[1] == 1:
                left = self._print(factors[0])
                if not coeff.is_number:  # a batched scalar scales each element's product
                    left, coeff = f"_scalar({self._print(coeff)}) * ({left})", sp.Integer(1)
                body = f"_outer_sum({left}, {self._print(factors[1].arg)})"
                return body if coeff == 1 else f"({self._print(coeff)}) * ({body})"
        return f"numpy.sum({self._print(expr)}, axis=0)"


def variable_name(atom: sp.Basic, cell: Cell) -> str | None:
    """A Python identifier for a time-indexed atom or a weight: ``h_m1`` is ``h(t - 1)``,
    ``bar_i_p1`` is ``bar_i(t + 1)``."""
    if isinstance(atom, sp.Symbol | sp.MatrixSymbol) and str(atom) in cell.parameters:
        return f"w_{atom}"
    name, time = _name_and_time(atom)
    if name is None:
        return None
    offset = int(time - t)
    tag = f"p{offset}" if offset > 0 else f"m{-offset}" if offset < 0 else "0"
    return f"{name}_{tag}"


@dataclass
class StepFunction:
    """Generated code of one step: reads ``env[name]``, returns a dict of results."""

    name: str
    source: str
    inputs: list[str]
    outputs: list[str]

    def __post_init__(self) -> None:
        namespace = dict(_NAMESPACE)
        exec(compile(self.source, f"<derive:{self.name}>", "exec"), namespace)  # noqa: S102
        self.fn = namespace[self.name]

    def __call__(self, env: dict) -> dict:
        return self.fn(env)


def compile_step(
    name: str, cell: Cell, assignments: list[tuple[str, sp.Basic]], dims: dict,
    summed: frozenset[str] = frozenset(),
) -> StepFunction:
    """Straight-line code for ``target = expr`` in order; later ones may read earlier ones.
    Targets in ``summed`` are summed over the batch axis (weight gradients)."""
    concrete = {sym: int(v) for sym, v in dims.items()}
    # one pass over the step's expressions as a graph: a subtree shared by many of them (a
    # softmax's normaliser read by every score's bar) is visited once, not once per line
    exprs = _replaced([expr for _, expr in assignments], concrete)
    targets = [target for target, _ in assignments]

    renames: dict[sp.Basic, sp.Basic] = {}
    inputs: set[str] = set()
    nodes = _nodes(exprs)
    for atom in nodes:
        if not isinstance(atom, sp.MatrixSymbol | sp.core.function.AppliedUndef | sp.Symbol) \
                or isinstance(atom, sp.Dummy):  # a Dummy is bound (a function's variable)
            continue
        var = variable_name(atom, cell)
        if var is None:
            continue
        if isinstance(atom, sp.MatrixSymbol):
            renames[atom] = sp.MatrixSymbol(var, *atom.shape)
        else:
            renames[atom] = sp.Symbol(var)
        if var not in targets:
            inputs.add(var)
    exprs = _replaced(exprs, renames)

    printer = BatchedPrinter({"fully_qualified_modules": True, "inline": True,
                              "allow_unknown_functions": False})
    printer.module_imports.clear()
    printer.unevaluated = any(isinstance(node, sp.UnevaluatedExpr) for node in nodes)
    lines = [f"def {name}(env):"]
    lines += [f"    {v} = env[{v!r}]" for v in sorted(inputs)]
    counter = itertools.count()
    # sympy.cse cannot order matrix expressions, so repeated matrix subexpressions are
    # shared by hand: each becomes a temporary just before the first line that reads it
    matrix = [_has_matrix(e) for e in exprs]
    printer.shared = _repeated_matrix_subexpressions(
        [e for e, m in zip(exprs, matrix, strict=True) if m])
    emitted: set[sp.Basic] = set()
    # scalar steps: one CSE over the whole step (a gate's derivative feeds several bars)
    scalar = [(tg, e) for tg, e, m in zip(targets, exprs, matrix, strict=True) if not m]
    subs, reduced_all = sp.cse([e for _, e in scalar],
                               symbols=(sp.Symbol(f"_c{next(counter)}") for _ in itertools.count()))
    scalar_subs = dict(subs)
    scalar_reduced = {tg: r for (tg, _), r in zip(scalar, reduced_all, strict=True)}
    for target, expr, is_matrix in zip(targets, exprs, matrix, strict=True):
        if is_matrix:
            code = printer.batch_sum(expr) if target in summed else printer.doprint(expr)
            lines += printer.pending
            printer.pending.clear()
            lines.append(f"    {target} = {code}")
            continue
        reduced = scalar_reduced[target]
        for sym in _needed(reduced, scalar_subs):
            if sym not in emitted:
                code = printer.doprint(scalar_subs[sym])
                lines += printer.pending
                printer.pending.clear()
                lines.append(f"    {sym} = {code}")
                emitted.add(sym)
        pair = _two_factors(reduced) if target in summed else None
        if pair is not None:  # a weight's gradient sum_b u_b v_b: one dot product
            u, v = (printer.doprint(f) for f in pair)
            lines += printer.pending
            printer.pending.clear()
            lines.append(f"    {target} = _batch_dot({u}, {v})")
            continue
        code = printer.doprint(reduced)
        lines += printer.pending
        printer.pending.clear()
        lines.append(f"    {target} = numpy.sum({code}, axis=0)" if target in summed
                     else f"    {target} = {code}")
    lines.append("    return {" + ", ".join(f"{v!r}: {v}" for v in targets) + "}")
    source = "\n".join(lines) + "\n"
    return StepFunction(name, source, sorted(inputs), targets)


def _two_factors(expr: sp.Basic) -> tuple[sp.Basic, sp.Basic] | None:
    """``(u, v)`` for a product ``u v`` of two non-numeric factors, else None."""
    if isinstance(expr, sp.Mul) and len(expr.args) == 2 and \
            not any(a.is_number for a in expr.args):
        return expr.args
    return None


def _needed(expr: sp.Basic, subs: dict[sp.Symbol, sp.Basic]) -> list[sp.Symbol]:
    """The CSE temporaries ``expr`` reads, directly or through others, in definition order."""
    order = list(subs)
    seen: set[sp.Symbol] = set()
    stack = [s for s in expr.free_symbols if s in subs]
    while stack:
        sym = stack.pop()
        if sym not in seen:
            seen.add(sym)
            stack += [s for s in subs[sym].free_symbols if s in subs]
    return sorted(seen, key=order.index)


def _repeated_matrix_subexpressions(exprs: list[sp.Basic]) -> dict[sp.Basic, str]:
    """Compound matrix subexpressions read more than once -> a temp name. Each subtree is
    entered once: one read inside a subtree that is itself shared is held by that subtree's
    temporary, so it is no reason for a temporary of its own."""
    counts: dict[sp.Basic, int] = {}
    entered: set[sp.Basic] = set()
    stack = list(reversed(exprs))
    while stack:
        node = stack.pop()
        if isinstance(node, MatrixExpr) and not isinstance(
                node, sp.MatrixSymbol | sp.OneMatrix | sp.ZeroMatrix | sp.Transpose):
            counts[node] = counts.get(node, 0) + 1
        if node in entered:
            continue
        entered.add(node)
        stack.extend(reversed(node.args))
    repeated = [s for s, k in counts.items() if k > 1]
    return {sub: f"_m{i}" for i, sub in enumerate(repeated)}


def _nodes(exprs: list[sp.Basic]) -> set[sp.Basic]:
    """Every distinct node of ``exprs``, each entered once."""
    seen: set[sp.Basic] = set()
    stack = list(exprs)
    while stack:
        node = stack.pop()
        if node not in seen:
            seen.add(node)
            stack.extend(node.args)
    return seen


def _replaced(exprs: list[sp.Basic], mapping: dict) -> list[sp.Basic]:
    """``[e.xreplace(mapping) for e in exprs]``, each distinct subtree rebuilt once."""
    if not mapping:
        return list(exprs)
    memo: dict[sp.Basic, sp.Basic] = {}

    def rebuilt(node: sp.Basic) -> sp.Basic:
        got = memo.get(node)
        if got is None:
            if node in mapping:
                got = mapping[node]
            elif not node.args:
                got = node
            else:
                args = [rebuilt(a) for a in node.args]
                changed = any(a is not b for a, b in zip(args, node.args, strict=True))
                got = node.func(*args) if changed else node
            memo[node] = got
        return got

    return [rebuilt(e) for e in exprs]


def _has_matrix(expr: sp.Basic) -> bool:
    return any(isinstance(a, MatrixExpr) for a in sp.preorder_traversal(expr))


@dataclass
class Kernels:
    """The compiled steps of one cell at concrete dimensions."""

    cell: Cell
    forward: StepFunction
    backward: StepFunction
    initial: dict[int, StepFunction]  # time t0 <= 0 -> bars of the states at t0
    dims: dict


def compile_kernels(cell: Cell, adjoints: Adjoints, dims: dict | None = None) -> Kernels:
    """Forward, backward and initial-state steps of ``cell`` at the given dimensions."""
    dims = dict(dims or {})
    forward = [(f"{eq.signal.name}_0", eq.rhs) for eq in cell.ordered]
    backward: list[tuple[str, sp.Basic]] = []
    for signal in reversed([eq.signal for eq in cell.ordered]):
        backward.append((f"bar_{signal.name}_0", adjoints.bar_rhs(signal.name)))
    for signal in cell.inputs:
        backward.append((f"bar_{signal.name}_0", adjoints.bar_rhs(signal.name)))
    for pname in cell.parameters:
        backward.append((f"grad_{pname}", adjoints.grad_summand(pname)))
    if not any(sig.is_matrix for sig in cell.signals.values()):
        backward = _carry_across_steps(backward)

    initial = {}
    states = cell.states
    # states fixed at zero before t = 1 have no gradient to report
    for t0 in range(0, 0 if cell.zero_initial else -cell.max_lag, -1):
        assignments = []
        for signal in states:
            terms = [term for term in adjoints.bars[signal.name]
                     if term.via is not None and t0 + term.offset >= 1]
            shape = signal.shape
            total = (sp.MatAdd(*[x.expr for x in terms]) if terms and shape else
                     sp.Add(*[x.expr for x in terms]) if terms else
                     sp.ZeroMatrix(*shape) if shape else sp.Integer(0))
            assignments.append((f"bar_{signal.name}_0", total))
        initial[t0] = compile_step(f"initial_{-t0}", cell, assignments, dims)
    return Kernels(
        cell,
        compile_step("forward", cell, forward, dims),
        compile_step("backward", cell, backward, dims,
                     summed=frozenset(f"grad_{p}" for p in cell.parameters)),
        initial,
        dims,
    )


def _carry_across_steps(assignments: list[tuple[str, sp.Basic]]) -> list[tuple[str, sp.Basic]]:
    """Reuse, at step ``t``, products the backward step of ``t + 1`` already computed.

    ``bar_h(t)`` reads ``bar_i(t+1) i(t+1) (1 - i(t+1))``, the same product step ``t + 1``
    formed for ``bar_x`` and the weight gradients. Each shared product that carries a bar at
    ``t`` (so it vanishes past ``T``, like the bars) becomes an output ``carryK(t)`` of the step
    and an input ``carryK(t + 1)`` of the next one down.
    """
    subs, _ = sp.cse([expr for _, expr in assignments])
    expanded: dict[sp.Symbol, sp.Basic] = {}
    for sym, sub in subs:
        expanded[sym] = sub.xreplace(expanded)
    carries: list[tuple[str, sp.Basic]] = []
    out = list(assignments)
    for product in expanded.values():
        bars_now = [a for a in product.atoms(sp.core.function.AppliedUndef)
                    if (_name_and_time(a)[0] or "").startswith("bar_") and a.args[0] == t]
        if not isinstance(product, sp.Mul) or not bars_now:
            continue
        name = f"carry{len(carries)}"
        later = sp.Function(name)(t + 1)
        shifted = shift(product, 1)
        replaced = [(target, expr.subs(shifted, later)) for target, expr in out]
        if any(new != old for (_, new), (_, old) in zip(replaced, out, strict=True)):
            out = replaced
            carries.append((f"{name}_0", product))
    if not carries:
        return assignments
    first_grad = next((i for i, (target, _) in enumerate(out) if target.startswith("grad_")),
                      len(out))
    return out[:first_grad] + carries + out[first_grad:]


@dataclass
class BPTTResult:
    """Every forward value and every gradient of one run."""

    values: dict[str, dict[int, np.ndarray]]  # signal -> time -> value
    bars: dict[str, dict[int, np.ndarray]]  # signal -> time -> dL/d value
    grads: dict[str, np.ndarray]  # weight -> dL/d weight (summed over the batch)

    def __repr__(self) -> str:
        steps = max((max(v) for v in self.values.values() if v), default=0)
        return (f"<BPTTResult T={steps}: values of {', '.join(self.values)}; gradients of "
                f"{', '.join(self.grads) or 'nothing (forward only)'}>")


def bptt(
    kernels: Kernels,
    params: dict[str, np.ndarray],
    inputs: dict[str, np.ndarray],
    initial: dict[str, np.ndarray],
    upstream: dict[str, np.ndarray],
    backward: bool = True,
    keep_bars: bool = True,
) -> BPTTResult:
    """Run the cell forward over ``T`` steps and (unless ``backward`` is false) backward to
    every gradient. Weights may carry the batch axis too, for a forward-only run.

    ``inputs[x]`` and ``upstream[v]`` have shape ``(T, B, ...)``; ``initial[s]`` has shape
    ``(k, B, ...)`` (the values at ``t = 0, -1, ..., 1-k``); weights are unbatched. With
    ``keep_bars`` false, the bars of intermediates are dropped once no step reads them (less
    memory traffic); inputs' and states' bars are kept.
    """
    cell = kernels.cell
    k = cell.max_lag
    first = next(iter([*inputs.values(), *upstream.values()]), None)
    if first is None:
        raise DeriveError("bptt: no input and no upstream array to take T and B from")
    steps, batch = first.shape[0], first.shape[1]
    dtype = np.result_type(*params.values(), *inputs.values(), *initial.values(),
                           *upstream.values())
    shapes = {s.name: _concrete(s.shape, kernels.dims) for s in cell.signals.values()}

    def zeros(name: str) -> np.ndarray:
        return np.zeros((batch, *shapes[name]) if shapes[name] else (batch,), dtype=dtype)

    values: dict[str, dict[int, np.ndarray]] = {name: {} for name in cell.signals}
    for signal in cell.states:
        if cell.zero_initial and signal.name not in initial:
            continue  # read back as zeros, like every value before t = 1
        for j in range(k):
            values[signal.name][-j] = initial[signal.name][j]
    for signal in cell.inputs:
        for step in range(1, steps + 1):
            values[signal.name][step] = inputs[signal.name][step - 1]
    weights = {f"w_{p}": v for p, v in params.items()}

    zero = {name: zeros(name) for name in cell.signals}  # read-only stand-ins past T
    scalar_zero = np.zeros((batch,), dtype=dtype)
    carried: dict[tuple[str, int], np.ndarray] = {}

    def env_for(fn: StepFunction, now: int, bars: dict) -> dict:
        env = {}
        for var, kind, name, offset in _plan(fn, weights):
            if kind == "weight":
                env[var] = weights[var]
                continue
            time = now + offset
            if kind == "bar":
                env[var] = bars[name].get(time, zero[name]) if time <= steps else zero[name]
            elif kind == "carry":
                env[var] = carried.get((name, time), scalar_zero)
            elif kind == "direct":
                env[var] = upstream[name][time - 1]
            else:
                env[var] = values[name].get(time, zero[name]) if time <= steps else zero[name]
        return env

    for step in range(1, steps + 1):
        out = kernels.forward(env_for(kernels.forward, step, {}))
        for name, value in out.items():
            values[name[:-2]][step] = value
    if not backward:
        return BPTTResult(values, {}, {})

    bars: dict[str, dict[int, np.ndarray]] = {name: {} for name in cell.signals}
    grads = {p: 0 for p in params}
    intermediate = [s.name for s in cell.defined if s not in cell.states]
    for step in range(steps, 0, -1):
        env = env_for(kernels.backward, step, bars)
        out = kernels.backward(env)
        for var, value in out.items():
            if var.startswith("grad_"):
                grads[var[5:]] = grads[var[5:]] + value
            elif var.startswith("carry"):
                carried[(var[:-2], step)] = value
                carried.pop((var[:-2], step + 1), None)
            else:
                bars[var[4:-2]][step] = value
        if not keep_bars:  # only the next k steps down read these; inputs' bars are results
            for name in intermediate:
                bars[name].pop(step + k, None)
    for t0, fn in kernels.initial.items():
        out = fn(env_for(fn, t0, bars))
        for var, value in out.items():
            bars[var[4:-2]][t0] = value
    for p, value in params.items():
        grads[p] = np.broadcast_to(np.asarray(grads[p], dtype=dtype), np.shape(value)).copy()
    return BPTTResult(values, bars, grads)


def _plan(fn: StepFunction, weights: dict) -> list[tuple[str, str, str, int]]:
    """How to fetch each input of a step: ``(var, kind, signal, offset)``, parsed once."""
    cached = fn.__dict__.get("_plan")
    if cached is not None:
        return cached
    plan = []
    for var in fn.inputs:
        if var.startswith("w_") and var in weights:
            plan.append((var, "weight", var, 0))
            continue
        base, _, tag = var.rpartition("_")
        offset = 0 if tag == "0" else int(tag[1:]) * (1 if tag[0] == "p" else -1)
        if base.startswith("bar_"):
            plan.append((var, "bar", base[4:], offset))
        elif base.startswith("dL_d"):
            plan.append((var, "direct", base[4:], offset))
        elif base.startswith("carry"):
            plan.append((var, "carry", base, offset))
        else:
            plan.append((var, "value", base, offset))
    fn.__dict__["_plan"] = plan
    return plan


def _concrete(shape: tuple | None, dims: dict) -> tuple | None:
    if shape is None:
        return None
    try:
        return tuple(int(sp.sympify(d).xreplace(dims)) for d in shape)
    except TypeError:
        raise DeriveError(f"dimensions {shape} need values for {sorted(map(str, dims))}") from None
