"""A user's own cell as a model: from a ``Cell`` (or a function building one) in Python, or
from a file named on the command line (``derive check path/to/cell.py:gru``)."""

from __future__ import annotations

import importlib.util
import inspect
import itertools
import sys
from collections.abc import Callable
from pathlib import Path

from derive.core.cell import Cell
from derive.core.errors import DeriveError
from derive.recurrent.model import RecurrentModel


def _one_line(exc: Exception) -> str:
    return " / ".join(line.strip() for line in str(exc).splitlines() if line.strip())


def recurrent_model(
    cell: Cell | Callable[[], Cell],
    *,
    summary: str = "",
    dims: dict[str, int] | None = None,
    check_dims: list[dict[str, int]] | None = None,
    T: int = 6,
) -> RecurrentModel:
    """The model of ``cell``: its derivation, kernels, BPTT and checks.

    ``cell`` is a ``Cell`` or a function returning one (built on first use). ``dims`` are
    the default sizes (each dimension 2, 3, 4, ... in the order of ``Cell(dims=...)`` if not
    given); the checks run at ``check_dims`` (every size 1, then the default sizes)."""
    if isinstance(cell, Cell):
        built = cell
    elif callable(cell):
        built = cell()
        if not isinstance(built, Cell):
            raise DeriveError(f"recurrent_model: {getattr(cell, '__name__', cell)}() returned "
                              f"{type(built).__name__}, not a Cell")
    else:
        raise DeriveError(f"recurrent_model: expected a Cell or a function returning one, got "
                          f"{type(cell).__name__}")
    names = [str(d) for d in built.dims]
    if dims is None:
        dims = dict(zip(names, itertools.count(2), strict=False))
    unknown = sorted(set(dims) - set(names))
    if unknown:
        raise DeriveError(f"dims: cell {built.name!r} has no dimension {unknown[0]!r} "
                          f"(its dimensions: {', '.join(names) or 'none'})")
    if check_dims is None:
        check_dims = [{n: 1 for n in names}, dict(dims)] if names else [{}]
    built.validate()  # refuse a cell the engine cannot derive right, now

    def build() -> Cell:
        return built

    return RecurrentModel(built.name, summary or f"the cell {built.name!r}", build,
                          default_dims=dims, check_dims=check_dims, default_T=T)


def is_cell_file(name: str) -> bool:
    """Whether a model name on the command line names a Python file (``cell.py[:NAME]``)."""
    path = name.rsplit(":", 1)[0] if ":" in name.rsplit("/", 1)[-1] else name
    return path.endswith(".py")


def load_model(spec: str) -> RecurrentModel:
    """The model defined in a Python file: ``path.py`` or ``path.py:NAME``.

    ``NAME`` (default: ``model``, else ``cell``) is a ``Cell``, a model, or a function of no
    arguments returning either. The file is the user's own code and is run as such."""
    head, sep, attr = spec.rpartition(":") if ":" in spec.rsplit("/", 1)[-1] else ("", "", "")
    path = Path(head if sep else spec)
    if not path.is_file():
        raise DeriveError(f"{path}: no such file (a cell file is path/to/cell.py[:NAME])")
    module_name = f"derive_user_cell_{abs(hash(str(path.resolve())))}"
    loader = importlib.util.spec_from_file_location(module_name, path)
    if loader is None or loader.loader is None:
        raise DeriveError(f"{path}: not a Python file")
    module = importlib.util.module_from_spec(loader)
    sys.modules[module_name] = module
    try:
        loader.loader.exec_module(module)
    except DeriveError as exc:
        raise DeriveError(f"{path}: {_one_line(exc)}") from None
    except Exception as exc:  # the user's code: its error, in one line
        raise DeriveError(f"{path}: running it raised {type(exc).__name__}: "
                          f"{_one_line(exc)}") from None
    if not attr:
        attr = next((a for a in ("model", "cell") if hasattr(module, a)), "")
    if not attr:
        found = [n for n, v in vars(module).items() if inspect.isfunction(v)
                 and v.__module__ == module_name]
        raise DeriveError(f"{path}: name the cell to use, {path}:NAME (the file defines no "
                          f"'model' or 'cell'; its functions: {', '.join(found) or 'none'})")
    if not hasattr(module, attr):
        raise DeriveError(f"{path}: defines no {attr!r}")
    obj = getattr(module, attr)
    try:
        if callable(obj) and not isinstance(obj, Cell | RecurrentModel):
            if inspect.signature(obj).parameters and any(
                    p.default is inspect.Parameter.empty
                    for p in inspect.signature(obj).parameters.values()):
                raise DeriveError(f"{attr} takes arguments; name a function of none")
            obj = obj()
        if isinstance(obj, RecurrentModel):
            return obj
        if isinstance(obj, Cell):
            return recurrent_model(obj)
    except DeriveError as exc:
        raise DeriveError(f"{path}:{attr}: {_one_line(exc)}") from None
    except Exception as exc:
        raise DeriveError(f"{path}:{attr}: raised {type(exc).__name__}: "
                          f"{_one_line(exc)}") from None
    raise DeriveError(f"{path}:{attr} is of type {type(obj).__name__}, not a Cell, a model or "
                      "a function returning one")
