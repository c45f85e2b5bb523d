"""Reference gradients for other people's test suites: check a hand-written BPTT against the
derived one in a few lines of pytest.

    from derive.testing import assert_bptt_matches

    def test_my_gru_backward():
        assert_bptt_matches(derive.model("path/to/gru.py"), my_gru_backward, T=4)

``backward(params, inputs, upstream, initial)`` receives the arrays of one random instance
(shapes as in ``RecurrentModel.bptt``) and returns the gradients it computes, as
``{"params": {w: array}, "inputs": {x: (T, B, ...)}, "initial": {h: (B, ...)}}``; any group
may be left out, but not all of them. The first entry that differs is named in the failure.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from derive.core.errors import DeriveError, numeric_array
from derive.recurrent.model import RecurrentModel


@dataclass(frozen=True)
class Mismatch:
    """The first gradient entry where the hand-written BPTT and the derived one differ."""

    where: str  # e.g. "params['U_z'][1, 0]"
    theirs: float
    derived: float
    error: float  # |theirs - derived| / max(1, |derived|)

    def __str__(self) -> str:
        return (f"{self.where}: hand-written {self.theirs!r}, derived {self.derived!r} "
                f"(relative error {self.error:.2e})")


def reference_gradients(model: RecurrentModel, *, seed: int = 0, T: int = 4, batch: int = 2,
                        dims: dict[str, int] | None = None) -> tuple[dict, dict]:
    """A random instance of ``model`` and its derived gradients, in the shapes
    ``assert_bptt_matches`` compares: ``(instance, gradients)``."""
    inst = model.random_instance(seed, T, dims, batch=batch)
    result = model.bptt(inst["params"], inst["inputs"], inst["upstream"], inst["initial"], dims)
    cell = model.cell

    def series(name: str) -> np.ndarray:
        values = np.stack([result.bars[name][s] for s in range(1, T + 1)])
        return values[..., 0] if cell.signals[name].is_matrix else values

    def initial(name: str) -> np.ndarray:
        lags = [result.bars[name][-j] for j in range(cell.max_lag)]
        values = np.stack(lags) if cell.max_lag > 1 else lags[0]
        return values[..., 0] if cell.signals[name].is_matrix else values

    grads = {
        "params": dict(result.grads),
        "inputs": {s.name: series(s.name) for s in cell.inputs},
        "initial": {} if cell.zero_initial else {s.name: initial(s.name) for s in cell.states},
    }
    return inst, grads


def compare_bptt(model: RecurrentModel, backward: Callable, *, seed: int = 0, T: int = 4,
                 batch: int = 2, dims: dict[str, int] | None = None,
                 rtol: float = 1e-10) -> Mismatch | None:
    """Run ``backward`` on a random instance and compare every gradient it returns with the
    derived ones; the first entry off by more than ``rtol`` (relative to ``max(1, |g|)``),
    or None when all agree."""
    inst, derived = reference_gradients(model, seed=seed, T=T, batch=batch, dims=dims)
    copies = {k: {n: np.array(v, copy=True) for n, v in inst[k].items()} for k in inst}
    theirs = backward(copies["params"], copies["inputs"], copies["upstream"], copies["initial"])
    if not isinstance(theirs, dict) or not set(theirs) & {"params", "inputs", "initial"}:
        raise DeriveError("backward must return a dict with 'params', 'inputs' and/or "
                          f"'initial', got {type(theirs).__name__}")
    unknown = sorted(set(theirs) - {"params", "inputs", "initial"})
    if unknown:
        raise DeriveError(f"backward returned an unknown group {unknown[0]!r} (expected "
                          "'params', 'inputs', 'initial')")
    compared = 0
    for group in ("params", "inputs", "initial"):
        given = theirs.get(group) or {}
        if not isinstance(given, dict):
            raise DeriveError(f"backward returned {group} as a {type(given).__name__}; "
                              "expected a dict name -> array")
        unknown = sorted(set(given) - set(derived[group]))
        if unknown:
            raise DeriveError(f"backward returned {group}[{unknown[0]!r}], which {model.name} "
                              f"does not have (it has {sorted(derived[group])})")
        for name in derived[group]:  # the model's order, whatever the order returned
            if name not in given:
                continue
            want = np.asarray(derived[group][name])
            got = numeric_array(f"backward's {group}[{name!r}]", given[name])
            if got.shape != want.shape:
                raise DeriveError(f"backward returned {group}[{name!r}] of shape {got.shape}; "
                                  f"the derived gradient has shape {want.shape}")
            compared += 1
            error = np.abs(got - want) / np.maximum(1.0, np.abs(want))
            bad = np.argwhere(~(error <= rtol))  # NaN counts as a difference
            if bad.size:
                index = tuple(int(i) for i in bad[0])
                where = f"{group}[{name!r}]" + (f"[{', '.join(map(str, index))}]"
                                                if index else "")
                return Mismatch(where, _real(got[index]), _real(want[index]),
                                float(error[index]))
    if not compared:
        raise DeriveError("backward returned no gradient to compare")
    return None


def assert_bptt_matches(model: RecurrentModel, backward: Callable, **options) -> None:
    """``compare_bptt``, failing with the first differing entry (for pytest)."""
    mismatch = compare_bptt(model, backward, **options)
    if mismatch is not None:
        raise AssertionError(f"{model.name}: the hand-written BPTT differs from the derived "
                             f"one at {mismatch}")


def _real(x) -> float:
    return float(np.real(x))
