"""Check results and the registry of named checks that ``derive check`` runs."""

from __future__ import annotations

import math
from dataclasses import dataclass


@dataclass(frozen=True)
class Check:
    """One verification of one result.

    ``error`` is the measured value: by default a discrepancy (a max relative error for
    numeric checks, 0 or 1 for exact ones); the check passes when ``error <= tolerance``.
    ``measures`` names the value when it is not a relative error (``"ratio"``, ``"shortfall"``,
    ``"largest |z| reciprocal"``): the audit prints it beside the value, so a ratio of 1.6
    against a bound of 2 is never read as an error. Empty means the default.
    """

    name: str
    against: str
    error: float
    tolerance: float
    detail: str = ""
    measures: str = ""

    @property
    def passed(self) -> bool:
        return math.isfinite(self.error) and self.error <= self.tolerance

    @classmethod
    def exact(cls, name: str, against: str, ok: bool, detail: str = "") -> Check:
        """An exact check: a symbolic difference that must vanish, counts that must agree."""
        return cls(name, against, 0.0 if ok else 1.0, 0.0, detail)

    def __repr__(self) -> str:
        name = self.name if len(self.name) <= 80 else self.name[:77] + "..."
        return (f"<Check {name!r}: error {self.error:.3g} (tolerance {self.tolerance:.3g}), "
                f"{'passed' if self.passed else 'FAILED'}>")

    def _repr_markdown_(self) -> str:
        """Jupyter: one line, the verdict first (plain text, escaped: no math here)."""
        mark = "\u2713 passed" if self.passed else "\u2717 **FAILED**"
        line = (f"{mark}: **{_markdown(self.name)}**, against {_markdown(self.against)}: "
                f"error {self.error:.3g}, tolerance {self.tolerance:.3g}")
        return line + (f"<br>\n{_markdown(self.detail)}" if self.detail else "") + "\n"

    def as_json(self) -> dict:
        # plain floats and bools: a NumPy measure (np.float64) makes passed an np.bool_,
        # which the json module refuses
        return {
            "name": self.name,
            "against": self.against,
            "error": float(self.error),
            "tolerance": float(self.tolerance),
            "passed": bool(self.passed),
            "detail": self.detail,
        }


_MARKDOWN = {"\\": "&#92;", "[": "&#91;", "]": "&#93;", "<": "&lt;", ">": "&gt;", "&": "&amp;",
             **{c: "\\" + c for c in "`*_|$#~"}}


def _markdown(text: str) -> str:
    """Text made literal in Markdown (the printing layer's ``markdown_escape``; checks sit
    below printing, so the few characters are escaped here)."""
    return "".join(_MARKDOWN.get(c, c) for c in str(text))


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
