"""Receptive fields of a layer list, per spatial axis: the closed-form window and the exact set.

Every layer kind here is separable along the two spatial axes, so the receptive field of
output location ``(u, v)`` is the product of a row set and a column set.

* The closed form tracks, per axis, the window ``[start + u*jump, start + u*jump + size - 1]``
  (input coordinates; negative or past-the-end parts lie in the padding):
  ``size' = size + (K - 1) jump``, ``jump' = jump S``, ``start' = start - P jump``.
* The exact set composes, per axis, which input indices each output index reads (a bitmask
  per output index), so windows with holes and windows partly in the padding are handled
  exactly. "Covers the whole input" is judged on these sets, location by location.
"""

from __future__ import annotations

from dataclasses import dataclass

from derive.topics.cnn.layers import Layer


@dataclass(frozen=True)
class Window:
    """The closed-form receptive window of one axis of a layer's output."""

    size: int
    jump: int
    start: int  # input coordinate of the first entry of output index 0's window
    count: int  # number of output indices along this axis

    def bounds(self, u: int) -> tuple[int, int]:
        """Input coordinates spanned by output index ``u`` (may reach into the padding)."""
        first = self.start + u * self.jump
        return first, first + self.size - 1

    def covers(self, n_input: int) -> bool:
        """Position-aware: every output index's window spans ``0 .. n_input-1``."""
        last_first, _ = self.bounds(self.count - 1)
        _, first_last = self.bounds(0)
        return last_first <= 0 and first_last >= n_input - 1


def _axis_params(layer: Layer, axis: int, n_prev: int) -> tuple[int, int, int]:
    """(kernel, stride, padding) of ``layer`` along ``axis``; an fc layer spans its input."""
    if layer.kind in ("conv", "pool"):
        return layer.kernel[axis], layer.stride[axis], layer.padding[axis]
    if layer.kind == "fc":
        return n_prev, 1, 0
    return 1, 1, 0  # relu, softmax: elementwise


def next_window(layer: Layer, axis: int, window: Window, count: int) -> Window:
    """The closed-form recurrence for one layer along one axis."""
    kernel, stride, padding = _axis_params(layer, axis, window.count)
    return Window(
        size=window.size + (kernel - 1) * window.jump,
        jump=window.jump * stride,
        start=window.start - padding * window.jump,
        count=count,
    )


def next_sets(layer: Layer, axis: int, sets: list[int], count: int) -> list[int]:
    """Exact dependency bitmasks: output index ``u`` reads in-range previous indices."""
    kernel, stride, padding = _axis_params(layer, axis, len(sets))
    out = []
    for u in range(count):
        mask = 0
        for m in range(kernel):
            v = u * stride - padding + m
            if 0 <= v < len(sets):  # outside: zero padding, no dependence
                mask |= sets[v]
        out.append(mask)
    return out


def set_bounds(mask: int) -> tuple[int, int]:
    """Lowest and highest input index in a non-empty bitmask."""
    return (mask & -mask).bit_length() - 1, mask.bit_length() - 1


def is_contiguous(mask: int) -> bool:
    low, high = set_bounds(mask)
    return mask == ((1 << (high + 1)) - 1) ^ ((1 << low) - 1)
