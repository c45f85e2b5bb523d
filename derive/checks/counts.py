"""Checks of closed-form counts against measured ones: a formula agrees with counts taken on a
grid of sizes (and on held-out sizes), a claimed number with the number measured."""

from __future__ import annotations

import itertools
from collections.abc import Callable

import sympy as sp

from derive.checks.check import Check, counted


def _latex(expr: sp.Expr) -> str:
    return sp.latex(expr)


def _plain(expr: sp.Expr) -> str:
    """A formula for plain text: ``3dk^2``, ``(i + 1)(j + 1)`` (every symbol is one letter)."""
    return str(expr).replace("**", "^").replace("*", "")


def _num(n: int) -> str:
    """An integer for math mode, thousands separated: ``98{,}304``."""
    return f"{n:,d}".replace(",", "{,}")


def _point(point: dict) -> str:
    return ", ".join(f"{v} = {n}" for v, n in point.items())


def _tuples(samples: list) -> str:
    """The sample points in words: a full grid by its axes, a few points one by one."""
    names = list(samples[0][0])
    axes = {v: sorted({p[v] for p, _ in samples}) for v in names}
    if len(samples) > 4 and sp.prod([len(a) for a in axes.values()]) == len(samples):
        return ", ".join(f"{v} in {{{', '.join(map(str, a))}}}" for v, a in axes.items())
    if len(samples) > 4:
        return ""
    if len(names) == 1:
        return f"{names[0]} = " + ", ".join(str(p[names[0]]) for p, _ in samples)
    values = ", ".join("(" + ", ".join(str(n) for n in p.values()) + ")" for p, _ in samples)
    return f"({', '.join(map(str, names))}) = {values}"


def agree(name: str, against: str, formula: sp.Expr, samples: list, where: str = "",
          unit: str = "size") -> Check:
    """A claimed formula against measured ``(point, value)`` samples: exact on every one.
    ``where`` describes the samples (default: they are listed), ``unit`` names one."""
    for point, value in samples:
        claimed = formula.subs(point)
        if claimed != value:
            return Check.exact(name, against, False, f"at {_point(point)}: the formula gives "
                               f"{claimed}, measured {value}")
    where = where or _tuples(samples)
    return Check.exact(name, against, True, f"equal at {counted(len(samples), unit)}"
                       + (f": {where}" if where else ""))


def grid_samples(grid: dict[sp.Symbol, tuple[int, ...]], measure: Callable[..., int]) -> list:
    """``(point, measure(*values))`` on the full grid of ``grid``'s values."""
    return [(dict(zip(grid, values, strict=True)), measure(*values))
            for values in itertools.product(*grid.values())]


def agree_on_grid(name: str, against: str, formula: sp.Expr, grid: dict, samples: list,
                  held_out: list = ()) -> Check:
    """A claimed polynomial against counts on a full grid of sizes (and held-out sizes). On a
    grid with n values of a variable, agreement decides every polynomial of degree < n in it;
    a claim of higher degree is refused as undecided."""
    for v, values in grid.items():
        try:
            degree = sp.degree(sp.expand(formula), v)
        except sp.PolynomialError:
            return Check.exact(name, against, False, f"not a polynomial in {v}: a grid of "
                               "sizes cannot decide it")
        if degree >= len(values):
            return Check.exact(name, against, False, f"degree {degree} in {v}: "
                               f"{counted(len(values), 'value')} of {v} cannot decide it")
    check = agree(name, against, formula, [*samples, *held_out])
    if not check.passed:
        return check
    axes = ", ".join(f"{v} in {{{', '.join(map(str, vals))}}}" for v, vals in grid.items())
    degrees = ", ".join(f"{len(vals) - 1} in {v}" for v, vals in grid.items())
    extra = f", and at {counted(len(held_out), 'held-out size')}" if held_out else ""
    return Check.exact(name, against, True, f"equal at all {len(samples)} sizes {axes}, which "
                       f"decide every polynomial of degree up to {degrees}{extra}")


def claim(name: str, against: str, claimed: int, measured: int) -> Check:
    """One number of an answer against its measurement."""
    return Check.exact(name, against, claimed == measured,
                       f"claimed {claimed}, measured {measured}")


