"""Answer to rnn-cnn-hw/1: a three-unit hard-threshold RNN that adds binary numbers by counting
the ones of each column, verified on every pair of numbers up to 10 bits and, by induction
over its reachable states, for every length.

Result keys (``derive answer rnn-cnn-hw/1 --format json``):
``W_xh`` (3x2), ``W_hh`` (3x3), ``W_hy`` (1x3), ``b_h`` (3), ``b_y`` (nested lists of numbers);
``step_convention`` (text); ``min_margin`` (smallest ``|pre-activation|`` met);
``hidden_units`` (what each unit computes from the column ``a, b, c``: formula and truth
table keyed ``"abc"``); ``output`` (how y reads the units); ``example`` (the catalogue's
sum: inputs, hidden states, outputs); ``verification`` (``n_max``, ``pairs``, ``passed``,
both conventions at 0, ``induction``).
"""

from __future__ import annotations

from typing import Any

import numpy as np

from derive.answers import Answer, from_template, problem
from derive.checks.check import Check
from derive.topics import binary_adder as adder

N_MAX = 10
EXAMPLE_A, EXAMPLE_B = 0b0101101, 0b0111010  # the catalogue's 0101101 + 0111010


def _matrix_latex(rows: list) -> str:
    rows = rows if isinstance(rows[0], list) else [[x] for x in rows]
    body = r" \\ ".join(" & ".join(f"{x:g}" for x in row) for row in rows)
    return r"\begin{bmatrix} " + body + r" \end{bmatrix}"


MARGIN = 0.5  # every pre-activation an integer plus 1/2: step(0) is never evaluated


def margin_check(min_margin: float) -> Check:
    """The smallest |pre-activation| over every transition, read as its reciprocal so that the
    measured value and the threshold stand in the table (at most 2: |z| >= 1/2)."""
    inverse = 1 / min_margin if min_margin > 0 else float("inf")
    return Check("1 / smallest |pre-activation| over every transition",
                 "at most 2: every |z| is at least one half", inverse, 1 / MARGIN,
                 f"smallest |z| = {min_margin:g}", measures="1 / smallest |z|")


def _pairs(v) -> str:
    return f"{v.pairs} pairs" + (f"; counterexample {v.counterexample}" if v.counterexample
                                 else "")


def verify_adder_claim(weights: dict[str, Any]) -> tuple[bool, str, list[str]]:
    """A claimed weight set, run on every pair of numbers up to 10 bits: (ok, reason,
    evidence) for the grader."""
    result = adder.verify(weights, n_max=10, step_at_zero=0)
    if result.passed:
        return True, (f"adds every pair of numbers up to {result.n_max} bits "
                      f"({result.pairs} pairs; smallest |pre-activation| "
                      f"{result.min_margin:g})"), []
    other = adder.verify(weights, n_max=10, step_at_zero=1)
    if other.passed:
        return True, (f"adds every pair up to {other.n_max} bits when step(0) = 1 "
                      f"({other.pairs} pairs); with step(0) = 0 it fails"), []
    cx = result.counterexample
    evidence = []
    if cx is not None:
        evidence.append(
            f"counterexample: {cx.a} + {cx.b} ({cx.n_bits} bits, least significant first: "
            f"{cx.input_a} + {cx.input_b}) should give {cx.expected}, the network outputs "
            f"{cx.got}; first wrong step {cx.first_wrong_step}")
    return False, f"fails on {cx.a} + {cx.b}" if cx else "fails", evidence



def design_check(rows: list[dict]) -> Check:
    """The truth table of the weights, run on every column from every reachable state,
    against the design: ``h_k = [a + b + c >= k]`` and ``y = h_1 - h_2 + h_3``, the sum bit."""
    bad = [r for r in rows
           if r["h"] != [int(r["a"] + r["b"] + r["c"] >= k) for k in (1, 2, 3)]
           or r["y"] != r["h"][0] - r["h"][1] + r["h"][2]
           or r["y"] != (r["a"] + r["b"] + r["c"]) % 2]
    return Check.exact("adder: every column, from every reachable state",
                       "h_k = [a + b + c >= k], y = h_1 - h_2 + h_3 = sum bit", not bad,
                       f"differs at {bad[0]}" if bad else "8 columns")


@problem("rnn-cnn-hw/1", verifier=verify_adder_claim)
def binary_addition(pid: str) -> Answer:
    w = adder.counting_design()
    listed = w.as_lists()
    v0 = adder.verify(w, N_MAX, step_at_zero=0)
    v1 = adder.verify(w, N_MAX, step_at_zero=1)
    proved, reason = adder.prove(w)
    table = adder.column_table(w)
    n = 7
    seqs = adder.bits(np.array([EXAMPLE_A, EXAMPLE_B, EXAMPLE_A + EXAMPLE_B]), n)
    outputs, _ = adder.run(w, seqs[:1], seqs[1:2])
    hidden = [[int(x) for x in state] for state in _hidden_trace(w, seqs[0], seqs[1])]
    units = [{"unit": k, "formula": f"[a + b + c >= {k}]",
              "truth_table": {f"{r['a']}{r['b']}{r['c']}": r["h"][k - 1] for r in table}}
             for k in (1, 2, 3)]
    results = {
        **listed,
        "step_convention": "step(z) = 1 if z > 0 else 0; every pre-activation has |z| >= 1/2, "
                           "so the value at 0 never matters",
        "min_margin": min(v0.min_margin, v1.min_margin),
        "hidden_units": units,
        "output": "y = [h_1 - h_2 + h_3 > 1/2] = (a + b + c) mod 2; the carry is h_2",
        "example": {
            "input_1": seqs[0].tolist(), "input_2": seqs[1].tolist(),
            "hidden": hidden, "output": outputs[0].astype(int).tolist(),
            "expected": seqs[2].tolist(),
        },
        "verification": {
            "n_max": N_MAX, "pairs": v0.pairs, "passed": v0.passed and v1.passed,
            "passed_step_at_zero_0": v0.passed, "passed_step_at_zero_1": v1.passed,
            "induction": reason,
        },
    }
    checks = [
        Check.exact(f"adder: every pair of n-bit numbers, n = 1..{N_MAX} (step(0) = 0)",
                    "exhaustive run", v0.passed, _pairs(v0)),
        Check.exact(f"adder: every pair of n-bit numbers, n = 1..{N_MAX} (step(0) = 1)",
                    "exhaustive run", v1.passed, _pairs(v1)),
        Check.exact("adder: every length, by induction over reachable states",
                    "finite-state argument", proved, reason),
        margin_check(results["min_margin"]),
        Check.exact("adder: the problem's example 0101101 + 0111010 = 1100111",
                    "the problem statement", outputs[0].tolist() == [1, 1, 1, 0, 0, 1, 1],
                    "outputs " + ", ".join(map(str, outputs[0].tolist()))),
        design_check(table),
    ]
    return from_template(
        pid, results, checks,
        matrices={k: _matrix_latex(listed[k]) for k in ("W_xh", "W_hh", "b_h", "W_hy")},
        b_y=f"{w.b_y:g}", table=table, reachable_states=reason.split()[0],
        hidden_example=["".join(map(str, h)) for h in hidden])


def _hidden_trace(w: adder.Weights, a_bits: np.ndarray, b_bits: np.ndarray) -> list:
    h = np.zeros(w.hidden)
    trace = []
    for a, b in zip(a_bits, b_bits, strict=True):
        h = (w.W_xh @ np.array([a, b]) + w.W_hh @ h + w.b_h > 0).astype(int)
        trace.append(h.tolist())
    return trace
