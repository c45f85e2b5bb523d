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

from derive.core.cell import Cell, Equation, Signal, _name_and_time, _timed_atoms, t
from derive.core.errors import DeriveError
from derive.core.primitives import VECTOR_VJP, matrix_vjp, rule_for, softmax_of


@dataclass(frozen=True)
class Term:
    """One contribution to a bar: through ``via`` (an equation) at ``t + offset``, or the
    direct loss term when ``via`` is None."""

    expr: sp.Basic
    via: str | None
    offset: int
    raw: sp.Basic | None = None  # the derivative before renaming (None: no renaming made)
    # a term through several entries of one vector primitive (a softmax) reads the bars of
    # all their equations; ``via`` is the first of them
    group: frozenset[str] = frozenset()

    @property
    def unnamed(self) -> sp.Basic:
        return self.expr if self.raw is None else self.raw


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

    def bar_unnamed(self, name: str) -> sp.Basic:
        """``bar_rhs`` as the derivative rules gave it, before renaming."""
        return _total([Term(x.unnamed, x.via, x.offset) for x in self.bars[name]],
                      self.cell.signals[name].shape)

    def grad_unnamed(self, name: str) -> sp.Basic:
        return _total([Term(x.unnamed, x.via, x.offset) for x in self.grads[name]],
                      _shape(self.cell.parameters[name]))


def _shape(x: sp.Basic) -> tuple | None:
    return tuple(x.shape) if isinstance(x, MatrixExpr) else None


def _total(terms: list[Term], shape: tuple | None) -> sp.Basic:
    if not terms:
        return sp.ZeroMatrix(*shape) if shape else sp.Integer(0)
    if shape:
        return sp.MatAdd(*[term.expr for term in terms])
    return sp.Add(*[term.expr for term in terms], evaluate=False)  # keep the textbook order


def rebuilt(node: sp.Basic, mapping: dict, memo: dict) -> sp.Basic:
    """``node.xreplace(mapping)``, each distinct subtree rebuilt once across calls sharing
    ``memo`` (which holds results for this ``mapping`` only): a subtree shared by many
    expressions (a softmax's normaliser, read by every score's bar) is not walked again."""
    got = memo.get(node)
    if got is None:
        args = getattr(node, "args", ())
        if node in mapping:
            got = mapping[node]
        elif not args:
            got = node
        else:
            new = [rebuilt(a, mapping, memo) for a in args]
            got = node.func(*new) if any(a is not b for a, b in zip(new, args, strict=True)) \
                else node
        memo[node] = got
    return got


# functions whose derivative SymPy writes through re/im unless the variable is known real
_NON_ANALYTIC = (sp.Abs, sp.sign, sp.Max, sp.Min, sp.Heaviside, sp.Piecewise, sp.re, sp.im)


def local_vjp(rhs: sp.Basic, wrt: sp.Basic, bar: sp.Basic,
              symbols: dict | None = None) -> list[sp.Basic]:
    """The terms ``bar . d rhs / d wrt`` (scalar: ``sympy.diff``; matrix: the VJP rules;
    ``symbols`` memoises free symbols across calls)."""
    if isinstance(rhs, MatrixExpr):
        return matrix_vjp(rhs, bar, wrt, symbols)
    derivative = _real_diff(rhs, wrt) if rhs.has(*_NON_ANALYTIC) else sp.diff(rhs, wrt)
    return [] if derivative == 0 else [bar * derivative]


def _real_diff(expr: sp.Basic, wrt: sp.Basic) -> sp.Basic:
    """``d expr / d wrt`` with every signal value and weight known to be real, so that
    ``|z|' = sign(z)`` and ``max(0, z)' = [z > 0]`` rather than expressions in ``re``, ``im``."""
    atoms = _timed_atoms(expr) | {wrt} | {s for s in expr.free_symbols if s != t}
    real = {a: sp.Dummy(str(a), real=True) for a in atoms if not isinstance(a, MatrixExpr)}
    derivative = sp.diff(expr.xreplace(real), real[wrt])
    return derivative.xreplace({v: k for k, v in real.items()})


class Namer:
    """Renames right-hand sides back to the signals they define: ``sigma(z_i(t+1))``
    becomes ``i(t+1)``, so derivatives read in forward quantities.

    A renaming must be the same value at the same time wherever the expression is used. A
    term of a bar through the equation of ``e`` at ``t + s`` is evaluated for ``t + s`` in
    ``1 .. T``; there every signal's value at ``t + s`` is its right-hand side at ``t + s``,
    while a value at another time may lie outside ``1 .. T`` (an initial value, or nothing).
    So an expression is renamed only to a signal at the term's own time: the right-hand
    sides shifted by exactly ``s``. Two equations with the same right-hand side name the
    same value; the first written is used."""

    def __init__(self, cell: Cell) -> None:
        self.cell = cell
        # each equation is anchored on its first time-indexed atom: its right-hand side
        # shifted by o holds that atom shifted by o, so an expression suggests the shifts to
        # make (shifting every equation at every lag costs cubic time in AttentionRNN(k))
        self.anchors: dict[str, list[tuple[Equation, int]]] = {}
        self.constant: list[Equation] = []
        # memoised per subtree and per atom: the k + 1 entries of a softmax share one node for
        # their scores, walked once rather than once per entry and per term
        self.atom_memo: dict[sp.Basic, frozenset] = {}
        self.symbol_memo: dict[sp.Basic, frozenset] = {}
        self.unevaluated_memo: dict[sp.Basic, bool] = {}
        self.named: dict[sp.Basic, tuple] = {}
        for eq in cell.equations:
            located = [self.name_time(atom) for atom in self.atoms(eq.rhs)]
            if not located:
                self.constant.append(eq)
                continue
            first = min(name for name, _ in located)  # then the first time, as text
            name, time = min(((n, tm) for n, tm in located if n == first),
                             key=lambda pair: str(pair[1]))
            self.anchors.setdefault(name, []).append((eq, int(time - t)))
        self.written = {eq.signal.name: i for i, eq in enumerate(cell.equations)}
        weights = set(cell.parameters.values())
        self.weights = {eq.signal.name: self.symbols(eq.rhs) & weights for eq in cell.equations}
        self.tables: dict[int, dict[sp.Basic, tuple[int, sp.Basic]]] = {}
        self.plain: dict[int, dict[sp.Basic, sp.Basic]] = {}
        self.shifted: dict[int, set[str]] = {}
        self.offsets: dict[sp.Basic, sp.Expr] = {}
        self.settled: dict[int, set] = {}  # offset -> atoms whose equations are all shifted
        self.renamed: dict[int, tuple[int, dict]] = {}  # offset -> (table version, memo)
        self.versions: dict[int, int] = {}  # offset -> changes made to its table

    def symbols(self, node: sp.Basic) -> frozenset:
        """The symbols ``node`` holds (bound ones included: a superset of its free symbols,
        enough to tell which weights it cannot hold), memoised per subtree."""
        found = self.symbol_memo.get(node)
        if found is None:
            if isinstance(node, sp.Symbol | sp.MatrixSymbol):
                found = frozenset([node])
            else:
                found = frozenset().union(*[self.symbols(a) for a in node.args])
            self.symbol_memo[node] = found
        return found

    def name_time(self, atom: sp.Basic) -> tuple:
        """``_name_and_time(atom)``, memoised."""
        found = self.named.get(atom)
        if found is None:
            found = self.named[atom] = _name_and_time(atom)
        return found

    def unevaluated(self, node: sp.Basic) -> bool:
        """Whether ``node`` holds a derivative SymPy left unevaluated, memoised per subtree."""
        found = self.unevaluated_memo.get(node)
        if found is None:
            found = isinstance(node, sp.Derivative | sp.Subs) or \
                any(self.unevaluated(a) for a in node.args)
            self.unevaluated_memo[node] = found
        return found

    def atoms(self, node: sp.Basic) -> frozenset:
        # memoised per subtree: the same large node (a softmax entry and its k + 1 scores)
        # recurs in many terms
        found = self.atom_memo.get(node)
        if found is None:
            if self.name_time(node)[0] is not None:
                found = frozenset([node])
            else:
                found = frozenset().union(*[self.atoms(a) for a in node.args])
            self.atom_memo[node] = found
        return found

    def _add(self, eq: Equation, offset: int) -> None:
        done = self.shifted.setdefault(offset, set())
        if eq.signal.name in done:
            return
        done.add(eq.signal.name)
        table = self.tables.setdefault(offset, {})
        rhs, order = eq.at(offset), self.written[eq.signal.name]
        if rhs not in table or table[rhs][0] > order:  # the first written names a value
            table[rhs] = (order, eq.signal.at(offset))
            self.plain.setdefault(offset, {})[rhs] = table[rhs][1]
            self.versions[offset] = self.versions.get(offset, 0) + 1

    def mapping_for(self, expr: sp.Basic, offset: int) -> dict[sp.Basic, sp.Basic]:
        """Right-hand sides at ``t + offset`` -> their signals, for those ``expr`` may hold:
        an equation is shifted only if ``expr`` holds its anchor at the matching time and
        every weight of its right-hand side."""
        if offset not in self.tables:
            for eq in self.constant:
                self._add(eq, offset)
        symbols = None
        settled = self.settled.setdefault(offset, set())
        for atom in self.atoms(expr):
            if atom in settled:  # every equation it anchors at this offset is shifted
                continue
            name, time = self.name_time(atom)
            at = self.offsets.get(atom)
            if at is None:
                at = self.offsets[atom] = time - t
            if not at.is_Integer:
                settled.add(atom)
                continue
            pending = False
            for eq, anchor in self.anchors.get(name, ()):
                if int(at) - anchor != offset or eq.signal.name in self.shifted.get(offset, ()):
                    continue
                if symbols is None:
                    symbols = self.symbols(expr)
                if self.weights[eq.signal.name] <= symbols:
                    self._add(eq, offset)
                else:
                    pending = True  # another expression, holding its weights, may shift it
            if not pending:
                settled.add(atom)
        return self.plain.get(offset, {})

    def __call__(self, expr: sp.Basic, offset: int = 0) -> sp.Basic:
        """``expr``, a quantity at time ``t + offset``, in the signals of that time."""
        # inner right-hand sides are renamed first, which exposes the outer ones
        for _ in range(2 * len(self.cell.equations) + 2):
            mapping = self.mapping_for(expr, offset)
            version, memo = self.renamed.get(offset, (-1, {}))
            if version != self.versions.get(offset, 0):  # the table changed: start afresh
                version, memo = self.versions.get(offset, 0), {}
                self.renamed[offset] = (version, memo)
            renamed = rebuilt(expr, mapping, memo)
            if renamed == expr:
                return expr
            expr = renamed
        return expr


_LAGS: dict[tuple[sp.Expr, int], sp.Expr] = {}


def _check_term(cell: Cell, term: Term, target: str, namer: Namer | None = None,
                max_lag: int | None = None) -> None:
    """Every value a term reads exists where the term is evaluated: the bar of its own
    equation at ``t + s``, signals at ``t + s``, and states at their read lags before it.
    A derivative SymPy left unevaluated is refused: it has no closed form to compile."""
    if (namer.unevaluated(term.expr) if namer else term.expr.has(sp.Derivative, sp.Subs)):
        raise DeriveError(f"cell {cell.name!r}: the derivative of {term.via}'s equation with "
                          f"respect to {target} has no closed form here ({term.expr}); write "
                          "the cell with functions SymPy differentiates (sigma, tanh, exp, "
                          "log, Max, Abs, Piecewise, ...)")
    s = term.offset
    if max_lag is None:
        max_lag = cell.max_lag  # asked once per derivation by the engine: it reads every rhs
    for atom in (namer.atoms if namer else _timed_atoms)(term.expr):
        name, time = (namer.name_time if namer else _name_and_time)(atom)
        if name is None:
            continue
        lag = _LAGS.get((time, s))
        if lag is None:
            lag = _LAGS[(time, s)] = sp.expand(time - t - s)
        ok = lag.is_Integer
        if ok and name.startswith("bar_"):
            ok = (term.via is None and name[4:] == target and lag == 0) or \
                ((name[4:] == term.via or name[4:] in term.group) and lag == 0)
        elif ok and name.startswith("dL_d"):
            ok = term.via is None and lag == 0
        elif ok:
            signal = cell.signals.get(name)
            ok = signal is not None and (lag == 0 or (
                lag < 0 and signal.kind == "defined" and -lag <= max_lag))
        if not ok:
            raise DeriveError(f"cell {cell.name!r}: a term of bar {target} through "
                              f"{term.via or 'the loss'} reads {atom}, a value not proved to "
                              f"exist at time t + {s}; the derivation is refused")


class _JointRules:
    """The rule of a vector primitive (a softmax) applied once per primitive and step to all
    of its entries the cell reads, and kept: every score's bar shares the one normaliser."""

    def __init__(self, free: dict) -> None:
        self.rules: dict[tuple, dict] = {}
        self.free = free  # free symbols of nodes, shared with the engine's other VJP calls

    def vjp(self, vector: sp.Basic, s: int, eqs: list[Equation], wrt: sp.Basic) -> list[sp.Basic]:
        """The terms of ``bar wrt`` through the entries ``eqs`` (equations at ``t + s``)."""
        key = (vector, s, tuple(eq.signal.name for eq in eqs))
        by_child = self.rules.get(key)
        if by_child is None:
            entries = [eq.at(s) for eq in eqs]
            rule = rule_for(VECTOR_VJP, entries[0])
            by_child = {}
            for child, bar in rule(entries, [eq.signal.bar(t + s) for eq in eqs]):
                by_child.setdefault(child, []).append(bar)
            self.rules[key] = by_child
        terms = []
        # a score that is a signal is reached only by its own bar; any other score is asked
        for child in ([wrt] if wrt in by_child else []) + \
                [c for c in by_child if not isinstance(c, sp.MatrixSymbol)]:
            for bar in by_child[child]:
                terms += matrix_vjp(child, bar, wrt, self.free)
        return terms


def derive_adjoints(cell: Cell) -> Adjoints:
    """The bar of every signal and the gradient of every weight, from the equations alone."""
    cell.validate()
    name_back = Namer(cell)
    result = Adjoints(cell)
    free: dict = {}  # free symbols of right-hand sides' nodes, asked for every signal read
    joint = _JointRules(free)
    max_lag = cell.max_lag
    # the weights each equation reads, once: every weight asks every equation
    reads = [(eq, eq.rhs.free_symbols) for eq in cell.equations]

    uses: dict[str, list[tuple[Equation, int]]] = {name: [] for name in cell.signals}
    for eq in cell.ordered:
        for signal, lag in cell.uses(eq.rhs):
            uses[signal.name].append((eq, -lag))

    for signal in [*cell.defined, *cell.inputs]:
        terms: list[Term] = []
        if signal.name in cell.outputs:
            terms.append(Term(signal.direct(t), None, 0))
        grouped: dict[tuple, list[Equation]] = {}
        for eq, s in uses[signal.name]:
            rhs = eq.at(s)
            vector = softmax_of(rhs)
            if vector is not None:  # entries of one softmax: one term, not one per entry
                grouped.setdefault((vector, s), []).append(eq)
                continue
            for expr in local_vjp(rhs, signal(t), eq.signal.bar(t + s), free):
                term = Term(name_back(expr, s), eq.signal.name, s, expr)
                _check_term(cell, term, signal.name, name_back, max_lag)
                terms.append(term)
        for (vector, s), eqs in grouped.items():
            names = frozenset(eq.signal.name for eq in eqs)
            for expr in joint.vjp(vector, s, eqs, signal(t)):
                term = Term(name_back(expr, s), eqs[0].signal.name, s, expr, names)
                _check_term(cell, term, signal.name, name_back, max_lag)
                terms.append(term)
        # textbook order: the direct term, then uses in the same step, then later steps
        result.bars[signal.name] = sorted(terms, key=lambda x: (x.via is not None, x.offset))

    for pname, weight in cell.parameters.items():
        terms = []
        for eq, symbols in reads:
            if weight in symbols:
                for expr in local_vjp(eq.rhs, weight, eq.signal.bar(t), free):
                    term = Term(name_back(expr, 0), eq.signal.name, 0, expr)
                    _check_term(cell, term, pname, name_back, max_lag)
                    terms.append(term)
        result.grads[pname] = terms
    return result


def spelled_at(cell: Cell, expr: sp.Basic, offset: int) -> sp.Basic:
    """``expr`` with every signal at ``t + offset`` written through its right-hand side
    there, until none is left (values at earlier times stay as they are)."""
    table = {eq.signal.at(offset): eq.at(offset) for eq in cell.equations}
    for _ in range(len(cell.equations) + 1):
        spelled = expr.xreplace(table)
        if spelled == expr:
            return expr
        expr = spelled
    raise DeriveError(f"cell {cell.name!r}: its equations define each other in a loop")


def renaming_failures(adjoints: Adjoints) -> tuple[int, list[str]]:
    """Each renamed term against its derivative before renaming, both written through the
    right-hand sides of their own time: ``(terms compared, labels of those that differ)``.

    Structural equality proves the renaming at every size; a term that is not structurally
    equal is reported, never assumed."""
    cell = adjoints.cell
    compared, failures = 0, []
    for kind, table in (("bar", adjoints.bars), ("grad", adjoints.grads)):
        for name, terms in table.items():
            for term in terms:
                if term.raw is None:
                    continue
                compared += 1
                if term.raw == term.expr:
                    continue
                if spelled_at(cell, term.expr, term.offset) != \
                        spelled_at(cell, term.raw, term.offset):
                    failures.append(f"{kind} {name} via {term.via}(t + {term.offset})")
    return compared, failures


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
    wrt_value = cell.signals[wrt](t - lag)
    derivative = _real_diff(expr, wrt_value) if expr.has(*_NON_ANALYTIC) else \
        sp.diff(expr, wrt_value)
    return Namer(cell)(derivative)

