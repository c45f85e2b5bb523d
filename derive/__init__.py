"""derive: the calculus of neural networks, derived symbolically, checked numerically, typeset.

    >>> import derive
    >>> m = derive.model("lstm")
    >>> m.adjoints["c"]          # a sympy.Eq in the bar notation
    >>> derive.answer("csc421-hw4/1b").results

The public API: the language of cells (``Cell``, ``sigma``, ``elementwise``, ``softargmax``),
``recurrent_model`` for a user's cell, the catalogue's models and answers (``model``,
``answer``, ``models``, ``problems``) and their checks (``check``).
"""

from __future__ import annotations

import difflib
from collections.abc import Callable

from derive._registry import discover
from derive.answers import Answer, answer, registered_problems
from derive.catalogue import PROBLEMS, problem_ids
from derive.checks.check import Check
from derive.core.cell import Cell
from derive.core.errors import DeriveError
from derive.core.primitives import elementwise, sigma, softargmax
from derive.models import get, model_names
from derive.recurrent.model import RecurrentModel
from derive.recurrent.usercell import is_cell_file, load_model, recurrent_model

__all__ = ["Answer", "Cell", "Check", "DeriveError", "RecurrentModel", "answer", "check",
           "checkable", "elementwise", "model", "model_names", "models", "problems",
           "recurrent_model", "sigma", "softargmax"]


def model(name: str) -> RecurrentModel:
    """The registered model ``name`` (e.g. ``"lstm"``), derived on first use, or the cell
    of a Python file, ``"path/to/cell.py[:NAME]"``."""
    return load_model(name) if is_cell_file(name) else get(name)


def models() -> dict[str, str]:
    """name -> one-line summary of every registered model."""
    return model_names()


def problems() -> list[str]:
    """Every problem id in the catalogue."""
    return problem_ids()


def checkable() -> dict[str, tuple[Callable[[], list[Check]], str]]:
    """Every name ``check`` knows, every model and every answered problem;
    name -> (run, summary)."""
    discover()
    table = {name: (lambda n=name: get(n).checks(), summary)
             for name, summary in model_names().items()}
    for pid in registered_problems():
        table.setdefault(pid, (lambda p=pid: answer(p).checks, PROBLEMS.get(pid, "")))
    return table


def check(*names: str) -> dict[str, list[Check]]:
    """Run the checks of ``names`` (models, problem ids or cell files ``path.py[:NAME]``;
    every registered one if none are given)."""
    table = {name: run for name, (run, _) in checkable().items()}
    for name in names:
        if is_cell_file(name):
            table[name] = load_model(name).checks
            continue
        if name not in table:
            close = difflib.get_close_matches(name, list(table), n=3, cutoff=0.5)
            hint = f"; did you mean {', '.join(close)}?" if close else "; see 'derive list'"
            raise DeriveError(f"nothing to check named {name!r}{hint}")
    return {name: table[name]() for name in (names or sorted(table))}
