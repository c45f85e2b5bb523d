"""The course's term order: the terms of a sum and the factors of a product in the order a
course writes them, never SymPy's canonical order.

Two rules apply to every formula:

- a sum starts with a positive term when it has one and ends with its constants: ``t + 1``,
  ``t - 1``, ``K - 1``, ``1 - c``, ``2\\sqrt{H}\\sqrt{W} - 1``;
- everything else keeps SymPy's order of the arguments.

A cell's forward equations are printed in their written order, rebuilt from what the cell
records (:class:`WrittenOrder`): the order its equations were written and its weights
declared. A sum's terms come in the order their values become available in the step (``f
c^{(t-1)}`` before ``i g``, since ``f`` is written before ``g``), a term without weights
before one with weights, terms with weights by the weights' declaration order
(``w_{ix} x + w_{ih} h``), a term at ``t`` before a lagged one. A product's factors come as
number, weights, the cell's own values at ``t`` (``f``, ``1 - c``) in written order, then
inputs, lagged values and linear maps (``c^{(t-1)}``, ``W_x x``).

Ordering only permutes the arguments of commutative nodes: :func:`ordered_terms` and
:func:`ordered_factors` return a permutation of ``expr.args`` (the printers print exactly that
list), so the printed formula is the same expression.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

import sympy as sp
from sympy.printing.precedence import (
    PRECEDENCE,
    PRECEDENCE_TRADITIONAL,
    precedence,
    precedence_traditional,
)

from derive.core.cell import Cell, _name_and_time, t


@dataclass(frozen=True)
class WrittenOrder:
    """What a cell records of the order its author wrote it in."""

    signals: tuple[str, ...] = ()  # defined signals, in the order their equations were written
    weights: tuple[str, ...] = ()  # weights, in declaration order

    @classmethod
    def of_cell(cls, cell: Cell) -> WrittenOrder:
        return cls(tuple(eq.signal.name for eq in cell.equations), tuple(cell.parameters))

    @classmethod
    def of_equations(cls, equations: Iterable[sp.Eq]) -> WrittenOrder | None:
        """The order of forward equations printed together (each left side a signal's value
        at ``t``); None for other equations (bars, gradients), which keep the generic order."""
        names = []
        for eq in equations:
            name, time = _name_and_time(getattr(eq, "lhs", None))
            if name is None or time != t or name.startswith(("bar_", "dL_d")):
                return None
            names.append(name)
        return cls(tuple(names)) if names else None

    def available(self, name: str) -> int:
        """1 + the position of ``name``'s equation; 0 for inputs, weights, unknown names."""
        return self.signals.index(name) + 1 if name in self.signals else 0


def as_order(order: WrittenOrder | Cell | None) -> WrittenOrder | None:
    return WrittenOrder.of_cell(order) if isinstance(order, Cell) else order


def _timed(expr: sp.Basic) -> list[tuple[str, sp.Expr]]:
    atoms = expr.atoms(sp.MatrixSymbol) | expr.atoms(sp.core.function.AppliedUndef)
    found = [_name_and_time(a) for a in atoms]
    return [(n, tm) for n, tm in found if n is not None]


def _weight_names(expr: sp.Basic) -> set[str]:
    """Symbols and matrix symbols that are not a signal's value (nor inside one's time)."""
    found: set[str] = set()
    stack = [expr]
    while stack:
        node = stack.pop()
        if isinstance(node, sp.MatrixSymbol):
            if _name_and_time(node)[0] is None:
                found.add(node.name)
        elif isinstance(node, sp.Symbol):
            found.add(node.name)
        elif not isinstance(node, sp.core.function.AppliedUndef):
            stack.extend(node.args)
    return found


def _weights(expr: sp.Basic, order: WrittenOrder) -> list[int]:
    names = _weight_names(expr)
    if order.weights:
        return sorted(order.weights.index(n) for n in names if n in order.weights)
    return [0] * len(names)  # without the cell's declarations: every such symbol


def extracts_minus(term: sp.Basic) -> bool:
    """``term.could_extract_minus_sign()`` without, for a product, its test ``term == -term``
    (against ``zoo``): negating a product of matrix expressions rebuilds and canonicalises it,
    which made printing AttentionRNN(k)'s bars quadratic in k."""
    if isinstance(term, sp.Mul) and not term.has(sp.zoo):
        first = term.args[0]
        return bool(first.is_Number and first.is_extended_negative)
    return bool(term.could_extract_minus_sign())


def cheap_precedence(item: sp.Basic) -> int:
    """SymPy's precedence (of its string printer), with :func:`extracts_minus` for a product:
    the same result, without negating a product of matrix expressions."""
    if isinstance(item, sp.Mul):
        if any(isinstance(a, sp.Function) and getattr(a, "precedence", PRECEDENCE["Mul"])
               < PRECEDENCE["Mul"] for a in item.args):
            return PRECEDENCE["Mul"]
        return PRECEDENCE["Add"] if extracts_minus(item) else PRECEDENCE["Mul"]
    return precedence(item)


def cheap_precedence_traditional(item: sp.Basic) -> int:
    """SymPy's ``precedence_traditional`` (of its LaTeX printer), cheap for products as
    :func:`cheap_precedence`."""
    if isinstance(item, sp.Mul) and type(item).__name__ not in PRECEDENCE_TRADITIONAL:
        return cheap_precedence(item)
    return precedence_traditional(item)


def _is_negative(term: sp.Basic) -> bool:
    return extracts_minus(term)


def _lead_positive(terms: list) -> list:
    """A leading minus avoided: the first positive term moves to the front."""
    if terms and _is_negative(terms[0]):
        for k, term in enumerate(terms):
            if not _is_negative(term):
                return [term, *terms[:k], *terms[k + 1:]]
    return terms


def _is_constant(term: sp.Basic) -> bool:
    return bool(getattr(term, "is_number", False)) or \
        isinstance(term, sp.OneMatrix | sp.ZeroMatrix | sp.Identity)


def ordered_terms(expr: sp.Basic, order: WrittenOrder | None = None) -> list:
    """The terms of a sum (``Add``, ``MatAdd``) in the course's order; a permutation of
    ``expr.args``."""
    args = list(expr.args)
    if order is None:
        keyed = sorted(range(len(args)),
                       key=lambda k: (_is_constant(args[k]), _is_negative(args[k]), k))
    else:
        keyed = sorted(range(len(args)), key=lambda k: (_is_constant(args[k]),
                                                        *_term_key(args[k], order), k))
    return _lead_positive([args[k] for k in keyed])


def _term_key(term: sp.Basic, order: WrittenOrder) -> tuple:
    timed = _timed(term)
    available = max((order.available(n) for n, tm in timed if tm == t), default=0)
    weights = _weights(term, order)
    lagged = any(tm != t for _, tm in timed)
    return (available, bool(weights), weights, lagged)


def ordered_factors(expr: sp.Basic, order: WrittenOrder | None = None) -> list:
    """The factors of a commutative product (scalar ``Mul``, ``HadamardProduct``) in the
    written order of ``order``'s cell; a permutation of ``expr.args`` (unchanged without an
    order)."""
    args = list(expr.args)
    if order is None:
        return args
    return [args[k] for k in sorted(range(len(args)),
                                    key=lambda k: (*_factor_key(args[k], order), k))]


def _factor_key(factor: sp.Basic, order: WrittenOrder) -> tuple:
    if _is_constant(factor):
        return (0,)
    name, time = _name_and_time(factor)
    bare = name is not None
    if not bare and not _timed(factor) and _weights(factor, order):
        return (1, _weights(factor, order))  # a weight, or a product of weights
    current = [order.available(n) for n, tm in _timed(factor) if tm == t and
               order.available(n)]
    if current:  # the cell's own values at t: gates, 1 - c, tanh(c)
        return (2, max(current), not bare)
    lagged = any(tm != t for _, tm in _timed(factor))
    return (3, not bare, lagged)
