"""A hard-threshold RNN that adds binary numbers: an exact weight search and an exhaustive verifier.

The network (rnn-cnn-hw/1) reads two bits per step, least significant first, and emits
the sum bit of that column:

    h(t) = step(W_xh x(t) + W_hh h(t-1) + b_h),   h(0) = 0
    y(t) = step(W_hy h(t) + b_y)

with ``step(z) = 1 if z > 0 else 0`` (``step_at_zero`` selects the value at 0; the
weights found here never produce a pre-activation within 1/2 of 0, so it does not matter).

The search (:func:`search`) works on *hidden codes*: what each hidden unit computes as a
function of the current column ``(a, b, c)`` (the two input bits and the incoming carry).
It enumerates every triple of linear-threshold functions of the column, keeps those from
which the sum bit is a threshold function of ``h(t)``, and for each unit asks whether its
column function can be computed from ``(x(t), h(t-1))`` for every reachable previous code,
by exhaustive search over small integer weights (``-2..2``) and half-integer biases.
Half-integer thresholds on integer sums give every pre-activation a margin of at least 1/2.
:func:`verify` then runs any weights over every pair of ``n``-bit numbers.
"""

from __future__ import annotations

import functools
import itertools
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from derive.core.errors import DeriveError

HIDDEN = 3
WEIGHT_RANGE = range(-2, 3)
BIASES = np.arange(-5.5, 6.0, 1.0)  # half-integers: |pre-activation| >= 1/2 on binary inputs
WEIGHT_NAMES = ("W_xh", "W_hh", "W_hy", "b_h", "b_y")


@dataclass(frozen=True)
class Weights:
    W_xh: np.ndarray  # (H, 2)
    W_hh: np.ndarray  # (H, H)
    W_hy: np.ndarray  # (1, H)
    b_h: np.ndarray  # (H,)
    b_y: float

    @property
    def hidden(self) -> int:
        return self.W_xh.shape[0]

    def as_lists(self) -> dict[str, Any]:
        def plain(v: Any) -> Any:
            arr = np.asarray(v, dtype=float)
            if np.all(arr == np.round(arr)):
                return np.asarray(arr, dtype=int).tolist()
            return arr.tolist()

        return {name: plain(getattr(self, name)) for name in WEIGHT_NAMES}


def _array(name: str, value: Any) -> np.ndarray:
    try:
        arr = np.asarray(value, dtype=float)
    except (TypeError, ValueError):
        raise DeriveError(f"{name} must be numeric, got {value!r}") from None
    if not np.all(np.isfinite(arr)):
        raise DeriveError(f"{name} must be finite, got {value!r}")
    return arr


def as_weights(weights: Weights | Mapping[str, Any]) -> Weights:
    """Validate a weight set (a ``Weights`` or a mapping with the five names)."""
    if isinstance(weights, Weights):
        weights = {name: getattr(weights, name) for name in WEIGHT_NAMES}
    if not isinstance(weights, Mapping):
        raise DeriveError(f"weights must be a mapping with keys {', '.join(WEIGHT_NAMES)}, "
                          f"got {type(weights).__name__}")
    missing = [n for n in WEIGHT_NAMES if n not in weights]
    if missing:
        raise DeriveError(f"weights are missing {', '.join(missing)}")
    extra = sorted(set(weights) - set(WEIGHT_NAMES))
    if extra:
        raise DeriveError(f"unknown weight {extra[0]!r}; expected {', '.join(WEIGHT_NAMES)}")
    arrs = {n: _array(n, weights[n]) for n in WEIGHT_NAMES}
    w_xh = arrs["W_xh"]
    if w_xh.ndim != 2 or w_xh.shape[1] != 2 or w_xh.shape[0] < 1:
        raise DeriveError(f"W_xh must have shape (H, 2) (two inputs per step), got {w_xh.shape}")
    h = w_xh.shape[0]
    expected = {"W_hh": [(h, h)], "W_hy": [(1, h), (h,)], "b_h": [(h,), (h, 1)],
                "b_y": [(), (1,), (1, 1)]}
    for name, shapes in expected.items():
        if arrs[name].shape not in shapes:
            raise DeriveError(f"{name} must have shape {shapes[0]} (H = {h} hidden units from "
                              f"W_xh), got {arrs[name].shape}")
    return Weights(w_xh, arrs["W_hh"], arrs["W_hy"].reshape(1, h), arrs["b_h"].reshape(h),
                   float(arrs["b_y"].reshape(())))


# ---------------------------------------------------------------- running the network
def bits(numbers: np.ndarray, length: int) -> np.ndarray:
    """``(N,)`` integers -> ``(N, length)`` bits, least significant first."""
    return (numbers[:, None] >> np.arange(length)[None, :]) & 1


MAX_HIDDEN = 16  # the verifier tabulates all 2^H hidden states


def _step(z: np.ndarray, step_at_zero: int) -> np.ndarray:
    return np.where(z > 0, 1, np.where(z < 0, 0, step_at_zero))


def transition_tables(weights: Weights | Mapping[str, Any], step_at_zero: int = 0
                      ) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """The network as a finite-state machine over hidden states ``s = sum_i h_i 2^i``.

    Returns ``next_state[s, x]`` and ``output[s']`` (``x = a + 2 b``), and the smallest
    ``|pre-activation|`` of each transition and of each readout.
    """
    w = as_weights(weights)
    if step_at_zero not in (0, 1):
        raise DeriveError(f"step_at_zero must be 0 or 1, got {step_at_zero!r}")
    if w.hidden > MAX_HIDDEN:
        raise DeriveError(f"W_xh must have at most {MAX_HIDDEN} rows to verify, "
                          f"got shape {w.W_xh.shape}")
    states = bits(np.arange(1 << w.hidden), w.hidden).astype(float)  # (S, H)
    inputs = bits(np.arange(4), 2).astype(float)  # (4, 2): x = (a, b)
    z = (states @ w.W_hh.T)[:, None, :] + (inputs @ w.W_xh.T)[None, :, :] + w.b_h  # (S, 4, H)
    next_state = (_step(z, step_at_zero) << np.arange(w.hidden)).sum(axis=2)
    zy = states @ w.W_hy[0] + w.b_y
    return next_state, _step(zy, step_at_zero), np.abs(z).min(axis=2), np.abs(zy)


def run(weights: Weights | Mapping[str, Any], a_bits: np.ndarray, b_bits: np.ndarray,
        step_at_zero: int = 0) -> tuple[np.ndarray, float]:
    """Outputs ``(N, T)`` for input bits ``(N, T)``, and the smallest ``|pre-activation|``.

    Hidden states are binary, so each step is a lookup in the transition table: exact,
    and fast enough for millions of sequences.
    """
    next_state, output, z_margin, y_margin = transition_tables(weights, step_at_zero)
    a_bits, b_bits = np.asarray(a_bits), np.asarray(b_bits)
    n, length = a_bits.shape
    s = np.zeros(n, dtype=np.int64)  # h(0) = 0
    out = np.empty((n, length), dtype=np.int8)
    visited = np.zeros(next_state.shape, dtype=bool)
    for t in range(length):
        x = a_bits[:, t] + 2 * b_bits[:, t]
        visited[s, x] = True
        s = next_state[s, x]
        out[:, t] = output[s]
    reached = np.unique(next_state[visited])
    margin = min(float(z_margin[visited].min(initial=np.inf)),
                 float(y_margin[reached].min(initial=np.inf)))
    return out, margin


@dataclass(frozen=True)
class Counterexample:
    """The first pair the weights add wrongly (bits least significant first)."""

    a: int
    b: int
    n_bits: int
    input_a: list[int]
    input_b: list[int]
    expected: list[int]
    got: list[int]
    first_wrong_step: int  # 1-based

    def as_json(self) -> dict:
        return {k: getattr(self, k) for k in self.__dataclass_fields__}

    def __str__(self) -> str:
        w = self.n_bits
        return (f"{self.a:0{w}b} + {self.b:0{w}b} (= {self.a} + {self.b}): inputs "
                f"{self.input_a} and {self.input_b}, expected {self.expected}, got {self.got} "
                f"(first wrong at step {self.first_wrong_step})")


@dataclass(frozen=True)
class Verification:
    passed: bool
    n_max: int
    pairs: int  # number of (a, b) pairs run, over all lengths
    min_margin: float
    counterexample: Counterexample | None = None
    step_at_zero: int = 0
    details: list[str] = field(default_factory=list)


def _add_all(weights: Weights, a: np.ndarray, b: np.ndarray, length: int,
             step_at_zero: int) -> tuple[np.ndarray, float]:
    """For integer arrays ``a, b``: the first wrong step of each sum (``length`` if none)
    and the smallest ``|pre-activation|`` met; the bits are taken one step at a time."""
    next_state, output, z_margin, y_margin = transition_tables(weights, step_at_zero)
    flat = next_state.reshape(-1)
    s = np.zeros(a.size, dtype=np.int32)
    total = a + b
    first_wrong = np.full(a.size, length, dtype=np.int32)
    visited = np.zeros(flat.size, dtype=bool)
    for t in range(length):
        idx = s * 4 + ((a >> t) & 1) + 2 * ((b >> t) & 1)
        visited[idx] = True
        s = flat[idx]
        wrong = output[s] != ((total >> t) & 1)
        first_wrong[wrong & (first_wrong == length)] = t
    reached = np.unique(flat[visited])
    margin = min(float(z_margin.reshape(-1)[visited].min(initial=np.inf)),
                 float(y_margin[reached].min(initial=np.inf)))
    return first_wrong, margin


def verify(weights: Weights | Mapping[str, Any], n_max: int = 10,
           step_at_zero: int = 0) -> Verification:
    """Run the weights on every pair of ``n``-bit numbers, ``n = 1..n_max``, padded with one zero.

    Returns the first counterexample (smallest ``n``, then smallest ``a``, then ``b``).
    Shorter sums are prefixes of longer ones (the network is causal), so ``n = n_max``
    alone covers every pair; the smaller ``n`` come first only to find the first failure.
    """
    w = as_weights(weights)
    if isinstance(n_max, bool) or not isinstance(n_max, int | np.integer) or not 1 <= n_max <= 12:
        raise DeriveError(f"n_max must be an integer between 1 and 12, got {n_max!r}")
    pairs, margin = 0, np.inf
    for n in range(1, n_max + 1):
        grid = np.arange(1 << n, dtype=np.int32)
        a = np.repeat(grid, 1 << n)
        b = np.tile(grid, 1 << n)
        length = n + 1
        first_wrong, m = _add_all(w, a, b, length, step_at_zero)
        pairs += a.size
        margin = min(margin, m)
        failing = np.flatnonzero(first_wrong < length)
        if failing.size:
            i = int(failing[0])
            pair = np.array([a[i], b[i], a[i] + b[i]], dtype=np.int64)
            seqs = bits(pair, length)
            got, _ = run(w, seqs[:1], seqs[1:2], step_at_zero)
            cx = Counterexample(int(a[i]), int(b[i]), n, seqs[0].tolist(), seqs[1].tolist(),
                                seqs[2].tolist(), got[0].astype(int).tolist(),
                                int(first_wrong[i]) + 1)
            return Verification(False, n, pairs, margin, cx, step_at_zero)
    return Verification(True, n_max, pairs, margin, None, step_at_zero)


# ---------------------------------------------------------------- the search
COLUMNS = list(itertools.product((0, 1), repeat=3))  # (a, b, c)
SUM_BIT = np.array([(a + b + c) % 2 for a, b, c in COLUMNS])
CARRY = np.array([int(a + b + c >= 2) for a, b, c in COLUMNS])


def _threshold_tables(n_inputs: int) -> tuple[np.ndarray, np.ndarray]:
    """Truth tables (bit ``j`` = output on input pattern ``j``) of every threshold unit with
    weights in ``-2..2`` and a half-integer bias, and the weights+bias of each."""
    patterns = np.array(list(itertools.product((0, 1), repeat=n_inputs)))[:, ::-1]
    # patterns[j] is the binary expansion of j, least significant input first
    ws = np.array(list(itertools.product(WEIGHT_RANGE, repeat=n_inputs)))
    params = np.array([[*w, b] for w in ws for b in BIASES])
    z = patterns @ params[:, :-1].T + params[:, -1]  # (patterns, units)
    tables = ((z > 0).astype(np.int64) << np.arange(len(patterns))[:, None]).sum(axis=0)
    return tables, params


@functools.cache
def _units(n_inputs: int) -> tuple[np.ndarray, np.ndarray]:
    tables, params = _threshold_tables(n_inputs)
    # among equal truth tables keep the simplest parameters (smallest L1 norm, then |bias|)
    cost = np.abs(params[:, :-1]).sum(axis=1) * 100 + np.abs(params[:, -1]) * 10
    order = np.lexsort((cost, tables))
    tables, params = tables[order], params[order]
    first = np.r_[True, tables[1:] != tables[:-1]]
    return tables[first], params[first]


def _match(tables: np.ndarray, mask: int, value: int) -> int:
    """Index of the simplest unit whose table agrees with ``value`` on ``mask``, or -1."""
    hits = np.flatnonzero((tables & mask) == value)
    if hits.size == 0:
        return -1
    return int(hits[0])


@dataclass(frozen=True)
class SearchResult:
    weights: Weights
    codes: list[list[int]]  # codes[i][col]: unit i's value on column (a, b, c) = COLUMNS[col]
    column_functions_tried: int
    codes_tried: int
    codes_readable: int  # the sum bit is a threshold function of h(t)
    solutions: int  # codes (up to permuting the units) for which every unit is computable


def _unit_cost(params: np.ndarray) -> float:
    return float(np.abs(params).sum())


@functools.cache
def search() -> SearchResult:
    """Find weights by the exact search described in the module docstring."""
    col_tables, _ = _units(3)  # threshold functions of the column (a, b, c)
    col_index = np.array([a + 2 * b + 4 * c for a, b, c in COLUMNS])
    # each column function as its values on COLUMNS (table bit a + 2b + 4c)
    col_funcs = ((col_tables[:, None] >> col_index[None, :]) & 1)  # (F, 8)
    f = len(col_funcs)
    triples = np.array(list(itertools.combinations_with_replacement(range(f), HIDDEN)))
    code = sum(col_funcs[triples[:, i]] << i for i in range(HIDDEN))  # (N, 8) codes in 0..7
    # the readout: a code must not carry two sum bits or two carries; h(0) = 0 means carry 0
    ok = np.ones(len(triples), dtype=bool)
    readout_value = np.zeros(len(triples), dtype=np.int64)
    readout_mask = np.zeros(len(triples), dtype=np.int64)
    for col in range(8):
        bit = np.int64(1) << code[:, col]
        clash = (readout_mask & bit) != 0
        same = ((readout_value & bit) != 0) == bool(SUM_BIT[col])
        ok &= ~clash | same
        readout_mask |= bit
        readout_value |= np.where(SUM_BIT[col], bit, 0)
    carry_known = np.full((len(triples), 8), -1)
    carry_known[:, 0] = 0  # h(0) = 0 stands for "no carry"
    for col in range(8):
        prev = carry_known[np.arange(len(triples)), code[:, col]]
        ok &= (prev == -1) | (prev == CARRY[col])
        carry_known[np.arange(len(triples)), code[:, col]] = CARRY[col]
    out_tables, out_params = _units(HIDDEN)
    # every (mask, value) partial function of h(t) that some output unit extends
    extendable = np.zeros(1 << 16, dtype=bool)
    for mask in range(256):
        extendable[mask * 256 + (out_tables & mask)] = True
    readable = ok & extendable[readout_mask * 256 + readout_value]
    hid_tables, hid_params = _units(2 + HIDDEN)
    best, best_cost, solutions = None, np.inf, 0
    for i in np.flatnonzero(readable):
        units = []
        for u in range(HIDDEN):
            mask = value = 0
            for prev_code in np.flatnonzero(carry_known[i] >= 0):
                c = int(carry_known[i, prev_code])
                for a, b in itertools.product((0, 1), repeat=2):
                    pattern = a | (b << 1) | (int(prev_code) << 2)
                    mask |= 1 << pattern
                    if col_funcs[triples[i, u], COLUMNS.index((a, b, c))]:
                        value |= 1 << pattern
            j = _match(hid_tables, mask, value)
            if j < 0:
                break
            units.append(hid_params[j])
        else:
            solutions += 1
            y = out_params[_match(out_tables, int(readout_mask[i]), int(readout_value[i]))]
            cost = sum(_unit_cost(u) for u in units) + _unit_cost(y)
            if cost < best_cost:
                best, best_cost = (i, units, y), cost
    if best is None:
        raise RuntimeError("no weights in the search space add binary numbers")
    i, units, y = best
    params = np.array(units)
    weights = Weights(params[:, :2], params[:, 2:2 + HIDDEN], y[None, :HIDDEN], params[:, -1],
                      float(y[-1]))
    codes = [col_funcs[triples[i, u]].tolist() for u in range(HIDDEN)]
    return SearchResult(weights, codes, f, len(triples), int(readable.sum()), solutions)


def prove(weights: Weights | Mapping[str, Any], step_at_zero: int = 0) -> tuple[bool, str]:
    """Correctness for sums of every length, by induction over the reachable hidden states.

    Each reachable state is labelled with the carry it must stand for (``h(0) = 0`` for
    carry 0). If every labelled state, under every input column, moves to a state whose
    label is the new carry and whose readout is the sum bit, then by induction on ``t``
    every output of every sum is right. Returns ``(holds, reason)``.
    """
    next_state, output, _, _ = transition_tables(weights, step_at_zero)
    carry_of = {0: 0}
    frontier = [0]
    while frontier:
        s = frontier.pop()
        c = carry_of[s]
        for x in range(4):
            a, b = x & 1, x >> 1
            t = int(next_state[s, x])
            if output[t] != (a + b + c) % 2:
                return False, (f"state {s} (carry {c}) on input a={a}, b={b} outputs "
                               f"{int(output[t])}, not {(a + b + c) % 2}")
            carry = int(a + b + c >= 2)
            if t not in carry_of:
                carry_of[t] = carry
                frontier.append(t)
            elif carry_of[t] != carry:
                return False, f"state {t} is reached with carry 0 and with carry 1"
    return True, f"{len(carry_of)} reachable hidden states, each standing for one carry"


# ---------------------------------------------------------------- a design one can read
def counting_design() -> Weights:
    """Three units that count the ones of the column: unit ``k`` fires when at least ``k``
    of ``a``, ``b`` and the incoming carry ``c`` are 1, ``h_k = [a + b + c >= k]``. The carry
    into the next column is ``h_2`` of this step, so every unit reads ``h_2(t-1)``; the sum
    bit ``(a + b + c) mod 2`` is ``h_1 - h_2 + h_3``, read with threshold 1/2. Thresholds sit
    half-way between integers, so every pre-activation is at least 1/2 from 0."""
    k = np.arange(1, HIDDEN + 1)
    W_hh = np.zeros((HIDDEN, HIDDEN))
    W_hh[:, 1] = 1.0  # the carry c is h_2 of the previous step
    return Weights(W_xh=np.ones((HIDDEN, 2)), W_hh=W_hh,
                   W_hy=np.array([[1.0, -1.0, 1.0]]), b_h=0.5 - k, b_y=-0.5)


def column_table(weights: Weights | Mapping[str, Any], carry_unit: int = 1
                 ) -> list[dict[str, Any]]:
    """One step of the network on every column ``(a, b, c)``, run from every reachable
    previous state whose unit ``carry_unit`` holds ``c``: the hidden units and the output, or
    a :class:`DeriveError` if two such states disagree (then no truth table exists)."""
    w = as_weights(weights)
    next_state, output, _, _ = transition_tables(w)
    reachable, frontier = {0}, [0]
    while frontier:
        s = frontier.pop()
        for x in range(4):
            t = int(next_state[s, x])
            if t not in reachable:
                reachable.add(t)
                frontier.append(t)
    rows = []
    for a, b, c in COLUMNS:
        seen = {(int(next_state[s, a + 2 * b]), int(output[next_state[s, a + 2 * b]]))
                for s in reachable if (s >> carry_unit) & 1 == c}
        if len(seen) != 1:
            raise DeriveError(f"column a={a}, b={b}, c={c} gives {len(seen)} different steps")
        (state, y), = seen
        rows.append({"a": a, "b": b, "c": c,
                     "h": [(state >> i) & 1 for i in range(w.hidden)], "y": y})
    return rows
