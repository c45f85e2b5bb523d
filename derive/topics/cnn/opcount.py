"""Counted scalars: run a naive loop implementation and count every scalar operation it does.

A ``Num`` carries a float and a shared ``OpCounter``; each ``+ - * /``, comparison and
counted function (``tanh``, ``exp``) increments the counter by one. Used to verify the
closed-form operation counts by brute force on small sizes.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field


@dataclass
class OpCounter:
    """Tallies of scalar operations by kind."""

    counts: dict[str, int] = field(default_factory=dict)

    def tick(self, kind: str) -> None:
        self.counts[kind] = self.counts.get(kind, 0) + 1

    @property
    def total(self) -> int:
        return sum(self.counts.values())

    def num(self, value: float) -> Num:
        return Num(float(value), self)


class Num:
    """A float whose arithmetic is counted."""

    __slots__ = ("value", "counter")

    def __init__(self, value: float, counter: OpCounter) -> None:
        self.value = value
        self.counter = counter

    @staticmethod
    def _raw(other: object) -> float:
        return other.value if isinstance(other, Num) else float(other)  # type: ignore[arg-type]

    def __add__(self, other: object) -> Num:
        self.counter.tick("add")
        return Num(self.value + self._raw(other), self.counter)

    __radd__ = __add__

    def __sub__(self, other: object) -> Num:
        self.counter.tick("add")
        return Num(self.value - self._raw(other), self.counter)

    def __mul__(self, other: object) -> Num:
        self.counter.tick("mul")
        return Num(self.value * self._raw(other), self.counter)

    __rmul__ = __mul__

    def __truediv__(self, other: object) -> Num:
        self.counter.tick("div")
        return Num(self.value / self._raw(other), self.counter)

    def __gt__(self, other: object) -> bool:
        self.counter.tick("compare")
        return self.value > self._raw(other)

    def tanh(self) -> Num:
        self.counter.tick("tanh")
        return Num(math.tanh(self.value), self.counter)

    def exp(self) -> Num:
        self.counter.tick("exp")
        return Num(math.exp(self.value), self.counter)
