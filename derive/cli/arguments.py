"""What every command shares: the parser that reports usage errors in one line, and
``--dim NAME=VALUE`` pairs read without evaluating anything."""

from __future__ import annotations

import argparse
from collections.abc import Sequence

from derive.core.errors import DeriveError, positive_int


class Parser(argparse.ArgumentParser):
    """argparse that reports usage errors in the project's one-line format."""

    def error(self, message: str) -> None:  # type: ignore[override]
        raise DeriveError(message)


def parse_dims(pairs: Sequence[str] | None, may_be_zero: Sequence[str] = (),
               real: Sequence[str] = (), known: Sequence[str] | None = None,
               owner: str = "the model") -> dict[str, int | float]:
    """``["n=3", "k=2"]`` -> ``{"n": 3, "k": 2}``; a malformed pair is a ``DeriveError``.

    Every dimension is a positive integer, but those in ``may_be_zero`` (a model's
    ``nonnegative_dims``, such as a convolution's padding ``P``) may also be 0, and those in
    ``real`` (a model's ``real_dims``, such as the momentum ``beta``) are any real number,
    read by ``float`` (never evaluated); the model judges their value. With ``known`` (the
    dimensions of ``owner``), any other name is refused before its value is read, so
    ``alpha=0.1`` is reported as no dimension, not as a bad integer.
    """
    dims: dict[str, int] = {}
    for pair in pairs or []:
        name, sep, value = pair.partition("=")
        name = name.strip()
        if not sep or not name.isidentifier():
            raise DeriveError(f"--dim expects NAME=VALUE, got {pair!r}")
        if known is not None and name not in known:
            listed = f"its dimensions: {', '.join(known)}" if known else "it has no dimensions"
            raise DeriveError(f"--dim {name}: {owner} has no dimension {name!r} ({listed})")
        if name in dims:
            raise DeriveError(f"--dim {name} is given twice ({name}={dims[name]}, {pair})")
        value = value.strip()
        if name in real:
            try:
                dims[name] = float(value)
            except ValueError:
                raise DeriveError(f"--dim {name} must be a real number, got {value!r}") from None
        elif name not in may_be_zero:
            dims[name] = positive_int(f"--dim {name}", value)
        elif value == "0":
            dims[name] = 0
        else:
            try:
                dims[name] = positive_int(f"--dim {name}", value)
            except DeriveError:
                raise DeriveError(f"--dim {name} must be a non-negative integer, "
                                  f"got {value!r}") from None
    return dims


def dimension_names(model: object) -> tuple[str, ...] | None:
    """The names ``--dim`` may set on ``model``: its ``dimension_names``, or the symbols of a
    recurrent cell (``None``: unknown, every name is passed to the model to judge)."""
    names = getattr(model, "dimension_names", None)
    if names is None and hasattr(model, "dim_symbols"):
        names = model.dim_symbols  # type: ignore[attr-defined]
    return None if names is None else tuple(names)


def model_dims(model: object, pairs: Sequence[str] | None) -> dict[str, int]:
    """``--dim`` pairs for ``model``: names it has not are refused, naming those it has."""
    if not pairs:
        return {}
    return parse_dims(pairs, getattr(model, "nonnegative_dims", ()),
                      getattr(model, "real_dims", ()), dimension_names(model),
                      getattr(model, "name", "the model"))
