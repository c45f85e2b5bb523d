"""Helpers shared by the engine's tests: planting errors in a derivation."""

import copy
import dataclasses

import sympy as sp

from derive.calculus.adjoint import Adjoints, Term


def with_planted_error(model, signal: str, index: int = -1, factor=-1):
    """A copy of ``model`` whose bar of ``signal`` has one term multiplied by ``factor``
    (a flipped sign by default; ``factor=0`` drops the term)."""
    planted = copy.copy(model)
    original: Adjoints = model.derivation
    bars = dict(original.bars)
    terms = list(bars[signal])
    term = terms[index]

    def planted_in(expr):
        if expr is None:
            return None
        return sp.Mul(factor, expr) if not hasattr(expr, "shape") else factor * expr

    # a wrong derivative: planted both in the result and in what the rules gave before renaming
    terms[index] = dataclasses.replace(term, expr=planted_in(term.expr), raw=planted_in(term.raw))
    bars[signal] = [x for x in terms if x.expr != 0 and getattr(x.expr, "is_ZeroMatrix", False)
                    is not True] if factor == 0 else terms
    planted.__dict__["derivation"] = Adjoints(original.cell, bars, dict(original.grads))
    planted.__dict__.pop("_kernels", None)
    return planted


__all__ = ["with_planted_error", "Term"]
