"""The reverse sweep over a cell's equations: bars, weight gradients, local Jacobians.

The bar of a signal at time ``t`` collects one term per use of that signal: a use of
``v(t - s)`` in the equation of ``e`` at time ``t`` becomes, shifted by ``s`` steps, a use of
``v(t)`` by ``e(t + s)``, contributing ``VJP(e's right-hand side at t + s, v(t), bar e(t + s))``.
Outputs also get their direct term ``dL_t/dv(t)``. Weight gradients are sums over ``t`` of
the VJPs of every equation that reads the weight. Nothing here knows any model.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import sympy as sp
from sympy.matrices.expressions.matexpr import MatrixExpr

from derive.cell import Cell, Equation, Signal, _name_and_time, _timed_atoms, t
from derive.rules import matrix_vjp


@dataclass(frozen=True)
class Term:
    """One contribution to a bar: through ``via`` (an equation) at ``t + offset``, or the
    direct loss term when ``via`` is None."""

    expr: sp.Basic
    via: str | None
    offset: int


@dataclass
class Adjoints:
    """The derived BPTT equations of a cell."""

    cell: Cell
    bars: dict[str, list[Term]] = field(default_factory=dict)  # signal -> terms of bar(t)
    grads: dict[str, list[Term]] = field(default_factory=dict)  # weight -> summand terms at t

    def bar_rhs(self, name: str) -> sp.Basic:
        return _total(self.bars[name], self.cell.signals[name].shape)

    def grad_summand(self, name: str) -> sp.Basic:
        return _total(self.grads[name], _shape(self.cell.parameters[name]))


def _shape(x: sp.Basic) -> tuple | None:
    return tuple(x.shape) if isinstance(x, MatrixExpr) else None


def _total(terms: list[Term], shape: tuple | None) -> sp.Basic:
    if not terms:
        return sp.ZeroMatrix(*shape) if shape else sp.Integer(0)
    if shape:
        return sp.MatAdd(*[term.expr for term in terms])
    return sp.Add(*[term.expr for term in terms], evaluate=False)  # keep the textbook order


def local_vjp(rhs: sp.Basic, wrt: sp.Basic, bar: sp.Basic) -> list[sp.Basic]:
    """The terms ``bar . d rhs / d wrt`` (scalar: ``sympy.diff``; matrix: the VJP rules)."""
    if isinstance(rhs, MatrixExpr):
        return matrix_vjp(rhs, bar, wrt)
    derivative = sp.diff(rhs, wrt)
    return [] if derivative == 0 else [bar * derivative]


class Namer:
    """Renames right-hand sides back to the symbols they define: ``sigma(z_i(t+1))``
    becomes ``i(t+1)``, so derivatives read in forward quantities.

    A right-hand side shifted by ``o`` steps contains its first time-indexed atom shifted
    by ``o``: so only the shifts suggested by the atoms of the expression being renamed
    are made (once each), not every equation at every shift, which would cost cubic time
    in the lag of a cell like AttentionRNN(k)."""

    def __init__(self, cell: Cell) -> None:
        self.anchors: dict[str, list[tuple[Equation, int]]] = {}
        self.constant: dict[sp.Basic, sp.Basic] = {}
        for eq in cell.equations:
            located = sorted(((name, time) for name, time in
                              map(_name_and_time, _timed_atoms(eq.rhs)) if name is not None),
                             key=lambda pair: (pair[0], str(pair[1])))
            if not located:
                self.constant[eq.rhs] = eq.signal(t)  # no time in it: one shift is enough
                continue
            name, time = located[0]
            self.anchors.setdefault(name, []).append((eq, int(time - t)))
        self.shifted: dict[tuple[str, int], tuple[sp.Basic, sp.Basic]] = {}
        self.atom_memo: dict[sp.Basic, frozenset] = {}
        self.offsets: dict[sp.Basic, sp.Expr] = {}
        self.weights = {eq.signal.name: eq.rhs.free_symbols & set(cell.parameters.values())
                        for eq in cell.equations}
        self.mapping: dict[sp.Basic, sp.Basic] = dict(self.constant)

    def _atoms(self, node: sp.Basic) -> frozenset:
        # memoised per subtree: the same large node (a softmax entry and its k + 1 scores)
        # recurs in many terms
        found = self.atom_memo.get(node)
        if found is None:
            if _name_and_time(node)[0] is not None:
                found = frozenset([node])
            else:
                found = frozenset().union(*[self._atoms(a) for a in node.args])
            self.atom_memo[node] = found
        return found

    def mapping_for(self, expr: sp.Basic) -> dict[sp.Basic, sp.Basic]:
        # one growing mapping (a superset does no harm); an equation is shifted only if the
        # expression also holds every weight of its right-hand side
        symbols = None
        for atom in self._atoms(expr):
            name, time = _name_and_time(atom)
            offset = self.offsets.get(atom)
            if offset is None:
                offset = self.offsets[atom] = time - t
            if not offset.is_Integer:
                continue
            for eq, anchor in self.anchors.get(name, ()):
                key = (eq.signal.name, int(offset) - anchor)
                if key in self.shifted:
                    continue
                if symbols is None:
                    symbols = expr.free_symbols
                if not self.weights[eq.signal.name] <= symbols:
                    continue
                self.shifted[key] = (eq.at(key[1]), eq.signal.at(key[1]))
                rhs, signal = self.shifted[key]
                self.mapping[rhs] = signal
        return self.mapping

    def __call__(self, expr: sp.Basic) -> sp.Basic:
        # inner right-hand sides are renamed first, which exposes the outer ones
        for _ in range(len(self.shifted) + len(self.constant) + 64):
            renamed = expr.xreplace(self.mapping_for(expr))
            if renamed == expr:
                return expr
            expr = renamed
        return expr


def derive_adjoints(cell: Cell) -> Adjoints:
    """The bar of every signal and the gradient of every weight, from the equations alone."""
    cell.validate()
    name_back = Namer(cell)
    result = Adjoints(cell)

    uses: dict[str, list[tuple[Equation, int]]] = {name: [] for name in cell.signals}
    for eq in cell.equations:
        for signal, lag in cell.uses(eq.rhs):
            uses[signal.name].append((eq, -lag))

    for signal in [*cell.defined, *cell.inputs]:
        terms: list[Term] = []
        if signal.name in cell.outputs:
            terms.append(Term(signal.direct(t), None, 0))
        for eq, s in uses[signal.name]:
            rhs = eq.at(s)
            for expr in local_vjp(rhs, signal(t), eq.signal.bar(t + s)):
                terms.append(Term(name_back(expr), eq.signal.name, s))
        # textbook order: the direct term, then uses in the same step, then later steps
        result.bars[signal.name] = sorted(terms, key=lambda x: (x.via is not None, x.offset))

    for pname, weight in cell.parameters.items():
        terms = []
        for eq in cell.equations:
            if weight in eq.rhs.free_symbols:
                for expr in local_vjp(eq.rhs, weight, eq.signal.bar(t)):
                    terms.append(Term(name_back(expr), eq.signal.name, 0))
        result.grads[pname] = terms
    return result


def step_expression(cell: Cell, signal: Signal) -> sp.Basic:
    """``signal(t)`` written in the states' lagged values and the inputs at ``t``."""
    expr = cell.equation(signal.name).rhs
    defined_now = {eq.signal(t): eq.rhs for eq in cell.equations}
    for _ in range(len(cell.equations) + 1):
        replaced = expr.xreplace(defined_now)
        if replaced == expr:
            return expr
        expr = replaced
    raise RuntimeError(f"cyclic equations in cell {cell.name!r}")


def scalar_jacobian(cell: Cell, of: str, wrt: str, lag: int = 1) -> sp.Expr:
    """``d of(t) / d wrt(t - lag)`` through one step, other earlier values held fixed."""
    signal = cell.signals[of]
    expr = step_expression(cell, signal)
    derivative = sp.diff(expr, cell.signals[wrt](t - lag))
    return Namer(cell)(derivative)

