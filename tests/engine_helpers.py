"""Helpers shared by the engine's tests: planting errors in a derivation."""

import copy
import dataclasses

import sympy as sp

from derive.adjoint import Adjoints, Term


def with_planted_error(model, signal: str, index: int = -1, factor=-1):
    """A copy of ``model`` whose bar of ``signal`` has one term multiplied by ``factor``
    (a flipped sign by default; ``factor=0`` drops the term)."""
    planted = copy.copy(model)
    original: Adjoints = model.derivation
    bars = dict(original.bars)
    terms = list(bars[signal])
    term = terms[index]
    terms[index] = dataclasses.replace(term, expr=sp.Mul(factor, term.expr)
                                       if not hasattr(term.expr, "shape")
                                       else factor * term.expr)
    bars[signal] = [x for x in terms if x.expr != 0 and getattr(x.expr, "is_ZeroMatrix", False)
                    is not True] if factor == 0 else terms
    planted.__dict__["derivation"] = Adjoints(original.cell, bars, dict(original.grads))
    planted.__dict__.pop("_kernels", None)
    return planted


__all__ = ["with_planted_error", "Term"]
