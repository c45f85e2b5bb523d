"""A recurrent model: a cell's forward equations and everything derived from them.

``RecurrentModel`` is what ``derive.model("lstm")`` returns: the equations, the bars, the
weight gradients and Jacobians as SymPy objects, compiled kernels, a numeric BPTT, the
``derive grad`` instance and the checks. It holds no model-specific calculus.
"""

from __future__ import annotations

import functools
from collections.abc import Callable

import numpy as np
import sympy as sp
from sympy.matrices.expressions.matexpr import MatrixExpr

from derive.calculus.adjoint import Adjoints, derive_adjoints, scalar_jacobian
from derive.calculus.jacobian import matrix_jacobian
from derive.checks.check import Check
from derive.checks.recurrent import model_checks
from derive.core.cell import Cell, T, t
from derive.core.errors import DeriveError, numeric_array, positive_int
from derive.numeric.kernels import BPTTResult, Kernels, bptt, compile_kernels
from derive.printing.latex import align, aligned
from derive.printing.text import text, text_rows
from derive.recurrent.arrays import checked_arrays, draw_instance, grad_json


class RecurrentModel:
    """The derived calculus of one recurrent cell."""

    def __init__(
        self,
        name: str,
        summary: str,
        build: Callable[[], Cell],
        default_dims: dict[str, int] | None = None,
        check_dims: list[dict[str, int]] | None = None,
        default_T: int = 6,
    ) -> None:
        self.name = name
        self.summary = summary
        self._build = build
        self.default_dims = dict(default_dims or {})
        self.check_dims = check_dims or [self.default_dims]
        self.default_T = default_T

    # -- symbolic results ------------------------------------------------------------------

    @functools.cached_property
    def cell(self) -> Cell:
        return self._build()

    @functools.cached_property
    def derivation(self) -> Adjoints:
        return derive_adjoints(self.cell)

    @property
    def dim_symbols(self) -> dict[str, sp.Symbol]:
        return {str(d): d for d in self.cell.dims}

    @property
    def equations(self) -> dict[str, sp.Eq]:
        """name -> the forward equation ``name(t) = ...``."""
        return {eq.signal.name: sp.Eq(eq.signal(t), eq.rhs, evaluate=False)
                for eq in self.cell.equations}

    @property
    def adjoints(self) -> dict[str, sp.Eq]:
        """name -> ``bar name(t) = ...`` for every signal, defined ones last to first."""
        order = [*reversed(self.cell.defined), *self.cell.inputs]
        return {s.name: sp.Eq(s.bar(t), self.derivation.bar_rhs(s.name), evaluate=False)
                for s in order}

    @property
    def weight_grads(self) -> dict[str, sp.Eq]:
        """weight -> ``bar w = sum_{t=1}^{T} ...``."""
        out = {}
        for pname, weight in self.cell.parameters.items():
            if isinstance(weight, MatrixExpr):
                lhs = sp.MatrixSymbol(f"bar_{pname}", *weight.shape)
            else:
                lhs = sp.Symbol(f"bar_{pname}")
            out[pname] = sp.Eq(lhs, sp.Sum(self.derivation.grad_summand(pname), (t, 1, T)),
                               evaluate=False)
        return out

    def jacobian(self, of: str = "h", wrt: str | None = None, lag: int = 1) -> sp.Basic:
        """``d of(t) / d wrt(t - lag)`` through one step (scalar cells)."""
        wrt = wrt or of
        for arg, value in (("of", of), ("wrt", wrt)):
            if value not in self.cell.signals:
                raise DeriveError(f"{arg}: {self.name} has no signal {value!r}")
        if self.cell.signals[of].is_matrix:
            return matrix_jacobian(self.cell, of, wrt, lag)
        return scalar_jacobian(self.cell, of, wrt, lag)

    # -- numbers -----------------------------------------------------------------------------

    def dims_for(self, dims: dict[str, int] | None) -> dict[sp.Symbol, int]:
        given = dict(self.default_dims)
        for name, value in (dims or {}).items():
            if name not in self.dim_symbols:
                known = ("its dimensions: " + ", ".join(self.dim_symbols) if self.dim_symbols
                         else "it has no dimensions")
                raise DeriveError(f"--dim {name}: {self.name} has no dimension {name!r} "
                                  f"({known})")
            given[name] = positive_int(f"--dim {name}", value)
        return {self.dim_symbols[n]: v for n, v in given.items() if n in self.dim_symbols}

    def kernels(self, dims: dict[str, int] | None = None) -> Kernels:
        concrete = self.dims_for(dims)
        key = tuple(sorted((str(k), v) for k, v in concrete.items()))
        cache = self.__dict__.setdefault("_kernels", {})
        if key not in cache:
            cache[key] = compile_kernels(self.cell, self.derivation, concrete)
        return cache[key]

    def shape_of(self, name: str, dims: dict[sp.Symbol, int]) -> tuple[int, ...]:
        """The numeric shape of one value (no batch axis): ``()`` for a scalar."""
        if name in self.cell.parameters:
            obj = self.cell.parameters[name]
            return tuple(int(sp.sympify(d).xreplace(dims)) for d in obj.shape) \
                if isinstance(obj, MatrixExpr) else ()
        shape = self.cell.signals[name].shape
        if shape is None:
            return ()
        return (int(sp.sympify(shape[0]).xreplace(dims)),)  # vectors are columns

    def bptt(
        self,
        params: dict[str, np.ndarray],
        inputs: dict[str, np.ndarray],
        upstream: dict[str, np.ndarray],
        initial: dict[str, np.ndarray] | None = None,
        dims: dict[str, int] | None = None,
        keep_bars: bool = True,
        backward: bool = True,
    ) -> BPTTResult:
        """Forward over ``T`` steps and backward to every gradient.

        Shapes (``B`` the batch): ``params[w]`` the weight's own shape; ``inputs[x]`` and
        ``upstream[h]`` ``(T, B)`` for scalars, ``(T, B, n)`` for vectors; ``initial[s]``
        ``(B,)`` / ``(B, n)``, or with a leading axis of length ``k`` (values at
        ``t = 0, -1, ..., 1-k``) for a cell reading ``k`` steps back. ``keep_bars=False``
        keeps only the bars of inputs and states (faster on long runs); ``backward=False``
        runs the forward steps only.
        """
        params, inputs, starts, upstream = checked_arrays(
            self, self.dims_for(dims), params, inputs, upstream, initial)
        return bptt(self.kernels(dims), params, inputs, starts, upstream,
                    keep_bars=keep_bars, backward=backward)

    def forward(
        self,
        params: dict[str, np.ndarray],
        inputs: dict[str, np.ndarray],
        initial: dict[str, np.ndarray] | None = None,
        dims: dict[str, int] | None = None,
        T: int | None = None,
    ) -> dict[str, np.ndarray]:
        """The forward values only: signal -> array ``(T, B)`` or ``(T, B, n)``, for every
        signal the cell defines. Shapes as in :meth:`bptt`; ``T`` is needed only by a cell
        with no input (its batch is then that of ``initial``, or 1)."""
        cell = self.cell
        if cell.inputs:
            first = numeric_array(f"inputs[{cell.inputs[0].name!r}]",
                                  inputs.get(cell.inputs[0].name, np.zeros((0, 0))))
            steps, batch = (first.shape[:2] if first.ndim >= 2 else (0, 0))
        else:
            steps = positive_int("T", T) if T is not None else None
            if steps is None:
                raise DeriveError(f"T: {self.name} reads no input, so forward needs T, the "
                                  "number of steps")
            shapes = [np.shape(v) for v in (initial or {}).values()]
            batch = shapes[0][1 if cell.max_lag > 1 else 0] if shapes else 1
        concrete = self.dims_for(dims)
        upstream = {o: np.zeros((steps, batch, *self.shape_of(o, concrete)))
                    for o in cell.outputs}
        result = self.bptt(params, inputs, upstream, initial, dims, backward=False)
        out = {}
        for signal in cell.defined:
            series = [result.values[signal.name][s] for s in range(1, steps + 1)]
            stacked = np.stack(series)
            out[signal.name] = stacked[..., 0] if signal.is_matrix else stacked
        return out

    # -- the CLI's protocol -------------------------------------------------------------------

    def random_instance(self, seed: int, steps: int, dims: dict[str, int] | None = None,
                        batch: int = 1, scale: float = 0.5) -> dict:
        """Weights, inputs, initial states and upstream gradients drawn from ``seed``."""
        return draw_instance(self, seed, steps, self.dims_for(dims), batch, scale)

    def grad_instance(self, seed: int = 0, T: int | None = None,
                      dims: dict[str, int] | None = None) -> dict:
        """The ``derive grad --json`` contract: a random instance and all its gradients."""
        steps = positive_int("--T", T if T is not None else self.default_T)
        return grad_json(self, seed, steps, dims)

    def show(self, fmt: str = "text", dims: dict[str, int] | None = None):
        """The forward equations, the bars and the weight gradients."""
        self.dims_for(dims)  # validates names and values
        sections = [("forward", self.equations), ("adjoints", self.adjoints),
                    ("weight gradients", self.weight_grads)]
        if fmt == "json":
            return {"model": self.name,
                    **{key.replace(" ", "_"): {n: f"{text(e.lhs)} = {text(e.rhs)}"
                                               for n, e in eqs.items()}
                       for key, eqs in sections}}
        if fmt == "latex":
            return self.latex()
        lines = [f"{self.name}: {self.summary}"]
        for title, eqs in sections:
            lines.append(f"\n{title}:")
            # the forward equations in the order written; the derived ones keep one canonical order
            lines += ["  " + row for row in
                      text_rows(eqs.values(), self.cell if title == "forward" else None)]
        lines += [f"\nnote: no equation reads the weight {w}; its gradient is 0"
                  for w in self.cell.unused_weights]
        return "\n".join(lines)

    def latex(self) -> str:
        """The forward equations and their BPTT equations as ``align*`` blocks."""
        return "\n".join([
            r"\paragraph{Forward.}", align(self.equations.values()),
            r"\paragraph{Backprop through time.}", align(self.adjoints.values()),
            r"\paragraph{Weight gradients.}", align(self.weight_grads.values()),
        ])

    def _repr_latex_(self) -> str:
        """Jupyter: the forward equations, the bars and the weight gradients as one display
        (math only, so MathJax and KaTeX typeset it)."""
        return aligned([*self.equations.values(), *self.adjoints.values(),
                        *self.weight_grads.values()])

    def __repr__(self) -> str:
        try:
            cell = self.cell
        except Exception:  # noqa: BLE001 - a repr must not raise; the build error shows on use
            return f"<RecurrentModel {self.name}>"
        return (f"<RecurrentModel {self.name}: {len(cell.defined)} signals, "
                f"{len(cell.parameters)} weights>")

    def checks(self) -> list[Check]:
        """Every check of the derived calculus (run once, then remembered)."""
        if "_checks" not in self.__dict__:
            self.__dict__["_checks"] = model_checks(self)
        return list(self.__dict__["_checks"])
