"""Checking claims that have many right answers by running them: weights of a network.

A claimed weight set is not compared with the derived one (weights are not unique); it is run
by the problem's own verifier and judged by what it computes. ``VERIFIERS`` maps a problem id to
``fn(weights) -> (ok, reason, evidence)``.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from derive.core.errors import DeriveError
from derive.topics.binary_adder import verify


def verify_adder(weights: dict[str, Any]) -> tuple[bool, str, list[str]]:
    """rnn-cnn-hw/1: run the weights on every pair of numbers up to 10 bits."""
    result = verify(weights, n_max=10, step_at_zero=0)
    if result.passed:
        return True, (f"adds every pair of numbers up to {result.n_max} bits "
                      f"({result.pairs} pairs; smallest |pre-activation| "
                      f"{result.min_margin:g})"), []
    other = verify(weights, n_max=10, step_at_zero=1)
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


VERIFIERS: dict[str, Callable[[dict[str, Any]], tuple[bool, str, list[str]]]] = {
    "rnn-cnn-hw/1": verify_adder,
}


def run_verifier(pid: str, weights: dict[str, Any]) -> tuple[bool | None, str, list[str]]:
    """``(ok, reason, evidence)``; ``ok`` is None when no verifier exists for ``pid``."""
    fn = VERIFIERS.get(pid)
    if fn is None:
        return None, f"no verifier runs weights for {pid}", []
    try:
        return fn(weights)
    except DeriveError as exc:  # malformed weights (shapes): a wrong claim, said why
        return False, f"the weights cannot be run: {exc}", []
