"""Receptive fields of a layer list, per spatial axis: the closed-form window and the exact set.

Every layer kind here is separable along the two spatial axes, so the receptive field of
output location ``(u, v)`` is the product of a row set and a column set.

* The closed form tracks, per axis, the window ``[start + u*jump, start + u*jump + size - 1]``
  (input coordinates; negative or past-the-end parts lie in the padding):
  ``size' = size + (K - 1) jump``, ``jump' = jump S``, ``start' = start - P jump``.
* The exact set composes, per axis, which input indices each output index reads, so windows
  with holes and windows partly in the padding are handled exactly. "Covers the whole input"
  is judged on these sets, location by location.
* While consecutive sets touch (no holes), every exact set is an interval, and the family of
  them has a closed form in seven integers per axis (:class:`Spans`): constant memory for
  any input size. Only a layer list with holes needs the sets themselves (a bitmask per
  output index, :func:`next_sets`), whose cost grows with the square of the input size.
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


def axis_params(layer: Layer, axis: int, n_prev: int) -> tuple[int, int, int]:
    """(kernel, stride, padding) of ``layer`` along ``axis``; an fc layer and a global pool
    span their input. A dilated kernel's taps are ``layer.dilation`` apart."""
    if layer.kind in ("conv", "pool", "avgpool"):
        return layer.kernel[axis], layer.stride[axis], layer.padding[axis]
    if layer.kind in ("fc", "globalpool"):
        return n_prev, 1, 0
    return 1, 1, 0  # relu, softmax, bn, dropout, flatten, add: elementwise


def next_window(layer: Layer, axis: int, window: Window, count: int) -> Window:
    """The closed-form recurrence for one layer along one axis."""
    kernel, stride, padding = axis_params(layer, axis, window.count)
    return Window(
        size=window.size + (kernel - 1) * layer.dilation * window.jump,
        jump=window.jump * stride,
        start=window.start - padding * window.jump,
        count=count,
    )


def union_window(a: Window, b: Window) -> Window | None:
    """The window of a sum of two branches (``add``): the hull of both, when their jumps
    agree (else None: no window of one size describes every location)."""
    if a.jump != b.jump or a.count != b.count:
        return None
    start = min(a.start, b.start)
    end = max(a.start + a.size, b.start + b.size)
    return Window(end - start, a.jump, start, a.count)


def union_spans(a: Spans, b: Spans) -> Spans:
    """The exact sets of a sum of two branches: one branch's when it contains the other's at
    every index (the main branch of a residual block holds its shortcut's); otherwise not
    closed form (the exact sets are then composed)."""
    for big, small in ((a, b), (b, a)):
        if big.exact and small.exact and big.jump == small.jump and big.count == small.count \
                and big.alpha <= small.alpha and big.beta >= small.beta \
                and big.low <= small.low and big.high >= small.high \
                and (small.first > small.last or (big.first <= small.first
                                                  and big.last >= small.last)):
            return big
    return Spans(a.alpha, a.beta, a.jump, a.low, a.high, a.first, a.last, a.count, exact=False)


@dataclass(frozen=True)
class Spans:
    """The exact receptive sets of one axis in closed form, valid while ``exact``: output
    index ``u`` in ``first .. last`` reads the input indices
    ``max(low, alpha + u*jump) .. min(high, beta + u*jump)``; the other indices read only
    padding. ``alpha .. beta`` is the unclipped window of index 0; ``low``, ``high`` are the
    clips met on the way (the input's ends, or indices cut off at an inner layer).

    Why it holds: an output's set is the union of the sets of the previous indices it reads
    in range, a run of consecutive indices ``v1 .. v2``; when consecutive sets overlap or
    touch (``jump <= beta - alpha + 1``), the union of intervals is the interval from the
    start of ``v1``'s to the end of ``v2``'s, which keeps the form above.
    """

    alpha: int
    beta: int
    jump: int
    low: int
    high: int
    first: int
    last: int  # first > last: every index reads only padding
    count: int
    exact: bool = True  # False once consecutive sets may leave a gap: use the exact sets

    @classmethod
    def of_input(cls, n: int) -> Spans:
        return cls(0, 0, 1, 0, n - 1, 0, n - 1, n)

    def interval(self, u: int) -> tuple[int, int] | None:
        """The input indices ``(lo, hi)`` read by output index ``u``, or ``None``."""
        if not self.first <= u <= self.last:
            return None
        return max(self.low, self.alpha + u * self.jump), min(self.high, self.beta + u * self.jump)

    def covers(self, n_input: int) -> bool:
        """Every output index reads all of ``0 .. n_input - 1`` (the intervals' starts grow
        and their ends grow with ``u``: the last start and the first end decide)."""
        return (self.first == 0 and self.last == self.count - 1
                and max(self.low, self.alpha + (self.count - 1) * self.jump) == 0
                and min(self.high, self.beta) == n_input - 1)


def next_spans(layer: Layer, axis: int, spans: Spans, count: int) -> Spans:
    """The closed form of the exact sets after ``layer`` along ``axis`` (``count`` outputs)."""
    kernel, stride, padding = axis_params(layer, axis, spans.count)
    gap = layer.dilation  # taps read previous indices this far apart
    empty = spans.first > spans.last  # nothing reads the input, and nothing after will
    size = spans.beta - spans.alpha + 1
    exact = spans.exact and not (kernel > 1 and spans.last > spans.first
                                 and gap * spans.jump > size)
    # a dilated window may step over a short run first..last without a tap in it
    exact = exact and not (gap > 1 and kernel > 1 and spans.last - spans.first + 1 < gap)
    kernel = (kernel - 1) * gap + 1  # the window's reach in previous indices
    return Spans(
        alpha=spans.alpha - padding * spans.jump,
        beta=spans.beta + (kernel - 1 - padding) * spans.jump,
        jump=spans.jump * stride,
        # a run of read indices is cut at first/last: their sets' ends clip the union
        low=max(spans.low, spans.alpha + spans.first * spans.jump),
        high=min(spans.high, spans.beta + spans.last * spans.jump),
        # u reads u*stride - padding + (0 .. kernel-1); some of them must be in first..last
        first=0 if empty else max(0, -(-(spans.first - kernel + 1 + padding) // stride)),
        last=-1 if empty else min(count - 1, (spans.last + padding) // stride),
        count=count,
        exact=exact,
    )


def next_sets(layer: Layer, axis: int, sets: list[int], count: int) -> list[int]:
    """Exact dependency bitmasks: output index ``u`` reads in-range previous indices."""
    kernel, stride, padding = axis_params(layer, axis, len(sets))
    out = []
    for u in range(count):
        mask = 0
        for m in range(kernel):
            v = u * stride - padding + m * layer.dilation
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
