"""The model registry. Each module in this package defines one model's forward equations
and registers it with :func:`register`; nothing here knows any model's derivative."""

from __future__ import annotations

import difflib
import functools
from collections.abc import Callable
from typing import Any, Protocol

from derive._registry import discover
from derive.checks.check import Check
from derive.core.errors import DeriveError


class Model(Protocol):
    """What the CLI and the reports need of a model."""

    name: str
    summary: str

    def show(self, fmt: str = "text", dims: dict[str, int] | None = None) -> Any:
        """The derived equations as ``text`` (str), ``latex`` (str) or ``json`` (dict)."""

    def grad_instance(
        self, seed: int = 0, T: int | None = None, dims: dict[str, int] | None = None
    ) -> dict:
        """A random instance and its gradients: the ``derive grad --json`` contract."""

    def checks(self) -> list[Check]:
        """Every verification of the model's derived results."""


_FACTORIES: dict[str, tuple[Callable[[], Model], str]] = {}


def register(name: str, summary: str) -> Callable:
    """Register ``factory() -> Model`` under ``name``."""

    def wrap(factory: Callable[[], Model]) -> Callable[[], Model]:
        if name in _FACTORIES:
            raise RuntimeError(f"model {name!r} registered twice")
        _FACTORIES[name] = (factory, summary)
        return factory

    return wrap


def model_names() -> dict[str, str]:
    """name -> one-line summary of every registered model."""
    discover()
    return {name: summary for name, (_, summary) in sorted(_FACTORIES.items())}


@functools.cache
def get(name: str) -> Model:
    discover()
    if name not in _FACTORIES:
        close = difflib.get_close_matches(name, list(_FACTORIES), n=3, cutoff=0.5)
        hint = f"; did you mean {', '.join(close)}?" if close else "; see 'derive list'"
        raise DeriveError(f"unknown model {name!r}{hint}")
    return _FACTORIES[name][0]()
