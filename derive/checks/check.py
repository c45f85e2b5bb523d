"""Check results and the registry of named checks that ``derive check`` runs."""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, field


@dataclass(frozen=True)
class Check:
    """One verification of one result.

    ``error`` is the measured discrepancy (a max relative error for numeric checks,
    0 or 1 for exact ones); the check passes when ``error <= tolerance``.
    """

    name: str
    against: str
    error: float
    tolerance: float
    detail: str = ""

    @property
    def passed(self) -> bool:
        return math.isfinite(self.error) and self.error <= self.tolerance

    @classmethod
    def exact(cls, name: str, against: str, ok: bool, detail: str = "") -> Check:
        """An exact check: a symbolic difference that must vanish, counts that must agree."""
        return cls(name, against, 0.0 if ok else 1.0, 0.0, detail)

    def as_json(self) -> dict:
        return {
            "name": self.name,
            "against": self.against,
            "error": self.error,
            "tolerance": self.tolerance,
            "passed": self.passed,
            "detail": self.detail,
        }


def counted(number: int, singular: str, plural: str | None = None) -> str:
    """``1 entry``, ``15 entries``, ``5,757 locations``: a count in a check's detail."""
    return f"{number:,d} {singular if number == 1 else plural or singular + 's'}"


def relative_error(actual, expected) -> float:
    """Max elementwise ``|actual - expected| / max(1, |expected|)`` over arrays or scalars."""
    import numpy as np

    a = np.asarray(actual, dtype=complex)
    e = np.asarray(expected, dtype=complex)
    if a.shape != e.shape:
        raise ValueError(f"shape mismatch: {a.shape} vs {e.shape}")
    if a.size == 0:
        return 0.0
    return float(np.max(np.abs(a - e) / np.maximum(1.0, np.abs(e))))


@dataclass
class _Entry:
    run: Callable[[], list[Check]]
    summary: str
    tags: tuple[str, ...] = field(default_factory=tuple)


_CHECKS: dict[str, _Entry] = {}


def checker(name: str, summary: str = "") -> Callable:
    """Register ``fn() -> list[Check]`` under ``name`` (a model name or a problem id)."""

    def register(fn: Callable[[], list[Check]]) -> Callable[[], list[Check]]:
        if name in _CHECKS:
            raise RuntimeError(f"check {name!r} registered twice")
        _CHECKS[name] = _Entry(fn, summary or (fn.__doc__ or "").strip().split("\n")[0])
        return fn

    return register


def registered_checks() -> dict[str, _Entry]:
    """Every checkable name: explicit checkers, every model, every answered problem."""
    from derive import _discover
    from derive.answers import answer, registered_problems
    from derive.catalogue import PROBLEMS
    from derive.models import get, model_names

    _discover()
    table = dict(_CHECKS)
    for name, summary in model_names().items():
        table.setdefault(name, _Entry(lambda n=name: get(n).checks(), summary))
    for pid in registered_problems():
        table.setdefault(pid, _Entry(lambda p=pid: answer(p).checks, PROBLEMS.get(pid, "")))
    return table
