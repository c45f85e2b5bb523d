"""Memory-limited BPTT for h_t = tanh(W_hh h_{t-1} + W_xh x_t): checkpointing schedules.

Cost model (Griewank's): memory *slots* hold hidden states; the state being advanced and
the adjoint ``bar h`` are working memory, not slots. The reverse step of step ``t``
takes ``h_{t-1}``, re-evaluates the cell once (it needs ``h_t`` for ``tanh'``) and
propagates ``bar h``. A schedule's cost is its number of *forward steps* (advances of
the cell outside reverse steps); its total cell evaluations are ``forward_steps + T``.

Three schedules, all exact, all instrumented (the counts are measured by the cell and
the slot store, never computed from a formula):

* :func:`bisection_bptt` - the recursive ``O(log T)``-memory schedule: store the
  midpoint, reverse the right half, release it, reverse the left half;
* :func:`uniform_bptt` - constant memory ``M``: ``M`` equally spaced checkpoints, every
  state recomputed from the nearest checkpoint before it;
* :func:`revolve_bptt` - Griewank's binomial schedule, optimal for ``M`` slots.

Closed forms for the counts are :func:`bisection_steps`, :func:`uniform_steps` and
:func:`revolve_steps`; :func:`revolve_steps_dp` is the brute-force optimum they are
checked against. :func:`closed_form_counts` gives every count of a schedule from them, for
any ``T`` in constant memory (``derive schedule`` prints these); a run (:func:`trace`,
:func:`run`) costs its cell evaluations, so it is estimated from the closed forms first and
refused above the limits (``DERIVE_MAX_STEPS``, ``DERIVE_MAX_MEMORY``).
"""

from __future__ import annotations

import functools
import math
from dataclasses import dataclass, field

import numpy as np

from derive.core.errors import MEMORY, STEPS, DeriveError

__all__ = [
    "Counts",
    "RNNCell",
    "Slots",
    "TraceCell",
    "beta",
    "bisection_bptt",
    "bisection_slots",
    "bisection_steps",
    "bisection_steps_recurrence",
    "bisection_tree",
    "recorded_events",
    "tree_events",
    "check_budget",
    "closed_form_counts",
    "compare_with_plain",
    "plain_bptt",
    "revolve_bptt",
    "revolve_repetitions",
    "revolve_split",
    "revolve_steps",
    "revolve_steps_dp",
    "uniform_bptt",
    "uniform_steps",
]


# ----------------------------------------------------------------------------- input checks


def _length(T: object) -> int:
    if isinstance(T, bool) or not isinstance(T, int | np.integer) or T <= 0:
        raise DeriveError(f"T must be a positive integer, got {T!r}")
    return int(T)


def check_budget(T: object, M: object) -> tuple[int, int]:
    """``(T, M)`` validated: ``T >= 1`` and ``1 <= M < T`` (fewer slots than steps)."""
    T = _length(T)
    if isinstance(M, bool) or not isinstance(M, int | np.integer):
        raise DeriveError(f"M must be an integer number of memory slots, got {M!r}")
    if M < 1:
        raise DeriveError(f"M must be >= 1 memory slot, got {M!r}")
    if M >= T:
        raise DeriveError(f"M must be < T (memory-limited: fewer slots than steps), got M={M!r} "
                          f"with T={T}")
    return T, int(M)


# ----------------------------------------------------------------------------- instruments


@dataclass
class Counts:
    """What one run of a schedule measured."""

    schedule: str
    T: int
    M: int | None  # the slot budget (None: the schedule sets its own)
    forward_steps: int  # advances of the cell outside reverse steps
    reverse_steps: int
    peak_slots: int  # most states held in slots at once

    @property
    def cell_evaluations(self) -> int:
        return self.forward_steps + self.reverse_steps


class Slots:
    """The checkpoint store: at most ``capacity`` states, the peak occupancy recorded."""

    def __init__(self, capacity: int | None = None):
        self.capacity = capacity
        self._held: dict[int, object] = {}
        self.peak = 0

    def put(self, t: int, state: object) -> None:
        if t in self._held:
            raise RuntimeError(f"state {t} stored twice")
        if self.capacity is not None and len(self._held) >= self.capacity:
            raise RuntimeError(f"slot budget {self.capacity} exceeded storing state {t}")
        self._held[t] = state
        self.peak = max(self.peak, len(self._held))

    def get(self, t: int) -> object:
        return self._held[t]

    def drop(self, t: int) -> None:
        del self._held[t]

    def __len__(self) -> int:
        return len(self._held)


class RNNCell:
    """The tanh RNN with its instance; counts every evaluation and accumulates gradients.

    ``x`` is ``(T, C)``, ``upstream`` is ``(T, K)`` with row ``t-1`` holding ``dL_t/dh_t``.
    """

    def __init__(self, W_hh, W_xh, h0, x, upstream):
        self.W_hh, self.W_xh = np.asarray(W_hh, float), np.asarray(W_xh, float)
        self.h0, self.x = np.asarray(h0, float), np.asarray(x, float)
        self.upstream = np.asarray(upstream, float)
        self.T = self.x.shape[0]
        self.forward_steps = 0
        self.reverse_steps = 0
        self.bar = np.zeros_like(self.h0)  # dL/dh_t from steps after t
        self.next_reverse = self.T
        self.grads = {
            "W_hh": np.zeros_like(self.W_hh),
            "W_xh": np.zeros_like(self.W_xh),
            "x": np.zeros_like(self.x),
        }

    def initial(self):
        return self.h0

    def _evaluate(self, h_prev, t: int):
        return np.tanh(self.W_hh @ h_prev + self.W_xh @ self.x[t - 1])

    def step(self, h_prev, t: int):
        """Advance: ``h_{t-1} -> h_t``."""
        self.forward_steps += 1
        return self._evaluate(h_prev, t)

    def reverse(self, h_prev, t: int) -> None:
        """Reverse step ``t`` from ``h_{t-1}``: re-evaluates ``h_t``, propagates ``bar h``."""
        if t != self.next_reverse:
            raise RuntimeError(f"reverse step {t} out of order (expected {self.next_reverse})")
        self.next_reverse -= 1
        self.reverse_steps += 1
        h = self._evaluate(h_prev, t)
        da = (self.upstream[t - 1] + self.bar) * (1.0 - h * h)
        self.grads["W_hh"] += np.outer(da, h_prev)
        self.grads["W_xh"] += np.outer(da, self.x[t - 1])
        self.grads["x"][t - 1] = self.W_xh.T @ da
        self.bar = self.W_hh.T @ da

    def gradients(self) -> dict[str, np.ndarray]:
        return {**self.grads, "h0": self.bar.copy()}


class TraceCell:
    """A cell whose state is the time index: runs a schedule's control flow alone (fast),
    asserting that every reverse step receives ``h_{t-1}`` and that they run ``T..1``."""

    def __init__(self, T: int):
        self.T = T
        self.forward_steps = 0
        self.reverse_steps = 0
        self.next_reverse = T

    def initial(self) -> int:
        return 0

    def step(self, state: int, t: int) -> int:
        self.forward_steps += 1
        if state != t - 1:
            raise RuntimeError(f"step {t} advanced from state {state}")
        return t

    def reverse(self, state: int, t: int) -> None:
        if t != self.next_reverse or state != t - 1:
            raise RuntimeError(f"reverse step {t} from state {state} (expected "
                               f"{self.next_reverse} from {self.next_reverse - 1})")
        self.next_reverse -= 1
        self.reverse_steps += 1


def _counts(name: str, cell, slots: Slots, T: int, M: int | None) -> Counts:
    if cell.reverse_steps != T or cell.next_reverse != 0:
        raise RuntimeError(f"{name}: {cell.reverse_steps} of {T} steps reversed")
    return Counts(name, T, M, cell.forward_steps, cell.reverse_steps, slots.peak)


# ----------------------------------------------------------------------------- schedules


def plain_bptt(cell) -> Counts:
    """Reference BPTT: one forward sweep storing ``h_0..h_{T-1}``, then ``T`` reverse steps."""
    T = cell.T
    slots = Slots()
    h = cell.initial()
    for t in range(1, T + 1):
        slots.put(t - 1, h)
        if t < T:  # h_T is never needed as a restart point
            h = cell.step(h, t)
    for t in range(T, 0, -1):
        cell.reverse(slots.get(t - 1), t)
        slots.drop(t - 1)
    return _counts("plain", cell, slots, T, None)


def _advance(cell, h, start: int, stop: int):
    """``h_start -> h_stop`` by ``stop - start`` forward steps."""
    for t in range(start + 1, stop + 1):
        h = cell.step(h, t)
    return h


def bisection_bptt(cell) -> Counts:
    """The recursive ``O(log T)`` schedule: store the midpoint, reverse right, then left."""
    T = _length(cell.T)
    slots = Slots()

    def reverse(start: int, stop: int) -> None:
        # h_start is in a slot; reverse steps start+1..stop
        if stop - start == 1:
            cell.reverse(slots.get(start), stop)
            return
        mid = start + (stop - start) // 2
        h_mid = _advance(cell, slots.get(start), start, mid)
        if stop - mid == 1:  # the last step needs no slot: h_mid is the working state
            cell.reverse(h_mid, stop)
        else:
            slots.put(mid, h_mid)
            reverse(mid, stop)
            slots.drop(mid)
        reverse(start, mid)

    slots.put(0, cell.initial())
    reverse(0, T)
    return _counts("bisection", cell, slots, T, None)


def uniform_bptt(cell, M: int) -> Counts:
    """Constant memory: checkpoints every ``L = ceil(T/M)`` steps (at most ``M`` of them);
    each reverse step recomputes ``h_{t-1}`` from the nearest checkpoint before it."""
    T, M = check_budget(cell.T, M)
    L = -(-T // M)
    slots = Slots(M)
    h = cell.initial()
    starts = list(range(0, T, L))
    for k, start in enumerate(starts):
        slots.put(start, h)
        if k + 1 < len(starts):
            h = _advance(cell, h, start, starts[k + 1])
    for start in reversed(starts):
        stop = min(start + L, T)
        for t in range(stop, start, -1):
            cell.reverse(_advance(cell, slots.get(start), start, t - 1), t)
        slots.drop(start)
    return _counts("uniform", cell, slots, T, M)


def revolve_bptt(cell, M: int) -> Counts:
    """Griewank's binomial checkpointing with ``M`` slots: the fewest forward steps."""
    T, M = check_budget(cell.T, M)
    slots = Slots(M)

    def reverse(start: int, stop: int, free: int) -> None:
        # h_start is in a slot; free = how many more slots may be used; reverse start+1..stop
        while stop - start > 0:
            length = stop - start
            if length == 1:
                cell.reverse(slots.get(start), stop)
                return
            m = revolve_split(length, free + 1)
            h_mid = _advance(cell, slots.get(start), start, start + m)
            if length - m == 1:  # the last step needs no slot: h_mid is the working state
                cell.reverse(h_mid, stop)
            else:
                slots.put(start + m, h_mid)
                reverse(start + m, stop, free - 1)
                slots.drop(start + m)
            stop = start + m

    slots.put(0, cell.initial())
    reverse(0, T, M - 1)
    return _counts("revolve", cell, slots, T, M)


# ----------------------------------------------------------------------------- closed forms


def beta(s: int, r: int) -> int:
    """``beta(s, r) = C(s + r, s)``: the most steps reversible with ``s`` slots and ``r``
    repetitions (0 for ``r < 0``)."""
    return math.comb(s + r, s) if r >= 0 and s >= 0 else 0


def _beta_reaches(s: int, r: int, T: int) -> bool:
    """``beta(s, r) >= T``, without building ``C(s + r, s)`` when it is far larger than ``T``
    (with ``s`` and ``r`` both near a billion it has hundreds of millions of digits)."""
    if r < 0 or s < 0:
        return T <= 0
    k, top = min(s, r), max(s, r)
    c = 1
    for i in range(1, k + 1):
        c = c * (top + i) // i  # C(top + i, i): increasing in i, so stop once it reaches T
        if c >= T:
            return True
    return c >= T


def revolve_repetitions(T: int, M: int) -> int:
    """The unique ``r`` with ``beta(M, r-1) < T <= beta(M, r)``, by bisection over ``r``
    (``O(log^2 T)`` work: with ``M = 1``, ``r = T - 1``)."""
    if T <= 1:
        return 0
    low, high = 0, 1  # beta(M, low) < T <= beta(M, high)
    while not _beta_reaches(M, high, T):
        low, high = high, 2 * high
    while high - low > 1:
        mid = (low + high) // 2
        if _beta_reaches(M, mid, T):
            high = mid
        else:
            low = mid
    return high


def revolve_steps(T: int, M: int) -> int:
    """Griewank's optimum ``t(T, M) = r T - beta(M+1, r-1)``."""
    r = revolve_repetitions(T, M)
    return r * T - beta(M + 1, r - 1)


def revolve_split(length: int, s: int) -> int:
    """An optimal first checkpoint position for reversing ``length`` steps with ``s`` slots.

    ``t(l, s) = min_m m + t(m, s) + t(l - m, s - 1)``: the marginal costs of the two
    parts are ``1 + rho_s`` and ``rho_{s-1}`` (``rho`` the slope of ``t``), so the
    cheapest ``l`` units are taken: all those below the slope ``r`` of ``t(l, s)``
    (``beta(s, r-2)`` go left), and the rest left first, up to ``beta(s-1, r-1)``.
    """
    if s == 1:
        return length - 1  # no slot to spare: advance to the last step
    r = revolve_repetitions(length, s)
    rest = length - beta(s, r - 1)
    return beta(s, r - 2) + min(rest, beta(s - 1, r - 1))


@functools.cache
def revolve_steps_dp(T: int, M: int) -> int:
    """Brute-force optimum over every split point (small ``T`` only)."""
    if T == 1:
        return 0
    if M == 1:
        return T - 1 + revolve_steps_dp(T - 1, 1)
    best = T - 1 + revolve_steps_dp(T - 1, M)  # the last step needs no slot
    for m in range(1, T - 1):
        best = min(best, m + revolve_steps_dp(m, M) + revolve_steps_dp(T - m, M - 1))
    return best


def bisection_steps(T: int) -> int:
    """Forward steps of the bisection schedule: ``sum_{i<T} popcount(i)``; for
    ``T = 2^k`` it is ``(T/2) log2 T``. Counted bit by bit (``O(log T)``): bit ``b`` is set
    in ``2^b`` of every ``2^(b+1)`` consecutive integers."""
    total = 0
    for b in range(max(T - 1, 0).bit_length()):
        period, half = 2 << b, 1 << b
        total += (T // period) * half + max(0, T % period - half)
    return total


@functools.cache
def bisection_steps_recurrence(T: int) -> int:
    """``F(1) = 0``, ``F(T) = floor(T/2) + F(floor(T/2)) + F(ceil(T/2))``."""
    if T == 1:
        return 0
    half = T // 2
    return half + bisection_steps_recurrence(half) + bisection_steps_recurrence(T - half)


def bisection_slots(T: int) -> int:
    """Peak slots of the bisection schedule: ``max(1, ceil(log2 T))``."""
    return max(1, (T - 1).bit_length())


def uniform_steps(T: int, M: int) -> int:
    """Forward steps of the uniform schedule: with ``L = ceil(T/M)``, ``n = ceil(T/L)``
    segments and the last of length ``l = T - (n-1) L``:
    ``(n-1) L + (n-1) L(L-1)/2 + l(l-1)/2``; for ``M = 1`` it is ``T(T-1)/2``."""
    L = -(-T // M)
    n = -(-T // L)
    last = T - (n - 1) * L
    return (n - 1) * L + (n - 1) * L * (L - 1) // 2 + last * (last - 1) // 2


# ----------------------------------------------------------------------------- arguments


NAMES = ("plain", "bisection", "uniform", "revolve")
WITH_SLOTS = ("uniform", "revolve")  # the schedules that take a slot budget M


def schedule_arguments(schedule: str, T: object, M: object = None) -> tuple[int, int | None]:
    """``(T, M)`` validated for ``schedule``: ``uniform`` and ``revolve`` need ``M`` with
    ``1 <= M < T``; ``plain`` and ``bisection`` set their own memory and refuse an ``M``
    (silently ignoring it would report counts for a budget the user did not get)."""
    if schedule not in NAMES:
        raise DeriveError(f"schedule must be one of {', '.join(NAMES)}, got {schedule!r}")
    if schedule not in WITH_SLOTS:
        if M is not None:
            raise DeriveError(f"M applies only to {' and '.join(WITH_SLOTS)}; the {schedule} "
                              f"schedule sets its own memory, got M={M!r}")
        return _length(T), None
    if M is None:
        raise DeriveError(f"M, the number of memory slots, is required for the {schedule} "
                          "schedule (1 <= M < T)")
    return check_budget(T, M)


def closed_form_counts(schedule: str, T: object, M: object = None) -> Counts:
    """The counts of ``schedule`` from the closed forms, in ``O(log^2 T)`` work and constant
    memory for any ``T`` (the measured counts of :func:`trace` equal these; the tests hold
    them together)."""
    T, M = schedule_arguments(schedule, T, M)
    if schedule == "plain":
        return Counts("plain", T, None, T - 1, T, T)
    if schedule == "bisection":
        return Counts("bisection", T, None, bisection_steps(T), T, bisection_slots(T))
    if schedule == "uniform":
        L = -(-T // M)
        return Counts("uniform", T, M, uniform_steps(T, M), T, -(-T // L))
    # peak M: traces agree for every T < 45 and sampled T up to 997, M <= 6 (tests); not a
    # proof beyond them
    return Counts("revolve", T, M, revolve_steps(T, M), T, M)


# A run holds about this many bytes per time step: the inputs, upstream and input gradients
# (7 floats) and, for plain BPTT, a stored state (a small NumPy array in a dict); measured
# near 300.
BYTES_PER_STEP = 400


def _check_cost(what: str, evaluations: int, T: int) -> None:
    STEPS.check(evaluations, what, "steps (cell evaluations)")
    MEMORY.check(T * BYTES_PER_STEP, what)


# ----------------------------------------------------------------------------- convenience


SCHEDULES = {"bisection": bisection_bptt, "uniform": uniform_bptt, "revolve": revolve_bptt}


@dataclass
class Instance:
    """A random instance of the RNN of the problem."""

    W_hh: np.ndarray
    W_xh: np.ndarray
    h0: np.ndarray
    x: np.ndarray
    upstream: np.ndarray
    extra: dict = field(default_factory=dict)

    def cell(self) -> RNNCell:
        return RNNCell(self.W_hh, self.W_xh, self.h0, self.x, self.upstream)


def random_instance(T: int, K: int = 3, C: int = 2, seed: int = 0) -> Instance:
    """A random tanh RNN (spectral radius below 1 so long runs stay informative)."""
    T = _length(T)
    MEMORY.check(T * 8 * (K + C), f"a random instance of T={T} steps", "of memory")
    rng = np.random.default_rng(seed)
    return Instance(
        W_hh=rng.normal(size=(K, K)) * 0.9 / math.sqrt(K),
        W_xh=rng.normal(size=(K, C)),
        h0=rng.normal(size=K) * 0.5,
        x=rng.normal(size=(T, C)),
        upstream=rng.normal(size=(T, K)),
    )


def run(schedule: str, instance: Instance, M: int | None = None):
    """``(gradients, counts)`` of ``schedule`` (``plain``, ``bisection``, ``uniform``,
    ``revolve``) on ``instance``."""
    expected = closed_form_counts(schedule, len(instance.x), M)
    _check_cost(f"the {schedule} schedule over T={expected.T} steps",
                expected.cell_evaluations, expected.T)
    cell = instance.cell()
    if schedule == "plain":
        counts = plain_bptt(cell)
    elif schedule == "bisection":
        counts = bisection_bptt(cell)
    else:
        counts = SCHEDULES[schedule](cell, M)
    return cell.gradients(), counts


def compare_with_plain(schedule: str, T: object, M: object = None) -> tuple[Counts, float]:
    """Run ``schedule`` and plain BPTT on one random instance: ``(counts, the largest
    absolute difference of any gradient)``. The cost of both runs is estimated from the
    closed forms and refused above the limits before anything is allocated."""
    expected = closed_form_counts(schedule, T, M)
    plain = closed_form_counts("plain", expected.T)
    _check_cost(f"--numeric: running {schedule} and plain BPTT over T={expected.T} steps",
                expected.cell_evaluations + plain.cell_evaluations, expected.T)
    instance = random_instance(expected.T)
    grads, counts = run(schedule, instance, expected.M)
    reference, _ = run("plain", instance)
    error = max(float(abs(grads[k] - reference[k]).max()) for k in reference)
    return counts, error


def trace(schedule: str, T: int, M: int | None = None) -> Counts:
    """The counts of ``schedule`` run on a :class:`TraceCell` (control flow only; the cost is
    that of the schedule, so it is estimated first and refused above the limits:
    :func:`closed_form_counts` answers for any ``T``)."""
    expected = closed_form_counts(schedule, T, M)
    _check_cost(f"tracing the {schedule} schedule over T={expected.T} steps",
                expected.cell_evaluations, expected.T)
    cell = TraceCell(expected.T)
    if schedule == "plain":
        return plain_bptt(cell)
    if schedule == "bisection":
        return bisection_bptt(cell)
    return SCHEDULES[schedule](cell, M)


# ------------------------------------------------------------------- the schedule as a tree


class RecordingCell(TraceCell):
    """A :class:`TraceCell` that also records what the schedule does, in order: each run of
    forward steps ``h_s -> h_m`` with the last step still to reverse when it starts (``e``),
    and each reverse step ``t``."""

    def __init__(self, T: int):
        super().__init__(T)
        self.events: list[tuple] = []  # ("advance", s, m, e) and ("reverse", t)

    def step(self, state: int, t: int) -> int:
        last = self.events[-1] if self.events else None
        if last and last[0] == "advance" and last[2] == state:
            self.events[-1] = ("advance", last[1], t, last[3])  # the same run continues
        else:
            self.events.append(("advance", state, t, self.next_reverse))
        return super().step(state, t)

    def reverse(self, state: int, t: int) -> None:
        super().reverse(state, t)
        self.events.append(("reverse", t))


@dataclass(frozen=True)
class TreeNode:
    """One call of the recursive schedule: reverse steps ``start+1..stop`` from the stored
    ``h_start``; an inner node first advances to ``h_mid``. ``order`` is when it ran."""

    start: int
    stop: int
    mid: int | None
    order: int
    depth: int


def bisection_tree(T: int) -> list[TreeNode]:
    """The recursion tree of :func:`bisection_bptt` for ``T`` steps, in the order the calls
    run: an inner node ``(s, e]`` advances to the midpoint ``m`` and recurses on ``(m, e]``
    then ``(s, m]``; a leaf ``(t-1, t]`` is the reverse step ``t``. :func:`tree_events`
    flattens it into the events a :class:`RecordingCell` records from the real schedule, so
    the two can be compared; small ``T`` only."""
    T = _length(T)
    STEPS.check(bisection_steps(T) + T, f"the bisection tree of T={T} steps",
                "steps (cell evaluations)")
    nodes: list[TreeNode] = []

    def visit(start: int, stop: int, depth: int) -> None:
        if stop - start == 1:
            nodes.append(TreeNode(start, stop, None, len(nodes), depth))
            return
        mid = start + (stop - start) // 2
        nodes.append(TreeNode(start, stop, mid, len(nodes), depth))
        visit(mid, stop, depth + 1)
        visit(start, mid, depth + 1)

    visit(0, T, 0)
    return nodes


def tree_events(nodes: list[TreeNode]) -> list[tuple]:
    """The advances and reverse steps of a schedule tree, in order, with consecutive advances
    merged as :class:`RecordingCell` records them (a run that continues from where the last
    one stopped is one run)."""
    events: list[tuple] = []
    for node in nodes:
        if node.mid is None:
            events.append(("reverse", node.stop))
            continue
        last = events[-1] if events else None
        if last and last[0] == "advance" and last[2] == node.start:
            events[-1] = ("advance", last[1], node.mid, last[3])
        else:
            events.append(("advance", node.start, node.mid, node.stop))
    return events


def recorded_events(T: int) -> list[tuple]:
    """What :func:`bisection_bptt` does for ``T`` steps, recorded by a :class:`RecordingCell`."""
    T = _length(T)
    _check_cost(f"recording the bisection schedule over T={T} steps",
                bisection_steps(T) + T, T)
    cell = RecordingCell(T)
    bisection_bptt(cell)
    return cell.events
