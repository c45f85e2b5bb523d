"""A recurrent cell: its forward equations at a generic time ``t``, reading states at lags.

A model writes its cell once, as a person would on paper::

    cell = Cell("lstm")
    t = cell.t
    x, h, c = cell.input("x"), cell.state("h"), cell.state("c")
    w_ix, w_ih = cell.params("w_ix w_ih")
    i = cell.let("i", sigma(w_ix * x(t) + w_ih * h(t - 1)))
    ...

A signal called at a time gives its value there: ``h(t - 1)`` is a SymPy applied function
for a scalar cell and a ``MatrixSymbol`` named ``h(t - 1)`` for a vector cell. Its bar
(``dL/dh``) and its direct loss term (``dL_t/dh``, the upstream gradient) are named the same
way: ``bar_h(t + 1)``, ``dL_dh(t)``.
"""

from __future__ import annotations

import functools
import heapq
from dataclasses import dataclass, field

import sympy as sp
from sympy.matrices.expressions.matexpr import MatrixExpr

from derive.core.errors import DeriveError

t = sp.Symbol("t", integer=True)
T = sp.Symbol("T", integer=True, positive=True)


class Signal:
    """A quantity with a value at every time step: an input, a state or an intermediate."""

    def __init__(self, name: str, kind: str, shape: tuple | None = None) -> None:
        self.name = name
        self.kind = kind  # "input" or "defined"
        self.shape = shape  # None for a scalar
        self._cache: dict[tuple[str, sp.Expr], sp.Basic] = {}

    @property
    def is_matrix(self) -> bool:
        return self.shape is not None

    def _timed(self, prefix: str, time: sp.Expr) -> sp.Basic:
        time = sp.sympify(time)
        key = (prefix, time)
        if key not in self._cache:
            name = f"{prefix}{self.name}"
            if self.is_matrix:
                self._cache[key] = timed_matrix(name, time, self.shape)
            else:
                self._cache[key] = sp.Function(name)(time)
        return self._cache[key]

    def __call__(self, time: sp.Expr) -> sp.Basic:
        """The value at ``time`` (e.g. ``t - 1``)."""
        return self._timed("", time)

    def bar(self, time: sp.Expr = t) -> sp.Basic:
        """``dL/d self(time)``, the total derivative of the loss."""
        return self._timed("bar_", time)

    def direct(self, time: sp.Expr = t) -> sp.Basic:
        """``dL_t/d self(time)``, the loss term's own (upstream) derivative."""
        return self._timed("dL_d", time)

    def at(self, offset: int) -> sp.Basic:
        return self(t + offset)

    def __repr__(self) -> str:
        return f"Signal({self.name!r}, {self.kind})"


@dataclass
class Equation:
    """``signal(t) = rhs``: one forward equation at the generic time ``t``."""

    signal: Signal
    rhs: sp.Basic

    def at(self, offset: int) -> sp.Basic:
        """The right-hand side at time ``t + offset``."""
        return shift(self.rhs, offset)


@dataclass
class Cell:
    """The forward equations of a recurrent cell, in order, at time ``t``."""

    name: str
    signals: dict[str, Signal] = field(default_factory=dict)
    parameters: dict[str, sp.Basic] = field(default_factory=dict)
    equations: list[Equation] = field(default_factory=list)
    outputs: list[str] = field(default_factory=list)
    dims: tuple[sp.Symbol, ...] = ()
    zero_initial: bool = False  # states before t = 1 are zero, not free values
    _uses: dict = field(default_factory=dict, repr=False, compare=False)

    t = t
    T = T

    def __repr__(self) -> str:
        states = ", ".join(s.name for s in self.states) if self.equations else ""
        return (f"<Cell {self.name}: {len(self.equations)} equations, inputs "
                f"{', '.join(s.name for s in self.inputs) or 'none'}, states "
                f"{states or 'none'}, outputs {', '.join(self.outputs) or 'none'}, "
                f"{len(self.parameters)} weights>")

    # -- building -------------------------------------------------------------------------

    def _new_signal(self, name: str, kind: str, shape) -> Signal:
        if name in self.signals or name in self.parameters:
            raise DeriveError(f"{name!r} is defined twice in cell {self.name!r}")
        shape = self._checked_shape(name, shape)
        signal = Signal(name, kind, shape)
        self.signals[name] = signal
        return signal

    def input(self, name: str, shape: tuple | None = None) -> Signal:
        """An external input, one value per step (``x(t)``)."""
        return self._new_signal(name, "input", shape)

    def state(self, name: str, shape: tuple | None = None) -> Signal:
        """A signal the cell defines and reads back at a lag (``h(t - 1)``).

        Declared before use so equations can read its earlier values; its own equation comes
        later through :meth:`let`.
        """
        return self._new_signal(name, "defined", shape)

    def param(self, name: str, shape: tuple | None = None) -> sp.Basic:
        """A weight, shared by every step."""
        if name in self.signals or name in self.parameters:
            raise DeriveError(f"{name!r} is defined twice in cell {self.name!r}")
        shape = self._checked_shape(name, shape)
        symbol = sp.MatrixSymbol(name, *shape) if shape is not None else sp.Symbol(name)
        self.parameters[name] = symbol
        return symbol

    def params(self, names: str, shape: tuple | None = None) -> list[sp.Basic]:
        return [self.param(n, shape) for n in names.split()]

    def _checked_shape(self, name: str, shape) -> tuple | None:
        """A declared shape: two entries, each a positive integer or a symbol of ``dims``."""
        if shape is None:
            return None
        shape = tuple(sp.sympify(d) for d in shape)
        if len(shape) != 2:
            raise DeriveError(f"cell {self.name!r}: {name!r} has shape {shape}; a vector is "
                              f"declared as (rows, 1), a matrix as (rows, columns)")
        for d in shape:
            free = d.free_symbols - set(self.dims)
            if free:
                names = ", ".join(sorted(map(str, free)))
                raise DeriveError(f"cell {self.name!r}: the shape {shape} of {name!r} uses "
                                  f"{names}, which is not a dimension of the cell; declare it: "
                                  f"Cell({self.name!r}, dims=({names},))")
            if d.is_number and not (d.is_integer and d.is_positive):
                raise DeriveError(f"cell {self.name!r}: the shape {shape} of {name!r} needs "
                                  f"positive integer sizes")
        return shape

    def let(self, name: str, rhs: sp.Basic) -> Signal:
        """The forward equation ``name(t) = rhs``; returns the signal."""
        rhs = decimal_literals(sp.sympify(rhs))
        check_equation(self.name, name, rhs)
        for f in rhs.atoms(sp.core.function.AppliedUndef):
            signal, _ = _name_and_time(f)
            if signal is None or signal not in self.signals:
                raise DeriveError(f"cell {self.name!r}, equation {name!r}: {f} is neither a "
                                  "signal of the cell at a time nor a function with a known "
                                  "derivative; write it with known functions (sigma, tanh, exp, "
                                  "log, Max, ...) or declare the signal first")
        shape = tuple(rhs.shape) if isinstance(rhs, MatrixExpr) else None
        if name in self.signals:
            signal = self.signals[name]
            if signal.kind != "defined" or any(e.signal is signal for e in self.equations):
                raise DeriveError(f"{name!r} is defined twice in cell {self.name!r}")
            if signal.shape != shape:
                raise DeriveError(f"cell {self.name!r}: {name!r} is declared with shape "
                                  f"{_shape_text(signal.shape)} but its equation gives "
                                  f"{_shape_text(shape)}")
        else:
            signal = self._new_signal(name, "defined", shape)
        self.equations.append(Equation(signal, rhs))
        return signal

    def output(self, *names: str) -> None:
        """Signals the loss reads directly: each gets a direct term ``dL_t/dv`` in its bar."""
        for name in names:
            if not isinstance(name, str):
                raise DeriveError(f"cell {self.name!r}: output names a signal by its name, "
                                  f"e.g. cell.output('h'); got {name!r}")
            if name not in self.outputs:
                self.outputs.append(name)

    # -- reading ----------------------------------------------------------------------------

    def equation(self, name: str) -> Equation:
        for eq in self.equations:
            if eq.signal.name == name:
                return eq
        raise KeyError(name)

    @property
    def inputs(self) -> list[Signal]:
        return [s for s in self.signals.values() if s.kind == "input"]

    @property
    def defined(self) -> list[Signal]:
        return [eq.signal for eq in self.equations]

    def locate(self, atom: sp.Basic) -> tuple[Signal, int] | None:
        """``(signal, offset)`` if ``atom`` is a signal's value at ``t + offset``."""
        name, time = _name_and_time(atom)
        if name is None or name not in self.signals:
            return None
        offset = _offset_from_t(time)
        if not offset.is_integer:
            raise DeriveError(f"{atom} is not at an integer offset from t")
        return self.signals[name], int(offset)

    def uses(self, rhs: sp.Basic) -> list[tuple[Signal, int]]:
        """Every ``(signal, offset)`` read by ``rhs``."""
        key = (rhs, len(self.signals))  # memoised: states and max_lag ask on every BPTT run
        if key in self._uses:
            return list(self._uses[key])
        found = []
        for atom in sorted(_timed_atoms(rhs), key=_label):  # the same order in every run
            where = self.locate(atom)
            if where is not None and where not in found:
                found.append(where)
        self._uses[key] = tuple(found)
        return found

    @property
    def states(self) -> list[Signal]:
        """Defined signals read at a lag: the recurrent state."""
        lagged = {s.name for eq in self.equations for s, k in self.uses(eq.rhs) if k < 0}
        return [s for s in self.defined if s.name in lagged]

    @property
    def max_lag(self) -> int:
        return max((-k for eq in self.equations for _, k in self.uses(eq.rhs)), default=0)

    @property
    def ordered(self) -> list[Equation]:
        """The equations in an order that computes each value of a step before it is read:
        the written order, except that an equation reading ``v(t)`` comes after ``v``'s."""
        cached = self._uses.get(("order", len(self.equations)))
        if cached is not None:
            return list(cached)
        written = {eq.signal.name: i for i, eq in enumerate(self.equations)}
        waiting = {eq.signal.name: {s.name for s, k in self.uses(eq.rhs)
                                    if k == 0 and s.name in written}
                   for eq in self.equations}
        readers: dict[str, list[str]] = {}
        for name, needs in waiting.items():
            for need in needs:
                readers.setdefault(need, []).append(name)
        ready = [written[name] for name, needs in waiting.items() if not needs]
        heapq.heapify(ready)  # the written order wherever the dependencies allow it
        order: list[Equation] = []
        while ready:
            eq = self.equations[heapq.heappop(ready)]
            order.append(eq)
            for reader in readers.get(eq.signal.name, ()):
                waiting[reader].discard(eq.signal.name)
                if not waiting[reader]:
                    heapq.heappush(ready, written[reader])
        if len(order) < len(self.equations):
            loop = sorted(name for name, needs in waiting.items() if needs)
            raise DeriveError(f"cell {self.name!r}: the equations of {', '.join(loop)} "
                              "read each other at the same time step (an algebraic "
                              "loop); read one of them at t - 1")
        self._uses[("order", len(self.equations))] = tuple(order)
        return order

    @property
    def unused_weights(self) -> list[str]:
        """Weights no equation reads: their gradient is 0 by construction (reported by
        ``show`` and the checks, so that a forgotten term is seen)."""
        read = set().union(*[eq.rhs.free_symbols for eq in self.equations])
        return [p for p, w in self.parameters.items() if w not in read]

    def validate(self) -> None:
        """Refuse, naming the equation and the fix, what the engine cannot derive right."""
        if not self.equations:
            raise DeriveError(f"cell {self.name!r} has no equations; define one with "
                              "cell.let(name, right_hand_side)")
        for eq in self.equations:
            for signal, k in self.uses(eq.rhs):
                if k > 0:
                    raise DeriveError(f"cell {self.name!r}: {eq.signal.name}(t) reads the "
                                      f"future, {signal.name}(t + {k})")
                if signal.kind == "input" and k != 0:
                    raise DeriveError(
                        f"cell {self.name!r}: {eq.signal.name}(t) reads the input "
                        f"{signal.name} at t - {-k}; inputs are read at t only. Carry it in "
                        f"a state: cell.state('{signal.name}_in'), "
                        f"cell.let('{signal.name}_in', {signal.name}(t)), then read "
                        f"{signal.name}_in(t - {-k}) (its values before t = 1 are initial "
                        "values)")
        undefined = [s.name for s in self.signals.values()
                     if s.kind == "defined" and s not in self.defined]
        if undefined:
            raise DeriveError(f"cell {self.name!r} declares {', '.join(undefined)} but never "
                              "defines them with cell.let")
        for name in self.outputs:
            if name not in {eq.signal.name for eq in self.equations}:
                known = ", ".join(repr(eq.signal.name) for eq in self.equations)
                raise DeriveError(f"cell {self.name!r}: output {name!r} is not a signal the "
                                  f"cell defines (defined: {known})")
        if not self.outputs:
            names = ", ".join(repr(eq.signal.name) for eq in self.equations)
            raise DeriveError(f"cell {self.name!r} has no output, so every gradient would be "
                              f"0; name what the loss reads: cell.output(...) with one of "
                              f"{names}")
        _ = self.ordered  # refuses an algebraic loop


def _shape_text(shape: tuple | None) -> str:
    return "a scalar" if shape is None else " x ".join(map(str, shape))


def _described(node: sp.Basic) -> str:
    name, time = _name_and_time(node)
    return f"{name}({time})" if name is not None else str(node)


def decimal_literals(expr: sp.Basic) -> sp.Basic:
    """``expr`` with each float literal read as the decimal it was written as (``0.3`` is
    ``3/10``), so that the derivation is exact: SymPy would otherwise fold ``0.3*0.7`` in
    binary and the result would differ from the cell in the 17th digit."""
    floats = expr.atoms(sp.Float)
    return expr.xreplace({f: sp.Rational(str(f)) for f in floats}) if floats else expr


def check_equation(cell: str, name: str, rhs: sp.Basic) -> None:
    """Refuse a right-hand side whose shapes do not conform or that applies a scalar
    function to a vector, naming the equation and the fix."""
    where = f"cell {cell!r}, equation {name!r}"
    for node in sp.postorder_traversal(rhs):  # a product is judged before a sum holding it
        if isinstance(node, sp.MatMul):
            _, factors = node.as_coeff_matrices()
            for left, right in zip(factors, factors[1:], strict=False):
                if sp.sympify(left.shape[1]) != sp.sympify(right.shape[0]):
                    hint = ""
                    if tuple(left.shape) == tuple(right.shape):
                        hint = (f"; for the elementwise product write "
                                f"sp.HadamardProduct({_described(left)}, {_described(right)})")
                    elif sp.sympify(left.shape[0]) == sp.sympify(right.shape[0]):
                        hint = (f"; is {_described(left)} declared transposed? a weight "
                                f"read as W x with x of {right.shape[0]} rows is declared "
                                f"(rows_out, {right.shape[0]})")
                    raise DeriveError(f"{where}: {_described(left)} "
                                      f"({_shape_text(left.shape)}) times {_described(right)} "
                                      f"({_shape_text(right.shape)}): the shapes do not "
                                      f"conform{hint}")
        elif isinstance(node, sp.MatAdd | sp.HadamardProduct):
            shapes = {tuple(sp.sympify(d) for d in a.shape) for a in node.args}
            if len(shapes) > 1:
                listed = ", ".join(f"{_described(a)} ({_shape_text(a.shape)})"
                                   for a in node.args)
                what = "a sum" if isinstance(node, sp.MatAdd) else "an elementwise product"
                raise DeriveError(f"{where}: {what} of different shapes: {listed}")
        elif isinstance(node, sp.Function) and not isinstance(node, MatrixExpr):
            for arg in node.args:
                if isinstance(arg, MatrixExpr) and tuple(arg.shape) != (1, 1):
                    f = getattr(node.func, "__name__", str(node.func))
                    raise DeriveError(f"{where}: {f} is applied to {_described(arg)}, a "
                                      f"{_shape_text(arg.shape)} matrix; apply it to each "
                                      f"entry with elementwise({f}, ...)")


# MatrixSymbol name -> (signal name, time): a matrix symbol cannot carry its time as an
# argument the way an applied function does, so the time is recorded when it is made.
_TIMED: dict[str, tuple[str, sp.Expr]] = {}


def timed_matrix(name: str, time: sp.Expr, shape: tuple) -> sp.MatrixSymbol:
    """The matrix symbol ``name(time)``, e.g. ``h(t - 1)``."""
    key = (name, time, tuple(shape))
    if key not in _MADE:  # printing the time is slow; shifting makes the same atoms often
        if time not in _TIME_LABELS:
            _TIME_LABELS[time] = str(time)
        label = f"{name}({_TIME_LABELS[time]})"
        _TIMED[label] = (name, sp.sympify(time))
        _MADE[key] = sp.MatrixSymbol(label, *shape)
    return _MADE[key]


_MADE: dict[tuple, sp.MatrixSymbol] = {}
_TIME_LABELS: dict[sp.Expr, str] = {}


def _name_and_time(atom: sp.Basic) -> tuple[str | None, sp.Expr | None]:
    if isinstance(atom, sp.MatrixSymbol):
        return _TIMED.get(atom.name, (None, None))
    if isinstance(atom, sp.core.function.AppliedUndef) and len(atom.args) == 1 and \
            _is_time(atom.args[0]):  # a value at a time, not f(some expression)
        return atom.func.__name__, atom.args[0]
    return None, None


def _is_time(expr: sp.Basic) -> bool:
    """A time: symbols and numbers (``t - 1``, ``T + i``), no function or signal in it."""
    return not expr.atoms(sp.Function, sp.MatrixSymbol)


def _timed_atoms(expr: sp.Basic) -> set[sp.Basic]:
    return expr.atoms(sp.MatrixSymbol, sp.core.function.AppliedUndef)  # one walk for both


def _label(atom: sp.Basic) -> str:
    """``str(atom)``, read off a matrix symbol's name without printing it."""
    return atom.name if isinstance(atom, sp.MatrixSymbol) else str(atom)


@functools.lru_cache(maxsize=4096)
def _offset_from_t(time: sp.Expr) -> sp.Expr:
    """``time - t``, simplified only when it is not already a number: ``t - 2`` gives -2
    directly, and the few times a cell reads are each worked out once."""
    offset = time - t
    return offset if offset.is_Number else sp.simplify(offset)


def shift(expr: sp.Basic, offset: int) -> sp.Basic:
    """``expr`` with every time-indexed quantity moved by ``offset`` steps."""
    if offset == 0:
        return expr
    mapping = {}
    for atom in _timed_atoms(expr):
        name, time = _name_and_time(atom)
        if name is None:
            continue
        new_time = time + offset
        if isinstance(atom, sp.MatrixSymbol):
            mapping[atom] = timed_matrix(name, new_time, atom.shape)
        else:
            mapping[atom] = atom.func(new_time)
    return expr.xreplace(mapping)
