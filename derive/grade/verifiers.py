"""Checking claims that have many right answers by running them: weights of a network.

A claimed weight set is not compared with the derived one (weights are not unique); it is run
by the verifier its problem declares at registration (``@problem(..., verifier=...)``) and
judged by what it computes.
"""

from __future__ import annotations

from typing import Any

from derive.answers import grading
from derive.core.errors import DeriveError


def run_verifier(pid: str, weights: dict[str, Any]) -> tuple[bool | None, str, list[str]]:
    """``(ok, reason, evidence)``; ``ok`` is None when no verifier exists for ``pid``."""
    fn = grading(pid).verifier
    if fn is None:
        return None, f"no verifier runs weights for {pid}", []
    try:
        return fn(weights)
    except DeriveError as exc:  # malformed weights (shapes): a wrong claim, said why
        return False, f"the weights cannot be run: {exc}", []
