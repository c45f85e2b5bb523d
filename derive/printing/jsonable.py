"""Turn results (NumPy arrays, SymPy objects, dataclasses) into JSON-ready values."""

from __future__ import annotations

from typing import Any

import numpy as np
import sympy as sp


def to_json(value: Any) -> Any:
    """Integers stay integers, arrays become nested lists, SymPy formulas their ``str()``."""
    if isinstance(value, bool | str) or value is None:
        return value
    if isinstance(value, int | np.integer):
        return int(value)
    if isinstance(value, float | np.floating):
        return float(value)
    if isinstance(value, complex | np.complexfloating):
        return {"re": float(value.real), "im": float(value.imag)}
    if isinstance(value, np.ndarray):
        return to_json(value.tolist())
    if isinstance(value, sp.Integer):
        return int(value)
    if isinstance(value, sp.Basic | sp.MatrixBase):
        return str(value)
    if isinstance(value, dict):
        return {str(k): to_json(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [to_json(v) for v in value]
    if hasattr(value, "as_json"):
        return value.as_json()
    raise TypeError(f"cannot encode {type(value).__name__} as JSON")


# Catalogue names that SymPy's namespace already uses: beta and gamma are functions, S the
# singleton registry, I the imaginary unit, E Euler's number, N and O functions, Q the
# assumptions. A consumer of `derive answer --format json` reads them as plain symbols.
CATALOGUE_LOCALS = ("beta", "gamma", "S", "I", "E", "N", "O", "Q")


def read_formula(text: str) -> sp.Basic:
    """A formula string of ``derive answer --format json`` back as a SymPy object, with the
    catalogue's names (``beta``, ``S``, ``I``, ...) as symbols.

    For the toolkit's own JSON output only: like ``sympify`` it evaluates its input, so
    never give it text from users (claims go through ``derive.grade``'s parser).
    """
    return sp.sympify(text, locals={name: sp.Symbol(name) for name in CATALOGUE_LOCALS})
