"""The arrays of a recurrent model: checking what ``bptt`` is given (names, shapes, numbers),
drawing random instances, and the ``derive grad --json`` contract built from them."""

from __future__ import annotations

from collections.abc import Callable
from typing import Protocol

import numpy as np
import sympy as sp

from derive.core.cell import Cell
from derive.core.errors import MEMORY, STEPS, DeriveError, brief, numeric_array
from derive.numeric.kernels import BPTTResult


class RecurrentModel(Protocol):
    """What these functions read of a model (``derive.recurrent.model.RecurrentModel``, which
    calls them: a protocol rather than an import keeps the two modules out of a circle)."""

    name: str
    cell: Cell

    def shape_of(self, name: str, dims: dict[sp.Symbol, int]) -> tuple[int, ...]: ...

    def dims_for(self, dims: dict[str, int] | None) -> dict[sp.Symbol, int]: ...

    def random_instance(self, seed: int, steps: int, dims: dict[str, int] | None = None,
                        batch: int = 1, scale: float = 0.5) -> dict: ...

    def bptt(self, params: dict, inputs: dict, upstream: dict, initial: dict | None = None,
             dims: dict[str, int] | None = None, keep_bars: bool = True,
             backward: bool = True) -> BPTTResult: ...


def checked_arrays(model: RecurrentModel, concrete_dims: dict[sp.Symbol, int], params: dict,
                   inputs: dict, upstream: dict, initial: dict | None
                   ) -> tuple[dict, dict, dict, dict]:
    """``(params, inputs, initial, upstream)`` as the BPTT driver takes them, after every
    name, shape and value was checked: a ``DeriveError`` names the argument otherwise."""
    concrete = concrete_dims
    cell = model.cell
    k = cell.max_lag
    params = {p: numeric_array(f"params[{p!r}]", v) for p, v in params.items()}
    for pname in cell.parameters:
        if pname not in params:
            raise DeriveError(f"params: missing weight {pname!r}")
        want = model.shape_of(pname, concrete)
        if params[pname].shape != want:
            raise DeriveError(f"params[{pname!r}]: expected shape {want}, "
                              f"got {params[pname].shape}")
    extra = set(params) - set(cell.parameters)
    if extra:
        raise DeriveError(f"params: {model.name} has no weight {sorted(extra)[0]!r}")

    def column(a: np.ndarray, name: str) -> np.ndarray:
        return a[..., None] if model.cell.signals[name].is_matrix else a

    steps = batch = None
    series: dict[str, dict[str, np.ndarray]] = {"inputs": {}, "upstream": {}}
    for arg, table, names in (("inputs", inputs, [s.name for s in cell.inputs]),
                              ("upstream", upstream, cell.outputs)):
        unknown = sorted(set(table) - set(names))
        if unknown:  # a dropped array would silently give the wrong gradients
            raise DeriveError(f"{arg}: {model.name} has no {unknown[0]!r} "
                              f"(expected {', '.join(map(repr, names))})")
        for name in names:
            if name not in table:
                raise DeriveError(f"{arg}: missing {name!r}")
            a = numeric_array(f"{arg}[{name!r}]", table[name])
            want_tail = model.shape_of(name, concrete)
            if a.ndim != 2 + len(want_tail) or a.shape[2:] != want_tail:
                raise DeriveError(f"{arg}[{name!r}]: expected shape (T, B"
                                  f"{''.join(', ' + str(d) for d in want_tail)}), "
                                  f"got {a.shape}")
            if steps is None:
                steps, batch = a.shape[:2]
            elif a.shape[:2] != (steps, batch):
                raise DeriveError(f"{arg}[{name!r}]: (T, B) = {a.shape[:2]}, "
                                  f"expected {(steps, batch)}")
            if steps == 0:
                raise DeriveError(f"{arg}[{name!r}]: T must be positive, got 0")
            series[arg][name] = column(a, name)
    initial = dict(initial or {})
    unknown = sorted(set(initial) - {signal.name for signal in cell.states})
    if unknown:
        raise DeriveError(f"initial: {model.name} has no state {unknown[0]!r}")
    starts = {}
    for signal in cell.states:
        want_tail = model.shape_of(signal.name, concrete)
        if signal.name not in initial:
            if not cell.zero_initial:
                raise DeriveError(f"initial: missing state {signal.name!r}")
            a = np.zeros((k, batch, *want_tail))
        else:
            a = numeric_array(f"initial[{signal.name!r}]", initial[signal.name])
            if a.shape == (batch, *want_tail):
                a = a[None]
            if a.shape != (k, batch, *want_tail):
                raise DeriveError(f"initial[{signal.name!r}]: expected shape "
                                  f"{(batch, *want_tail)}, got {a.shape}")
        starts[signal.name] = column(a, signal.name)
    return params, series["inputs"], starts, series["upstream"]


# What one number of a ``derive grad`` instance costs on its way to JSON: the float64, the
# Python float and list slot of ``tolist``, and its text (measured near 190 bytes).
JSON_BYTES_PER_ENTRY = 200


def _entries(model: RecurrentModel, names, concrete: dict[sp.Symbol, int]) -> int:
    total = 0
    for name in names:
        size = 1
        for d in model.shape_of(name, concrete):
            size *= d
        total += size
    return total


def instance_cost(model: RecurrentModel, steps: int, concrete: dict[sp.Symbol, int],
                  batch: int = 1) -> tuple[int, int, int]:
    """``(drawn, kept, work)`` from the sizes alone: the entries of a random instance, the
    entries a BPTT run keeps besides (every signal's values and bars at every step, the
    weight gradients), and its steps (equations evaluated, forward and backward)."""
    cell = model.cell
    lags = max(cell.max_lag, 1)
    params = _entries(model, cell.parameters, concrete)
    per_step = _entries(model, [s.name for s in cell.inputs], concrete) + _entries(
        model, cell.outputs, concrete)
    states = 0 if cell.zero_initial else lags * _entries(
        model, [s.name for s in cell.states], concrete)
    drawn = params + batch * (steps * per_step + states)
    signals = _entries(model, [s.name for s in cell.signals.values()], concrete)
    kept = params + batch * 2 * (steps + lags) * signals
    return drawn, kept, 2 * steps * len(cell.equations)


def check_instance_cost(model: RecurrentModel, steps: int, concrete: dict[sp.Symbol, int],
                        batch: int = 1, json: bool = False, label: str | None = None) -> None:
    """Refuse, before anything is allocated, an instance (and its BPTT run, and with ``json``
    its text) beyond the memory or step limits; ``label`` replaces the model's name and steps
    in the message (a model built inside another names the outer one)."""
    drawn, kept, work = instance_cost(model, steps, concrete, batch)
    sizes = ", ".join(f"{k}={brief(v)}" for k, v in concrete.items())
    what = (f"computing the gradients of {label or f'{model.name} over T={brief(steps)} steps'}"
            + (f" ({sizes})" if sizes else ""))
    per_entry = JSON_BYTES_PER_ENTRY if json else 8
    MEMORY.check((drawn + kept) * per_entry, what)
    STEPS.check(work, what, "steps (equations evaluated, forward and backward)")


def draw_instance(model: RecurrentModel, seed: int, steps: int,
                  concrete: dict[sp.Symbol, int], batch: int = 1, scale: float = 0.5) -> dict:
    """Weights, inputs, initial states and upstream gradients drawn from ``seed``."""
    drawn, _, _ = instance_cost(model, steps, concrete, batch)
    MEMORY.check(drawn * 8, f"a random instance of {model.name} over T={brief(steps)} steps")
    rng = np.random.default_rng(seed)

    def draw(shape):
        return scale * rng.standard_normal(shape)

    cell = model.cell
    params = {p: draw(model.shape_of(p, concrete)) for p in cell.parameters}
    inputs = {s.name: draw((steps, batch, *model.shape_of(s.name, concrete)))
              for s in cell.inputs}
    # a cell reading k > 1 steps back has k initial values per state (t = 0, ..., 1 - k)
    lags = (cell.max_lag,) if cell.max_lag > 1 else ()
    initial = {} if cell.zero_initial else {
        s.name: draw((*lags, batch, *model.shape_of(s.name, concrete))) for s in cell.states}
    upstream = {o: draw((steps, batch, *model.shape_of(o, concrete))) for o in cell.outputs}
    return {"params": params, "inputs": inputs, "initial": initial, "upstream": upstream}


def grad_json(model: RecurrentModel, seed: int, steps: int, dims: dict[str, int] | None) -> dict:
    """The ``derive grad --json`` contract: a random instance and all its gradients."""
    concrete = model.dims_for(dims)
    check_instance_cost(model, steps, concrete, json=True)
    inst = model.random_instance(seed, steps, dims)
    result = model.bptt(inst["params"], inst["inputs"], inst["upstream"], inst["initial"],
                       dims)
    cell = model.cell

    def series(values: dict[int, np.ndarray]) -> list:
        return [_unbatch(values[s]) for s in range(1, steps + 1)]

    dims_out = {"T": steps, **{str(k): v for k, v in concrete.items()}}
    return {
        "model": model.name,
        "dims": dims_out,
        "params": {p: _plain(v) for p, v in inst["params"].items()},
        "inputs": {x: [_unbatch(v) for v in a] for x, a in inst["inputs"].items()},
        "initial": {s: _initial_json(model, a, lambda a, j: a[j])
                    for s, a in inst["initial"].items()},
        "upstream": {o: [_unbatch(v) for v in a] for o, a in inst["upstream"].items()},
        "outputs": {o: series(result.values[o]) for o in cell.outputs},
        "grads": {
            "params": {p: _plain(v) for p, v in result.grads.items()},
            "inputs": {s.name: series(result.bars[s.name]) for s in cell.inputs},
            "initial": {s.name: _initial_json(model, result.bars[s.name], lambda a, j: a[-j])
                        for s in cell.states if not cell.zero_initial},
        },
    }


def _initial_json(model: RecurrentModel, values, at: Callable) -> object:
    """One state's initial values (or their gradients): the value at ``t = 0``, or the
    list of values at ``t = 0, -1, ..., 1 - k`` for a cell reading ``k > 1`` steps back."""
    k = model.cell.max_lag
    if k <= 1:
        return _unbatch(at(values, 0) if isinstance(values, dict) else values)
    return [_unbatch(at(values, j)) for j in range(k)]


def _unbatch(a: np.ndarray):
    """Drop the batch axis (of length 1) and a column vector's trailing axis."""
    a = np.asarray(a)[0]
    if a.ndim == 2 and a.shape[1] == 1:
        a = a[:, 0]
    return _plain(a)


def _plain(a):
    a = np.asarray(a)
    if np.iscomplexobj(a):
        a = a.real
    return float(a) if a.ndim == 0 else a.tolist()
