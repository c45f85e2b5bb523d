"""derive: the calculus of neural networks, derived symbolically, checked numerically, typeset.

    >>> import derive
    >>> m = derive.model("lstm")
    >>> m.adjoints["c"]          # a sympy.Eq in the bar notation
    >>> derive.answer("csc421-hw4/1b").results
"""

from __future__ import annotations

import importlib
import pkgutil

from derive.answers import Answer, answer
from derive.checks.check import Check
from derive.core.cell import Cell
from derive.core.errors import DeriveError
from derive.core.primitives import elementwise, sigma, softargmax
from derive.recurrent.model import RecurrentModel
from derive.recurrent.usercell import recurrent_model

__all__ = ["Answer", "Cell", "Check", "DeriveError", "RecurrentModel", "answer", "check",
           "elementwise", "model", "model_names", "problems", "recurrent_model", "sigma",
           "softargmax"]

_DISCOVERED = False


def _discover() -> None:
    """Import every model and problem module once, so their registrations run."""
    global _DISCOVERED
    if _DISCOVERED:
        return
    _DISCOVERED = True
    for package in ("derive.models", "derive.answers"):
        pkg = importlib.import_module(package)
        for info in sorted(pkgutil.iter_modules(pkg.__path__), key=lambda i: i.name):
            importlib.import_module(f"{package}.{info.name}")


def model(name: str):
    """The registered model ``name`` (e.g. ``"lstm"``), derived on first use, or the cell
    of a Python file, ``"path/to/cell.py[:NAME]"``."""
    from derive.models import get
    from derive.recurrent.usercell import is_cell_file, load_model

    return load_model(name) if is_cell_file(name) else get(name)


def model_names() -> dict[str, str]:
    """name -> summary of every model. (``derive.models`` is the package of definitions.)"""
    from derive.models import model_names

    return model_names()


def problems() -> list[str]:
    """Every problem id in the catalogue."""
    from derive.catalogue import problem_ids

    return problem_ids()


def check(*names: str) -> dict[str, list[Check]]:
    """Run the checks of ``names`` (models or problem ids; all of them if none are given)."""
    from derive.checks.check import registered_checks
    from derive.recurrent.usercell import is_cell_file, load_model

    table = {name: entry.run for name, entry in registered_checks().items()}
    for name in names:
        if is_cell_file(name):
            table[name] = load_model(name).checks
            continue
        if name not in table:
            import difflib

            close = difflib.get_close_matches(name, list(table), n=3, cutoff=0.5)
            hint = f"; did you mean {', '.join(close)}?" if close else "; see 'derive list'"
            raise DeriveError(f"nothing to check named {name!r}{hint}")
    return {name: table[name]() for name in (names or sorted(table))}
