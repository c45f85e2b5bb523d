"""AttentionRNN(k) and AttentionRNN(inf) of dsga1008-hw2/1.2.2: forward equations only.

``attention_rnn`` (dims ``n``, ``k``): at step ``t`` the cell attends over ``x(t)`` and the
last ``k`` states with one query/key/value matrix per lag::

    q_0(t) = Q_0 x(t),   q_i(t) = Q_i h(t-i),   likewise k_i(t) (K_i), v_i(t) (V_i)
    w_i(t) = q_i(t)^T k_i(t)
    a_i(t) = softargmax(w_0(t), ..., w_k(t))_i
    h(t)   = sum_i v_i(t) a_i(t)

with ``h(t) = 0`` for ``t < 1``, so the early steps still carry ``k + 1`` softmax entries (the
padded ones with ``w_i = 0``, ``v_i = 0``). ``k`` is a build parameter: the cell for each
concrete ``k`` is built and derived once, on first use.

``attention_rnn_inf`` (dims ``T``, ``n``): the tied model, ``Q_i = Q_1``, ``K_i = K_1``,
``V_i = V_1`` for ``i >= 1``; step ``s`` attends over ``x(s)`` and ``h(s-1), ..., h(1)``,
exactly ``s`` entries, no padding. That is not a fixed-lag cell (the number of entries grows
with ``s``), so it is derived by UNROLLING: for a given ``T`` the engine gets one cell whose
equations are the ``T`` steps themselves (signals ``h_1 .. h_T``, ``q_s_i``, ``w_s_i``, ...,
inputs ``x_1 .. x_T``, all at one engine time step), and derives, compiles and checks it like any
other cell.

The ``derive grad`` contract of both: dims ``T, n, k`` (``T, n`` for inf); params ``Q``, ``K``,
``V``, each a list ``[Q_0, ..., Q_k]`` (``[Q_0, Q_1]`` for inf); inputs ``x``; no ``initial``
entry (states before ``t = 1`` are zero); upstream and outputs ``h``.
"""

from __future__ import annotations

import functools

import sympy as sp

from derive.calculus.jacobian import matrix_jacobian
from derive.checks.check import Check
from derive.checks.recurrent import elementwise_checks, perturbation_checks, unrolled_checks
from derive.core.cell import Cell
from derive.core.errors import DeriveError, positive_int
from derive.models import register
from derive.printing.latex import latex
from derive.printing.text import text
from derive.recurrent.arrays import check_instance_cost
from derive.recurrent.model import RecurrentModel
from derive.topics.attention import (
    GROUPS,
    attention_cell,
    attention_inf_cell,
    check_attention_size,
    dimension_of_a,
    loss_gradient_forms,
    system_latex,
    system_lines,
)

SUMMARY = "AttentionRNN(k): softmax attention over x(t) and the last k states (dsga1008-hw2/1.2.2)"
SUMMARY_INF = ("AttentionRNN(inf): tied attention over x(t) and every past state, unrolled "
               "over T steps (dsga1008-hw2/1.2.2d)")


def _grouped(table: dict, count: int) -> dict:
    """``{Q_0: .., Q_1: ..}`` -> ``{"Q": [Q_0, Q_1, ..]}`` (the contract's lists)."""
    return {g: [table[f"{g}_{i}"] for i in range(count)] for g in GROUPS}


class AttentionRNN:
    """AttentionRNN(k) for every ``k``: one derived :class:`RecurrentModel` per ``k``."""

    name = "attention_rnn"
    summary = SUMMARY
    dimension_names = ("n", "k")
    default_k = 2
    default_n = 3

    def split_dims(self, dims: dict[str, int] | None) -> tuple[int, dict[str, int]]:
        dims = dict(dims or {})
        k = positive_int("--dim k", dims.pop("k", self.default_k))
        _only_n(self.name, dims, "n, k")
        return k, dims

    @functools.cache  # noqa: B019 - one registered instance; derivations are pure
    def model(self, k: int) -> RecurrentModel:
        """The derived AttentionRNN(k)."""
        k = positive_int("k", k)
        check_attention_size(k=k)  # before anything is built: the reads grow as k^2
        return RecurrentModel(f"attention_rnn_{k}", f"AttentionRNN({k})",
                              functools.partial(attention_cell, k),
                              default_dims={"n": self.default_n}, default_T=6)

    # -- the REPL: the default AttentionRNN(k)'s derived objects, as for a fixed cell ----------

    @property
    def default(self) -> RecurrentModel:
        return self.model(self.default_k)

    @property
    def cell(self) -> Cell:
        return self.default.cell

    @property
    def equations(self) -> dict[str, sp.Eq]:
        return self.default.equations

    @property
    def adjoints(self) -> dict[str, sp.Eq]:
        return self.default.adjoints

    @property
    def weight_grads(self) -> dict[str, sp.Eq]:
        return self.default.weight_grads

    def jacobian(self, of: str = "h", wrt: str | None = None, lag: int = 1) -> sp.Basic:
        """``d of(t) / d wrt(t - lag)`` of AttentionRNN(default k)."""
        return self.default.jacobian(of, wrt, lag)

    def bptt(self, *args, **kwargs):
        """:meth:`RecurrentModel.bptt` of AttentionRNN(default k)."""
        return self.default.bptt(*args, **kwargs)

    def _repr_latex_(self) -> str:
        return self.default._repr_latex_()

    def __repr__(self) -> str:
        return f"<AttentionRNN {self.name}: AttentionRNN(k) for every k, shown at k = " \
            f"{self.default_k}; dims n, k>"

    SHOWN_JACOBIANS = 4  # dh(t)/dh(t - i) shown for i up to this many lags

    def show(self, fmt: str = "text", dims: dict[str, int] | None = None):
        """The derived equations, the one-step Jacobians dh(t)/dh(t - i), then the answers of
        dsga1008-hw2/1.2.2 (the size of a(t), the system for symbolic k, dl/dh(T)), from the
        same functions the answers are built with."""
        k, rest = self.split_dims(dims)
        model = self.model(k)
        shown = model.show(fmt, rest)
        lags = range(1, min(k, self.SHOWN_JACOBIANS) + 1)
        jacobians = {lag: matrix_jacobian(model.cell, "h", "h", lag) for lag in lags}
        size = dimension_of_a(model.cell)
        forms = loss_gradient_forms()
        system = system_lines(tied=False)
        concrete = {str(d): v for d, v in model.dims_for(rest).items()}
        if fmt == "json":
            return {**shown, "model": self.name, "dims": {"k": k, **concrete},
                    "jacobians": {f"dh(t)/dh(t - {lag})": text(J)
                                  for lag, J in jacobians.items()},
                    "dimension_of_a": size, "dimension_of_a_general": "k + 1",
                    "system": system,
                    "dl_dh_T": {"given_totals": forms["total_text"],
                                "recursion": forms["recursion_text"]}}
        if fmt == "latex":
            rows = [rf"\frac{{\partial h^{{(t)}}}}{{\partial h^{{(t-{lag})}}}} &= {latex(J)}"
                    for lag, J in jacobians.items()]
            return (shown + "\n\\paragraph{One-step Jacobians.}\n\\begin{align*}\n"
                    + " \\\\\n".join(rows) + "\n\\end{align*}"
                    + f"\n\\paragraph{{Size of the attention.}} $a^{{(t)}} \\in "
                    f"\\mathbb{{R}}^{{{size}}}$ for $k = {k}$; in general $k + 1$ entries.\n"
                    "\\paragraph{AttentionRNN($k$), symbolic $k$.}\n"
                    + system_latex(tied=False)
                    + "\n\\paragraph{Gradient of the loss.}\n"
                    + f"\\[ {forms['total_latex']} \\]\n\\[ {forms['recursion_latex']} \\]\n"
                    + f"\\[ {forms['local_latex']} \\]")
        first, _, body = shown.partition("\n")
        return (f"{self.name} (k = {k}): {model.summary}\n" + body
                + "\n\njacobians:\n" + "\n".join(
                    f"  dh(t)/dh(t - {lag}) = {text(J)}" for lag, J in jacobians.items())
                + f"\n\ndimension of a(t): {size} (k + 1)"
                + "\n\nsystem (symbolic k):\n" + "\n".join(f"  {line}" for line in system)
                + "\n\ndl/dh(T):\n" + f"  {forms['total_text']}\n  {forms['recursion_text']}")

    def grad_instance(self, seed: int = 0, T: int | None = None,
                      dims: dict[str, int] | None = None) -> dict:
        k, rest = self.split_dims(dims)
        model = self.model(k)
        steps = positive_int("--T", T if T is not None else model.default_T)
        # the limits checked here, to name the model asked for (not attention_rnn_2)
        check_instance_cost(model, steps, model.dims_for(rest), json=True,
                            label=f"{self.name} (k={k}) over T={steps} steps")
        inner = model.grad_instance(seed, steps, rest)
        return {
            "model": self.name,
            "dims": {"T": inner["dims"]["T"], "n": inner["dims"]["n"], "k": k},
            "params": _grouped(inner["params"], k + 1),
            "inputs": inner["inputs"],
            "upstream": inner["upstream"],
            "outputs": inner["outputs"],
            "grads": {"params": _grouped(inner["grads"]["params"], k + 1),
                      "inputs": inner["grads"]["inputs"]},
        }

    # (k, n) of the elementwise checks (exact SymPy: small sizes, softmax entries are big)
    ELEMENTWISE = ((1, 2), (2, 2), (3, 1))
    # (k, n, T) of complex-step and central differences: k > T included
    PERTURBATION = ((1, 2, 4), (2, 3, 5), (4, 2, 3), (8, 2, 6))
    # (k, n, T) of the unrolled SymPy check: k > T included
    UNROLLED = ((2, 2, 2), (3, 1, 2))

    def checks(self) -> list[Check]:
        out: list[Check] = []
        for k, size in self.ELEMENTWISE:
            out += [_tagged(c, f"k={k}: ") for c in elementwise_checks(self.model(k),
                                                                        {"n": size})]
        for k, size, steps in self.PERTURBATION:
            out += [_tagged(c, f"k={k}: ") for c in perturbation_checks(
                self.model(k), steps=steps, dims={"n": size})]
        for k, size, steps in self.UNROLLED:
            out += [_tagged(c, f"k={k}: ") for c in unrolled_checks(
                self.model(k), steps=steps, dims={"n": size})]
        return out


def _only_n(name: str, dims: dict[str, int], known: str) -> None:
    """Reject a dimension other than ``n``, naming the model the user asked for."""
    for dim, value in dims.items():
        if dim != "n":
            raise DeriveError(f"--dim {dim}: {name} has no dimension {dim!r} (got {value}; "
                              f"its dimensions: {known})")


def _tagged(check: Check, tag: str) -> Check:
    return Check(tag + check.name, check.against, check.error, check.tolerance, check.detail)


class AttentionRNNInf:
    """AttentionRNN(inf), unrolled: one derived :class:`RecurrentModel` per ``T``."""

    name = "attention_rnn_inf"
    summary = SUMMARY_INF
    dimension_names = ("n", "T")  # T for show; grad takes it from --T
    default_T = 4
    default_n = 3

    def _repr_latex_(self) -> str:
        """Jupyter: the equations of the model unrolled over its default number of steps."""
        return self.model(self.default_T)._repr_latex_()

    def __repr__(self) -> str:
        return f"<AttentionRNNInf {self.name}: unrolled over T steps (T = " \
            f"{self.default_T} by default); dims T, n>"

    @functools.cache  # noqa: B019
    def model(self, steps: int) -> RecurrentModel:
        """AttentionRNN(inf) unrolled over ``steps`` steps."""
        steps = positive_int("T", steps)
        check_attention_size(steps=steps)  # before anything is built: the cost grows as T^3
        return RecurrentModel(f"attention_rnn_inf_{steps}", f"AttentionRNN(inf), T = {steps}",
                              functools.partial(attention_inf_cell, steps),
                              default_dims={"n": self.default_n}, default_T=1)

    def split_dims(self, dims: dict[str, int] | None, T: int | None = None
                   ) -> tuple[int, dict[str, int]]:
        """(steps, the other dims): show takes the steps as ``--dim T`` (it has no ``--T``)."""
        dims = dict(dims or {})
        if "k" in dims:
            raise DeriveError(f"--dim k: {self.name} attends over every past state; "
                              f"it has no dimension 'k' (got {dims['k']})")
        steps = positive_int("--dim T", dims.pop("T")) if "T" in dims else \
            positive_int("--T", T if T is not None else self.default_T)
        _only_n(self.name, dims, "n, and T for show")
        return steps, dims

    def show(self, fmt: str = "text", dims: dict[str, int] | None = None):
        steps, rest = self.split_dims(dims)
        model = self.model(steps)
        shown = model.show(fmt, rest)
        if fmt == "json":
            concrete = {str(d): v for d, v in model.dims_for(rest).items()}
            return {**shown, "model": self.name, "dims": {"T": steps, **concrete}}
        if fmt == "text":
            first, _, body = shown.partition("\n")
            return f"{self.name} (T = {steps}): {model.summary}\n" + body
        return shown

    def grad_instance(self, seed: int = 0, T: int | None = None,
                      dims: dict[str, int] | None = None) -> dict:
        if "T" in (dims or {}):  # grad has --T; two spellings of one number could disagree
            raise DeriveError(f"--dim T: {self.name} takes the number of steps from --T "
                              f"(got --dim T={dims['T']})")
        steps, rest = self.split_dims(dims, T)
        model = self.model(steps)
        check_instance_cost(model, 1, model.dims_for(rest), json=True,
                            label=f"{self.name} over T={steps} steps")
        inner = model.grad_instance(seed, 1, rest)

        def series(table: dict, prefix: str) -> list:
            return [table[f"{prefix}_{s}"][0] for s in range(1, steps + 1)]

        return {
            "model": self.name,
            "dims": {"T": steps, "n": inner["dims"]["n"]},
            "params": _grouped(inner["params"], 2),
            "inputs": {"x": series(inner["inputs"], "x")},
            "upstream": {"h": series(inner["upstream"], "h")},
            "outputs": {"h": series(inner["outputs"], "h")},
            "grads": {"params": _grouped(inner["grads"]["params"], 2),
                      "inputs": {"x": series(inner["grads"]["inputs"], "x")}},
        }

    ELEMENTWISE = ((2, 2), (3, 1))  # (T, n)
    PERTURBATION = ((1, 3), (3, 3), (5, 2))
    UNROLLED = ((2, 2), (3, 1))  # at T = 1 the unused Q_1, K_1, V_1 have zero gradients

    def checks(self) -> list[Check]:
        out: list[Check] = []
        for steps, size in self.ELEMENTWISE:
            found = elementwise_checks(self.model(steps), {"n": size})
            out += [_tagged(c, f"unrolled T={steps}: ") for c in found]
        for steps, size in self.PERTURBATION:
            out += [_tagged(c, f"unrolled T={steps}: ") for c in perturbation_checks(
                self.model(steps), steps=1, dims={"n": size})]
        for steps, size in self.UNROLLED:
            out += [_tagged(c, f"unrolled T={steps}: ") for c in unrolled_checks(
                self.model(steps), steps=1, dims={"n": size})]
        return out


@register("attention_rnn", SUMMARY)
def attention_rnn() -> AttentionRNN:
    return AttentionRNN()


@register("attention_rnn_inf", SUMMARY_INF)
def attention_rnn_inf() -> AttentionRNNInf:
    return AttentionRNNInf()
